package gateway

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

var testDefaults = defaults{runtime: "fake", timeout: 30 * time.Second, pool: pool.DefaultConfig()}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64Mi", 64 << 20, true}, {"128M", 128e6, true}, {"1Gi", 1 << 30, true}, {"1.5Ki", 1536, true},
		{"1048576", 1 << 20, true}, {"2k", 2000, true}, {"2K", 2000, true}, {"0.5", 1, true},
		{"", 0, false}, {"Mi", 0, false}, {"0", 0, false}, {"-1Mi", 0, false}, {"1e3", 0, false},
		{"64mi", 0, false}, {"100m", 0, false}, {"NaN", 0, false}, {"Inf", 0, false}, {"9999Ei", 0, false},
		{"0x10", 0, false}, {"1_000", 0, false},
	}
	for _, tt := range tests {
		got, err := parseQuantity(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseQuantity(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseCPU(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{{"500m", 500}, {"0.5", 500}, {"2", 2000}, {"10m", 10}, {"0.0105", 11}, {"1.5", 1500}} {
		if got, err := parseCPU(tt.in); err != nil || got != tt.want {
			t.Errorf("parseCPU(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSettings(t *testing.T) {
	img := "sha256:" + strings.Repeat("ab", 32)
	d := FunctionDeployment{
		Service: "f", Image: img,
		Annotations: map[string]string{
			AnnotationRuntime: "wasm-aot", AnnotationABI: "cgi", AnnotationTimeout: "3s",
			AnnotationQueueSize: "7", AnnotationQueueTimeout: "250ms", AnnotationMaxRequests: "100",
			AnnotationMaxMemory: "32Mi", AnnotationIdleTimeout: "90s",
			AnnotationArgs: `["-v", "a b"]`, AnnotationMounts: "/tmp:/data, /:/root",
		},
		Labels: map[string]string{LabelScaleMin: "1", LabelScaleMax: "6", LabelScaleZeroDuration: "1m"},
		Limits: &FunctionResources{Memory: "128M", CPU: "250m"},
	}
	s, err := parseSettings(d, testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{runtime: "wasm-aot", abi: invoker.ABICGI, timeout: 3 * time.Second, memoryLimit: 128e6, cpuLimit: 250,
		args:   []string{"-v", "a b"},
		mounts: []invoker.Mount{{HostPath: "/tmp", GuestPath: "/data"}, {HostPath: "/", GuestPath: "/root"}},
		pool: pool.Config{MinWarm: 1, MaxInstances: 6, IdleTimeout: 90 * time.Second, QueueSize: 7,
			QueueTimeout: 250 * time.Millisecond, MaxRequests: 100, MaxMemoryBytes: 32 << 20}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("settings = %+v\nwant %+v", s, want)
	}
	for _, bad := range []map[string]string{
		{AnnotationArgs: "-v"}, {AnnotationArgs: `[1]`},
		{AnnotationMounts: "tmp:/data"}, {AnnotationMounts: "/tmp:data"}, {AnnotationMounts: "/tmp"},
		{AnnotationMounts: "/no/such/dir/anywhere:/data"},
	} {
		_, err := parseSettings(FunctionDeployment{Service: "f", Image: img, Annotations: bad}, testDefaults)
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("annotations %v: err = %v, want a bad request", bad, err)
		}
	}
	for _, bad := range []string{"0", "5m", "-1", "1e3", "abc", "2000", "m", "NaN"} {
		_, err := parseSettings(FunctionDeployment{Service: "f", Image: img, Limits: &FunctionResources{CPU: bad}}, testDefaults)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "cpu") {
			t.Errorf("limits.cpu %q: err = %v, want a bad request naming cpu", bad, err)
		}
	}
	// Silence means defaults.
	s, err = parseSettings(FunctionDeployment{Service: "f", Image: img}, testDefaults)
	if err != nil || s.runtime != "fake" || s.abi != invoker.ABILoop || s.timeout != 30*time.Second || s.pool != pool.DefaultConfig() || s.memoryLimit != 0 {
		t.Errorf("defaults = %+v, %v", s, err)
	}
	// The zero-duration label alone sets the idle timeout.
	s, err = parseSettings(FunctionDeployment{Service: "f", Image: img, Labels: map[string]string{LabelScaleZeroDuration: "2m"}}, testDefaults)
	if err != nil || s.pool.IdleTimeout != 2*time.Minute {
		t.Errorf("zero-duration = %+v, %v", s.pool, err)
	}
}

func TestDecodeDeploymentNames(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"hello-world", true}, {"f1", true}, {strings.Repeat("a", 63), true},
		{"", false}, {"-a", false}, {"a-", false}, {"A", false}, {"a_b", false}, {"a.b", false},
		{strings.Repeat("a", 64), false}, {"ü", false},
	}
	for _, tt := range tests {
		raw, err := json.Marshal(FunctionDeployment{Service: tt.name})
		if err != nil {
			t.Fatal(err)
		}
		_, err = decodeDeployment(raw)
		if (err == nil) != tt.ok {
			t.Errorf("name %q: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if _, err := decodeDeployment([]byte(`{"service":"a"} {"service":"b"}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func FuzzParseDeployment(f *testing.F) {
	img := "sha256:" + strings.Repeat("0f", 32)
	f.Add([]byte(`{"service":"f","image":"` + img + `"}`))
	f.Add([]byte(`{"service":"f","image":"` + img + `","annotations":{"lumos.abi":"cgi","lumos.timeout":"2s","lumos.max_memory":"1.5Gi"},"labels":{"com.openfaas.scale.min":"2","com.openfaas.scale.max":"3"},"limits":{"memory":"64Mi"}}`))
	f.Add([]byte(`{"service":"x","image":"` + img + `","annotations":{"lumos.queue_size":"-1","lumos.queue_timeout":"9999999h"}}`))
	f.Add([]byte(`{"service":"x","image":"sha256:zz","limits":{"memory":"1e400"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeDeployment(data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("decode error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if validName(d.Service) != nil {
			t.Fatalf("accepted invalid name %q", d.Service)
		}
		s, err := parseSettings(d, testDefaults)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("settings error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if verr := s.pool.Validate(); verr != nil {
			t.Fatalf("accepted an invalid pool config: %v", verr)
		}
		if s.timeout <= 0 || !s.abi.Valid() || s.memoryLimit < 0 {
			t.Fatalf("accepted bad settings %+v", s)
		}
		if validImage(d.Image) != nil {
			t.Fatalf("accepted bad image %q", d.Image)
		}
	})
}
