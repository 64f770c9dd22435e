/* Reopening an anonymous pipe through /proc/self/fd/N, as bash's `cat <(echo a)` does with
 * /dev/fd/63: Linux never waits for the other end of a pipe(2) pipe (fifo_open's is_pipe),
 * whether or not that end is still open. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int reopen(int fd, int flags) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return open(path, flags);
}

int main(void) {
    int p[2];
    char buf[16] = {0};
    signal(SIGPIPE, SIG_IGN);

    /* The writer wrote and closed before the reader reopens. */
    if (pipe(p) != 0) return 1;
    if (write(p[1], "abc", 3) != 3) return 2;
    close(p[1]);
    int r = reopen(p[0], O_RDONLY);
    printf("reopen read end, no writer: %s\n", r >= 0 ? "ok" : strerror(errno));
    printf("read %zd\n", read(r, buf, sizeof buf));
    printf("read again %zd (end of file)\n", read(r, buf, sizeof buf));
    close(r);
    close(p[0]);

    /* A writer reopened with the reader gone: the open works, the write is EPIPE. */
    if (pipe(p) != 0) return 3;
    close(p[0]);
    int w = reopen(p[1], O_WRONLY);
    printf("reopen write end, no reader: %s\n", w >= 0 ? "ok" : strerror(errno));
    errno = 0;
    ssize_t n = write(w, "x", 1);
    printf("write %zd %s\n", n, strerror(errno));
    close(w);
    close(p[1]);

    /* Both ends open: the reopened read end sees what the original write end writes. */
    if (pipe(p) != 0) return 4;
    r = reopen(p[0], O_RDONLY | O_NONBLOCK);
    printf("nonblocking reopen: %s\n", r >= 0 ? "ok" : strerror(errno));
    errno = 0;
    n = read(r, buf, sizeof buf);
    printf("empty read: %zd %s\n", n, strerror(errno));
    if (write(p[1], "hello", 5) != 5) return 5;
    memset(buf, 0, sizeof buf);
    n = read(r, buf, sizeof buf);
    printf("read %zd %s\n", n, buf);
    return 0;
}
