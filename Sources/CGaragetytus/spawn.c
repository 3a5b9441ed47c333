#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <sys/mman.h>
#include "CGaragetytus.h"
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

// Steps of the child's set-up, reported to the parent through the status pipe when one fails.
static const char *const gt_steps[] = {
    "exec", "unshare", "uid_map", "setgroups", "gid_map", "loopback", "mount private", "bind keep", "bind /tmp",
    "open namespace", "setns", "chdir", "session", "parent death signal", "stdin", "setns user",
};

const char *gt_spawn_step_name(int step) {
    if (step < 0 || step >= (int)(sizeof gt_steps / sizeof gt_steps[0])) return "unknown";
    return gt_steps[step];
}

// Child-side failure: tell the parent which step failed and with which errno, then exit.
static void gt_fail(int status_fd, int step) {
    int report[2] = { step, errno };
    if (status_fd >= 0) { ssize_t n = write(status_fd, report, sizeof report); (void)n; }
    _exit(step == 0 ? 127 : 126);  // 127: exec failed, as a shell says
}

// Decimal text of `v` into `buf` (async-signal-safe; no printf between fork and exec).
static int gt_utoa(unsigned long v, char *buf) {
    char tmp[24];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

static int gt_write_file(const char *path, const char *text, int len) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, (size_t)len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == len ? 0 : -1;
}

// "<id> <id> 1": this id, and only it, inside the new user namespace.
static int gt_write_map(const char *path, unsigned long id) {
    char line[64];
    int n = gt_utoa(id, line);
    line[n++] = ' ';
    n += gt_utoa(id, line + n);
    line[n++] = ' ';
    line[n++] = '1';
    return gt_write_file(path, line, n);
}

static int gt_loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(s);
    errno = saved;
    return rc;
}

// Creates every directory of the absolute `path` that does not exist yet (async-signal-safe).
static int gt_mkdirs(const char *path) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
        buf[i] = c;
    }
    return 0;
}

// The new mount namespace copied every mount of the host's, FUSE mounts (the project's own
// mounts) included: a copy held here keeps a FUSE connection alive after the host unmounts it,
// so its process never sees the unmount. Each is detached here (best effort: a namespace
// without root may not). Runs in the forked child: no allocation, only system calls.
static void gt_detach_fuse_mounts(void) {
    static char buf[1 << 18];
    int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    close(fd);
    buf[len] = 0;
    char *line = buf;
    while (*line) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        // "<source> <mountpoint> <type> ...", spaces in fields escaped as octal (\040).
        char *mp = strchr(line, ' ');
        char *type = mp ? strchr(mp + 1, ' ') : NULL;
        if (mp && type) {
            *type = 0;
            mp++;
            if (strncmp(type + 1, "fuse", 4) == 0 && (type[5] == ' ' || type[5] == '.' || strncmp(type + 5, "blk ", 4) == 0)) {
                char *w = mp;
                for (char *r = mp; *r; r++) {
                    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
                        r += 3;
                    } else {
                        *w++ = *r;
                    }
                }
                *w = 0;
                umount2(mp, MNT_DETACH);
            }
        }
        if (!end) break;
        line = end + 1;
    }
}

// A network namespace of its own (only a loopback interface) and a mount namespace whose /tmp is
// a tmpfs of its own (`o->private_tmp` set), which no other process's /tmp shows. Without root, a user namespace that maps only the caller's ids makes both possible.
static void gt_isolate(const struct gt_spawn_options *o, int status_fd) {
    uid_t uid = getuid();
    gid_t gid = getgid();
    int flags = CLONE_NEWNET | CLONE_NEWNS;
    if (geteuid() != 0) flags |= CLONE_NEWUSER;
    if (unshare(flags) < 0) gt_fail(status_fd, 1);
    if (flags & CLONE_NEWUSER) {
        if (gt_write_map("/proc/self/uid_map", uid) < 0) gt_fail(status_fd, 2);
        if (gt_write_file("/proc/self/setgroups", "deny", 4) < 0) gt_fail(status_fd, 3);
        if (gt_write_map("/proc/self/gid_map", gid) < 0) gt_fail(status_fd, 4);
    }
    if (gt_loopback_up() < 0) gt_fail(status_fd, 5);
    if (o->private_tmp) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) gt_fail(status_fd, 6);
        gt_detach_fuse_mounts();
        // A directory the child needs that is itself under /tmp is held open across the new /tmp
        // and bound back into place inside it.
        int keep_fd = -1;
        if (o->keep_src) {
            keep_fd = open(o->keep_src, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (keep_fd < 0) gt_fail(status_fd, 7);
        }
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=16m") < 0) gt_fail(status_fd, 8);
        if (keep_fd >= 0) {
            if (gt_mkdirs(o->keep_src) < 0) gt_fail(status_fd, 7);
            char fd_path[40] = "/proc/self/fd/";
            int n = 14 + gt_utoa((unsigned long)keep_fd, fd_path + 14);
            fd_path[n] = 0;
            if (mount(fd_path, o->keep_src, NULL, MS_BIND, NULL) < 0) gt_fail(status_fd, 7);
            close(keep_fd);
        }
    }
}

