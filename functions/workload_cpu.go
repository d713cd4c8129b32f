package functions

import (
	"bytes"
	"encoding/json"
	"math"
	"math/bits"
	"net/url"
	"strconv"
)

// sizeQuery is the query giving one integer parameter.
func sizeQuery(name string, v int) string { return name + "=" + strconv.Itoa(v) }

// queryInt reads an integer parameter of a query Inputs made.
func queryInt(query, name string) (int, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return 0, wrong("query %q: %v", query, err)
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil {
		return 0, wrong("query %q has no integer %s", query, name)
	}
	return n, nil
}

// decodeStrict decodes a JSON response into v, refusing unknown fields.
func decodeStrict(response []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(response))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return wrong("response %.80q is not the expected JSON: %v", response, err)
	}
	return nil
}

func helloWorkload() Workload {
	return Workload{
		Name:   "hello",
		Inputs: func(int) (string, []byte) { return "", nil },
		Verify: func(_ string, _, response []byte) error {
			if string(response) != "Hello, world!\n" {
				return wrong("hello answered %.80q", response)
			}
			return nil
		},
	}
}

// fibWorkload: n grows by one per doubling of size, 20 at 1 KB, 31 at 2 MB
// (fib's work grows by the golden ratio per step).
func fibWorkload() Workload {
	return Workload{
		Name: "fib",
		Inputs: func(size int) (string, []byte) {
			n := 20 + max(0, bits.Len(uint(max(size, 1)))-11)
			return sizeQuery("n", min(n, 35)), nil
		},
		Verify: func(query string, _, response []byte) error {
			n, err := queryInt(query, "n")
			if err != nil {
				return err
			}
			a, b := 0, 1 // iteratively, unlike the function
			for range n {
				a, b = b, a+b
			}
			var out struct{ Number, Result int }
			if err := decodeStrict(response, &out); err != nil {
				return err
			}
			if out.Number != n || out.Result != a {
				return wrong("fib(%d): answered %d for n=%d, want %d", n, out.Result, out.Number, a)
			}
			return nil
		},
	}
}

// primeWorkload sieves up to 8 x size: 8192 at 1 KB, 16.8 million at 2 MB.
func primeWorkload() Workload {
	return Workload{
		Name:   "prime",
		Inputs: func(size int) (string, []byte) { return "", []byte(`{"limit":` + strconv.Itoa(8*max(size, 1)) + `}`) },
		Verify: func(_ string, body, response []byte) error {
			var in struct{ Limit int }
			if err := json.Unmarshal(body, &in); err != nil {
				return wrong("body %q: %v", body, err)
			}
			// A plain sieve of all numbers, one bool each.
			composite := make([]bool, in.Limit+1)
			count, last := 0, 0
			for i := 2; i <= in.Limit; i++ {
				if composite[i] {
					continue
				}
				count, last = count+1, i
				for j := i * i; j <= in.Limit; j += i {
					composite[j] = true
				}
			}
			var out struct{ Limit, Count, Last int }
			if err := decodeStrict(response, &out); err != nil {
				return err
			}
			if out.Limit != in.Limit || out.Count != count || out.Last != last {
				return wrong("primes up to %d: answered %+v, want count %d, last %d", in.Limit, out, count, last)
			}
			return nil
		},
	}
}

// nbodyWorkload runs size/2 steps: 512 at 1 KB, about a million at 2 MB.
func nbodyWorkload() Workload {
	return Workload{
		Name:   "nbody",
		Inputs: func(size int) (string, []byte) { return "", []byte(`{"n":` + strconv.Itoa(max(size/2, 1)) + `}`) },
		Verify: func(_ string, body, response []byte) error {
			var in struct{ N int }
			if err := json.Unmarshal(body, &in); err != nil {
				return wrong("body %q: %v", body, err)
			}
			var out struct {
				N      int
				Before json.Number `json:"energy_before"`
				After  json.Number `json:"energy_after"`
			}
			if err := decodeStrict(response, &out); err != nil {
				return err
			}
			before, after := nbodyEnergies(in.N)
			got, err1 := out.Before.Float64()
			gotAfter, err2 := out.After.Float64()
			// Nine decimals, as printed; the energy drifts little, and a
			// guest whose float rounding differs stays within 1e-8.
			if out.N != in.N || err1 != nil || err2 != nil ||
				math.Abs(got-before) > 1e-9 || math.Abs(gotAfter-after) > 1e-8 {
				return wrong("n-body %d steps: answered n=%d %s %s, want %.9f %.9f", in.N, out.N, out.Before, out.After, before, after)
			}
			return nil
		},
	}
}

