// Command prime counts the primes up to a limit with a sieve of
// Eratosthenes over the odd numbers (one bit each): the prime-numbers
// workload of the Lumos paper. The limit comes from the query (?limit=1000)
// or a JSON body {"limit": 1000}, the paper's input; the query wins. It
// answers {"limit": L, "count": pi(L), "last": the largest prime <= L}
// ("last" is 0 when there is none), or 400 when the limit is missing, not an
// integer or outside [0, 100000000].
package main

import (
	"strconv"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// maxLimit bounds the sieve to 6.25 MB of bits.
const maxLimit = 100_000_000

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	limit, err := sdk.IntParam(r, "limit", "limit", 0, maxLimit, `give the limit as ?limit=1000 or as a JSON body {"limit": 1000}`)
	if err != nil {
		return nil, err
	}
	count, last := sieve(limit)
	body := make([]byte, 0, 64)
	body = append(body, `{"limit":`...)
	body = strconv.AppendInt(body, int64(limit), 10)
	body = append(body, `,"count":`...)
	body = strconv.AppendInt(body, int64(count), 10)
	body = append(body, `,"last":`...)
	body = strconv.AppendInt(body, int64(last), 10)
	body = append(body, "}\n"...)
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:   body,
	}, nil
}

// sieve returns how many primes are <= limit and the largest of them. Bit i
// of composite stands for the odd number 2i+1.
func sieve(limit int) (count, last int) {
	if limit < 2 {
		return 0, 0
	}
	count, last = 1, 2
	odds := (limit + 1) / 2 // 1, 3, 5, ... <= limit
	composite := make([]uint64, (odds+63)/64)
	for i := 1; i < odds; i++ {
		if composite[i>>6]&(1<<(i&63)) != 0 {
			continue
		}
		p := 2*i + 1
		count++
		last = p
		for j := p * p / 2; j < odds; j += p {
			composite[j>>6] |= 1 << (j & 63)
		}
	}
	return count, last
}
