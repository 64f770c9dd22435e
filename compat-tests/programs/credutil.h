/* credutil.h - what the cred_* programs share: starting from a root container's credentials,
 * printing ids and capability sets, and running a step in a child of its own.
 *
 * The host side runs as root with every capability; Docker (and Coracle) give root a smaller
 * set. cred_start() drops the host's extra capabilities with the same calls a container
 * runtime makes (PR_CAPBSET_DROP, capset), so both sides start alike; in Coracle the calls
 * change nothing. Raw capget/capset through syscall(2): musl has no <sys/capability.h>. */
#ifndef COMPAT_CREDUTIL_H
#define COMPAT_CREDUTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errname.h"

/* Docker's default capability set (moby's DefaultCapabilities). */
#define DOCKER_CAPS 0xa80425fbULL
#define CAP_V3 0x20080522
#define CAP_LAST 40

struct cap_header {
	uint32_t version;
	int pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};

static __attribute__((unused)) long cap_get(int pid, uint64_t sets[3])
{
	struct cap_header h = {CAP_V3, pid};
	struct cap_data d[2];
	long r = syscall(SYS_capget, &h, d);
	if (r == 0) {
		sets[0] = d[0].effective | (uint64_t)d[1].effective << 32;
		sets[1] = d[0].permitted | (uint64_t)d[1].permitted << 32;
		sets[2] = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	}
	return r;
}

static __attribute__((unused)) long cap_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct cap_header h = {CAP_V3, 0};
	struct cap_data d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

/* Root of a Docker container: the default bounding, permitted and effective sets. */
static __attribute__((unused)) void cred_start(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int c = 0; c <= CAP_LAST; c++)
		if (!(DOCKER_CAPS & (1ULL << c)))
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (cap_set(DOCKER_CAPS, DOCKER_CAPS, 0) != 0)
		printf("cred_start: capset failed %s\n", errname(errno));
	if (setgroups(0, NULL) != 0)
		printf("cred_start: setgroups failed %s\n", errname(errno));
}

/* "what = value", or "what = -1 ENAME" when it failed. */
static __attribute__((unused)) void result(const char *what, long r)
{
	if (r < 0)
		printf("%s = %ld %s\n", what, r, errname(errno));
	else
		printf("%s = %ld\n", what, r);
}

#define TRY(expr)                                 \
	do {                                      \
		errno = 0;                        \
		result(#expr, (long)(expr));      \
	} while (0)

/* The lines of /proc/self/status that describe credentials. */
static __attribute__((unused)) void show_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[512];
	if (!f) {
		printf("status: %s\n", errname(errno));
		return;
	}
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
		    !strncmp(line, "Groups:", 7) || !strncmp(line, "Cap", 3) ||
		    !strncmp(line, "NoNewPrivs:", 11))
			fputs(line, stdout);
	fclose(f);
}

/* Real, effective and saved ids, the fs ids, the groups and the capability sets. */
static __attribute__((unused)) void show_ids(const char *when)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	gid_t list[64];
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	int fsu = setfsuid(-1), fsg = setfsgid(-1);
	int n = getgroups(64, list);
	printf("%s: uid %u %u %u fs %d, gid %u %u %u fs %d, groups", when, r, e, s, fsu, gr, ge,
	       gs, fsg);
	for (int i = 0; i < n; i++)
		printf(" %u", list[i]);
	uint64_t c[3];
	if (cap_get(0, c) == 0)
		printf(", caps eff %llx prm %llx inh %llx\n", (unsigned long long)c[0],
		       (unsigned long long)c[1], (unsigned long long)c[2]);
	else
		printf(", capget %s\n", errname(errno));
}

/* Runs fn in a child (credential changes do not come back) and prints how it ended. */
static __attribute__((unused)) void in_child(const char *label, void (*fn)(void))
{
	printf("== %s\n", label);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		printf("%s: child status %#x\n", label, status);
}

#endif
