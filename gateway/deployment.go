package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/lumos-edge/lumos/invoker"
	"github.com/lumos-edge/lumos/pool"
)

// FunctionDeployment asks to deploy a function. Its JSON shape is OpenFaaS's
// (github.com/openfaas/faas-provider/types), so faas-cli can drive Lumos.
// Image names an uploaded artifact by digest ("sha256:<64 hex>"), or else an
// image the runtime already holds (an image reference such as
// "docker.io/library/hello:v1", in containerd's namespace for the container
// runtime; see ImageIsArtifact). Lumos settings ride in Annotations and
// Labels (see the Annotation* and Label* constants).
type FunctionDeployment struct {
	Service                string             `json:"service"`
	Image                  string             `json:"image"`
	Namespace              string             `json:"namespace,omitempty"`
	EnvProcess             string             `json:"envProcess,omitempty"`
	EnvVars                map[string]string  `json:"envVars,omitempty"`
	Constraints            []string           `json:"constraints,omitempty"`
	Secrets                []string           `json:"secrets,omitempty"`
	Labels                 map[string]string  `json:"labels,omitempty"`
	Annotations            map[string]string  `json:"annotations,omitempty"`
	Limits                 *FunctionResources `json:"limits,omitempty"`
	Requests               *FunctionResources `json:"requests,omitempty"`
	ReadOnlyRootFilesystem bool               `json:"readOnlyRootFilesystem,omitempty"`
}

// FunctionResources is OpenFaaS's resource quantity pair (k8s quantities).
type FunctionResources struct {
	Memory string `json:"memory,omitempty"`
	CPU    string `json:"cpu,omitempty"`
}

// Annotations and labels Lumos reads from a FunctionDeployment.
const (
	AnnotationRuntime      = "lumos.runtime"       // runtime name, or RuntimeAuto; default Config.DefaultRuntime
	AnnotationCandidates   = "lumos.candidates"    // runtime auto: the runtimes it may choose, comma-separated; default all
	AnnotationABI          = "lumos.abi"           // cgi | loop; default loop
	AnnotationTimeout      = "lumos.timeout"       // Go duration; default Config.DefaultTimeout
	AnnotationQueueSize    = "lumos.queue_size"    // pool.Config.QueueSize
	AnnotationQueueTimeout = "lumos.queue_timeout" // Go duration: pool.Config.QueueTimeout
	AnnotationMaxRequests  = "lumos.max_requests"  // pool.Config.MaxRequests
	AnnotationMaxMemory    = "lumos.max_memory"    // k8s quantity: pool.Config.MaxMemoryBytes
	AnnotationIdleTimeout  = "lumos.idle_timeout"  // Go duration: pool.Config.IdleTimeout
	AnnotationArgs         = "lumos.args"          // JSON array of strings: the program's argv[1:]
	AnnotationMounts       = "lumos.mounts"        // "host:guest[,host:guest]": read-only directories
	LabelScaleMin          = "com.openfaas.scale.min"
	LabelScaleMax          = "com.openfaas.scale.max"
	LabelScaleZeroDuration = "com.openfaas.scale.zero-duration" // Go duration: idle timeout
)

// settings is what a deployment means to Lumos once parsed and defaulted.
type settings struct {
	runtime     string
	abi         invoker.ABI
	timeout     time.Duration
	memoryLimit int64
	cpuLimit    int64 // thousandths of a core; 0: no cap
	args        []string
	mounts      []invoker.Mount
	pool        pool.Config
	// candidates restricts runtime auto (lumos.candidates); nil: all.
	candidates []string
	// adaptive: the deployment sets neither idle timeout nor warm minimum,
	// so the keep-alive tuner plans them (keepalive.go).
	adaptive bool
}

// defaults is what settings fall back to when a deployment is silent.
type defaults struct {
	runtime string
	timeout time.Duration
	pool    pool.Config
}

// decodeDeployment parses a FunctionDeployment from JSON, rejecting
// unknown trailing data, and validates its name.
func decodeDeployment(data []byte) (FunctionDeployment, error) {
	var d FunctionDeployment
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return FunctionDeployment{}, fmt.Errorf("%w: deployment JSON: %v", ErrBadRequest, err)
	}
	if dec.More() {
		return FunctionDeployment{}, fmt.Errorf("%w: deployment JSON: trailing data", ErrBadRequest)
	}
	if err := validName(d.Service); err != nil {
		return FunctionDeployment{}, err
	}
	return d, nil
}

// validName checks that name is a DNS-1123 label, as OpenFaaS requires.
func validName(name string) error {
	bad := len(name) == 0 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-'
	for i := 0; i < len(name) && !bad; i++ {
		c := name[i]
		bad = !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')
	}
	if bad {
		return fmt.Errorf("%w: service: %q is not a DNS-1123 label (lower-case letters, digits, '-', at most 63)", ErrBadRequest, name)
	}
	return nil
}

