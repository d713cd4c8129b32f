package invoker

import (
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	var tl Timeline
	t0 := time.Now()
	tl.AddDuration(PhaseCompile, t0, 3*time.Millisecond)
	tl.AddDuration(PhaseInstantiate, t0, 2*time.Millisecond)
	tl.AddDuration(PhaseCompile, t0, time.Millisecond)
	if got := tl.Get(PhaseCompile); got != 4*time.Millisecond {
		t.Errorf("Get(compile) = %v, want 4ms (the sum of both)", got)
	}
	if got := tl.Get(PhaseExecute); got != 0 {
		t.Errorf("Get(execute) = %v, want 0", got)
	}

	var all Timeline
	all.AddDuration(PhaseQueueWait, t0, time.Millisecond)
	all.Append(&tl)
	all.Append(nil)
	if ph := all.Phases(); len(ph) != 4 || ph[0].Name != PhaseQueueWait || ph[3].Name != PhaseCompile {
		t.Errorf("Append kept %v", ph)
	}

	for range maxPhases + 5 { // past capacity: dropped, never a panic or an allocation
		all.Add(PhaseExecute, t0)
	}
	if n := len(all.Phases()); n != maxPhases {
		t.Errorf("len = %d, want the capacity %d", n, maxPhases)
	}
	all.Reset()
	if len(all.Phases()) != 0 {
		t.Error("Reset left phases")
	}

	var nilTL *Timeline // runtimes may be handed no timeline
	nilTL.Add(PhaseExecute, t0)
	if nilTL.Phases() != nil || nilTL.Get(PhaseExecute) != 0 {
		t.Error("a nil timeline recorded something")
	}
	if a := testing.AllocsPerRun(100, func() { tl.Reset(); tl.Add(PhaseExecute, t0) }); a != 0 {
		t.Errorf("recording allocates %v times", a)
	}
}

func TestABIValid(t *testing.T) {
	for abi, want := range map[ABI]bool{ABICGI: true, ABILoop: true, "": false, "grpc": false, "CGI": false} {
		if abi.Valid() != want {
			t.Errorf("%q.Valid() = %v", abi, !want)
		}
	}
}
