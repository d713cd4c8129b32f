package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient speaks the OpenFaaS gateway API: the admin routes with Basic
// auth, and /function/NAME.
type apiClient struct {
	base       string
	user, pass string
	http       *http.Client
}

// statusError is a non-2xx answer of an admin route.
type statusError struct {
	Status int
	Body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("gateway answered %d: %s", e.Status, e.Body)
}

// statusOf returns the HTTP status of a statusError in err's chain, or 0.
func statusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// admin sends an authenticated request and decodes a JSON answer into out.
func (c *apiClient) admin(ctx context.Context, method, path string, body []byte, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, &statusError{resp.StatusCode, clip(data)})
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

func (c *apiClient) adminJSON(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.admin(ctx, method, path, b, "application/json", out)
}

// info returns the gateway's GET /system/info answer, as is.
func (c *apiClient) info(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.admin(ctx, http.MethodGet, "/system/info", nil, "", &raw)
	return raw, err
}

// deployment is the part of OpenFaaS's FunctionDeployment the bench sets.
type deployment struct {
	Service     string            `json:"service"`
	Image       string            `json:"image"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Limits      *limits           `json:"limits,omitempty"`
}

// limits are an OpenFaaS deployment's resource limits.
type limits struct {
	Memory string `json:"memory,omitempty"`
}

// deploy deploys d (creating or updating it); when d names no image, it
// uploads artifact first (Lumos's /system/artifacts) and deploys its digest.
func (c *apiClient) deploy(ctx context.Context, artifact []byte, d deployment) error {
	if d.Image == "" {
		var art struct {
			Digest string `json:"digest"`
		}
		err := c.admin(ctx, http.MethodPost, "/system/artifacts", artifact, "application/octet-stream", &art)
		if s := statusOf(err); s == http.StatusNotFound || s == http.StatusMethodNotAllowed {
			return fmt.Errorf("upload artifact: the gateway takes no uploads (not Lumos?): name an image for the function instead: %w", err)
		}
		if err != nil {
			return fmt.Errorf("upload artifact: %w", err)
		}
		if art.Digest == "" {
			return errors.New("upload artifact: the gateway answered no digest")
		}
		d.Image = art.Digest
	}
	err := c.adminJSON(ctx, http.MethodPost, "/system/functions", d, nil)
	if statusOf(err) == http.StatusConflict {
		err = c.adminJSON(ctx, http.MethodPut, "/system/functions", d, nil)
	}
	return err
}

// remove deletes a function.
func (c *apiClient) remove(ctx context.Context, name string) error {
	return c.adminJSON(ctx, http.MethodDelete, "/system/functions", map[string]string{"functionName": name}, nil)
}

// scaleToZero scales name to zero and waits, at most settle, until the
// gateway reports no available replica; it fails if replicas remain.
func (c *apiClient) scaleToZero(ctx context.Context, name string, settle time.Duration) error {
	path := "/system/scale-function/" + url.PathEscape(name)
	if err := c.adminJSON(ctx, http.MethodPost, path, map[string]any{"serviceName": name, "replicas": 0}, nil); err != nil {
		return err
	}
	deadline := time.Now().Add(settle)
	for {
		var st struct {
			AvailableReplicas uint64 `json:"availableReplicas"`
		}
		if err := c.admin(ctx, http.MethodGet, "/system/function/"+url.PathEscape(name), nil, "", &st); err != nil {
			return err
		}
		if st.AvailableReplicas == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still has %d replicas %v after scaling to zero", name, st.AvailableReplicas, settle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// startCold is the X-Lumos-Start of an answer that began with a cold start.
const startCold = "cold"

// answer is one invocation's outcome.
type answer struct {
	status  int
	body    []byte
	latency time.Duration
	timing  timing
	start   string
}

// invoke calls /function/name once, asking for the Server-Timing breakdown.
func (c *apiClient) invoke(ctx context.Context, name, query string, body []byte) (answer, error) {
	u := c.base + "/function/" + url.PathEscape(name)
	if query != "" {
		u += "?" + query
	}
	method := http.MethodGet
	var rd io.Reader
	if body != nil {
		method, rd = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("X-Lumos-Timing", "1")
	begin := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: data, latency: time.Since(begin), start: resp.Header.Get("X-Lumos-Start")}
	if err != nil {
		return a, fmt.Errorf("read answer: %w", err)
	}
	a.timing = parseServerTiming(resp.Header.Values("Server-Timing"))
	return a, nil
}

// clip shortens an answer for an error message.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
