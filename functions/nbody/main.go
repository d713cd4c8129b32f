// Command nbody is the n-body workload of the Lumos paper: the Computer
// Language Benchmarks Game's simulation of the Jovian planets (Sun,
// Jupiter, Saturn, Uranus, Neptune), advanced n steps of 0.01 days with
// symplectic Euler. n comes from the query (?n=1000) or a JSON body
// {"n": 1000}, the paper's input; the query wins. It answers
//
//	{"n": 1000, "energy_before": -0.169075164, "energy_after": -0.169087605}
//
// with both energies to nine decimals, as the Benchmarks Game prints them,
// or 400 when n is missing, not an integer or outside [0, 100000000].
package main

import (
	"math"
	"strconv"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// maxSteps bounds n: 10^8 steps run for tens of seconds natively.
const maxSteps = 100_000_000

func main() { sdk.Serve(handle) }

func handle(r *sdk.Request) (*sdk.Response, error) {
	n, err := sdk.IntParam(r, "n", "n", 0, maxSteps, `give the number of steps as ?n=1000 or as a JSON body {"n": 1000}`)
	if err != nil {
		return nil, err
	}
	s := newSystem()
	before := s.energy()
	for range n {
		s.advance(0.01)
	}
	after := s.energy()
	body := make([]byte, 0, 96)
	body = append(body, `{"n":`...)
	body = strconv.AppendInt(body, int64(n), 10)
	body = append(body, `,"energy_before":`...)
	body = strconv.AppendFloat(body, before, 'f', 9, 64)
	body = append(body, `,"energy_after":`...)
	body = strconv.AppendFloat(body, after, 'f', 9, 64)
	body = append(body, "}\n"...)
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:   body,
	}, nil
}

const (
	solarMass   = 4 * math.Pi * math.Pi
	daysPerYear = 365.24
)

type body struct {
	x, y, z, vx, vy, vz, mass float64
}

// system is the Sun and the four gas giants.
type system []body

// newSystem returns the Benchmarks Game's initial state, with the Sun's
// momentum offset so the system's total momentum is zero.
func newSystem() system {
	s := system{
		{mass: solarMass}, // Sun
		{ // Jupiter
			x: 4.84143144246472090e+00, y: -1.16032004402742839e+00, z: -1.03622044471123109e-01,
			vx: 1.66007664274403694e-03 * daysPerYear, vy: 7.69901118419740425e-03 * daysPerYear, vz: -6.90460016972063023e-05 * daysPerYear,
			mass: 9.54791938424326609e-04 * solarMass,
		},
		{ // Saturn
			x: 8.34336671824457987e+00, y: 4.12479856412430479e+00, z: -4.03523417114321381e-01,
			vx: -2.76742510726862411e-03 * daysPerYear, vy: 4.99852801234917238e-03 * daysPerYear, vz: 2.30417297573763929e-05 * daysPerYear,
			mass: 2.85885980666130812e-04 * solarMass,
		},
		{ // Uranus
			x: 1.28943695621391310e+01, y: -1.51111514016986312e+01, z: -2.23307578892655734e-01,
			vx: 2.96460137564761618e-03 * daysPerYear, vy: 2.37847173959480950e-03 * daysPerYear, vz: -2.96589568540237556e-05 * daysPerYear,
			mass: 4.36624404335156298e-05 * solarMass,
		},
		{ // Neptune
			x: 1.53796971148509165e+01, y: -2.59193146099879641e+01, z: 1.79258772950371181e-01,
			vx: 2.68067772490389322e-03 * daysPerYear, vy: 1.62824170038242295e-03 * daysPerYear, vz: -9.51592254519715870e-05 * daysPerYear,
			mass: 5.15138902046611451e-05 * solarMass,
		},
	}
	var px, py, pz float64
	for _, b := range s {
		px += b.vx * b.mass
		py += b.vy * b.mass
		pz += b.vz * b.mass
	}
	s[0].vx = -px / solarMass
	s[0].vy = -py / solarMass
	s[0].vz = -pz / solarMass
	return s
}

// advance moves the system dt forward.
func (s system) advance(dt float64) {
	for i := range s {
		bi := &s[i]
		for j := i + 1; j < len(s); j++ {
			bj := &s[j]
			dx, dy, dz := bi.x-bj.x, bi.y-bj.y, bi.z-bj.z
			d2 := dx*dx + dy*dy + dz*dz
			mag := dt / (d2 * math.Sqrt(d2))
			bi.vx -= dx * bj.mass * mag
			bi.vy -= dy * bj.mass * mag
			bi.vz -= dz * bj.mass * mag
			bj.vx += dx * bi.mass * mag
			bj.vy += dy * bi.mass * mag
			bj.vz += dz * bi.mass * mag
		}
	}
	for i := range s {
		b := &s[i]
		b.x += dt * b.vx
		b.y += dt * b.vy
		b.z += dt * b.vz
	}
}

// energy is the system's kinetic plus potential energy.
func (s system) energy() float64 {
	var e float64
	for i, b := range s {
		e += 0.5 * b.mass * (b.vx*b.vx + b.vy*b.vy + b.vz*b.vz)
		for _, c := range s[i+1:] {
			dx, dy, dz := b.x-c.x, b.y-c.y, b.z-c.z
			e -= b.mass * c.mass / math.Sqrt(dx*dx+dy*dy+dz*dz)
		}
	}
	return e
}