// maxImageRef bounds an image reference (docker's own limit on a name is 255
// characters, plus a tag or a digest).
const maxImageRef = 512

// ImageIsArtifact reports whether a deployment's image names an uploaded
// artifact: it starts with "sha256:" (a bare digest; validated as one). Any
// other value is an image reference the runtime resolves in its own store.
func ImageIsArtifact(image string) bool { return strings.HasPrefix(image, "sha256:") }

// validImage checks a deployment's image: an artifact digest, or an image
// reference of printable ASCII without spaces.
func validImage(image string) error {
	if ImageIsArtifact(image) {
		return validDigest(image)
	}
	bad := image == "" || len(image) > maxImageRef
	for i := 0; i < len(image) && !bad; i++ {
		c := image[i]
		bad = c <= ' ' || c >= 0x7f
	}
	if bad {
		return fmt.Errorf("%w: image: %q is neither an artifact digest (sha256:<64 hex>) nor an image reference (printable ASCII without spaces, at most %d bytes)", ErrBadRequest, image, maxImageRef)
	}
	return nil
}

// validDigest checks the "sha256:<64 lower-case hex>" form of an image.
func validDigest(image string) error {
	hex, ok := strings.CutPrefix(image, "sha256:")
	bad := !ok || len(hex) != 64
	for i := 0; i < len(hex) && !bad; i++ {
		c := hex[i]
		bad = !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
	}
	if bad {
		return fmt.Errorf("%w: image: %q is not an artifact digest (sha256:<64 hex>)", ErrBadRequest, image)
	}
	return nil
}

// parseSettings reads the Lumos settings out of d, over defs. Every error
// wraps ErrBadRequest and names the offending field.
func parseSettings(d FunctionDeployment, defs defaults) (settings, error) {
	s := settings{runtime: defs.runtime, abi: invoker.ABILoop, timeout: defs.timeout, pool: defs.pool}
	if err := validImage(d.Image); err != nil {
		return settings{}, err
	}
	a, l := d.Annotations, d.Labels
	if v, ok := a[AnnotationRuntime]; ok {
		s.runtime = v
	}
	if v, ok := a[AnnotationABI]; ok {
		s.abi = invoker.ABI(v)
		if !s.abi.Valid() {
			return settings{}, fieldError("annotations", AnnotationABI, v, "want cgi or loop")
		}
	}
	var err error
	set := func(err2 error) {
		if err == nil {
			err = err2
		}
	}
	set(durationField(a, "annotations", AnnotationTimeout, &s.timeout))
	set(intField(a, "annotations", AnnotationQueueSize, &s.pool.QueueSize))
	set(durationField(a, "annotations", AnnotationQueueTimeout, &s.pool.QueueTimeout))
	set(intField(a, "annotations", AnnotationMaxRequests, &s.pool.MaxRequests))
	set(quantityField(a, "annotations", AnnotationMaxMemory, &s.pool.MaxMemoryBytes))
	set(durationField(l, "labels", LabelScaleZeroDuration, &s.pool.IdleTimeout))
	set(durationField(a, "annotations", AnnotationIdleTimeout, &s.pool.IdleTimeout))
	set(intField(l, "labels", LabelScaleMin, &s.pool.MinWarm))
	set(intField(l, "labels", LabelScaleMax, &s.pool.MaxInstances))
	if d.Limits != nil && d.Limits.Memory != "" {
		m := map[string]string{"memory": d.Limits.Memory}
		set(quantityField(m, "limits", "memory", &s.memoryLimit))
	}
	if d.Limits != nil && d.Limits.CPU != "" {
		n, cerr := parseCPU(d.Limits.CPU)
		if cerr != nil {
			cerr = fieldError("limits", "cpu", d.Limits.CPU, cerr.Error())
		}
		set(cerr)
		s.cpuLimit = n
	}
	set(argsField(a, &s.args))
	set(mountsField(a, &s.mounts))
	cands, cerr := parseCandidates(a)
	set(cerr)
	s.candidates = cands
	_, idle := a[AnnotationIdleTimeout]
	_, zero := l[LabelScaleZeroDuration]
	_, warm := l[LabelScaleMin]
	s.adaptive = !idle && !zero && !warm
	if err != nil {
		return settings{}, err
	}
	if s.timeout <= 0 {
		return settings{}, fieldError("annotations", AnnotationTimeout, s.timeout.String(), "must be positive")
	}
	if err := s.pool.Validate(); err != nil {
		return settings{}, fmt.Errorf("%w: pool settings (labels %s/%s, annotations lumos.*): %v",
			ErrBadRequest, LabelScaleMin, LabelScaleMax, err)
	}
	return s, nil
}

