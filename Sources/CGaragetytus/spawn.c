#include <malloc.h>
#include <stdio.h>
#include <sys/mman.h>
#define _GNU_SOURCE
#include "CGaragetytus.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

// Only async-signal-safe calls between fork and exec: the parent is multithreaded.
pid_t gt_spawn(const char *path, char *const argv[], char *const envp[],
               int out_fd, int new_session, int parent_death_signal) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid > 0) return pid;

    // Child. Signal handling set up by the parent (ignored SIGTERM, blocked signals) is inherited
    // across exec; the engine must see a default SIGTERM.
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

    if (new_session) {
        if (setsid() < 0) _exit(126);
    } else {
        if (setpgid(0, 0) < 0) _exit(126);
    }
    if (parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, parent_death_signal) < 0) _exit(126);
        if (getppid() != parent) _exit(126);  // parent already gone
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) { dup2(devnull, 0); if (devnull > 2) close(devnull); }
    if (out_fd >= 0) {
        dup2(out_fd, 1);
        dup2(out_fd, 2);
    }
    // Close everything else so no listener or lock of the parent leaks into the child.
    for (int fd = 3; fd < 4096; fd++) close(fd);
    execve(path, argv, envp);
    _exit(127);
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
