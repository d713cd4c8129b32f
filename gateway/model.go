package gateway

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Model serves GET /system/model, /system/model/{name} and /system/model-snapshot.
type Model interface {
	// Overview is the JSON-marshalable document of GET /system/model.
	Overview() any
	// Function is the document of GET /system/model/{name}?bytes=N (bytes defaults
	// to 1024 when absent); ok is false when the model has nothing on name (404).
	Function(name string, bytes int) (doc any, ok bool)
	// Export returns the model's whole state as JSON (GET /system/model-snapshot).
	Export() ([]byte, error)
	// Import merges a snapshot made by Export into the model (POST
	// /system/model-snapshot; errors answer 400 naming the problem; the
	// model is unchanged on error).
	Import(data []byte) error
	// Replace replaces the model's state with a snapshot made by Export (PUT
	// /system/model-snapshot, idempotent; errors as Import's).
	Replace(data []byte) error
	// Forget drops everything the model learned of function: the gateway
	// calls it when the function is removed, and when an update changes its
	// candidate runtimes (what was learned of the old ones no longer applies).
	Forget(function string)
}

// Model routes under /system/.
const (
	routeModel         = "model"
	routeModelSnapshot = "model-snapshot"
)

// Query parameter bytes of GET /system/model/{name}: its default and bound.
const (
	defaultModelBytes = 1024
	maxModelBytes     = 1 << 30
)

// errModelDisabled answers the model routes when Config.Model is nil.
var errModelDisabled = fmt.Errorf("%w: model disabled", ErrNotFound)

// isModelRoute reports whether route (the path after /system/) is one of
// the model's.
func isModelRoute(route string) bool {
	return route == routeModel || route == routeModelSnapshot || strings.HasPrefix(route, routeModel+"/")
}

// modelHTTP serves the model routes. The caller has checked credentials.
func (g *Gateway) modelHTTP(rc *fasthttp.RequestCtx, route string) error {
	m := g.cfg.Model
	if m == nil {
		return errModelDisabled
	}
	method := string(rc.Method())
	switch {
	case route == routeModel:
		if method != http.MethodGet {
			methodNotAllowed(rc, "GET")
			return nil
		}
		return writeJSON(rc, http.StatusOK, m.Overview())
	case route == routeModelSnapshot:
		switch method {
		case http.MethodGet:
			data, err := m.Export()
			if err != nil {
				return fmt.Errorf("export model: %w", err)
			}
			rc.SetStatusCode(http.StatusOK)
			rc.SetContentType(contentTypeJSON)
			rc.SetBody(data)
			return nil
		case http.MethodPut, http.MethodPost:
			body := rc.PostBody()
			if len(body) == 0 {
				return fmt.Errorf("%w: empty model snapshot (send the JSON of GET /system/%s as the body)", ErrBadRequest, routeModelSnapshot)
			}
			load := m.Import // POST merges
			if method == http.MethodPut {
				load = m.Replace // PUT replaces: the same PUT twice is the same model
			}
			if err := load(body); err != nil {
				return fmt.Errorf("%w: model snapshot: %v", ErrBadRequest, err)
			}
			rc.SetStatusCode(http.StatusNoContent)
			return nil
		default:
			methodNotAllowed(rc, "GET, PUT, POST")
			return nil
		}
	default:
		if method != http.MethodGet {
			methodNotAllowed(rc, "GET")
			return nil
		}
		name := strings.TrimPrefix(route, routeModel+"/")
		if name == "" {
			return fmt.Errorf("%w: no function named in the path", ErrNotFound)
		}
		bytes, err := modelBytes(rc.QueryArgs())
		if err != nil {
			return err
		}
		doc, ok := m.Function(name, bytes)
		if !ok {
			return fmt.Errorf("%w: the model knows nothing of function %q", ErrNotFound, name)
		}
		return writeJSON(rc, http.StatusOK, doc)
	}
}

// modelBytes reads query parameter bytes: a non-negative integer up to
// 1 GiB; defaultModelBytes when absent.
func modelBytes(args *fasthttp.Args) (int, error) {
	if !args.Has("bytes") {
		return defaultModelBytes, nil
	}
	raw := string(args.Peek("bytes"))
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 || n > maxModelBytes {
		return 0, fmt.Errorf("%w: query bytes: %q: want a non-negative integer up to %d (1 GiB)", ErrBadRequest, raw, maxModelBytes)
	}
	return int(n), nil
}
