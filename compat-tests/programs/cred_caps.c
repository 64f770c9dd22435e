/* cred_caps: capget/capset (versions, pids, the rules for each set), the prctl capability
 * calls (bounding set, ambient set, securebits, no_new_privs), and what execve does to the
 * sets (the program runs itself again with "exec" as argv[1] to print them). */
#include "credutil.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef PR_SET_NO_NEW_PRIVS
#define PR_SET_NO_NEW_PRIVS 38
#define PR_GET_NO_NEW_PRIVS 39
#endif

static const char *self;

static void versions(void)
{
	struct cap_header h = {0x12345678, 0};
	struct cap_data d[2];
	TRY(syscall(SYS_capget, &h, d));
	printf("version after a bad one: %#x\n", h.version);
	h.version = 0x12345678;
	TRY(syscall(SYS_capget, &h, NULL));
	printf("version after a bad one, NULL data: %#x\n", h.version);
	h.version = 0x19980330;
	memset(d, 0xff, sizeof d);
	TRY(syscall(SYS_capget, &h, d));
	printf("v1: eff %#x prm %#x inh %#x, next word %#x\n", d[0].effective, d[0].permitted,
	       d[0].inheritable, d[1].effective);
	h.version = CAP_V3;
	h.pid = -1;
	TRY(syscall(SYS_capget, &h, d));
	h.pid = 999999;
	TRY(syscall(SYS_capget, &h, d));
	h.pid = getpid();
	TRY(syscall(SYS_capget, &h, d));
	TRY(syscall(SYS_capget, &h, (void *)16));
	h.pid = getppid();
	TRY(syscall(SYS_capset, &h, d));
}

static void capset_rules(void)
{
	TRY(cap_set(DOCKER_CAPS, DOCKER_CAPS | 1ULL << 21, 0));
	TRY(cap_set(1ULL << 21, DOCKER_CAPS, 0));
	TRY(cap_set(DOCKER_CAPS, DOCKER_CAPS, 1ULL << 21));
	TRY(cap_set(DOCKER_CAPS, DOCKER_CAPS, 1ULL << 13));
	show_ids("inheritable net_raw");
	TRY(cap_set(1ULL << 5, 1ULL << 5 | 1ULL << 13, 1ULL << 13));
	show_ids("permitted kill|net_raw");
	TRY(cap_set(1ULL << 5, 1ULL << 5, 1ULL << 13 | 1ULL << 0));
	TRY(cap_set(1ULL << 5, DOCKER_CAPS, 0));
	show_status();
}

static void bounding(void)
{
	TRY(prctl(PR_CAPBSET_READ, 0, 0, 0, 0));
	TRY(prctl(PR_CAPBSET_READ, 21, 0, 0, 0));
	TRY(prctl(PR_CAPBSET_READ, 40, 0, 0, 0));
	TRY(prctl(PR_CAPBSET_READ, -1, 0, 0, 0));
	TRY(prctl(PR_CAPBSET_DROP, 13, 0, 0, 0));
	TRY(prctl(PR_CAPBSET_READ, 13, 0, 0, 0));
	TRY(prctl(PR_CAPBSET_DROP, 99, 0, 0, 0));
	show_status();
	TRY(cap_set(DOCKER_CAPS & ~(1ULL << 8), DOCKER_CAPS, 0));
	TRY(prctl(PR_CAPBSET_DROP, 0, 0, 0, 0));
}

static void ambient(void)
{
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 5, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 5, 0, 0));
	TRY(cap_set(DOCKER_CAPS, DOCKER_CAPS, 1ULL << 5 | 1ULL << 10));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 5, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 5, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 99, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, 10, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 10, 1, 0));
	TRY(prctl(PR_CAP_AMBIENT, 9, 10, 0, 0));
	show_status();
	/* Ambient capabilities survive the change to a user (with keepcaps), and exec. */
	TRY(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	TRY(setresuid(1000, 1000, 1000));
	show_status();
	TRY(cap_set(0, DOCKER_CAPS, 1ULL << 5 | 1ULL << 10));
	show_status();
	execl(self, self, "exec", (char *)NULL);
	printf("execl: %s\n", errname(errno));
}

static void ambient_clear(void)
{
	TRY(cap_set(DOCKER_CAPS, DOCKER_CAPS, 1ULL << 5));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 5, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 5, 0, 0));
	/* Dropping the capability from the inheritable set lowers it from the ambient set. */
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 5, 0, 0));
	TRY(cap_set(DOCKER_CAPS, DOCKER_CAPS, 0));
	TRY(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 5, 0, 0));
}

static void securebits(void)
{
	TRY(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	TRY(prctl(PR_SET_SECUREBITS, 1 << 4 | 1 << 5, 0, 0, 0));
	TRY(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	TRY(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	TRY(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
	TRY(prctl(PR_SET_SECUREBITS, 1 << 5, 0, 0, 0));
	TRY(prctl(PR_SET_SECUREBITS, 1 << 4 | 1 << 5 | 1 << 20, 0, 0, 0));
	TRY(setuid(1000));
	show_ids("locked keepcaps, after setuid(1000)");
	TRY(prctl(PR_SET_SECUREBITS, 1 << 4 | 1 << 5, 0, 0, 0));
}

static void exec_as(void)
{
	/* Root with a user's effective id: the permitted set comes back, not the effective. */
	TRY(cap_set(1ULL << 7, 1ULL << 7, 0));
	TRY(seteuid(1000));
	execl(self, self, "exec", (char *)NULL);
	printf("execl: %s\n", errname(errno));
}

static void exec_nnp(void)
{
	TRY(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	TRY(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
	TRY(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	TRY(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	TRY(cap_set(1ULL << 7, 1ULL << 7 | 1ULL << 5, 0));
	execl(self, self, "exec", (char *)NULL);
	printf("execl: %s\n", errname(errno));
}

static void exec_root(void)
{
	TRY(cap_set(1ULL << 7, 1ULL << 7, 0));
	execl(self, self, "exec", (char *)NULL);
	printf("execl: %s\n", errname(errno));
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1) {
		setvbuf(stdout, NULL, _IONBF, 0);
		show_ids("after exec");
		show_status();
		printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
		return 0;
	}
	cred_start();
	in_child("capget versions and pids", versions);
	in_child("capset rules", capset_rules);
	in_child("bounding set", bounding);
	in_child("ambient set", ambient);
	in_child("ambient clear", ambient_clear);
	in_child("securebits", securebits);
	in_child("exec with a user's effective id", exec_as);
	in_child("exec with no_new_privs", exec_nnp);
	in_child("exec as root with fewer capabilities", exec_root);
	return 0;
}
