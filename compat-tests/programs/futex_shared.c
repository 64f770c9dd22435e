/* futex_shared: futexes between processes meet on shared memory, keyed by what backs the word
 * (Linux's get_futex_key): MAP_SHARED|MAP_ANONYMOUS memory inherited over fork, one file mapped
 * by two processes at different addresses, named POSIX semaphores (sem_open in /dev/shm) and
 * process-shared pthread mutexes, condition variables, barriers and robust mutexes. A private
 * futex (FUTEX_PRIVATE_FLAG) on the same word stays within its process.
 *
 * A waker retries FUTEX_WAKE until it reports one woken thread, so each check waits for the
 * other process to be queued and never depends on timing; a wait that must not be met has a
 * short timeout. */
#include <semaphore.h>
#include <sys/mman.h>
#include "procutil.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)

static long futex(volatile int *word, int op, int val, const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/* FUTEX_WAKE (with `op`) on `word` until one waiter is woken; the number of tries it took is
 * not printed. Returns what the last wake returned. */
static long wake_one(volatile int *word, int op)
{
	long r = 0;
	for (int i = 0; i < LONG_WAIT_S * 100; i++) {
		r = futex(word, op, 1, NULL);
		if (r != 0)
			return r;
		sleep_ms(10);
	}
	return r;
}

/* Forks a child that runs `fn` and exits with its result. */
static pid_t child(int (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

/* The child's exit status (or 100 + signal). */
static int status_of(pid_t pid)
{
	int status = reap(pid);
	if (status < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* A child's FUTEX_WAIT on a word that holds 0: its exit status is 0 when it was woken, 1 when
 * the wait failed some other way, 2 for ETIMEDOUT. */
struct waiter {
	volatile int *word;
	int op;
	int timeout_ms;
};

static int wait_child(void *arg)
{
	struct waiter *w = arg;
	struct timespec t = ns_ts((int64_t)w->timeout_ms * 1000000);
	long r;
	do
		r = futex(w->word, w->op, 0, w->timeout_ms ? &t : NULL);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	return errno == ETIMEDOUT ? 2 : 1;
}

static void shared_anonymous(void)
{
	volatile int *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (word == MAP_FAILED)
		die("mmap shared anonymous");
	struct waiter w = {word + 1, FUTEX_WAIT, 0};
	pid_t pid = child(wait_child, &w);
	expect_ret("shared anonymous: FUTEX_WAKE in the parent wakes the child", wake_one(word + 1, FUTEX_WAKE), 1);
	expect_ret("the child's FUTEX_WAIT returned 0", status_of(pid), 0);

	/* Private waits and wakes are per process: they do not meet across fork. */
	w.op = FUTEX_WAIT_PRIVATE;
	w.timeout_ms = 300;
	pid = child(wait_child, &w);
	long woken = 0;
	for (int i = 0; i < 10; i++)
		woken += futex(word + 1, FUTEX_WAKE_PRIVATE, 1, NULL);
	expect_ret("FUTEX_WAKE_PRIVATE from the parent wakes nobody", woken, 0);
	expect_ret("the child's private wait times out (status 2)", status_of(pid), 2);

	/* A private word of the parent's (copied on fork) is not shared either. */
	static int private_word;
	w.word = &private_word;
	w.op = FUTEX_WAIT;
	pid = child(wait_child, &w);
	woken = 0;
	for (int i = 0; i < 10; i++)
		woken += futex(&private_word, FUTEX_WAKE, 1, NULL);
	expect_ret("a shared wake on a private (copied) word wakes nobody", woken, 0);
	expect_ret("the child's wait on its copy times out", status_of(pid), 2);
	munmap((void *)word, 4096);
}

static char path[] = "/tmp/futex_shared.XXXXXX";

/* The child maps the file itself, at another address and through another offset, and waits on
 * the word at file offset 4096 + 8. */
static int file_child(void *arg)
{
	(void)arg;
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return 1;
	/* Something mapped first, so the child's mapping lands elsewhere than the parent's. */
	if (mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
		return 1;
	char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
	if (m == MAP_FAILED)
		return 1;
	struct waiter w = {(volatile int *)(m + 8), FUTEX_WAIT, 0};
	return wait_child(&w);
}

static void shared_file(void)
{
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 2 * 4096) != 0)
		die("the file");
	char *m = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("mmap file");
	pid_t pid = child(file_child, NULL);
	/* A word at the same address offset in the other page is another futex. */
	long other = 0;
	for (int i = 0; i < 10; i++)
		other += futex((volatile int *)(m + 8), FUTEX_WAKE, 1, NULL);
	expect_ret("a wake on another page of the file wakes nobody", other, 0);
	expect_ret("file mapped by two processes: the wake meets the wait",
		   wake_one((volatile int *)(m + 4096 + 8), FUTEX_WAKE), 1);
	expect_ret("the child's wait returned 0", status_of(pid), 0);
	unlink(path);
	close(fd);
}

static int sem_child(void *arg)
{
	sem_t *s = sem_open(arg, 0);
	if (s == SEM_FAILED)
		return 1;
	struct timespec until = deadline_in(CLOCK_REALTIME, (int64_t)LONG_WAIT_S * 1000000000);
	int r = sem_timedwait(s, &until);
	if (r != 0)
		return errno == ETIMEDOUT ? 2 : 1;
	/* Tell the parent, through the second semaphore. */
	sem_t *back = sem_open("/futex_shared_back", 0);
	if (back == SEM_FAILED || sem_post(back) != 0)
		return 1;
	return 0;
}

static void named_semaphores(void)
{
	const char *name = "/futex_shared_sem";
	sem_unlink(name);
	sem_unlink("/futex_shared_back");
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	sem_t *back = sem_open("/futex_shared_back", O_CREAT | O_EXCL, 0600, 0);
	if (s == SEM_FAILED || back == SEM_FAILED)
		die("sem_open");
	pid_t pid = child(sem_child, (void *)name);
	/* Let the child block in sem_timedwait (it may not have yet; either way it must pass). */
	sleep_ms(100);
	expect_ret("sem_post", sem_post(s), 0);
	struct timespec until = deadline_in(CLOCK_REALTIME, (int64_t)LONG_WAIT_S * 1000000000);
	expect_ret("sem_timedwait on the child's post", sem_timedwait(back, &until), 0);
	expect_ret("the child passed its sem_timedwait", status_of(pid), 0);
	int v = -1;
	sem_getvalue(s, &v);
	expect_ret("the semaphore's value", v, 0);
	expect_ret("sem_unlink", sem_unlink(name), 0);
	sem_unlink("/futex_shared_back");
	sem_close(s);
	sem_close(back);
}

/* Process-shared pthread objects in one shared anonymous page. */
struct shared {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	pthread_barrier_t barrier;
	pthread_mutex_t robust;
	int ready;
	int turn;
};

static int mutex_child(void *arg)
{
	struct shared *s = arg;
	/* The parent holds the mutex: this blocks until it unlocks. */
	if (pthread_mutex_lock(&s->mutex) != 0)
		return 1;
	int turn = s->turn;
	pthread_mutex_unlock(&s->mutex);
	if (turn != 1)
		return 3;
	/* Wait on the condition until the parent sets ready. */
	pthread_mutex_lock(&s->mutex);
	while (!s->ready)
		pthread_cond_wait(&s->cond, &s->mutex);
	pthread_mutex_unlock(&s->mutex);
	int r = pthread_barrier_wait(&s->barrier);
	if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
		return 4;
	/* Take the robust mutex and die holding it. */
	if (pthread_mutex_lock(&s->robust) != 0)
		return 5;
	r = pthread_barrier_wait(&s->barrier);
	if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
		return 4;
	_exit(0);
}

static void pthread_objects(void)
{
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		die("mmap");
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	die_rc("pthread_mutex_init", pthread_mutex_init(&s->mutex, &ma));
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	die_rc("pthread_mutex_init robust", pthread_mutex_init(&s->robust, &ma));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	die_rc("pthread_cond_init", pthread_cond_init(&s->cond, &ca));
	pthread_barrierattr_t ba;
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	die_rc("pthread_barrier_init", pthread_barrier_init(&s->barrier, &ba, 2));

	pthread_mutex_lock(&s->mutex);
	pid_t pid = child(mutex_child, s);
	/* Give the child time to block on the mutex (it passes either way). */
	sleep_ms(100);
	s->turn = 1;
	expect_rc("pthread_mutex_unlock with the child waiting", pthread_mutex_unlock(&s->mutex), 0);
	sleep_ms(100);
	pthread_mutex_lock(&s->mutex);
	s->ready = 1;
	expect_rc("pthread_cond_broadcast", pthread_cond_broadcast(&s->cond), 0);
	pthread_mutex_unlock(&s->mutex);
	int r = pthread_barrier_wait(&s->barrier);
	check("the barrier let both processes through", r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
	r = pthread_barrier_wait(&s->barrier);
	check("the child holds the robust mutex", r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
	/* Blocks until the child dies holding it: its robust list hands it over. */
	expect_rc("pthread_mutex_lock after the owner died", pthread_mutex_lock(&s->robust), EOWNERDEAD);
	expect_rc("pthread_mutex_consistent", pthread_mutex_consistent(&s->robust), 0);
	expect_rc("pthread_mutex_unlock", pthread_mutex_unlock(&s->robust), 0);
	expect_ret("the child's status", status_of(pid), 0);
}

int main(void)
{
	shared_anonymous();
	shared_file();
	named_semaphores();
	pthread_objects();
	return finish();
}
