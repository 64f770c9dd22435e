/* args_env: argc, every argv string and every environment entry, in order. */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=\"%s\"\n", i, argv[i]);
	printf("argv[argc]=%s\n", argv[argc] ? "non-null" : "null");
	for (int i = 0; environ[i]; i++)
		printf("env[%d]=\"%s\"\n", i, environ[i]);
	return 0;
}
