package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// FunctionStatus describes a deployed function, in OpenFaaS's JSON shape.
type FunctionStatus struct {
	Name                   string             `json:"name"`
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
	InvocationCount        float64            `json:"invocationCount"`
	// Replicas is the warm minimum or the live instances, whichever is more.
	Replicas uint64 `json:"replicas"`
	// AvailableReplicas counts instances that are up (idle or busy).
	AvailableReplicas uint64    `json:"availableReplicas"`
	CreatedAt         time.Time `json:"createdAt"`
	// Pending, when set, says why the function does not serve yet: its
	// runtime was unavailable when the gateway started, and its restore is
	// retried in the background (invocations answer 503 meanwhile). A
	// Lumos field, not OpenFaaS's.
	Pending string `json:"pending,omitempty"`
	// Lumos describes how Lumos serves the function: its runtimes and the
	// effective keep-alive of each; nil while pending. A Lumos field.
	Lumos *LumosStatus `json:"lumos,omitempty"`
}

// LumosStatus is the Lumos part of a FunctionStatus.
type LumosStatus struct {
	// Runtime is as deployed: a runtime name, or RuntimeAuto.
	Runtime string `json:"runtime"`
	// Adaptive is true when Config.KeepAlive plans the idle timeout and
	// prewarm count of the function's pools: its deployment sets neither
	// and no scale request pinned its replicas.
	Adaptive bool `json:"adaptive"`
	// Runtimes has one entry per runtime the function is loaded on: one,
	// or for runtime auto each candidate that loaded it, in the order the
	// Chooser sees them.
	Runtimes []RuntimeStatus `json:"runtimes"`
	// Skipped lists the candidates of runtime auto that did not load it.
	Skipped []SkippedRuntime `json:"skipped,omitempty"`
}

// RuntimeStatus is the pool of a function on one runtime.
type RuntimeStatus struct {
	Runtime string `json:"runtime"`
	// IdleTimeout is the effective idle timeout (Go duration).
	IdleTimeout string `json:"idleTimeout"`
	// MinWarm is the effective prewarm count.
	MinWarm int `json:"minWarm"`
	// MaxInstances caps the pool.
	MaxInstances int `json:"maxInstances"`
	// Instances counts starting, idle and busy instances now.
	Instances int `json:"instances"`
}

// ScaleServiceRequest is OpenFaaS's scale request.
type ScaleServiceRequest struct {
	ServiceName string `json:"serviceName"`
	Replicas    uint64 `json:"replicas"`
}

// DeleteFunctionRequest is OpenFaaS's delete request.
type DeleteFunctionRequest struct {
	FunctionName string `json:"functionName"`
}

// VersionInfo is OpenFaaS's version block.
type VersionInfo struct {
	SHA     string `json:"sha"`
	Release string `json:"release"`
}

// ProviderInfo is OpenFaaS's provider block.
type ProviderInfo struct {
	Name          string      `json:"provider"`
	Orchestration string      `json:"orchestration"`
	Version       VersionInfo `json:"version"`
}

// InfoResponse answers GET /system/info.
type InfoResponse struct {
	Provider ProviderInfo `json:"provider"`
	Version  VersionInfo  `json:"version"`
	Arch     string       `json:"arch"`
}

// ArtifactStatus describes a stored artifact.
type ArtifactStatus struct {
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created,omitzero"`
}

// maxReplicas bounds a scale request before it is clamped to MaxInstances.
const maxReplicas = 1 << 20

// admin serves /system/{route}. The caller has checked credentials.
func (g *Gateway) admin(rc *fasthttp.RequestCtx, route string) {
	method := string(rc.Method())
	var err error
	switch {
	case route == "functions":
		switch method {
		case http.MethodGet:
			err = g.listFunctions(rc)
		case http.MethodPost, http.MethodPut:
			err = g.deployHTTP(rc, method == http.MethodPut)
		case http.MethodDelete:
			err = g.deleteHTTP(rc)
		default:
			methodNotAllowed(rc, "GET, POST, PUT, DELETE")
			return
		}
	case strings.HasPrefix(route, "function/"):
		if method != http.MethodGet {
			methodNotAllowed(rc, "GET")
			return
		}
		err = g.getFunction(rc, strings.TrimPrefix(route, "function/"))
	case strings.HasPrefix(route, "scale-function/"):
		if method != http.MethodPost {
			methodNotAllowed(rc, "POST")
			return
		}
		err = g.scaleHTTP(rc, strings.TrimPrefix(route, "scale-function/"))
	case route == "info":
		if method != http.MethodGet {
			methodNotAllowed(rc, "GET")
			return
		}
		v := VersionInfo{SHA: "", Release: g.cfg.Version}
		err = writeJSON(rc, http.StatusOK, InfoResponse{
			Provider: ProviderInfo{Name: "lumos", Orchestration: "lumos", Version: v},
			Version:  v, Arch: runtime.GOARCH,
		})
	case isModelRoute(route):
		err = g.modelHTTP(rc, route)
	case route == "artifacts":
		switch method {
		case http.MethodGet:
			err = g.listArtifacts(rc)
		case http.MethodPost:
			err = g.uploadArtifact(rc)
		default:
			methodNotAllowed(rc, "GET, POST")
			return
		}
	default:
		err = fmt.Errorf("%w: no route /system/%s", ErrNotFound, route)
	}
	if err != nil {
		logInternal(g.log, writeError(rc, err), err)
	}
}

