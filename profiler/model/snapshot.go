package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/lumos-edge/lumos/invoker"
)

// SnapshotVersion is the version of the snapshot format Export writes.
// Import reads it and version 1, the same without size classes.
const SnapshotVersion = 2

// ErrSnapshot wraps every reason Import rejects a snapshot.
var ErrSnapshot = errors.New("model: bad snapshot")

// snapshot is the JSON document of Export. Sketches are bins (sketchJSON);
// times in seconds; regressions in milliseconds.
type snapshot struct {
	Version     int            `json:"version"`
	Environment Environment    `json:"environment"`
	Origins     []Environment  `json:"origins,omitempty"`
	Keys        []keySnapshot  `json:"keys"`
	Arrivals    []arrivalState `json:"arrivals"`
}

type keySnapshot struct {
	Function   string                `json:"function"`
	Runtime    string                `json:"runtime"`
	ABI        invoker.ABI           `json:"abi"`
	Samples    Samples               `json:"samples"`
	ColdTotal  sketchJSON            `json:"cold_total"`
	ColdStart  sketchJSON            `json:"cold_start"`
	ColdPhases map[string]sketchJSON `json:"cold_phases,omitempty"`
	Residual   sketchJSON            `json:"residual"`
	Execute    regressionJSON        `json:"execute"`
	IO         regressionJSON        `json:"io"`
	Overhead   regressionJSON        `json:"overhead"`
	Response   regressionJSON        `json:"response"`
	Sizes      []sizeClassJSON       `json:"sizes,omitempty"`
	Memory     memoryState           `json:"memory"`
	Request    float64               `json:"request_bytes_ewma"`
	Error      errorState            `json:"error"`
}

type memoryState struct {
	EWMA    float64 `json:"ewma"`
	Max     int64   `json:"max"`
	Samples int64   `json:"samples"`
}

type errorState struct {
	EWMA    float64 `json:"ewma"`
	Sum     float64 `json:"sum"`
	Samples int64   `json:"samples"`
}

type arrivalState struct {
	Function     string     `json:"function"`
	Interarrival sketchJSON `json:"interarrival"`
	Samples      int64      `json:"samples"`
	MeanSeconds  float64    `json:"mean_seconds"`
	Last         time.Time  `json:"last"`
}

// Export returns the model's whole state as a snapshot (gateway.Model).
func (m *Model) Export() ([]byte, error) {
	s := snapshot{Version: SnapshotVersion, Environment: m.env, Keys: []keySnapshot{}, Arrivals: []arrivalState{}}
	m.originMu.Lock()
	s.Origins = append(s.Origins, m.origins...)
	m.originMu.Unlock()
	for _, ks := range *m.keys.Load() {
		ks.mu.Lock()
		k := keySnapshot{Function: ks.function, Runtime: ks.runtime, ABI: ks.abi,
			Samples:   Samples{Cold: ks.cold, Prewarmed: ks.prewarmed, Warm: ks.warm, Errors: ks.failed},
			ColdTotal: encodeSketch(ks.coldTotal), ColdStart: encodeSketch(ks.coldStart), Residual: encodeSketch(ks.residual),
			Execute: ks.exec.export(), IO: ks.io.export(), Overhead: ks.over.export(), Response: ks.resp.export(),
			Memory:  memoryState{EWMA: ks.memEWMA, Max: ks.memMax, Samples: ks.memN},
			Request: ks.reqEWMA, Error: errorState{EWMA: ks.errEWMA, Sum: ks.errSum, Samples: ks.errN}}
		for c, sc := range ks.sizes {
			if sc != nil && sc.n > 0 {
				lat, size := sc.ordered()
				k.Sizes = append(k.Sizes, sizeClassJSON{Class: c, LatencyMs: lat, SizeMiB: size})
			}
		}
		for i, p := range coldPhases {
			if !ks.coldPhase[i].IsEmpty() {
				if k.ColdPhases == nil {
					k.ColdPhases = map[string]sketchJSON{}
				}
				k.ColdPhases[string(p)] = encodeSketch(ks.coldPhase[i])
			}
		}
		ks.mu.Unlock()
		s.Keys = append(s.Keys, k)
	}
	for _, f := range *m.fns.Load() {
		f.mu.Lock()
		s.Arrivals = append(s.Arrivals, arrivalState{Function: f.name, Interarrival: encodeSketch(f.inter), Samples: f.interN, MeanSeconds: f.meanInter, Last: f.last})
		f.mu.Unlock()
	}
	sort.Slice(s.Keys, func(i, j int) bool {
		a, b := s.Keys[i], s.Keys[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		if a.Runtime != b.Runtime {
			return a.Runtime < b.Runtime
		}
		return a.ABI < b.ABI
	})
	sort.Slice(s.Arrivals, func(i, j int) bool { return s.Arrivals[i].Function < s.Arrivals[j].Function })
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("model: export: %w", err)
	}
	return b, nil
}

