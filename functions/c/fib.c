/*
 * fib.c: the fib function in C, for the cgi ABI. n comes from ?n=20 or a
 * JSON body {"number": 20} (the query wins); it answers
 * {"number":20,"result":6765} by naive recursion, as functions/fib does, or
 * 400 when n is missing, not an integer or outside [0, 50].
 */
#include "cgi.h"

static long long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(void) {
	int n = (int)int_input("n", "number", 0, 50, "give n as ?n=20 or as a JSON body {\"number\": 20}");
	char body[96];
	snprintf(body, sizeof body, "{\"number\":%d,\"result\":%lld}\n", n, fib(n));
	respond(200, "application/json", body);
	return 0;
}
