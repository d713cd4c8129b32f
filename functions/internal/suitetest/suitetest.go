// Package suitetest checks a suite function's handler against its
// functions.Workload: each function's main_test.go calls Check.
package suitetest

import (
	"errors"
	"testing"

	"github.com/lumos-edge/lumos/functions"
	"github.com/lumos-edge/lumos/functions/sdk"
	"github.com/lumos-edge/lumos/functions/sdk/sdktest"
)

// Sizes are the input sizes Check drives a handler at: 1 KB and 256 KB.
var Sizes = []int{1 << 10, 256 << 10}

// Check serves the workload's inputs at every size of Sizes through h
// natively, in one loop-ABI process, and has Verify accept each answer;
// then it has Verify reject wrong ones: an empty answer, and (for
// workloads whose input changes with size) the answer to the 2 KB input
// offered as the answer to the 1 KB one.
func Check(t *testing.T, name string, h sdk.Handler) {
	t.Helper()
	w, ok := functions.WorkloadOf(name)
	if !ok {
		t.Fatalf("no workload %q", name)
	}
	serve := func(size int) (string, []byte, []byte) {
		t.Helper()
		q, b := w.Inputs(size)
		res, err := sdktest.Loop(h, &sdk.Request{Method: "POST", Path: "/", Query: q, Body: b})
		if err != nil {
			t.Fatal(err)
		}
		r := res.Responses[0]
		if r.Status != 200 {
			t.Fatalf("%s at %d bytes: status %d %.200q", name, size, r.Status, r.Body)
		}
		return q, b, r.Body
	}
	for _, size := range Sizes {
		q, b, resp := serve(size)
		if err := w.Verify(q, b, resp); err != nil {
			t.Errorf("%s at %d bytes: %v", name, size, err)
		}
	}
	q, b, _ := serve(1 << 10)
	if err := w.Verify(q, b, nil); !errors.Is(err, functions.ErrWrongAnswer) {
		t.Errorf("%s: Verify accepted an empty answer: %v", name, err)
	}
	q2, b2, other := serve(2 << 10)
	if q2 == q && string(b2) == string(b) {
		return // the input does not depend on size (hello)
	}
	if err := w.Verify(q, b, other); !errors.Is(err, functions.ErrWrongAnswer) {
		t.Errorf("%s: Verify accepted the answer to the 2 KB input for the 1 KB one: %v", name, err)
	}
}
