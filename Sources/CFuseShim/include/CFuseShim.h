#ifndef GARAGETYTUS_CFUSESHIM_H
#define GARAGETYTUS_CFUSESHIM_H
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

/// fuse_session_new is a macro over versioned symbols: called from C.
/// `argv` are libfuse options (argv[0] is a program name); NULL on failure.
struct fuse_session *gt_fuse_session_new(int argc, char **argv, const struct fuse_lowlevel_ops *ops, void *userdata);

/// 1 when thread `tid` leads its thread group (its id is its process id), 0 when it is another
/// thread of some process, -1 when this cannot be told (no such task, or no pidfd_open).
int gt_is_thread_group_leader(int tid);

/// fuse_session_loop_mt with a loop config: blocks until the session ends; returns its result.
/// With `max_idle_threads` equal to the loop's 16 threads, idle workers are never ended.
int gt_fuse_session_loop_mt(struct fuse_session *se, unsigned int max_idle_threads);

/// Sets the fuse_file_info bits we use (bitfields are awkward from Swift).
void gt_fuse_fi_set(struct fuse_file_info *fi, uint64_t fh, int keep_cache, int direct_io);

/// fuse_lowlevel_notify_store of `size` bytes at `data` (the bufvec is a C initializer macro):
/// the kernel puts them in the inode's page cache at `offset`. 0, or a negative errno.
int gt_fuse_notify_store(struct fuse_session *se, uint64_t ino, int64_t offset, const void *data, size_t size);
#endif
