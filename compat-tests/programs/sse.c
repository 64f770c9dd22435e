/* sse: floating point through libm and printf (SSE registers, x87 for long double). */
#include <math.h>
#include <stdio.h>

int main(void)
{
	static const double values[] = {0.5, 1.0, 2.0, 3.14159265358979, 10.0, 100.25, 1e-3};
	for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++) {
		double x = values[i];
		printf("x=%g sqrt=%f sin=%f cos=%f exp=%.6e log=%.9f pow=%.4f\n", x, sqrt(x), sin(x),
		       cos(x), exp(x), log(x), pow(x, 1.5));
	}
	float acc[64];
	for (int i = 0; i < 64; i++)
		acc[i] = (float)i * 0.25f;
	float sum = 0;
	for (int i = 0; i < 64; i++)
		sum += acc[i] * acc[i];
	printf("float sum=%.3f\n", sum);
	printf("atan2=%.12f hypot=%.12f\n", atan2(1.0, 2.0), hypot(3.0, 4.0));
	long double third = 1.0L / 3.0L;
	printf("long double=%.15Lf\n", third);
	printf("int<->double: %d %.1f\n", (int)(2.9 * 10), (double)123456789);
	return 0;
}
