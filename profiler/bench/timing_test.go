package bench

import (
	"math"
	"testing"
)

func TestParseServerTiming(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   map[string]float64
		has    bool
	}{
		{"lumos", []string{"queue;dur=0.012, cold;dur=3.100, execute;dur=0.210, io;dur=0.050, gateway;dur=0.030"},
			map[string]float64{PhaseQueue: 0.012, PhaseCold: 3.1, PhaseExecute: 0.21, PhaseIO: 0.05, PhaseGateway: 0.03}, true},
		{"split over headers, params and quotes", []string{`cdn;desc="a, b; c";dur=1`, `execute;desc="x";dur="2.5"`, "io ; dur = 0.5"},
			map[string]float64{PhaseExecute: 2.5, PhaseIO: 0.5}, true},
		{"unknown metrics only", []string{"db;dur=53, app;dur=47.2"}, nil, false},
		{"no dur", []string{"execute;desc=fast"}, nil, false},
		{"bad durations", []string{"execute;dur=-1, io;dur=NaN, gateway;dur=Inf, cold;dur=x"}, nil, false},
		{"empty", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseServerTiming(tt.values)
			if got.has != tt.has {
				t.Errorf("has = %v, want %v", got.has, tt.has)
			}
			for i, name := range PhaseNames() {
				if math.Abs(got.ms[i]-tt.want[name]) > 1e-9 {
					t.Errorf("%s = %v, want %v", name, got.ms[i], tt.want[name])
				}
			}
		})
	}
}

func FuzzParseServerTiming(f *testing.F) {
	for _, s := range []string{
		"queue;dur=0.012, cold;dur=3.100, execute;dur=0.210, io;dur=0.050, gateway;dur=0.030",
		`cdn;desc="a, \"b\"; c";dur=1`, "execute;dur=", ";;,,", `"`, "io;dur=1e308, io;dur=1e308",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := parseServerTiming([]string{s})
		for i, v := range got.ms {
			if v < 0 || math.IsNaN(v) {
				t.Fatalf("phase %d = %v from %q", i, v, s)
			}
			if v != 0 && !got.has {
				t.Fatalf("phase %d = %v but has is false, from %q", i, v, s)
			}
		}
	})
}
