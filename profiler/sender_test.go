package profiler

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPSenderRetriesThenDelivers(t *testing.T) {
	var calls atomic.Int32
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
			r.Header.Get("Authorization") != "Bearer x" || r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err == nil {
			got, err = io.ReadAll(zr)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	s := &HTTPSender{URL: srv.URL + "/v1/traces", Headers: map[string]string{"Authorization": "Bearer x"}, Gzip: true}
	for range 2 { // the second send reuses the compressor
		calls.Store(0)
		if err := s.Send(context.Background(), []byte("request")); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 2 || string(got) != "request" {
			t.Errorf("%d calls, body %q: want a retry after the 503, then the request", calls.Load(), got)
		}
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestHTTPSenderGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Kind") == "bad" {
			http.Error(w, "malformed", http.StatusBadRequest)
			return
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	bad := &HTTPSender{URL: srv.URL, Headers: map[string]string{"X-Kind": "bad"}}
	if err := bad.Send(context.Background(), []byte("r")); err == nil || !strings.Contains(err.Error(), "400") || calls.Load() != 1 {
		t.Errorf("a 400: err %v after %d calls; want an error and no retry", err, calls.Load())
	}
	calls.Store(0)
	busy := &HTTPSender{URL: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	if err := busy.Send(ctx, []byte("r")); err == nil || calls.Load() < 2 {
		t.Errorf("always busy: err %v after %d calls; want retries, then an error once the context ended", err, calls.Load())
	}
}
