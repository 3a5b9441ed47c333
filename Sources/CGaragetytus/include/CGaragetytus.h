#ifndef GARAGETYTUS_CGARAGETYTUS_H
#define GARAGETYTUS_CGARAGETYTUS_H
#include <sys/types.h>

/// Fork and exec `path` with `argv`/`envp`.
/// In the child: signal dispositions and mask reset to defaults, stdin from /dev/null,
/// stdout and stderr to `out_fd` (if >= 0), every other descriptor closed,
/// a new session (`new_session` != 0) or a new process group, and, if `parent_death_signal`
/// is non-zero, that signal delivered when the forking thread's process dies.
/// Returns the child's pid, or -errno when fork fails. A failed exec exits the child with 127.
pid_t gt_spawn(const char *path, char *const argv[], char *const envp[],
               int out_fd, int new_session, int parent_death_signal);

/// Non-blocking exclusive flock; 0 on success, -errno otherwise.
int gt_flock_exclusive_nb(int fd);

/// Allocations of at least `mmap_threshold` bytes come from mmap and go back at free (a fixed
/// threshold: glibc's moving one keeps big freed buffers), with at most `arenas` malloc arenas;
/// free memory at the top of a heap goes back to the system beyond `trim_threshold` bytes (0:
/// glibc's default, 128 KiB — which makes every reuse of a freed big buffer fault its pages in).
void gt_tune_malloc(int mmap_threshold, int arenas, int trim_threshold);

/// Drops this process's resident pages of code (private read-only executable file mappings) —
/// what startup ran once; what runs later faults back from the page cache. Returns the bytes of
/// the mappings advised, or -errno.
long gt_release_code_pages(void);

/// Gives free heap memory back to the system (malloc_trim): after a big transfer, whose buffers
/// were freed on other threads than they were allocated on.
void gt_trim_heap(void);

#endif
