/* uname: the fields that must match Linux (release and nodename legitimately differ). */
#include <ctype.h>
#include <stdio.h>
#include <sys/utsname.h>

int main(void)
{
	struct utsname u;
	if (uname(&u) != 0) {
		perror("uname");
		return 1;
	}
	printf("sysname=%s\n", u.sysname);
	printf("machine=%s\n", u.machine);
	printf("release starts with a digit: %s\n", isdigit((unsigned char)u.release[0]) ? "yes" : "no");
	printf("nodename non-empty: %s\n", u.nodename[0] ? "yes" : "no");
	return 0;
}
