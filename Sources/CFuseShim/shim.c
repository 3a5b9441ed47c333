#include "CFuseShim.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int gt_is_thread_group_leader(int tid) {
#ifdef SYS_pidfd_open
    // pidfd_open without PIDFD_THREAD accepts only a thread-group leader: another thread gets
    // EINVAL (before Linux 6.9) or ENOENT; no such task at all, ESRCH.
    int fd = (int)syscall(SYS_pidfd_open, tid, 0);
    if (fd >= 0) { close(fd); return 1; }
    if (errno == EINVAL || errno == ENOENT) return 0;
#endif
    return -1;
}

struct fuse_session *gt_fuse_session_new(int argc, char **argv, const struct fuse_lowlevel_ops *ops, void *userdata) {
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct fuse_session *se = fuse_session_new(&args, ops, sizeof(*ops), userdata);
    fuse_opt_free_args(&args);
    return se;
}

// The loop that takes the opaque config of fuse_loop_cfg_create (libfuse >= 3.12). Under
// FUSE_USE_VERSION 35, `fuse_session_loop_mt` is the 3.2 entry point, which reads its argument
// as the old public struct {clone_fd, max_idle_threads}: the opaque config's version tag became
// clone_fd=on and its clone_fd became max_idle_threads=0, so every worker ended after each
// request (7 thread starts and a FUSE_DEV_IOC_CLONE each per small file created).
int fuse_session_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *config);

int gt_fuse_session_loop_mt(struct fuse_session *se, unsigned int max_idle_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (!config) return -1;
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, 16);
    fuse_loop_cfg_set_idle_threads(config, max_idle_threads);
    int rc = fuse_session_loop_mt_312(se, config);
    fuse_loop_cfg_destroy(config);
    return rc;
}

void gt_fuse_fi_set(struct fuse_file_info *fi, uint64_t fh, int keep_cache, int direct_io) {
    fi->fh = fh;
    fi->keep_cache = keep_cache ? 1 : 0;
    fi->direct_io = direct_io ? 1 : 0;
}

int gt_fuse_notify_store(struct fuse_session *se, uint64_t ino, int64_t offset, const void *data, size_t size) {
    struct fuse_bufvec bufv = FUSE_BUFVEC_INIT(size);
    bufv.buf[0].mem = (void *)data;
    return fuse_lowlevel_notify_store(se, (fuse_ino_t)ino, (off_t)offset, &bufv, 0);
}
