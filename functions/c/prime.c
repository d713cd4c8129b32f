/*
 * prime.c: the prime function in C, for the cgi ABI. The limit comes from
 * ?limit=1000 or a JSON body {"limit": 1000} (the query wins); it answers
 * {"limit":L,"count":pi(L),"last":largest prime <= L} by a sieve of the odd
 * numbers, one bit each, as functions/prime does, or 400 when the limit is
 * missing, not an integer or outside [0, 100000000].
 */
#include <stdint.h>

#include "cgi.h"

int main(void) {
	long limit = int_input("limit", "limit", 0, 100000000, "give the limit as ?limit=1000 or as a JSON body {\"limit\": 1000}");
	/* 64-bit arithmetic: long is 32 bits on wasm32, and p*p overflows it. */
	int64_t count = 0, last = 0;
	if (limit >= 2) {
		count = 1, last = 2;
		int64_t odds = (limit + 1) / 2; /* bit i stands for 2i+1 */
		uint64_t *composite = calloc((size_t)(odds + 63) / 64, sizeof *composite);
		if (!composite) {
			respond(500, "text/plain; charset=utf-8", "out of memory\n");
			return 0;
		}
		for (int64_t i = 1; i < odds; i++) {
			if (composite[i >> 6] & (1ULL << (i & 63))) continue;
			int64_t p = 2 * i + 1;
			count++;
			last = p;
			for (int64_t j = p * p / 2; j < odds; j += p) composite[j >> 6] |= 1ULL << (j & 63);
		}
		free(composite);
	}
	char body[96];
	snprintf(body, sizeof body, "{\"limit\":%ld,\"count\":%lld,\"last\":%lld}\n", limit, (long long)count, (long long)last);
	respond(200, "application/json", body);
	return 0;
}