// decodedKey is a validated keySnapshot with its sketches decoded.
type decodedKey struct {
	keySnapshot
	coldTotal, coldStart, residual *ddsketch.DDSketch
	coldPhase                      [len(coldPhases)]*ddsketch.DDSketch
}

type decodedArrival struct {
	arrivalState
	inter *ddsketch.DDSketch
}

type decoded struct {
	env      Environment
	origins  []Environment
	keys     []decodedKey
	arrivals []decodedArrival
}

// decode parses and validates a snapshot; errors wrap ErrSnapshot and name
// the field at fault.
func (m *Model) decode(data []byte) (*decoded, error) {
	var s snapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrSnapshot, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON document", ErrSnapshot)
	}
	if s.Version < 1 || s.Version > SnapshotVersion {
		return nil, fmt.Errorf("%w: version: %d, want 1 to %d", ErrSnapshot, s.Version, SnapshotVersion)
	}
	if err := checkEnv("environment", s.Environment); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	for i, e := range s.Origins {
		if err := checkEnv(fmt.Sprintf("origins[%d]", i), e); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
		}
	}
	if len(s.Keys) > maxKeys {
		return nil, fmt.Errorf("%w: keys: %d, at most %d per snapshot", ErrSnapshot, len(s.Keys), maxKeys)
	}
	if len(s.Arrivals) > maxKeys {
		return nil, fmt.Errorf("%w: arrivals: %d, at most %d per snapshot", ErrSnapshot, len(s.Arrivals), maxKeys)
	}
	if len(s.Origins) > maxOrigins {
		return nil, fmt.Errorf("%w: origins: %d, at most %d", ErrSnapshot, len(s.Origins), maxOrigins)
	}
	d := &decoded{env: s.Environment, origins: s.Origins}
	seen := map[key]bool{}
	for i, k := range s.Keys {
		dk, err := m.decodeKey(fmt.Sprintf("keys[%d]", i), k)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
		}
		kk := key{k.Function, k.Runtime, k.ABI}
		if seen[kk] {
			return nil, fmt.Errorf("%w: keys[%d]: %s on %s (%s) appears twice", ErrSnapshot, i, k.Function, k.Runtime, k.ABI)
		}
		seen[kk] = true
		d.keys = append(d.keys, dk)
	}
	fnSeen := map[string]bool{}
	for i, a := range s.Arrivals {
		field := fmt.Sprintf("arrivals[%d]", i)
		if a.Function == "" {
			return nil, fmt.Errorf("%w: %s.function: empty", ErrSnapshot, field)
		}
		if fnSeen[a.Function] {
			return nil, fmt.Errorf("%w: %s.function: %q appears twice", ErrSnapshot, field, a.Function)
		}
		fnSeen[a.Function] = true
		if a.Samples < 0 {
			return nil, fmt.Errorf("%w: %s.samples: negative (%d)", ErrSnapshot, field, a.Samples)
		}
		if !finite(a.MeanSeconds) || a.MeanSeconds < 0 {
			return nil, fmt.Errorf("%w: %s.mean_seconds: not a finite non-negative number", ErrSnapshot, field)
		}
		sk, err := m.sk.decode(field+".interarrival", a.Interarrival)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
		}
		d.arrivals = append(d.arrivals, decodedArrival{arrivalState: a, inter: sk})
	}
	return d, nil
}

