package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// The crash tests re-execute the test binary as a child that opens a store,
// starts writing, tells the parent "ready" on stdout at a chosen point and
// is then killed with SIGKILL. The parent reopens the store and checks that
// it is consistent.
const (
	envCrashMode = "LUMOS_STORE_CRASH_MODE"
	envCrashDir  = "LUMOS_STORE_CRASH_DIR"

	crashMidWrite     = "mid-write"     // blocked while streaming into the temp file
	crashBeforeRename = "before-rename" // temp file complete and synced, not renamed
	crashChurn        = "churn"         // killed at an arbitrary point of a deploy loop

	crashBaseFunction = "base"
	crashChurnRounds  = 20 // rounds done before "ready"; the child keeps going
	crashWritten      = 100_000
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envCrashMode); mode != "" {
		err := crashChild(mode, os.Getenv(envCrashDir))
		fmt.Printf("error: %v\n", err) // only reached on failure
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// crashArtifact is the artifact the child is writing when it is killed.
func crashArtifact() []byte { return bytes.Repeat([]byte("lumos crash test "), 16_384) }

// baseArtifact is committed by the child before it starts the doomed write.
func baseArtifact() []byte { return []byte("committed before the crash") }

// churnArtifact is the artifact deployed in a round of the churn loop.
func churnArtifact(round int) []byte {
	return bytes.Repeat(fmt.Appendf(nil, "round %d;", round), 100+round%300)
}

// churnRecord is the function record deployed in a round: it names its
// artifact and carries padding whose length depends on the round, so a torn
// record would be detected.
type churnRecord struct {
	Round    int    `json:"round"`
	Artifact string `json:"artifact"`
	Pad      string `json:"pad"`
}

func churnPad(round int) string { return strings.Repeat("p", (round%50)*1000) }

// blockingReader serves data up to n, then announces "ready" and blocks
// forever, leaving the writer mid-stream.
type blockingReader struct {
	data []byte
	n    int
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := copy(p, r.data[:r.n])
		r.data, r.n = r.data[k:], r.n-k
		return k, nil
	}
	fmt.Println("ready")
	select {}
}

// crashChild runs in the child process and returns only on failure.
func crashChild(mode, dir string) error {
	s, err := Open(dir, nil)
	if err != nil {
		return err
	}
	if mode == crashChurn {
		for round := 1; ; round++ {
			d, err := s.PutArtifact(churnArtifact(round))
			if err != nil {
				return err
			}
			rec, err := json.Marshal(churnRecord{Round: round, Artifact: d, Pad: churnPad(round)})
			if err != nil {
				return err
			}
			if err := s.PutFunction("churn", rec); err != nil {
				return err
			}
			if round > 2 { // the gateway's garbage collection of old versions
				if err := s.DeleteArtifact(digestOf(churnArtifact(round - 2))); err != nil {
					return err
				}
			}
			if round == crashChurnRounds {
				fmt.Println("ready")
			}
		}
	}

	base, err := s.PutArtifact(baseArtifact())
	if err != nil {
		return err
	}
	if err := s.PutFunction(crashBaseFunction, []byte(base)); err != nil {
		return err
	}
	switch mode {
	case crashMidWrite:
		_, _, err = s.PutArtifactFrom(&blockingReader{data: crashArtifact(), n: crashWritten}, -1)
	case crashBeforeRename:
		s.beforeRename = func() {
			fmt.Println("ready")
			select {}
		}
		_, err = s.PutArtifact(crashArtifact())
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	return errors.Join(err, errors.New("the doomed write returned"))
}

// runAndKill starts the child in mode, waits for "ready", SIGKILLs it and
// waits for it to die.
func runAndKill(t *testing.T, mode, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashMode+"="+mode, envCrashDir+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child said %q (%v), stderr: %s", line, err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v, stderr: %s", err, stderr.String())
	}
}

func TestCrashDuringArtifactWrite(t *testing.T) {
	full := crashArtifact()
	for _, tc := range []struct {
		mode     string
		tempSize int64 // bytes in the temp file when the child is killed
	}{
		{crashMidWrite, crashWritten},
		{crashBeforeRename, int64(len(full))},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			runAndKill(t, tc.mode, dir)

			// The child really was killed mid-way: its temp file is there.
			temps := tempFiles(t, dir)
			if len(temps) != 1 {
				t.Fatalf("temp files before reopen: %v, want exactly one", temps)
			}
			if fi, err := os.Stat(temps[0]); err != nil || fi.Size() != tc.tempSize {
				t.Fatalf("temp file %v (%v), want %d bytes", fi, err, tc.tempSize)
			}

			s := openT(t, dir)
			if left := tempFiles(t, dir); len(left) != 0 {
				t.Errorf("temp files after reopen: %v", left)
			}
			d := digestOf(full)
			if s.HasArtifact(d) {
				t.Error("interrupted artifact is visible")
			}
			if _, err := s.Artifact(d); !errors.Is(err, ErrNotFound) {
				t.Errorf("Artifact(interrupted): %v, want ErrNotFound", err)
			}
			// What was committed before the crash is intact.
			base := digestOf(baseArtifact())
			list, err := s.Artifacts()
			if err != nil || len(list) != 1 || list[0].Digest != base {
				t.Errorf("Artifacts = %+v, %v; want only %s", list, err, base)
			}
			if rec, err := s.Function(crashBaseFunction); err != nil || string(rec) != base {
				t.Errorf("Function(%s) = %q, %v", crashBaseFunction, rec, err)
			}
			if got, err := s.Artifact(base); err != nil || !bytes.Equal(got, baseArtifact()) {
				t.Errorf("base artifact = %q, %v", got, err)
			}
			// The interrupted upload can simply be retried.
			if got, err := s.PutArtifact(full); err != nil || got != d {
				t.Errorf("retry = %s, %v", got, err)
			}
		})
	}
}

func TestCrashDuringDeployLoop(t *testing.T) {
	dir := t.TempDir()
	runAndKill(t, crashChurn, dir)

	s := openT(t, dir)
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temp files after reopen: %v", left)
	}
	raw, err := s.Function("churn")
	if err != nil {
		t.Fatal(err)
	}
	var rec churnRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("torn function record %q: %v", raw, err)
	}
	if rec.Round < crashChurnRounds || rec.Pad != churnPad(rec.Round) {
		t.Fatalf("record of round %d with %d bytes of padding, want round >= %d with %d",
			rec.Round, len(rec.Pad), crashChurnRounds, len(churnPad(rec.Round)))
	}
	// The deployed function's artifact is there and intact: artifacts are
	// durable before the record that names them.
	if got, err := s.Artifact(rec.Artifact); err != nil || !bytes.Equal(got, churnArtifact(rec.Round)) {
		t.Errorf("artifact of round %d: %d bytes, %v", rec.Round, len(got), err)
	}
	list, err := s.Artifacts()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if _, err := s.Artifact(a.Digest); err != nil {
			t.Errorf("listed artifact %s: %v", a.Digest, err)
		}
	}
	t.Logf("killed after round %d; %d artifacts on disk", rec.Round, len(list))
}
