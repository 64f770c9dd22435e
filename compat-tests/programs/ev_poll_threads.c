/* ev_poll_threads: one thread blocks (read, poll, select, ppoll, epoll_wait, a FIFO open) and
 * another makes it ready: a write, an eventfd count, closing the write end (EOF and POLLHUP),
 * several readers on one pipe, a writer blocked on a full pipe until the reader drains it. The
 * main thread sleeps a little before acting so that the other is most likely blocked by then;
 * the results are the same if it is not. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/stat.h>
#include "thrutil.h"

static int p[2];
static volatile int started;

struct outcome {
	long r;
	int err;
	short revents;
	char data[64];
};

static void begin(void)
{
	__atomic_store_n(&started, 1, __ATOMIC_RELEASE);
}

static void *do_read(void *arg)
{
	struct outcome *o = arg;
	begin();
	o->r = read(p[0], o->data, sizeof o->data - 1);
	o->err = errno;
	return NULL;
}

static void *do_poll(void *arg)
{
	struct outcome *o = arg;
	struct pollfd fds[2] = {{.fd = p[1], .events = POLLIN}, {.fd = p[0], .events = POLLIN}};
	begin();
	o->r = poll(fds, 2, -1);
	o->revents = fds[1].revents;
	o->err = fds[0].revents; /* the write end is never readable */
	return NULL;
}

static void *do_select(void *arg)
{
	struct outcome *o = arg;
	fd_set r;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	begin();
	o->r = select(p[0] + 1, &r, NULL, NULL, NULL);
	o->revents = FD_ISSET(p[0], &r);
	return NULL;
}

static void *do_ppoll(void *arg)
{
	struct outcome *o = arg;
	struct pollfd fd = {.fd = p[0], .events = POLLIN};
	begin();
	o->r = ppoll(&fd, 1, NULL, NULL);
	o->revents = fd.revents;
	return NULL;
}

static int efd, ep;

static void *do_epoll(void *arg)
{
	struct outcome *o = arg;
	struct epoll_event ev;
	begin();
	o->r = epoll_wait(ep, &ev, 1, -1);
	o->revents = (short)ev.events;
	return NULL;
}

/* Runs `fn` in a thread, then `act` once it has (most likely) blocked; joins it. */
static void blocked_then(void *(*fn)(void *), struct outcome *o, void (*act)(void))
{
	pthread_t t;
	memset(o, 0, sizeof *o);
	started = 0;
	spawn(&t, fn, o);
	wait_flag(&started);
	sleep_ms(20);
	act();
	join(t);
}

static void write_hello(void)
{
	write(p[1], "hello", 5);
}

static void drain(void)
{
	char buf[64];
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (read(p[0], buf, sizeof buf) > 0)
		;
	fcntl(p[0], F_SETFL, 0);
}

static void close_writer(void)
{
	close(p[1]);
}

static void count_eventfd(void)
{
	eventfd_write(efd, 7);
}

static void new_pipe(void)
{
	if (pipe(p) != 0)
		die("pipe");
}

#define READERS 4
static char got_byte[READERS];

static void *read_one(void *arg)
{
	long i = (long)arg;
	__atomic_fetch_add(&started, 1, __ATOMIC_ACQ_REL);
	if (read(p[0], &got_byte[i], 1) != 1)
		got_byte[i] = '?';
	return NULL;
}

static int cmp_char(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

#define BIG (128 * 1024)
static long big_written;

static void *write_big(void *arg)
{
	(void)arg;
	static char buf[BIG];
	memset(buf, 'w', sizeof buf);
	begin();
	big_written = write(p[1], buf, sizeof buf);
	return NULL;
}

static char fifo_path[64];
static long fifo_read;
static char fifo_data[16];

static void *open_fifo_for_reading(void *arg)
{
	(void)arg;
	begin();
	int fd = open(fifo_path, O_RDONLY); /* blocks until a writer opens it */
	fifo_read = fd < 0 ? -1 : read(fd, fifo_data, sizeof fifo_data - 1);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(void)
{
	struct outcome o;
	new_pipe();
	blocked_then(do_read, &o, write_hello);
	printf("read: %ld \"%s\"\n", o.r, o.data);
	check("a blocked read got the other thread's write", o.r == 5 && strcmp(o.data, "hello") == 0);

	blocked_then(do_poll, &o, write_hello);
	check("a blocked poll on two fds woke with POLLIN on the pipe only",
	      o.r == 1 && o.revents == POLLIN && o.err == 0);
	drain();
	blocked_then(do_select, &o, write_hello);
	check("a blocked select woke with the pipe readable", o.r == 1 && o.revents);
	drain();
	blocked_then(do_ppoll, &o, write_hello);
	check("a blocked ppoll woke with POLLIN", o.r == 1 && o.revents == POLLIN);
	drain();

	efd = eventfd(0, 0);
	ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	blocked_then(do_epoll, &o, count_eventfd);
	check("a blocked epoll_wait woke for the eventfd", o.r == 1 && o.revents == EPOLLIN);

	blocked_then(do_read, &o, close_writer);
	check("a blocked read got end of file when the write end closed", o.r == 0);
	close(p[0]);
	new_pipe();
	/* ppoll on the read end only: a poll on the write end would keep it open. */
	blocked_then(do_ppoll, &o, close_writer);
	printf("ppoll after the write end closed: %ld, revents %s\n", o.r,
	       o.revents == POLLHUP ? "POLLHUP" : "other");
	check("a blocked ppoll woke with POLLHUP", o.r == 1 && o.revents == POLLHUP);
	close(p[0]);

	new_pipe();
	pthread_t readers[READERS];
	started = 0;
	for (long i = 0; i < READERS; i++)
		spawn(&readers[i], read_one, (void *)i);
	wait_count(&started, READERS);
	sleep_ms(20);
	write(p[1], "dcba", 4);
	for (int i = 0; i < READERS; i++)
		join(readers[i]);
	qsort(got_byte, READERS, 1, cmp_char);
	printf("four readers of one byte each got \"%.4s\" between them\n", got_byte);
	check("each of four blocked readers got one of the four bytes",
	      memcmp(got_byte, "abcd", 4) == 0);

	pthread_t writer;
	started = 0;
	spawn(&writer, write_big, NULL);
	wait_flag(&started);
	sleep_ms(20);
	long total = 0, n;
	char buf[4096];
	while (total < BIG && (n = read(p[0], buf, sizeof buf)) > 0)
		total += n;
	join(writer);
	printf("a 128 KiB write into a 64 KiB pipe: it wrote %ld, the reader read %ld\n",
	       big_written, total);
	check("the writer blocked until the reader made room, then finished",
	      big_written == BIG && total == BIG);

	snprintf(fifo_path, sizeof fifo_path, "/tmp/ev_poll_threads.%d", (int)getpid());
	unlink(fifo_path);
	if (mkfifo(fifo_path, 0600) != 0)
		die("mkfifo");
	pthread_t fifo_reader;
	started = 0;
	spawn(&fifo_reader, open_fifo_for_reading, NULL);
	wait_flag(&started);
	sleep_ms(20);
	int w = open(fifo_path, O_WRONLY);
	write(w, "fifo!", 5);
	close(w);
	join(fifo_reader);
	unlink(fifo_path);
	printf("FIFO: the reader's open waited for the writer, then read %ld \"%s\"\n", fifo_read,
	       fifo_data);
	check("the FIFO rendezvous worked", fifo_read == 5 && strcmp(fifo_data, "fifo!") == 0);
	return finish();
}
