/* proc_persona: personality(2)'s effects that programs see: PER_LINUX32 makes uname report
 * i686, STICKY_TIMEOUTS keeps select's timeout unchanged (LTP personality02), the query
 * 0xffffffff reads without changing, and the old persona is returned. */
#include <stdio.h>
#include <sys/personality.h>
#include <sys/select.h>
#include <sys/utsname.h>

int main(void)
{
	struct utsname u;
	printf("query: %#x\n", personality(0xffffffff));
	printf("set PER_LINUX32, old: %#x\n", personality(PER_LINUX32));
	uname(&u);
	printf("machine: %s\n", u.machine);
	printf("set PER_LINUX, old: %#x\n", personality(PER_LINUX));
	uname(&u);
	printf("machine: %s\n", u.machine);
	struct timeval tv = {0, 10000};
	select(0, NULL, NULL, NULL, &tv);
	printf("select timeout after: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
	printf("set STICKY_TIMEOUTS, old: %#x\n", personality(PER_LINUX | STICKY_TIMEOUTS));
	tv.tv_sec = 0;
	tv.tv_usec = 10000;
	select(0, NULL, NULL, NULL, &tv);
	printf("select timeout after: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
	printf("query: %#x\n", personality(0xffffffff));
	return 0;
}