func checkEnv(field string, e Environment) error {
	if e.Cores < 0 {
		return fmt.Errorf("%s.cores: negative (%d)", field, e.Cores)
	}
	if e.MemoryBytes < 0 {
		return fmt.Errorf("%s.memory_bytes: negative (%d)", field, e.MemoryBytes)
	}
	return nil
}

func (m *Model) decodeKey(field string, k keySnapshot) (decodedKey, error) {
	dk := decodedKey{keySnapshot: k}
	switch {
	case k.Function == "":
		return dk, fmt.Errorf("%s.function: empty", field)
	case k.Runtime == "":
		return dk, fmt.Errorf("%s.runtime: empty", field)
	case k.Samples.Cold < 0 || k.Samples.Prewarmed < 0 || k.Samples.Warm < 0 || k.Samples.Errors < 0:
		return dk, fmt.Errorf("%s.samples: a negative count", field)
	case k.Memory.Max < 0 || k.Memory.Samples < 0 || !finite(k.Memory.EWMA) || k.Memory.EWMA < 0:
		return dk, fmt.Errorf("%s.memory: a negative or non-finite value", field)
	case !finite(k.Request) || k.Request < 0:
		return dk, fmt.Errorf("%s.request_bytes_ewma: not a finite non-negative number", field)
	case k.Error.Samples < 0 || !finite(k.Error.EWMA) || !finite(k.Error.Sum) || k.Error.EWMA < 0 || k.Error.Sum < 0:
		return dk, fmt.Errorf("%s.error: a negative or non-finite value", field)
	}
	for _, r := range [...]struct {
		name string
		j    regressionJSON
		k    int
	}{{"execute", k.Execute, dims}, {"io", k.IO, dims}, {"overhead", k.Overhead, dims}, {"response", k.Response, 2}} {
		if err := checkRegression(field+"."+r.name, r.j, r.k); err != nil {
			return dk, err
		}
	}
	if err := checkSizeClasses(field+".sizes", k.Sizes); err != nil {
		return dk, err
	}
	var err error
	if dk.coldTotal, err = m.sk.decode(field+".cold_total", k.ColdTotal); err != nil {
		return dk, err
	}
	if dk.coldStart, err = m.sk.decode(field+".cold_start", k.ColdStart); err != nil {
		return dk, err
	}
	if dk.residual, err = m.sk.decode(field+".residual", k.Residual); err != nil {
		return dk, err
	}
	for name, text := range k.ColdPhases {
		i := phaseIndex(name)
		if i < 0 {
			return dk, fmt.Errorf("%s.cold_phases: unknown phase %q", field, name)
		}
		if dk.coldPhase[i], err = m.sk.decode(field+".cold_phases."+name, text); err != nil {
			return dk, err
		}
	}
	return dk, nil
}

func phaseIndex(name string) int {
	for i, p := range coldPhases {
		if string(p) == name {
			return i
		}
	}
	return -1
}

// Import merges a snapshot made by Export (gateway.Model): counts add up,
// sketches merge, each regression is taken from whichever side has more
// samples, and the snapshot's environment is remembered as an origin. A
// snapshot holds at most maxKeys (4096) keys and arrivals, and so does the
// model after the import; sketch indices lie within ±maxSketchIndex. On
// error, which wraps ErrSnapshot and names the field, the model is unchanged.
func (m *Model) Import(data []byte) error {
	d, err := m.decode(data)
	if err != nil {
		return err
	}
	m.importMu.Lock()
	defer m.importMu.Unlock()
	return m.mergeChecked(d)
}

// Replace replaces the model's state with a snapshot made by Export
// (gateway.Model): afterwards the model is the snapshot's (plus the records
// of calls in flight), so replacing twice with the same snapshot gives the
// same model. On error, which wraps ErrSnapshot and names the field, the
// model is unchanged.
func (m *Model) Replace(data []byte) error {
	d, err := m.decode(data)
	if err != nil {
		return err
	}
	m.importMu.Lock()
	defer m.importMu.Unlock()
	m.mu.Lock()
	keys := map[key]*keyState{}
	fns := map[string]*fnState{}
	m.keys.Store(&keys)
	m.fns.Store(&fns)
	m.mu.Unlock()
	m.originMu.Lock()
	m.origins = nil
	m.originMu.Unlock()
	return m.mergeChecked(d)
}

