/* sig_thread: signals and threads: a process-directed signal goes to a thread that does not
 * block it, pthread_kill picks the thread, masks are per thread and inherited at creation,
 * thread- and process-directed pending signals are seen where they should be, sigwaitinfo in
 * one thread takes a process-directed signal that every thread blocks, a signal interrupts a
 * blocking read in another thread (EINTR), and handlers are shared by all threads. */
#define _GNU_SOURCE
#include <semaphore.h>
#include "thrutil.h"

static long tid_of[4];
static volatile long handled_by[65];
static sem_t handled, quit;

static void on_signal(int sig)
{
	handled_by[sig] = gettid_();
	sem_post(&handled);
}

static void wait_handled(void)
{
	struct timespec at = deadline_in(CLOCK_REALTIME, (int64_t)LONG_WAIT_S * 1000000000);
	while (sem_timedwait(&handled, &at) != 0 && errno == EINTR)
		;
}

static void mask(int how, int a, int b)
{
	sigset_t set;
	sigemptyset(&set);
	if (a)
		sigaddset(&set, a);
	if (b)
		sigaddset(&set, b);
	pthread_sigmask(how, &set, NULL);
}

static int blocks(int sig)
{
	sigset_t now;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	return sigismember(&now, sig);
}

static int pending(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

/* Per-thread answers to questions main asks through `ask`. */
struct worker {
	int index;
	int unblock_a, unblock_b;
	int inherited_usr1_block;
	volatile int question; /* 1: is RTMIN+1 pending for you? 2: take RTMIN+1 */
	volatile int answer;
	sem_t asked, answered;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	tid_of[w->index] = gettid_();
	w->inherited_usr1_block = blocks(SIGUSR1);
	mask(SIG_UNBLOCK, w->unblock_a, w->unblock_b);
	sem_post(&w->answered);
	for (;;) {
		while (sem_wait(&w->asked) != 0)
			;
		if (w->question == 0) {
			sem_post(&w->answered);
			return NULL;
		}
		if (w->question == 1) {
			w->answer = pending(SIGRTMIN + 1);
		} else {
			sigset_t want;
			siginfo_t si;
			struct timespec limit = {LONG_WAIT_S, 0};
			sigemptyset(&want);
			sigaddset(&want, SIGRTMIN + 1);
			w->answer = (int)syscall(SYS_rt_sigtimedwait, &want, &si, &limit, 8);
		}
		sem_post(&w->answered);
	}
}

static int ask(struct worker *w, int question)
{
	w->question = question;
	sem_post(&w->asked);
	while (sem_wait(&w->answered) != 0)
		;
	return w->answer;
}

static long waited_value;
static volatile int waiter_ready;

static void *sigwaiter(void *arg)
{
	(void)arg;
	sigset_t want;
	siginfo_t si;
	struct timespec limit = {LONG_WAIT_S, 0};
	sigemptyset(&want);
	sigaddset(&want, SIGRTMIN + 4);
	__atomic_store_n(&waiter_ready, 1, __ATOMIC_RELEASE);
	memset(&si, 0, sizeof si);
	int r = (int)syscall(SYS_rt_sigtimedwait, &want, &si, &limit, 8);
	waited_value = r == SIGRTMIN + 4 ? si.si_value.sival_int : -1;
	return NULL;
}

static int pipe_fds[2];
static volatile int reader_ready, reader_done;
static long read_result;
static int read_errno;

static void *blocked_reader(void *arg)
{
	(void)arg;
	char c;
	mask(SIG_UNBLOCK, SIGUSR2, 0);
	__atomic_store_n(&reader_ready, 1, __ATOMIC_RELEASE);
	errno = 0;
	read_result = read(pipe_fds[0], &c, 1); /* nobody writes: only a signal ends it */
	read_errno = errno;
	__atomic_store_n(&reader_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	sem_init(&handled, 0, 0);
	sem_init(&quit, 0, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART */
	int sigs[] = {SIGUSR1, SIGUSR2, SIGWINCH};
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, NULL);
	tid_of[0] = gettid_();
	mask(SIG_BLOCK, SIGUSR1, SIGUSR2);
	mask(SIG_BLOCK, SIGRTMIN + 1, SIGRTMIN + 4);

	/* Worker 1 takes only USR2; worker 2 takes USR1 and USR2. */
	static struct worker w[3];
	pthread_t threads[3];
	w[1].unblock_a = SIGUSR2;
	w[2].unblock_a = SIGUSR1;
	w[2].unblock_b = SIGUSR2;
	for (int i = 1; i <= 2; i++) {
		w[i].index = i;
		sem_init(&w[i].asked, 0, 0);
		sem_init(&w[i].answered, 0, 0);
		spawn(&threads[i], worker, &w[i]);
		while (sem_wait(&w[i].answered) != 0)
			;
	}
	check("new threads start with their creator's mask (USR1 blocked)",
	      w[1].inherited_usr1_block && w[2].inherited_usr1_block);
	check("a thread's pthread_sigmask leaves main's mask alone", blocks(SIGUSR1));

	kill(getpid(), SIGUSR1);
	wait_handled();
	check("kill(getpid(), USR1): handled by the one thread not blocking it",
	      handled_by[SIGUSR1] == tid_of[2]);
	pthread_kill(threads[1], SIGUSR2);
	wait_handled();
	check("pthread_kill(thread 1, USR2): handled by thread 1", handled_by[SIGUSR2] == tid_of[1]);
	pthread_kill(threads[2], SIGUSR2);
	wait_handled();
	check("pthread_kill(thread 2, USR2): handled by thread 2", handled_by[SIGUSR2] == tid_of[2]);
	syscall(SYS_tgkill, getpid(), tid_of[1], SIGUSR2);
	wait_handled();
	check("tgkill(thread 1, USR2): handled by thread 1", handled_by[SIGUSR2] == tid_of[1]);

	/* Thread-directed and blocked: pending for that thread only. */
	pthread_kill(threads[1], SIGRTMIN + 1);
	check("RTMIN+1 sent to thread 1 (which blocks it) is pending there",
	      ask(&w[1], 1) == 1);
	check("but not in main or thread 2", !pending(SIGRTMIN + 1) && ask(&w[2], 1) == 0);
	check("thread 1 takes it with sigtimedwait", ask(&w[1], 2) == SIGRTMIN + 1);
	check("then it is pending nowhere", ask(&w[1], 1) == 0 && !pending(SIGRTMIN + 1));

	/* Process-directed and blocked everywhere: pending for every thread. */
	kill(getpid(), SIGRTMIN + 1);
	check("RTMIN+1 sent to the process (all block it) is pending in main and the threads",
	      pending(SIGRTMIN + 1) && ask(&w[1], 1) == 1 && ask(&w[2], 1) == 1);
	check("thread 2 takes it with sigtimedwait", ask(&w[2], 2) == SIGRTMIN + 1);
	check("then it is pending nowhere", !pending(SIGRTMIN + 1) && ask(&w[1], 1) == 0);

	/* sigwaitinfo in one thread takes a process-directed signal everyone blocks. */
	pthread_t waiter;
	spawn(&waiter, sigwaiter, NULL);
	wait_flag(&waiter_ready);
	sleep_ms(10); /* most likely waiting by now; the outcome is the same if not */
	union sigval v = {.sival_int = 77};
	sigqueue(getpid(), SIGRTMIN + 4, v);
	join(waiter);
	printf("the waiting thread got value %ld\n", waited_value);
	check("a thread in sigtimedwait took the process-directed RTMIN+4", waited_value == 77);

	/* A handler shared by all threads, installed by main, run on the thread that gets it. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGWINCH, &sa, NULL);
	mask(SIG_BLOCK, SIGWINCH, 0);
	pthread_kill(threads[1], SIGWINCH);
	wait_handled();
	check("SIGWINCH's handler, set in main, ran on thread 1", handled_by[SIGWINCH] == tid_of[1]);

	/* A signal interrupts a blocking read in another thread. Sent until the reader is done:
	 * one that arrives before the read starts is handled and the read goes on blocking. */
	if (pipe(pipe_fds) != 0)
		die("pipe");
	pthread_t reader;
	spawn(&reader, blocked_reader, NULL);
	wait_flag(&reader_ready);
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (!__atomic_load_n(&reader_done, __ATOMIC_ACQUIRE) && mono_ns() < until) {
		pthread_kill(reader, SIGUSR2);
		sleep_ms(5);
	}
	join(reader);
	printf("the reader's read returned %ld %s\n", read_result, errname(read_errno));
	check("the signal interrupted the other thread's read with EINTR",
	      read_result == -1 && read_errno == EINTR);

	for (int i = 1; i <= 2; i++) {
		ask(&w[i], 0);
		join(threads[i]);
	}
	int64_t gone_by = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (syscall(SYS_tgkill, getpid(), tid_of[1], 0) == 0 && mono_ns() < gone_by)
		sleep_ms(1);
	errno = 0;
	expect_errno("tgkill to a thread that has exited",
		     syscall(SYS_tgkill, getpid(), tid_of[1], 0), ESRCH);
	return finish();
}