// argsField reads the program's arguments, a JSON array of strings.
func argsField(a map[string]string, dst *[]string) error {
	v, ok := a[AnnotationArgs]
	if !ok {
		return nil
	}
	if err := json.Unmarshal([]byte(v), dst); err != nil {
		return fieldError("annotations", AnnotationArgs, v, "want a JSON array of strings")
	}
	return nil
}

// mountsField reads read-only directory grants, "host:guest" pairs separated
// by commas. Both paths must be absolute, and the host path a directory.
func mountsField(a map[string]string, dst *[]invoker.Mount) error {
	v, ok := a[AnnotationMounts]
	if !ok || strings.TrimSpace(v) == "" {
		return nil
	}
	for _, pair := range strings.Split(v, ",") {
		host, guest, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok || !path.IsAbs(host) || !path.IsAbs(guest) {
			return fieldError("annotations", AnnotationMounts, v, "want absolute host:guest pairs separated by commas")
		}
		if fi, err := os.Stat(host); err != nil || !fi.IsDir() {
			return fieldError("annotations", AnnotationMounts, v, fmt.Sprintf("%s is not a directory on the gateway", host))
		}
		*dst = append(*dst, invoker.Mount{HostPath: host, GuestPath: guest})
	}
	return nil
}

func fieldError(where, key, value, why string) error {
	return fmt.Errorf("%w: %s[%q] = %q: %s", ErrBadRequest, where, key, value, why)
}

func durationField(m map[string]string, where, key string, dst *time.Duration) error {
	v, ok := m[key]
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fieldError(where, key, v, "want a non-negative Go duration like 30s")
	}
	*dst = d
	return nil
}

func intField(m map[string]string, where, key string, dst *int) error {
	v, ok := m[key]
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < 0 {
		return fieldError(where, key, v, "want a non-negative integer")
	}
	*dst = int(n)
	return nil
}

func quantityField(m map[string]string, where, key string, dst *int64) error {
	v, ok := m[key]
	if !ok {
		return nil
	}
	n, err := parseQuantity(v)
	if err != nil {
		return fieldError(where, key, v, err.Error())
	}
	*dst = n
	return nil
}

// quantitySuffixes are the k8s memory suffixes Lumos accepts, with their
// multipliers. "K" is accepted as a common alias of "k".
var quantitySuffixes = [...]struct {
	suffix string
	mul    int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
}

// parseQuantity parses a k8s memory quantity ("64Mi", "128M", "1.5Gi",
// "1048576") into bytes. Fractions round up to a whole byte.
func parseQuantity(s string) (int64, error) {
	num, mul := s, int64(1)
	for _, q := range quantitySuffixes {
		if n, ok := strings.CutSuffix(s, q.suffix); ok {
			num, mul = n, q.mul
			break
		}
	}
	if num == "" || strings.ContainsAny(num, "eE+-_xXpP") || strings.EqualFold(num, "inf") || strings.EqualFold(num, "nan") {
		return 0, fmt.Errorf("want a k8s quantity like 64Mi or 128M")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("want a positive k8s quantity like 64Mi or 128M")
	}
	bytes := f * float64(mul)
	if bytes >= 1<<62 {
		return 0, fmt.Errorf("quantity too large")
	}
	n := int64(bytes)
	if float64(n) < bytes {
		n++
	}
	return n, nil
}

// storedFunction is the record kept in the store for one function.
type storedFunction struct {
	Deployment FunctionDeployment `json:"deployment"`
	CreatedAt  time.Time          `json:"createdAt"`
	// Replicas is the last scale request, overriding the min label; nil if none.
	Replicas *int `json:"replicas,omitempty"`
}

// CPU limits, in thousandths of a core: the kernel's smallest CFS quota
// (1 ms per 100 ms period) up to 1024 cores, far past any edge machine.
const (
	minCPU = 10
	maxCPU = 1024 * 1000
)

// parseCPU parses a k8s CPU quantity ("500m", "0.5", "2") into thousandths
// of a core, rounding a fraction of a millicore up.
func parseCPU(s string) (int64, error) {
	num, mul := s, 1000.0
	if n, ok := strings.CutSuffix(s, "m"); ok {
		num, mul = n, 1
	}
	if num == "" || strings.ContainsAny(num, "eE+-_xXpP") || strings.EqualFold(num, "inf") || strings.EqualFold(num, "nan") {
		return 0, fmt.Errorf("want a k8s CPU quantity like 500m or 0.5")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("want a positive k8s CPU quantity like 500m or 0.5")
	}
	m := math.Ceil(f * mul)
	if m < minCPU {
		return 0, fmt.Errorf("at least %dm: the kernel's smallest CFS quota is 1 ms per 100 ms", minCPU)
	}
	if m > maxCPU {
		return 0, fmt.Errorf("at most %d cores", maxCPU/1000)
	}
	return int64(m), nil
}
