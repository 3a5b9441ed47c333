/// The dashboard's templates (swift-mustache): the page, and its panels, which the page's script
/// fetches again every five seconds. Everything is served by the daemon: no CDN, no build step.
enum DashboardTemplates {
    static let page = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><title>garagetytus</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>
    body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }
    header { background: #1d2430; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
    header h1 { font-size: 18px; margin: 0; }
    main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px; }
    section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
    h2 { font-size: 15px; margin: 0 0 8px; }
    table { border-collapse: collapse; width: 100%; }
    td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
    .ok { color: #137333; } .bad { color: #b3261e; font-weight: 600; } .muted { color: #667; }
    .bar { background: #e6e9ef; border-radius: 3px; height: 8px; width: 120px; display: inline-block; vertical-align: middle; }
    .bar span { display: block; height: 8px; border-radius: 3px; background: #3b6fd8; }
    svg { color: #3b6fd8; display: block; }
    </style></head>
    <body>
    <header><h1>garagetytus</h1><span id="generated" class="muted">{{generated}}</span></header>
    <main id="panels">{{> panels}}</main>
    <script>
    function countdown() {
      const now = Date.now() / 1000;
      for (const el of document.querySelectorAll('[data-expires]')) {
        const left = Number(el.dataset.expires) - now;
        if (!Number(el.dataset.expires)) continue;
        if (left <= 0) { el.textContent = 'expired'; el.className = 'bad'; continue; }
        const d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = Math.floor(left % 60);
        el.textContent = (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + m + 'm ' + s + 's';
      }
    }
    async function refresh() {
      try {
        const r = await fetch('/dashboard/panels', { credentials: 'same-origin', cache: 'no-store' });
        if (r.ok) { document.getElementById('panels').innerHTML = await r.text(); countdown(); }
      } catch (e) {}
    }
    countdown();
    setInterval(countdown, 1000);
    setInterval(refresh, 5000);
    </script>
    </body></html>
    """

    static let panels = """
    <section id="daemon"><h2>Daemon</h2><table>
    <tr><th>health</th><td class="{{#healthy}}ok{{/healthy}}{{^healthy}}bad{{/healthy}}">{{health}}</td></tr>
    <tr><th>mode</th><td class="{{#readOnly}}bad{{/readOnly}}{{^readOnly}}ok{{/readOnly}}">{{mode}}</td></tr>
    <tr><th>disk free</th><td>{{disk}}</td></tr>
    <tr><th>engine</th><td>{{engine}}</td></tr>
    </table></section>
    <section id="traffic"><h2>Requests and bytes, last hour</h2>
    {{#charts}}<div><span>{{title}}</span> <span class="muted">{{total}}</span>{{{svg}}}</div>{{/charts}}
    </section>
    <section id="buckets"><h2>Buckets</h2><table>
    <tr><th>name</th><th>TTL</th><th>expires in</th><th>quota use</th><th></th></tr>
    {{#buckets}}<tr><td>{{name}}</td><td>{{ttl}}</td><td><span data-expires="{{expiresEpoch}}">{{expires}}</span></td>
    <td><span class="bar"><span style="width: {{usedPct}}%"></span></span> {{used}} of {{quota}}</td><td class="bad">{{denyAll}}</td></tr>{{/buckets}}
    {{#noBuckets}}<tr><td colspan="5" class="muted">no buckets</td></tr>{{/noBuckets}}
    </table></section>
    <section id="grants"><h2>Active grants</h2><table>
    <tr><th>id</th><th>bucket</th><th>to</th><th>perms</th><th>expires in</th></tr>
    {{#grants}}<tr><td>{{id}}</td><td>{{bucket}}</td><td>{{label}}</td><td>{{perms}}</td><td><span data-expires="{{expiresEpoch}}">{{expires}}</span></td></tr>{{/grants}}
    {{#noGrants}}<tr><td colspan="5" class="muted">no active grants</td></tr>{{/noGrants}}
    </table></section>
    <section id="mounts"><h2>Mounts on this host</h2><table>
    <tr><th>mountpoint</th><th>workspace</th><th>health</th><th></th></tr>
    {{#mounts}}<tr><td>{{mountpoint}}</td><td>{{workspace}}</td><td class="{{#healthy}}ok{{/healthy}}{{^healthy}}bad{{/healthy}}">{{health}}</td><td class="muted">{{detail}}</td></tr>{{/mounts}}
    {{#noMounts}}<tr><td colspan="4" class="muted">no mounts</td></tr>{{/noMounts}}
    </table></section>
    <section id="audit"><h2>Last audit events</h2><table>
    {{#events}}<tr><td class="muted">{{at}}</td><td>{{event}}</td><td>{{details}}</td></tr>{{/events}}
    </table></section>
    """
}
