#ifndef GARAGETYTUS_CGARAGETYTUS_H
#define GARAGETYTUS_CGARAGETYTUS_H
#include <sys/types.h>
#include <stdint.h>
#include <stddef.h>
/* setxattr(2) and the rest, which Swift's Glibc module leaves out (the tests call them). */
#include <sys/xattr.h>

/// CRC-32C (Castagnoli) of `length` bytes: the block cache's checksum.
uint32_t gt_crc32c(const void *data, size_t length);

/// Fork and exec `path` with `argv`/`envp`.
/// In the child: signal dispositions and mask reset to defaults, stdin from /dev/null,
/// stdout and stderr to `out_fd` (if >= 0), every other descriptor closed,
/// a new session (`new_session` != 0) or a new process group, and, if `parent_death_signal`
/// is non-zero, that signal delivered when the forking thread's process dies.
/// Returns the child's pid, or -errno when fork fails. A failed exec exits the child with 127.
pid_t gt_spawn(const char *path, char *const argv[], char *const envp[],
               int out_fd, int new_session, int parent_death_signal);

enum { GT_ISOLATE_NONE = 0, GT_ISOLATE_PRIVATE = 1, GT_ISOLATE_JOIN = 2 };

/// How `gt_spawn_ex` sets up the child.
struct gt_spawn_options {
    int in_fd;                /// stdin (-1: /dev/null)
    int out_fd;               /// stdout and stderr (-1: inherited)
    /// Non-zero: stderr to `err_fd` instead (/dev/null when it is -1), stdout alone to `out_fd`.
    int separate_err;
    int err_fd;
    int new_session;          /// a new session (else a new process group)
    int parent_death_signal;  /// delivered when the forking thread's process dies (0: none)
    /// GT_ISOLATE_PRIVATE: a network namespace with only a loopback interface, and a mount namespace
    /// (a user namespace mapping only the caller's ids when not root); with `private_tmp` non-zero
    /// its /tmp is a tmpfs of its own. GT_ISOLATE_JOIN: the network namespace of `join_pid`.
    int isolate;
    pid_t join_pid;
    int private_tmp;
    /// A directory under /tmp the child needs: bound back to the same path inside its own /tmp.
    const char *keep_src;
    const char *cwd;          /// working directory (NULL: inherited)
    int umask_value;          /// file mode creation mask (-1: inherited)
    /// Out: the set-up step that failed before exec (-1: none; see gt_spawn_step_name) and its errno.
    int failed_step;
    int failed_errno;
};

/// `gt_spawn` with namespaces, a working directory, a umask and a stdin of the caller's choice.
/// Returns the child's pid (when `failed_step` >= 0 the child has already failed and exits with
/// 126; reap it), or -errno when fork fails.
pid_t gt_spawn_ex(const char *path, char *const argv[], char *const envp[], struct gt_spawn_options *o);

/// A name for a `failed_step` value ("unshare", "setns", ...).
const char *gt_spawn_step_name(int step);

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

/// A pipe whose two ends are closed on exec; 0 or -errno.
int gt_pipe_cloexec(int fds[2]);

/// Sends `message` as one datagram to systemd's notification socket `socket_path` (the value of
/// $NOTIFY_SOCKET: a path, or "@name" for the abstract namespace). 0, or -errno.
int gt_sd_notify(const char *socket_path, const char *message);

#endif
