/* key_probe: keyctl on a key serial number that names no key says ENOKEY at once, whatever
 * else the keyring calls say (Docker's seccomp profile refuses them with EPERM, Coracle
 * too): LTP keyctl01 counts down from INT32_MAX until ENOKEY and hung when every serial said
 * ENOSYS. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "errname.h"

#define KEYCTL_REVOKE 3
#define KEYCTL_DESCRIBE 6
#define KEYCTL_READ 11

static void show(const char *what, long r)
{
	printf("%s = %ld %s\n", what, r, r < 0 ? errname(errno) : "");
}

int main(void)
{
	char buf[64];
	long tries = 0, r = 0;
	int32_t key;
	for (key = INT32_MAX; key > INT32_MAX - 1000; key--) {
		tries++;
		r = syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof buf, 0);
		if (r < 0 && errno == ENOKEY)
			break;
	}
	printf("tries until ENOKEY: %ld\n", tries);
	show("keyctl(REVOKE, free serial)", syscall(SYS_keyctl, KEYCTL_REVOKE, key, 0, 0, 0));
	show("keyctl(DESCRIBE, free serial)", syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, buf, sizeof buf, 0));
	return 0;
}
