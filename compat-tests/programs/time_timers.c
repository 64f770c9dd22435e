/* time_timers: alarm, setitimer (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF), POSIX timers
 * through raw timer_create (SIGEV_SIGNAL with a value and overruns, SIGEV_NONE,
 * SIGEV_THREAD_ID aimed at one thread, absolute CLOCK_REALTIME times, the errors), libc's
 * SIGEV_THREAD timers, and timerfd (one-shot, periodic expiration counts, absolute, non-blocking,
 * poll, the errors). */
#define _GNU_SOURCE
#include <poll.h>
#include <semaphore.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include "thrutil.h"

#define MS 1000000LL
#define SIGEV_THREAD_ID_ 4

/* struct sigevent as the kernel reads it (64 bytes). */
struct ksigevent {
	union sigval value;
	int signo;
	int notify;
	int tid;
	int pad[11];
};

static volatile int alarms, profs, vtalrms;

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		alarms++;
	else if (sig == SIGPROF)
		profs++;
	else if (sig == SIGVTALRM)
		vtalrms++;
}

static void set_handler(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(sig, &sa, NULL);
}

/* Waits in sigsuspend until *counter reaches n (at most LONG_WAIT_S). */
static int suspend_until(volatile int *counter, int n)
{
	sigset_t none;
	sigemptyset(&none);
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (*counter < n && mono_ns() < until)
		sigsuspend(&none);
	return *counter >= n;
}

static void alarms_and_itimers(void)
{
	set_handler(SIGALRM);
	expect_ret("alarm(5) with none set", alarm(5), 0);
	expect_ret("alarm(0) right after: seconds left", alarm(0), 5);
	int64_t before = mono_ns();
	alarms = 0;
	alarm(1);
	check("alarm(1): SIGALRM came", suspend_until(&alarms, 1));
	check("after at least 1 s", mono_ns() - before >= 1000 * MS);

	struct itimerval it = {{0, 20000}, {0, 20000}}, now, old;
	alarms = 0;
	before = mono_ns();
	expect_ret("setitimer(ITIMER_REAL, 20 ms every 20 ms)", setitimer(ITIMER_REAL, &it, NULL),
		   0);
	getitimer(ITIMER_REAL, &now);
	check("getitimer while armed: interval 20 ms, value at most 20 ms",
	      now.it_interval.tv_sec == 0 && now.it_interval.tv_usec == 20000 &&
		      now.it_value.tv_sec == 0 && now.it_value.tv_usec <= 20000);
	check("3 SIGALRMs came", suspend_until(&alarms, 3));
	check("after at least 60 ms", mono_ns() - before >= 60 * MS);
	struct itimerval off = {{0, 0}, {0, 0}};
	expect_ret("setitimer(ITIMER_REAL, off)", setitimer(ITIMER_REAL, &off, &old), 0);
	check("the old value came back with its 20 ms interval", old.it_interval.tv_usec == 20000);
	getitimer(ITIMER_REAL, &now);
	check("getitimer after: disarmed", now.it_value.tv_sec == 0 && now.it_value.tv_usec == 0);

	/* CPU-time timers fire only while the program runs. */
	set_handler(SIGPROF);
	set_handler(SIGVTALRM);
	struct itimerval cpu = {{0, 0}, {0, 30000}};
	setitimer(ITIMER_PROF, &cpu, NULL);
	setitimer(ITIMER_VIRTUAL, &cpu, NULL);
	sleep_ms(100);
	check("ITIMER_PROF and ITIMER_VIRTUAL (30 ms) did not fire during a 100 ms sleep",
	      profs == 0 && vtalrms == 0);
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	volatile unsigned long spin = 0;
	while ((profs == 0 || vtalrms == 0) && mono_ns() < until)
		spin++;
	check("ITIMER_PROF and ITIMER_VIRTUAL (30 ms) fired while spinning",
	      profs == 1 && vtalrms == 1);
}

static long timer_create_(clockid_t clock, struct ksigevent *sev, int *id)
{
	return syscall(SYS_timer_create, clock, sev, id);
}

static long timer_settime_(int id, int flags, const struct itimerspec *v, struct itimerspec *old)
{
	return syscall(SYS_timer_settime, id, flags, v, old);
}

static int wait_signal(int sig, siginfo_t *si)
{
	sigset_t want;
	sigemptyset(&want);
	sigaddset(&want, sig);
	struct timespec limit = {LONG_WAIT_S, 0};
	memset(si, 0, sizeof *si);
	return (int)syscall(SYS_rt_sigtimedwait, &want, si, &limit, 8);
}

static long target_tid;
static int thread_got, thread_code;
static volatile int target_ready;

static void *timer_target(void *arg)
{
	(void)arg;
	target_tid = gettid_();
	__atomic_store_n(&target_ready, 1, __ATOMIC_RELEASE);
	siginfo_t si;
	thread_got = wait_signal(SIGRTMIN + 2, &si);
	thread_code = si.si_code;
	return NULL;
}

static sem_t fired;
static volatile int callback_value;
static volatile long callback_tid;