// Enters the network namespace of `pid` (first its user namespace, when it has one of its own).
static void gt_join(pid_t pid, int status_fd) {
    char path[64] = "/proc/";
    int n = 6 + gt_utoa((unsigned long)pid, path + 6);
    if (geteuid() != 0) {
        memcpy(path + n, "/ns/user", 9);
        int ufd = open(path, O_RDONLY | O_CLOEXEC);
        if (ufd < 0) gt_fail(status_fd, 9);
        // EINVAL: the target shares our own user namespace; nothing to enter.
        if (setns(ufd, CLONE_NEWUSER) < 0 && errno != EINVAL) gt_fail(status_fd, 15);
        close(ufd);
    }
    memcpy(path + n, "/ns/net", 8);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) gt_fail(status_fd, 9);
    if (setns(fd, CLONE_NEWNET) < 0) gt_fail(status_fd, 10);
    close(fd);
}

// Only async-signal-safe calls between fork and exec: the parent is multithreaded.
pid_t gt_spawn_ex(const char *path, char *const argv[], char *const envp[], struct gt_spawn_options *o) {
    int status_pipe[2];
    if (pipe2(status_pipe, O_CLOEXEC) < 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(status_pipe[0]);
        close(status_pipe[1]);
        return -saved;
    }
    if (pid > 0) {
        close(status_pipe[1]);
        int report[2] = { 0, 0 };
        ssize_t got;
        do { got = read(status_pipe[0], report, sizeof report); } while (got < 0 && errno == EINTR);
        close(status_pipe[0]);
        o->failed_step = -1;
        if (got == (ssize_t)sizeof report) {
            // The child failed before exec (and exits 126): the caller reaps it.
            o->failed_step = report[0];
            o->failed_errno = report[1];
        }
        return pid;
    }

    // Child. Signal handling set up by the parent (ignored SIGTERM, blocked signals) is inherited
    // across exec; the engine must see a default SIGTERM.
    int status_fd = status_pipe[1];
    close(status_pipe[0]);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        sigaction(s, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (o->new_session) {
        if (setsid() < 0) gt_fail(status_fd, 12);
    } else {
        if (setpgid(0, 0) < 0) gt_fail(status_fd, 12);
    }
    if (o->parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, o->parent_death_signal) < 0) gt_fail(status_fd, 13);
        if (getppid() != parent) _exit(126);  // parent already gone
    }
    // The program is opened before the mount namespace changes: it may itself be under /tmp.
    int exec_fd = -1;
    if (o->isolate == GT_ISOLATE_PRIVATE) {
        exec_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (exec_fd < 0) gt_fail(status_fd, 0);
        gt_isolate(o, status_fd);
    }
    if (o->isolate == GT_ISOLATE_JOIN) gt_join(o->join_pid, status_fd);
    if (o->cwd && chdir(o->cwd) < 0) gt_fail(status_fd, 11);
    if (o->umask_value >= 0) umask((mode_t)o->umask_value);
    if (o->in_fd >= 0) {
        if (dup2(o->in_fd, 0) < 0) gt_fail(status_fd, 14);
    } else {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) { dup2(devnull, 0); if (devnull > 2) close(devnull); }
    }
    if (o->out_fd >= 0) {
        dup2(o->out_fd, 1);
        if (!o->separate_err) dup2(o->out_fd, 2);
    }
    if (o->separate_err) {
        int err = o->err_fd >= 0 ? o->err_fd : open("/dev/null", O_WRONLY);
        if (err >= 0 && err != 2) dup2(err, 2);
    }
    // Close everything else so no listener or lock of the parent leaks into the child (the status
    // pipe is close-on-exec: a successful exec closes it, which the parent reads as success).
    for (int fd = 3; fd < 4096; fd++) if (fd != status_fd && fd != exec_fd) close(fd);
    if (exec_fd >= 0) fexecve(exec_fd, argv, envp);
    else execve(path, argv, envp);
    gt_fail(status_fd, 0);
    return -1;
}

pid_t gt_spawn(const char *path, char *const argv[], char *const envp[],
               int out_fd, int new_session, int parent_death_signal) {
    struct gt_spawn_options o;
    memset(&o, 0, sizeof o);
    o.in_fd = -1;
    o.out_fd = out_fd;
    o.new_session = new_session;
    o.parent_death_signal = parent_death_signal;
    o.umask_value = -1;
    return gt_spawn_ex(path, argv, envp, &o);
}

int gt_flock_exclusive_nb(int fd) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    return -errno;
}

void gt_tune_malloc(int mmap_threshold, int arenas, int trim_threshold) {
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
    mallopt(M_ARENA_MAX, arenas);
    if (trim_threshold > 0) mallopt(M_TRIM_THRESHOLD, trim_threshold);
}

long gt_release_code_pages(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) return -errno;
    char line[4096];
    long released = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3) continue;
        // Only private, read-only, executable file mappings: code, never written, so dropping
        // the pages loses nothing (they fault back from the page cache). Never data or RELRO.
        if (strcmp(perms, "r-xp") != 0 || path_at <= 0 || line[path_at] != '/') continue;
        if (madvise((void *)start, end - start, MADV_DONTNEED) == 0) released += (long)(end - start);
    }
    fclose(maps);
    return released;
}

void gt_trim_heap(void) {
    malloc_trim(0);
}

int gt_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}