func writeJSON(rc *fasthttp.RequestCtx, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	rc.SetStatusCode(status)
	rc.SetContentType(contentTypeJSON)
	rc.SetBody(body)
	return nil
}

// decodeBody decodes a JSON request body into dst.
func decodeBody(rc *fasthttp.RequestCtx, dst any) error {
	if err := json.Unmarshal(rc.PostBody(), dst); err != nil {
		return fmt.Errorf("%w: request JSON: %v", ErrBadRequest, err)
	}
	return nil
}

// status describes v; tuned says whether the gateway runs a keep-alive planner.
func (v *version) status(tuned bool) FunctionStatus {
	d := v.dep
	lumos := &LumosStatus{Runtime: v.set.runtime, Adaptive: tuned && v.set.adaptive && !v.pinned.Load(),
		Runtimes: make([]RuntimeStatus, 0, len(v.variants)), Skipped: v.skipped}
	var replicas, available uint64
	for _, vr := range v.variants {
		st, cfg := vr.pool.Stats(), vr.pool.Config()
		live := st.Idle + st.Busy + st.Starting
		replicas += uint64(max(cfg.MinWarm, live))
		available += uint64(st.Idle + st.Busy)
		lumos.Runtimes = append(lumos.Runtimes, RuntimeStatus{Runtime: vr.runtime, IdleTimeout: cfg.IdleTimeout.String(),
			MinWarm: cfg.MinWarm, MaxInstances: cfg.MaxInstances, Instances: live})
	}
	return FunctionStatus{
		Name: d.Service, Image: d.Image, Namespace: d.Namespace, EnvProcess: d.EnvProcess,
		EnvVars: d.EnvVars, Constraints: d.Constraints, Secrets: d.Secrets, Labels: d.Labels,
		Annotations: d.Annotations, Limits: d.Limits, Requests: d.Requests,
		ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem,
		InvocationCount:        float64(v.calls.Load()),
		Replicas:               replicas,
		AvailableReplicas:      available,
		CreatedAt:              v.createdAt,
		Lumos:                  lumos,
	}
}

func (g *Gateway) listFunctions(rc *fasthttp.RequestCtx) error {
	table := *g.table.Load()
	out := make([]FunctionStatus, 0, len(table))
	for _, v := range table {
		out = append(out, v.status(g.cfg.KeepAlive != nil))
	}
	for _, st := range g.pendingStatuses() {
		if table[st.Name] == nil { // a version being installed supersedes it
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return writeJSON(rc, http.StatusOK, out)
}

func (g *Gateway) getFunction(rc *fasthttp.RequestCtx, name string) error {
	v := g.current(name)
	if v == nil {
		if st, ok := g.pendingStatus(name); ok {
			return writeJSON(rc, http.StatusOK, st)
		}
		return fmt.Errorf("%w: function %q", ErrNotFound, name)
	}
	return writeJSON(rc, http.StatusOK, v.status(g.cfg.KeepAlive != nil))
}

// deployHTTP serves POST (create, 409 if present) and PUT (update, 404 if
// absent) /system/functions. It answers 202 with the function's status.
func (g *Gateway) deployHTTP(rc *fasthttp.RequestCtx, update bool) error {
	d, err := decodeDeployment(rc.PostBody())
	if err != nil {
		return err
	}
	mode := modeCreate
	if update {
		mode = modeUpdate
	}
	v, err := g.deploy(g.base, d, mode, nil)
	if err != nil {
		return err
	}
	return writeJSON(rc, http.StatusAccepted, v.status(g.cfg.KeepAlive != nil))
}

func (g *Gateway) deleteHTTP(rc *fasthttp.RequestCtx) error {
	var req DeleteFunctionRequest
	if err := decodeBody(rc, &req); err != nil {
		return err
	}
	if err := g.remove(req.FunctionName); err != nil {
		return err
	}
	rc.SetStatusCode(http.StatusAccepted)
	return nil
}

func (g *Gateway) scaleHTTP(rc *fasthttp.RequestCtx, name string) error {
	var req ScaleServiceRequest
	if err := decodeBody(rc, &req); err != nil {
		return err
	}
	if req.ServiceName != "" && req.ServiceName != name {
		return fmt.Errorf("%w: serviceName %q does not match the path's %q", ErrBadRequest, req.ServiceName, name)
	}
	if req.Replicas > maxReplicas {
		return fmt.Errorf("%w: replicas %d is too many", ErrBadRequest, req.Replicas)
	}
	if err := g.scale(name, int(req.Replicas)); err != nil {
		return err
	}
	rc.SetStatusCode(http.StatusAccepted)
	return nil
}

func (g *Gateway) uploadArtifact(rc *fasthttp.RequestCtx) error {
	body := rc.PostBody()
	if len(body) == 0 {
		return fmt.Errorf("%w: empty artifact (send its bytes as the body)", ErrBadRequest)
	}
	digest, err := g.PutArtifact(body)
	if err != nil {
		return err
	}
	return writeJSON(rc, http.StatusCreated, ArtifactStatus{Digest: digest, Size: int64(len(body))})
}

func (g *Gateway) listArtifacts(rc *fasthttp.RequestCtx) error {
	infos, err := g.cfg.Store.Artifacts()
	if err != nil {
		return fmt.Errorf("list artifacts: %w", err)
	}
	out := make([]ArtifactStatus, 0, len(infos))
	for _, a := range infos {
		out = append(out, ArtifactStatus{Digest: a.Digest, Size: a.Size, Created: a.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return writeJSON(rc, http.StatusOK, out)
}