// mergeChecked merges d if the model stays within maxKeys. Callers hold m.importMu.
func (m *Model) mergeChecked(d *decoded) error {
	keys, fns := *m.keys.Load(), *m.fns.Load()
	newKeys, newFns := 0, 0
	for _, dk := range d.keys {
		if _, ok := keys[key{dk.Function, dk.Runtime, dk.ABI}]; !ok {
			newKeys++
		}
	}
	for _, da := range d.arrivals {
		if _, ok := fns[da.Function]; !ok {
			newFns++
		}
	}
	if n := len(keys) + newKeys; n > maxKeys {
		return fmt.Errorf("%w: keys: the model would hold %d, at most %d", ErrSnapshot, n, maxKeys)
	}
	if n := len(fns) + newFns; n > maxKeys {
		return fmt.Errorf("%w: arrivals: the model would hold %d functions, at most %d", ErrSnapshot, n, maxKeys)
	}
	m.merge(d)
	return nil
}

// merge adds a decoded snapshot to m.
func (m *Model) merge(d *decoded) {
	for _, dk := range d.keys {
		ks := m.key(key{dk.Function, dk.Runtime, dk.ABI})
		ks.mu.Lock()
		ks.merge(&dk)
		ks.mu.Unlock()
	}
	for _, da := range d.arrivals {
		f := m.fn(da.Function)
		f.mu.Lock()
		_ = f.inter.MergeWith(da.inter) // same mapping: checked by decode
		if da.Samples > f.interN {
			f.meanInter = da.MeanSeconds
		}
		f.interN += da.Samples
		if da.Last.After(f.last) {
			f.last = da.Last
		}
		f.mu.Unlock()
	}
	m.originMu.Lock()
	defer m.originMu.Unlock()
	for _, e := range append([]Environment{d.env}, d.origins...) {
		if e != m.env && !slices.Contains(m.origins, e) {
			m.origins = append(m.origins, e)
		}
	}
}

// merge adds dk into ks. Callers hold ks.mu.
func (ks *keyState) merge(dk *decodedKey) {
	_ = ks.coldTotal.MergeWith(dk.coldTotal) // same mapping: checked by decode
	_ = ks.coldStart.MergeWith(dk.coldStart)
	_ = ks.residual.MergeWith(dk.residual)
	for i, sk := range dk.coldPhase {
		if sk != nil {
			_ = ks.coldPhase[i].MergeWith(sk)
		}
	}
	if dk.Execute.Samples > ks.exec.n {
		ks.exec.load(dk.Execute)
		ks.io.load(dk.IO)
		ks.over.load(dk.Overhead)
		ks.reqEWMA = dk.Request
		// The classes go with the regressions: built whole, then
		// published once (Choose never sees a half-loaded class).
		ks.sizes = [sizeClasses]*sizeClass{}
		for _, c := range dk.Sizes {
			if len(c.LatencyMs) == 0 {
				continue
			}
			sc := &sizeClass{}
			for i := range c.LatencyMs {
				sc.add(c.LatencyMs[i], c.SizeMiB[i])
			}
			ks.sizes[c.Class] = sc
		}
		for c := range sizeClasses {
			ks.publishClass(c)
		}
	}
	if dk.Response.Samples > ks.resp.n {
		ks.resp.load(dk.Response)
	}
	if dk.Memory.Samples > ks.memN {
		ks.memEWMA = dk.Memory.EWMA
	}
	ks.memMax = max(ks.memMax, dk.Memory.Max)
	ks.memN += dk.Memory.Samples
	if dk.Error.Samples > ks.errN {
		ks.errEWMA = dk.Error.EWMA
	}
	ks.errSum += dk.Error.Sum
	ks.errN += dk.Error.Samples
	ks.cold += dk.Samples.Cold
	ks.prewarmed += dk.Samples.Prewarmed
	ks.warm += dk.Samples.Warm
	ks.failed += dk.Samples.Errors
	ks.residualN = int64(ks.residual.GetCount())
	ks.publish()
}