static void callback(union sigval v)
{
	callback_value = v.sival_int;
	callback_tid = gettid_();
	sem_post(&fired);
}

static void posix_timers(void)
{
	int sig = SIGRTMIN + 1;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigaddset(&set, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &set, NULL);

	struct ksigevent sev = {.value.sival_int = 77, .signo = sig, .notify = SIGEV_SIGNAL};
	int id = -1;
	expect_ret("timer_create(MONOTONIC, SIGEV_SIGNAL RTMIN+1, value 77)",
		   timer_create_(CLOCK_MONOTONIC, &sev, &id), 0);
	struct itimerspec once = {{0, 0}, {0, 20 * MS}}, got;
	int64_t before = mono_ns();
	expect_ret("timer_settime(20 ms)", timer_settime_(id, 0, &once, NULL), 0);
	siginfo_t si;
	int r = wait_signal(sig, &si);
	check("the signal came after at least 20 ms", r == sig && mono_ns() - before >= 20 * MS);
	check("si_code SI_TIMER, the value, and the timer's id",
	      si.si_code == SI_TIMER && si.si_value.sival_int == 77 && si.si_timerid == id);
	syscall(SYS_timer_gettime, id, &got);
	check("timer_gettime after it fired: disarmed",
	      got.it_value.tv_sec == 0 && got.it_value.tv_nsec == 0);

	struct itimerspec every = {{0, 5 * MS}, {0, 5 * MS}};
	timer_settime_(id, 0, &every, NULL);
	sleep_ms(100);
	r = wait_signal(sig, &si);
	long overrun = syscall(SYS_timer_getoverrun, id);
	printf("periodic 5 ms timer, signal blocked for 100 ms: one signal, overruns counted: %s\n",
	       r == sig && si.si_overrun > 0 ? "yes" : "no");
	check("si_overrun > 0 and timer_getoverrun agrees", r == sig && si.si_overrun > 0 &&
								   overrun == si.si_overrun);
	struct itimerspec off = {{0, 0}, {0, 0}};
	timer_settime_(id, 0, &off, &got);
	check("disarming returned the old setting with its 5 ms interval",
	      got.it_interval.tv_nsec == 5 * MS);
	expect_ret("timer_delete", syscall(SYS_timer_delete, id), 0);
	errno = 0;
	expect_errno("timer_delete again", syscall(SYS_timer_delete, id), EINVAL);
	errno = 0;
	expect_errno("timer_settime on a deleted timer", timer_settime_(id, 0, &once, NULL), EINVAL);

	struct ksigevent none = {.notify = SIGEV_NONE};
	expect_ret("timer_create(SIGEV_NONE)", timer_create_(CLOCK_MONOTONIC, &none, &id), 0);
	struct itimerspec ten = {{0, 0}, {10, 0}};
	timer_settime_(id, 0, &ten, NULL);
	syscall(SYS_timer_gettime, id, &got);
	check("a SIGEV_NONE timer counts down (0 < left <= 10 s)",
	      ts_ns(got.it_value) > 0 && ts_ns(got.it_value) <= 10000 * MS);
	syscall(SYS_timer_delete, id);

	struct ksigevent rt = {.value.sival_int = 5, .signo = sig, .notify = SIGEV_SIGNAL};
	timer_create_(CLOCK_REALTIME, &rt, &id);
	struct itimerspec at = {{0, 0}, deadline_in(CLOCK_REALTIME, 20 * MS)};
	expect_ret("timer_settime(REALTIME, TIMER_ABSTIME now + 20 ms)",
		   timer_settime_(id, TIMER_ABSTIME, &at, NULL), 0);
	r = wait_signal(sig, &si);
	check("it fired at the time", r == sig && si.si_value.sival_int == 5 &&
					      clock_ns(CLOCK_REALTIME) >= ts_ns(at.it_value));
	syscall(SYS_timer_delete, id);

	pthread_t t;
	spawn(&t, timer_target, NULL);
	wait_flag(&target_ready);
	struct ksigevent to_thread = {.signo = SIGRTMIN + 2,
				      .notify = SIGEV_SIGNAL | SIGEV_THREAD_ID_,
				      .tid = (int)target_tid};
	expect_ret("timer_create(SIGEV_THREAD_ID aimed at a thread)",
		   timer_create_(CLOCK_MONOTONIC, &to_thread, &id), 0);
	timer_settime_(id, 0, &once, NULL);
	join(t);
	check("that thread got the signal, SI_TIMER",
	      thread_got == SIGRTMIN + 2 && thread_code == SI_TIMER);
	syscall(SYS_timer_delete, id);
	to_thread.tid = 0x3ffffff0;
	errno = 0;
	expect_errno("timer_create(SIGEV_THREAD_ID, a tid that does not exist)",
		     timer_create_(CLOCK_MONOTONIC, &to_thread, &id), EINVAL);
	errno = 0;
	expect_errno("timer_create(clock 1234)", timer_create_(1234, &sev, &id), EINVAL);
	sev.signo = 0;
	sev.notify = 99;
	errno = 0;
	expect_errno("timer_create(sigev_notify 99)", timer_create_(CLOCK_MONOTONIC, &sev, &id),
		     EINVAL);

	/* libc's SIGEV_THREAD: the callback runs on a thread of libc's. */
	sem_init(&fired, 0, 0);
	struct sigevent thread_ev;
	memset(&thread_ev, 0, sizeof thread_ev);
	thread_ev.sigev_notify = SIGEV_THREAD;
	thread_ev.sigev_notify_function = callback;
	thread_ev.sigev_value.sival_int = 31;
	timer_t libc_timer;
	expect_ret("timer_create(SIGEV_THREAD) through libc",
		   timer_create(CLOCK_MONOTONIC, &thread_ev, &libc_timer), 0);
	expect_ret("timer_settime(20 ms)", timer_settime(libc_timer, 0, &once, NULL), 0);
	struct timespec limit = deadline_in(CLOCK_REALTIME, (int64_t)LONG_WAIT_S * 1000000000);
	while ((r = sem_timedwait(&fired, &limit)) != 0 && errno == EINTR)
		;
	check("the callback ran with the value, on another thread",
	      r == 0 && callback_value == 31 && callback_tid != gettid_());
	timer_delete(libc_timer);
}

