#include "CGaragetytus.h"
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int gt_sd_notify(const char *socket_path, const char *message) {
    size_t n = strlen(socket_path);
    struct sockaddr_un addr;
    if (n == 0 || n >= sizeof(addr.sun_path)) return -EINVAL;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, socket_path, n);
    // An abstract socket: the leading '@' stands for a NUL, and the length is exact.
    if (addr.sun_path[0] == '@') addr.sun_path[0] = 0;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (socket_path[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    ssize_t sent = sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
    int err = sent < 0 ? -errno : 0;
    close(fd);
    return err;
}
