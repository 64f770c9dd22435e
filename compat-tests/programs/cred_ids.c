/* cred_ids: the set*id calls from root of a container and from other users, with the
 * capability changes each brings (capabilities(7), "Effect of user ID changes on
 * capabilities"), setgroups/getgroups, setfsuid/setfsgid, and /proc/self/status. Each
 * scenario runs in a child of its own. */
#include "credutil.h"

static void setuid_nobody(void)
{
	TRY(setuid(65534));
	show_ids("after setuid(65534)");
	show_status();
	TRY(setuid(0));
	TRY(seteuid(0));
	TRY(setgid(0));
	TRY(setgroups(0, NULL));
	TRY(setuid(65534));
}

static void seteuid_round_trip(void)
{
	TRY(setegid(100));
	TRY(seteuid(1000));
	show_ids("after seteuid(1000)");
	show_status();
	TRY(seteuid(0));
	show_ids("after seteuid(0)");
	TRY(setresuid(-1, 2000, -1));
	TRY(setuid(0));
	show_ids("after setresuid(-1,2000,-1), setuid(0)");
}

static void setreuid_matrix(void)
{
	TRY(setreuid(1000, 2000));
	show_ids("after setreuid(1000,2000)");
	TRY(setreuid(2000, 1000));
	show_ids("after setreuid(2000,1000)");
	TRY(setreuid(-1, 2000));
	show_ids("after setreuid(-1,2000)");
	TRY(setreuid(-1, 0));
	TRY(setreuid(3000, -1));
	TRY(setreuid(1000, -1));
	show_ids("after setreuid(1000,-1)");
}

static void setresuid_matrix(void)
{
	TRY(setresuid(1, 2, 3));
	show_ids("after setresuid(1,2,3)");
	TRY(setresuid(3, 1, 2));
	show_ids("after setresuid(3,1,2)");
	TRY(setresuid(4, -1, -1));
	TRY(setresuid(-1, -1, -1));
	TRY(setuid(2));
	show_ids("after setuid(2)");
	TRY(setuid(3));
	show_ids("after setuid(3)");
}

static void gids(void)
{
	gid_t list[] = {30, 10, 20, 10};
	TRY(setgroups(4, list));
	show_ids("after setgroups");
	gid_t small[1];
	TRY(getgroups(1, small));
	TRY(getgroups(0, NULL));
	volatile int minus = -1;
	TRY(getgroups(minus, small));
	TRY(setresgid(5, 6, 7));
	show_ids("after setresgid(5,6,7)");
	TRY(setregid(8, -1));
	show_ids("after setregid(8,-1)");
	TRY(setgid(9));
	show_ids("after setgid(9)");
	show_status();
	TRY(setuid(1000));
	TRY(setgid(9));
	TRY(setgid(8));
	TRY(setresgid(9, 8, 9));
	show_ids("as 1000 after setresgid(9,8,9)");
	TRY(setgroups(0, NULL));
	TRY(setgid(0));
}

static void fs_ids(void)
{
	TRY(setfsuid(1000));
	show_ids("after setfsuid(1000)");
	TRY(setfsuid(0));
	show_ids("after setfsuid(0)");
	TRY(setfsgid(50));
	TRY(setfsgid(-1));
	TRY(setresuid(1000, 1000, 1000));
	TRY(setfsuid(0));
	TRY(setfsuid(-1));
	TRY(setfsgid(0));
	TRY(setfsgid(-1));
}

static void keepcaps(void)
{
	TRY(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	TRY(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0));
	TRY(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	TRY(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
	TRY(setresuid(1000, 1000, 1000));
	show_ids("keepcaps, after setresuid(1000,1000,1000)");
	TRY(cap_set(1ULL << 6 | 1ULL << 7, DOCKER_CAPS, 0));
	show_ids("after capset(setgid|setuid)");
	TRY(setgroups(0, NULL));
	TRY(setuid(0));
	show_ids("after setuid(0)");
}

int main(void)
{
	cred_start();
	show_ids("start");
	show_status();
	in_child("setuid to nobody", setuid_nobody);
	in_child("seteuid and back", seteuid_round_trip);
	in_child("setreuid", setreuid_matrix);
	in_child("setresuid", setresuid_matrix);
	in_child("gids and groups", gids);
	in_child("fs ids", fs_ids);
	in_child("keepcaps", keepcaps);
	return 0;
}