// nbodyEnergies simulates the Benchmarks Game's system for n steps, with
// the bodies in arrays (the function uses structs), and returns the energy
// before and after.
func nbodyEnergies(n int) (before, after float64) {
	const (
		solarMass   = 4 * math.Pi * math.Pi
		daysPerYear = 365.24
	)
	pos := [5][3]float64{
		{0, 0, 0},
		{4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01},
		{8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01},
		{1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01},
		{1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01},
	}
	vel := [5][3]float64{
		{0, 0, 0},
		{1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05},
		{-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05},
		{2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05},
		{2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05},
	}
	mass := [5]float64{solarMass, 9.54791938424326609e-04 * solarMass, 2.85885980666130812e-04 * solarMass,
		4.36624404335156298e-05 * solarMass, 5.15138902046611451e-05 * solarMass}
	var p [3]float64
	for i := range 5 {
		for k := range 3 {
			vel[i][k] *= daysPerYear
			p[k] += vel[i][k] * mass[i]
		}
	}
	for k := range 3 {
		vel[0][k] = -p[k] / solarMass
	}
	energy := func() float64 {
		var e float64
		for i := range 5 {
			e += 0.5 * mass[i] * (vel[i][0]*vel[i][0] + vel[i][1]*vel[i][1] + vel[i][2]*vel[i][2])
			for j := i + 1; j < 5; j++ {
				var d2 float64
				for k := range 3 {
					d := pos[i][k] - pos[j][k]
					d2 += d * d
				}
				e -= mass[i] * mass[j] / math.Sqrt(d2)
			}
		}
		return e
	}
	before = energy()
	const dt = 0.01
	for range n {
		for i := range 5 {
			for j := i + 1; j < 5; j++ {
				var d [3]float64
				var d2 float64
				for k := range 3 {
					d[k] = pos[i][k] - pos[j][k]
					d2 += d[k] * d[k]
				}
				mag := dt / (d2 * math.Sqrt(d2))
				for k := range 3 {
					vel[i][k] -= d[k] * mass[j] * mag
					vel[j][k] += d[k] * mass[i] * mag
				}
			}
		}
		for i := range 5 {
			for k := range 3 {
				pos[i][k] += dt * vel[i][k]
			}
		}
	}
	return before, energy()
}

// mandelbrotWorkload draws a bitmap of about size bytes: image_size is
// sqrt(8 x size) rounded down to a multiple of 8 (88 at 1 KB, 4096 at 2 MB).
func mandelbrotWorkload() Workload {
	return Workload{
		Name: "mandelbrot",
		Inputs: func(size int) (string, []byte) {
			n := max(8, int(math.Sqrt(float64(8*max(size, 1))))/8*8)
			return "", []byte(`{"image_size":` + strconv.Itoa(n) + `}`)
		},
		Verify: func(_ string, body, response []byte) error {
			var in struct {
				N int `json:"image_size"`
			}
			if err := json.Unmarshal(body, &in); err != nil {
				return wrong("body %q: %v", body, err)
			}
			n := in.N
			header := "P4\n" + strconv.Itoa(n) + " " + strconv.Itoa(n) + "\n"
			rowBytes := (n + 7) / 8
			if !bytes.HasPrefix(response, []byte(header)) || len(response) != len(header)+rowBytes*n {
				return wrong("mandelbrot %d: answer of %d bytes starting %.20q, want header %q and %d bytes", n, len(response), response, header, len(header)+rowBytes*n)
			}
			pix := response[len(header):]
			// Recompute every pixel of up to 64 rows spread over the image
			// (all of them for small images). Points on the set's edge may
			// round differently on another platform (fused multiply-add):
			// allow one mismatch in a thousand.
			step := max(1, n/64)
			checked, bad := 0, 0
			for y := 0; y < n; y += step {
				ci := 2*float64(y)/float64(n) - 1
				for x := range n {
					cr := 2*float64(x)/float64(n) - 1.5
					z := complex(0, 0)
					c := complex(cr, ci)
					in := true
					for range 50 {
						z = z*z + c
						if real(z)*real(z)+imag(z)*imag(z) > 4 {
							in = false
							break
						}
					}
					got := pix[y*rowBytes+x/8]&(0x80>>(x%8)) != 0
					checked++
					if got != in {
						bad++
					}
				}
				if pad := rowBytes*8 - n; pad > 0 && pix[y*rowBytes+rowBytes-1]&(1<<pad-1) != 0 {
					return wrong("mandelbrot %d: row %d has padding bits set", n, y)
				}
			}
			if bad*1000 > checked {
				return wrong("mandelbrot %d: %d of %d pixels checked differ", n, bad, checked)
			}
			return nil
		},
	}
}