static uint64_t read_count(int fd, long *n)
{
	uint64_t count = 0;
	*n = read(fd, &count, sizeof count);
	return count;
}

static void timerfds(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	check("timerfd_create(MONOTONIC, TFD_CLOEXEC)", fd >= 0);
	struct itimerspec once = {{0, 0}, {0, 20 * MS}}, long_one = {{0, 0}, {10, 0}}, got;
	expect_ret("timerfd_settime(10 s)", timerfd_settime(fd, 0, &long_one, NULL), 0);
	timerfd_gettime(fd, &got);
	check("timerfd_gettime while armed: 0 < left <= 10 s",
	      ts_ns(got.it_value) > 0 && ts_ns(got.it_value) <= 10000 * MS);
	int64_t before = mono_ns();
	expect_ret("timerfd_settime(20 ms) replaces it", timerfd_settime(fd, 0, &once, NULL), 0);
	long n;
	uint64_t count = read_count(fd, &n);
	printf("blocking read: %ld bytes, %llu expiration(s)\n", n, (unsigned long long)count);
	check("it returned 1 expiration after at least 20 ms",
	      n == 8 && count == 1 && mono_ns() - before >= 20 * MS);
	timerfd_gettime(fd, &got);
	check("disarmed afterwards", ts_ns(got.it_value) == 0);

	struct itimerspec every = {{0, 5 * MS}, {0, 5 * MS}};
	timerfd_settime(fd, 0, &every, NULL);
	sleep_ms(50);
	count = read_count(fd, &n);
	printf("periodic 5 ms, read after 50 ms: at least 10 expirations: %s\n",
	       count >= 10 ? "yes" : "no");
	check("the count covers every period that passed", n == 8 && count >= 10);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	expect_ret("poll(timerfd, 30 s) for the next period", poll(&p, 1, LONG_WAIT_S * 1000), 1);
	check("POLLIN", p.revents == POLLIN);
	char small[4];
	errno = 0;
	expect_errno("read into 4 bytes", read(fd, small, sizeof small), EINVAL);
	struct itimerspec off = {{0, 0}, {0, 0}};
	timerfd_settime(fd, 0, &off, &got);
	check("disarming returned the old 5 ms interval", got.it_interval.tv_nsec == 5 * MS);
	close(fd);

	fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	errno = 0;
	expect_errno("non-blocking read of a disarmed timerfd", read_count(fd, &n) * 0 + n, EAGAIN);
	struct itimerspec past = {{0, 0}, deadline_in(CLOCK_REALTIME, -1000 * MS)};
	expect_ret("timerfd_settime(TFD_TIMER_ABSTIME, a second ago)",
		   timerfd_settime(fd, TFD_TIMER_ABSTIME, &past, NULL), 0);
	count = read_count(fd, &n);
	check("expired at once: 1 expiration", n == 8 && count == 1);
	errno = 0;
	expect_errno("timerfd_settime with flags 0x100", timerfd_settime(fd, 0x100, &once, NULL),
		     EINVAL);
	struct itimerspec bad = {{0, 0}, {0, 1000000000}};
	errno = 0;
	expect_errno("timerfd_settime with tv_nsec = 1e9", timerfd_settime(fd, 0, &bad, NULL),
		     EINVAL);
	close(fd);
	fd = timerfd_create(CLOCK_BOOTTIME, 0);
	check("timerfd_create(BOOTTIME)", fd >= 0);
	timerfd_settime(fd, 0, &once, NULL);
	count = read_count(fd, &n);
	check("a BOOTTIME timerfd fires", n == 8 && count == 1);
	close(fd);
	errno = 0;
	expect_errno("timerfd_create(clock 1234)", timerfd_create(1234, 0), EINVAL);
	errno = 0;
	expect_errno("timerfd_create(flags 1)", timerfd_create(CLOCK_MONOTONIC, 1), EINVAL);
}

int main(void)
{
	alarms_and_itimers();
	posix_timers();
	timerfds();
	return finish();
}
