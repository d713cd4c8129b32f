package bench

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// With runs of different sizes the confidence interval is centred on the
// mean of the run means it was computed from, not on the pooled mean.
func TestSummarizeCentresCIOnRunMeans(t *testing.T) {
	s := summarize([][]float64{{2, 2, 2, 2, 2, 2}, {5}, {8}})
	if !near(s.Mean, 25.0/8) {
		t.Fatalf("pooled mean %v, want 3.125", s.Mean)
	}
	// Run means 2, 5 and 8: centre 5, sd 3, t(0.975, 2 df) 4.3027.
	half := 4.3027 * 3 / math.Sqrt(3)
	if !near(s.CILow, 5-half) || !near(s.CIHigh, 5+half) {
		t.Errorf("CI [%v, %v], want 5 ± %v", s.CILow, s.CIHigh, half)
	}
}

// stubGateway answers the scale and status routes with replicas that never
// go away, and invocations with an echo marked start.
func stubGateway(t *testing.T, start string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/system/scale-function/"):
			w.WriteHeader(http.StatusAccepted)
		case strings.HasPrefix(r.URL.Path, "/system/function/"):
			io.WriteString(w, `{"availableReplicas":2}`)
		case strings.HasPrefix(r.URL.Path, "/function/"):
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Lumos-Start", start)
			w.Write(body)
		default:
			http.Error(w, "no route", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// scaleToZero fails when replicas remain after the settle time: a cold
// series must not silently hold warm calls.
func TestScaleToZeroFailsWhenReplicasRemain(t *testing.T) {
	srv := stubGateway(t, "warm")
	api := &apiClient{base: srv.URL, user: "admin", pass: "pw", http: srv.Client()}
	err := api.scaleToZero(context.Background(), "f", 0)
	if err == nil || !strings.Contains(err.Error(), "2 replicas") {
		t.Errorf("scaleToZero with replicas left: %v, want an error naming 2 replicas", err)
	}
}

// An answer that was not a cold start stays out of the cold series (it
// still counts in Starts).
func TestColdSeriesExcludesWarmAnswers(t *testing.T) {
	srv := stubGateway(t, "warm")
	r := &runner{api: &apiClient{base: srv.URL, user: "admin", pass: "pw", http: srv.Client()}, res: &Results{}}
	tg := target{w: echoWorkload("echo"), runtime: "lumos", name: "f"}
	var tl tally
	r.call(context.Background(), tg, ScenarioCold, 1, "", []byte("x"), &tl)
	if len(tl.lat) != 0 || tl.starts["warm"] != 1 {
		t.Errorf("cold scenario, warm answer: %d latencies, starts %v; want none and warm counted", len(tl.lat), tl.starts)
	}
	r.call(context.Background(), tg, ScenarioWarm, 1, "", []byte("x"), &tl)
	if len(tl.lat) != 1 {
		t.Errorf("warm scenario: %d latencies, want 1", len(tl.lat))
	}
}