// Comparison is the result of Compare: per function, runtime and ABI, this
// model's predicted p50s over the other snapshot's.
type Comparison struct {
	Environment Environment      `json:"environment"`
	Other       Environment      `json:"other"`
	Bytes       int              `json:"bytes"`
	Keys        []ComparisonLine `json:"keys"`
}

// ComparisonLine compares one function on one runtime and ABI. A ratio is 0
// when either side has no samples of its kind.
type ComparisonLine struct {
	Function  string      `json:"function"`
	Runtime   string      `json:"runtime"`
	ABI       invoker.ABI `json:"abi"`
	WarmP50Ms float64     `json:"warm_p50_ms"`
	OtherWarm float64     `json:"other_warm_p50_ms"`
	WarmRatio float64     `json:"warm_ratio"`
	ColdP50Ms float64     `json:"cold_p50_ms"`
	OtherCold float64     `json:"other_cold_p50_ms"`
	ColdRatio float64     `json:"cold_ratio"`
}

// CompareSnapshots compares two snapshots made by Export (Compare of a
// model holding a, with a's environment, against b).
func CompareSnapshots(a, b []byte, bytes int) (Comparison, error) {
	tmp := New(Config{Environment: &Environment{}})
	d, err := tmp.decode(a)
	if err != nil {
		return Comparison{}, fmt.Errorf("first snapshot: %w", err)
	}
	m := New(Config{Environment: &d.env})
	m.merge(d)
	c, err := m.Compare(b, bytes)
	if err != nil {
		return Comparison{}, fmt.Errorf("second snapshot: %w", err)
	}
	return c, nil
}

// Compare compares this model with a snapshot made by Export (of another
// node, or of this one earlier) at requests of bytes: for each key both
// have, the ratio of this model's predicted warm and cold p50 to the other's.
func (m *Model) Compare(other []byte, bytes int) (Comparison, error) {
	o := New(Config{Environment: &Environment{}})
	d, err := o.decode(other)
	if err != nil {
		return Comparison{}, err
	}
	o.merge(d)
	c := Comparison{Environment: m.env, Other: d.env, Bytes: bytes, Keys: []ComparisonLine{}}
	for k, ks := range *m.keys.Load() {
		oks, ok := (*o.keys.Load())[k]
		if !ok {
			continue
		}
		ks.mu.Lock()
		a := ks.doc(bytes)
		ks.mu.Unlock()
		oks.mu.Lock()
		b := oks.doc(bytes)
		oks.mu.Unlock()
		line := ComparisonLine{Function: k.function, Runtime: k.runtime, ABI: k.abi,
			WarmP50Ms: a.WarmP50Ms, OtherWarm: b.WarmP50Ms, ColdP50Ms: a.ColdP50Ms, OtherCold: b.ColdP50Ms}
		if a.WarmP50Ms > 0 && b.WarmP50Ms > 0 {
			line.WarmRatio = a.WarmP50Ms / b.WarmP50Ms
		}
		if a.ColdP50Ms > 0 && b.ColdP50Ms > 0 {
			line.ColdRatio = a.ColdP50Ms / b.ColdP50Ms
		}
		c.Keys = append(c.Keys, line)
	}
	sort.Slice(c.Keys, func(i, j int) bool {
		a, b := c.Keys[i], c.Keys[j]
		if a.Function != b.Function {
			return a.Function < b.Function
		}
		if a.Runtime != b.Runtime {
			return a.Runtime < b.Runtime
		}
		return a.ABI < b.ABI
	})
	return c, nil
}

// maxKeys bounds the keys (function, runtime, ABI) of a snapshot and of the
// model after an import, and the functions with arrivals likewise;
// maxOrigins bounds a snapshot's origins.
const (
	maxKeys    = 4096
	maxOrigins = 64
)
