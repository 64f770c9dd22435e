/* cpu_rusage: CPU time as the program sees it: CLOCK_PROCESS_CPUTIME_ID and
 * CLOCK_THREAD_CPUTIME_ID never go back and advance while it computes, not while it sleeps;
 * another thread's CPU clock; getrusage (SELF, THREAD, CHILDREN) and times() agree with the
 * clocks; nothing is faster than the wall clock allows. Only yes/no facts are printed. */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/times.h>
#include "thrutil.h"

#define MS 1000000LL

static int64_t tv_ns(struct timeval t)
{
	return (int64_t)t.tv_sec * 1000000000 + (int64_t)t.tv_usec * 1000;
}

static int64_t rusage_ns(int who)
{
	struct rusage ru;
	if (getrusage(who, &ru) != 0)
		return -1;
	return tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
}

/* Computes until `clock` has advanced by `ns` (at most LONG_WAIT_S of wall time). */
static int burn(clockid_t clock, int64_t ns)
{
	int64_t start = clock_ns(clock), until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	volatile uint64_t x = 1;
	while (clock_ns(clock) - start < ns) {
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (mono_ns() > until)
			return 0;
	}
	return 1;
}

static int monotonic(clockid_t clock, int reads)
{
	int64_t last = clock_ns(clock);
	for (int i = 0; i < reads; i++) {
		int64_t now = clock_ns(clock);
		if (now < last || now < 0)
			return 0;
		last = now;
	}
	return 1;
}

static volatile int burner_ready, burner_done;
static clockid_t burner_clock;
static int64_t burner_rusage;

static void *burner(void *arg)
{
	(void)arg;
	pthread_getcpuclockid(pthread_self(), &burner_clock);
	__atomic_store_n(&burner_ready, 1, __ATOMIC_RELEASE);
	burn(CLOCK_THREAD_CPUTIME_ID, 100 * MS);
	burner_rusage = rusage_ns(RUSAGE_THREAD);
	__atomic_store_n(&burner_done, 1, __ATOMIC_RELEASE);
	/* Stays alive so that main can read its clock. */
	while (__atomic_load_n(&burner_done, __ATOMIC_ACQUIRE) != 2)
		sleep_ms(1);
	return NULL;
}

int main(void)
{
	struct timespec res;
	check("clock_getres(PROCESS_CPUTIME_ID) is between 1 ns and 10 ms",
	      clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res) == 0 && ts_ns(res) > 0 &&
		      ts_ns(res) <= 10 * MS);
	check("clock_getres(THREAD_CPUTIME_ID) is between 1 ns and 10 ms",
	      clock_getres(CLOCK_THREAD_CPUTIME_ID, &res) == 0 && ts_ns(res) > 0 &&
		      ts_ns(res) <= 10 * MS);
	check("the process CPU clock never goes back over 10000 reads",
	      monotonic(CLOCK_PROCESS_CPUTIME_ID, 10000));
	check("the thread CPU clock never goes back over 10000 reads",
	      monotonic(CLOCK_THREAD_CPUTIME_ID, 10000));

	int64_t wall0 = mono_ns(), proc0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	int64_t thread0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	struct tms tms0;
	clock_t ticks0 = times(&tms0);
	check("computing until the thread CPU clock advanced 200 ms",
	      burn(CLOCK_THREAD_CPUTIME_ID, 200 * MS));
	int64_t proc1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	int64_t thread1 = clock_ns(CLOCK_THREAD_CPUTIME_ID), wall1 = mono_ns();
	int64_t rusage1 = rusage_ns(RUSAGE_SELF);
	int64_t proc1b = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	struct tms tms1;
	clock_t ticks1 = times(&tms1);
	check("the process CPU clock advanced at least as much",
	      proc1 - proc0 >= thread1 - thread0 - 1 * MS);
	check("CPU time did not run faster than the wall clock",
	      proc1 - proc0 <= wall1 - wall0 + 10 * MS);
	check("getrusage(SELF) user + system agrees with the process CPU clock (within 50 ms)",
	      rusage1 >= proc0 + 150 * MS && rusage1 <= proc1b + 50 * MS);
	long hz = sysconf(_SC_CLK_TCK);
	printf("sysconf(_SC_CLK_TCK) = %ld\n", hz);
	int64_t tms_ns = (int64_t)(tms1.tms_utime + tms1.tms_stime - tms0.tms_utime -
				   tms0.tms_stime) * (1000000000 / hz);
	check("times(): user + system advanced 200 ms give or take 50 ms",
	      tms_ns >= 150 * MS && tms_ns <= proc1b - proc0 + 50 * MS);
	check("times(): its return value advanced with the wall clock",
	      ticks1 >= ticks0 && (int64_t)(ticks1 - ticks0) * (1000000000 / hz) <=
					  wall1 - wall0 + 20 * MS);
	check("no children: their times are zero", tms1.tms_cutime == 0 && tms1.tms_cstime == 0 &&
							   rusage_ns(RUSAGE_CHILDREN) == 0);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	check("ru_maxrss is set", ru.ru_maxrss > 0);
	check("ru_utime has microseconds below a million", ru.ru_utime.tv_usec >= 0 &&
								  ru.ru_utime.tv_usec < 1000000);

	int64_t before = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	sleep_ms(200);
	check("sleeping 200 ms cost less than 50 ms of thread CPU time",
	      clock_ns(CLOCK_THREAD_CPUTIME_ID) - before < 50 * MS);

	/* Another thread computes while main sleeps. */
	int64_t main_before = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	int64_t proc_before = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	pthread_t t;
	spawn(&t, burner, NULL);
	wait_flag(&burner_ready);
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (__atomic_load_n(&burner_done, __ATOMIC_ACQUIRE) != 1 && mono_ns() < until)
		sleep_ms(5);
	int64_t other = clock_ns(burner_clock);
	int64_t proc_after = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	int64_t main_after = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	__atomic_store_n(&burner_done, 2, __ATOMIC_RELEASE);
	join(t);
	check("the other thread's clock (pthread_getcpuclockid) shows its 100 ms", other >= 100 * MS);
	check("its getrusage(THREAD) shows them too (within 50 ms)",
	      burner_rusage >= 50 * MS && burner_rusage <= other + 50 * MS);
	check("the process CPU clock counted them", proc_after - proc_before >= 100 * MS);
	check("main's own thread clock did not", main_after - main_before < 50 * MS);
	return finish();
}
