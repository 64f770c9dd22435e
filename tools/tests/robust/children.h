/* The parent side shared by sysfuzz and codefuzz: fork CHILDREN children one at a time, run
 * `child(c)` in each (it must not return), give each a second, kill it with SIGKILL if it has
 * not ended (calling `on_timeout(c)` first), reap it and anything it left, and count how they
 * ended. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct outcomes {
    long exited, signalled, killed;
};

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Returns 0, or -1 (with a message) if fork or wait failed. */
static int run_children(long children, void (*child)(long c), void (*on_timeout)(long c),
                        struct outcomes *out)
{
    for (long c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return -1;
        }
        if (pid == 0)
            child(c);
        double deadline = monotonic_seconds() + 1;
        int status;
        pid_t got;
        while ((got = waitpid(pid, &status, WNOHANG)) == 0 && monotonic_seconds() < deadline) {
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, 0);
        }
        if (got == 0) {
            if (on_timeout)
                on_timeout(c);
            kill(pid, SIGKILL);
            got = waitpid(pid, &status, 0);
            out->killed++;
        }
        if (got != pid) {
            perror("waitpid");
            return -1;
        }
        if (WIFEXITED(status))
            out->exited++;
        else if (WIFSIGNALED(status))
            out->signalled++;
        /* Anything the child left behind comes to PID 1: reap it too. */
        while (waitpid(-1, &status, WNOHANG) > 0)
            ;
    }
    return 0;
}
