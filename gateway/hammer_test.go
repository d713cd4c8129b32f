package gateway

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHammerRedeployScaleDelete pounds a function with invocations while
// another goroutine redeploys, scales and deletes it. Every invocation must
// end in 200 or (while deleted) 404, and after Close every function and
// instance the runtime made must be closed.
func TestHammerRedeployScaleDelete(t *testing.T) {
	h := newHarness(t)
	h.http.Transport = &http.Transport{MaxIdleConnsPerHost: 16}
	digests := []string{h.upload("v1"), h.upload("v2")}
	deployment := func(i int) FunctionDeployment {
		return FunctionDeployment{Service: "hammer", Image: digests[i%2], Labels: map[string]string{LabelScaleMax: "4"},
			Annotations: map[string]string{AnnotationQueueTimeout: "0s", AnnotationQueueSize: "1000"}}
	}
	if r := h.admin(http.MethodPost, "/system/functions", deployment(0)); r.status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", r.status, r.body)
	}

	const workers, perWorker = 8, 60
	var ok, missing atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				body := fmt.Sprintf("w%d-%d", w, i)
				r := h.do(http.MethodPost, "/function/hammer/x", []byte(body))
				switch {
				case r.status == 200 && string(r.body) == body:
					ok.Add(1)
				case r.status == 404:
					missing.Add(1)
				default:
					errs <- fmt.Sprintf("status %d body %q (sent %q)", r.status, r.body, body)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var adminWG sync.WaitGroup
	adminWG.Add(1)
	go func() {
		defer adminWG.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 5 {
			case 0, 1:
				h.admin(http.MethodPut, "/system/functions", deployment(i))
			case 2:
				h.admin(http.MethodPost, "/system/scale-function/hammer", ScaleServiceRequest{Replicas: uint64(i % 3)})
			case 3:
				h.admin(http.MethodDelete, "/system/functions", DeleteFunctionRequest{FunctionName: "hammer"})
				time.Sleep(time.Millisecond)
			case 4:
				h.admin(http.MethodPost, "/system/functions", deployment(i))
			}
		}
	}()
	wg.Wait()
	close(stop)
	adminWG.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if ok.Load() == 0 {
		t.Error("no invocation succeeded")
	}
	t.Logf("ok %d, not found %d", ok.Load(), missing.Load())

	h.stop()
	loaded, fnClosed, created, instClosed := h.rt.counts()
	if loaded != fnClosed || created != instClosed {
		t.Errorf("leak: functions loaded %d closed %d; instances created %d closed %d", loaded, fnClosed, created, instClosed)
	}
}
