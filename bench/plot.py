#!/usr/bin/env python3
"""Charts of a benchmark's rounds, next to its results (issue 17, point 6).

  bench/plot.py OUT TITLE [--series 'NAME|UNIT|v1,v2,...']... [--ratio 'NAME|GOAL|v1,v2,...']...
      writes OUT.json (the numbers) and OUT.png: each round's measurements (one panel per unit:
      garagetytus next to s3fs and the raw ceiling), and each ratio per round with its median and
      its goal (a dashed line).
  bench/plot.py --summary OUT TITLE FILE.json...
      one chart of the median ratio of every FILE against its goal (goal = 1 on the chart's scale).

matplotlib is installed from PyPI when missing (bench/lib.sh: gt_plot).
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def parse(spec, kind):
    parts = spec.split("|")
    if len(parts) != 3:
        sys.exit("plot.py: %s %r is not NAME|%s|v1,v2,..." % (kind, spec, "UNIT" if kind == "--series" else "GOAL"))
    values = [float(v) for v in parts[2].split(",") if v != ""]
    return parts[0], parts[1], values


def rounds_chart(out, title, series, ratios):
    units = []
    for s in series:
        if s["unit"] not in units:
            units.append(s["unit"])
    panels = len(units) + (1 if ratios else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    axes = axes[0]
    for ax, unit in zip(axes, units):
        group = [s for s in series if s["unit"] == unit]
        n = max(len(s["values"]) for s in group)
        width = 0.8 / len(group)
        for i, s in enumerate(group):
            xs = [r + 1 + (i - (len(group) - 1) / 2) * width for r in range(len(s["values"]))]
            ax.bar(xs, s["values"], width=width, label=s["name"])
        ax.set_xticks(range(1, n + 1))
        ax.set_xlabel("round")
        ax.set_ylabel(unit)
        ax.legend(fontsize=8)
    if ratios:
        ax = axes[-1]
        for r in ratios:
            line, = ax.plot(range(1, len(r["values"]) + 1), r["values"], "o-",
                            label="%s (median %.2f)" % (r["name"], r["median"]))
            ax.axhline(r["goal"], linestyle="--", color=line.get_color(), linewidth=1)
        ax.set_ylim(bottom=0)
        ax.set_xticks(range(1, max(len(r["values"]) for r in ratios) + 1))
        ax.set_xlabel("round")
        ax.set_ylabel("ratio (dashed: goal)")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)


def summary_chart(out, title, files):
    rows = []
    for f in files:
        d = json.load(open(f))
        for r in d["ratios"]:
            rows.append(("%s: %s" % (d["title"].split(",")[0], r["name"]), r["median"], r["goal"]))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    names = [r[0] for r in rows]
    scaled = [r[1] / r[2] for r in rows]
    bars = ax.barh(names, scaled, color=["tab:green" if s >= 1 else "tab:red" for s in scaled])
    for b, (_, median, goal) in zip(bars, rows):
        ax.annotate("%.2f (goal %g)" % (median, goal), (b.get_width(), b.get_y() + b.get_height() / 2),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.axvline(1, linestyle="--", color="black", linewidth=1)
    ax.set_xlabel("median ratio / goal (right of the dashed line: goal met)")
    ax.invert_yaxis()
    ax.set_xlim(0, max(scaled + [1]) * 1.35)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=100)
    json.dump([{"name": n, "median": m, "goal": g} for n, m, g in rows], open(out + ".json", "w"), indent=1)


def main(argv):
    if len(argv) >= 2 and argv[0] == "--summary":
        if len(argv) < 4:
            sys.exit("usage: plot.py --summary OUT TITLE FILE.json...")
        summary_chart(argv[1], argv[2], argv[3:])
        print("wrote %s.png" % argv[1])
        return
    if len(argv) < 2:
        sys.exit(__doc__)
    out, title, rest = argv[0], argv[1], argv[2:]
    series, ratios = [], []
    i = 0
    while i < len(rest):
        if rest[i] not in ("--series", "--ratio") or i + 1 >= len(rest):
            sys.exit("plot.py: unexpected %r" % rest[i])
        name, second, values = parse(rest[i + 1], rest[i])
        if rest[i] == "--series":
            series.append({"name": name, "unit": second, "values": values})
        else:
            ratios.append({"name": name, "goal": float(second), "values": values, "median": statistics.median(values)})
        i += 2
    json.dump({"title": title, "series": series, "ratios": ratios}, open(out + ".json", "w"), indent=1)
    rounds_chart(out, title, series, ratios)
    print("wrote %s.json and %s.png" % (out, out))


if __name__ == "__main__":
    main(sys.argv[1:])
