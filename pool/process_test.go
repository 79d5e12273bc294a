//go:build unix

package pool

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStdoutEOFAndExit: the owner reads stdout to a natural EOF when the
// child exits on its own, and Err reports how it exited.
func TestStdoutEOFAndExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		script   string
		wantOut  string
		wantCode int // -1: killed by a signal
	}{
		{"clean exit", "echo hello", "hello\n", 0},
		{"exit status", "echo bye; exit 3", "bye\n", 3},
		{"killed", "echo boom; kill -9 $$", "boom\n", -1},
		{"large output", "i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789; i=$((i+1)); done",
			strings.Repeat("0123456789012345678901234567890123456789\n", 2000), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTestPool(t, shell(tt.script))
			pr := tp.acquire(t)
			out, err := io.ReadAll(pr.Stdout())
			if err != nil {
				t.Fatalf("reading stdout: %v", err)
			}
			if string(out) != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out, tt.wantOut)
			}
			waitDone(t, pr, 5*time.Second)
			code := 0
			var ee *exec.ExitError
			if errors.As(pr.Err(), &ee) {
				code = ee.ExitCode()
			} else if pr.Err() != nil {
				t.Fatalf("Err = %v", pr.Err())
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (err %v)", code, tt.wantCode, pr.Err())
			}
			if s := tp.Stats(); s.Crashed != 1 || s.Live != 0 || s.Assigned != 1 {
				t.Errorf("stats after exit = %+v", s)
			}
			pr.Release()
			pr.Release() // idempotent
			if s := tp.Stats(); s.Assigned != 0 {
				t.Errorf("stats after release = %+v", s)
			}
			if _, err := pr.Stdout().Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
				t.Errorf("stdout read after Release: %v, want os.ErrClosed", err)
			}
		})
	}
}

// TestEcho talks to cat through the pipes.
func TestEcho(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", Warm: NoWarm})
	pr := tp.acquire(t)
	if pr.PID() <= 0 || pr.Err() != nil {
		t.Fatalf("pid %d, err %v", pr.PID(), pr.Err())
	}
	r := bufio.NewReader(pr.Stdout())
	for _, msg := range []string{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, "second"} {
		if _, err := io.WriteString(pr.Stdin(), msg+"\n"); err != nil {
			t.Fatal(err)
		}
		if got := readLine(t, r); got != msg {
			t.Errorf("echo = %q, want %q", got, msg)
		}
	}
	// Closing stdin is how an owner says EOF; cat then exits and stdout ends.
	if err := pr.Stdin().Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("after stdin EOF: %v, want io.EOF", err)
	}
	waitDone(t, pr, 5*time.Second)
	if pr.Err() != nil {
		t.Errorf("cat exited with %v", pr.Err())
	}
	pr.Release()
}

// TestSpawnErrors: a command that cannot start fails Acquire at once with
// ErrSpawn and the reason, and holds no slot.
func TestSpawnErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "server.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"not found", Config{Command: "no-such-mcp-server-xyz"}, `exec: "no-such-mcp-server-xyz": executable file not found in $PATH`},
		{"not on the child's PATH", Config{Command: "cat", Env: map[string]string{"PATH": "/nonexistent"}}, "executable file not found"},
		{"absolute path missing", Config{Command: "/nonexistent/server"}, "no such file or directory"},
		{"not executable", Config{Command: notExec}, "permission denied"},
		{"bad working directory", Config{Command: "cat", Dir: "/nonexistent/dir"}, "no such file or directory"},
		{"shell line as command", Config{Command: "npx -y some-server"}, "without a shell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Warm = NoWarm
			tp := newTestPool(t, tt.cfg)
			start := time.Now()
			pr, err := tp.Acquire(context.Background())
			if pr != nil || !errors.Is(err, ErrSpawn) {
				t.Fatalf("Acquire = %v, %v; want ErrSpawn", pr, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Acquire took %s", d)
			}
			if s := tp.Stats(); s.Live != 0 || s.SpawnFailed != 1 || s.Spawned != 0 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

// TestStopSequence: Release stops children however stubborn, within the
// stop sequence's timeouts, and reaps them.
func TestStopSequence(t *testing.T) {
	t.Parallel()
	const stop = 200 * time.Millisecond
	tests := []struct {
		name     string
		cfg      Config
		min, max time.Duration // how long the stop may take
		wantLog  string        // a log message the escalation must leave
	}{
		{"exits on stdin EOF", Config{Command: "sh", Args: []string{"-c", "echo ready; exec cat"}}, 0, stop, ""},
		{"ignores EOF", shell("echo ready; sleep 1000"), stop, 2 * stop, "process ignored stdin EOF; sending SIGTERM to its group"},
		{"ignores EOF and TERM", shell(`trap "" TERM; echo ready; sleep 1000`), 2 * stop, 3 * stop, "process ignored SIGTERM; sending SIGKILL to its group"},
		{"busy shell ignores TERM", shell(`trap "" TERM; echo ready; while :; do sleep 0.05; done`), 2 * stop, 3 * stop, "process ignored SIGTERM; sending SIGKILL to its group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Warm, tt.cfg.StopTimeout = NoWarm, stop
			tp := newTestPool(t, tt.cfg)
			pr := tp.acquire(t)
			// Wait until the script installed its traps.
			if got := readLine(t, bufio.NewReader(pr.Stdout())); got != "ready" {
				t.Fatalf("got %q", got)
			}
			start := time.Now()
			pr.Release()
			waitDone(t, pr, 5*time.Second)
			d := time.Since(start)
			if d < tt.min || d > tt.max+300*time.Millisecond {
				t.Errorf("stop took %s, want between %s and %s", d, tt.min, tt.max)
			}
			if tt.wantLog != "" && tp.logs.FilterMessage(tt.wantLog).Len() == 0 {
				t.Errorf("no %q log", tt.wantLog)
			}
			if !gone(pr.PID()) || len(groupMembers(pr.PID())) > 0 {
				t.Errorf("pid %d or its group still alive", pr.PID())
			}
			if s := tp.Stats(); s.Live != 0 || s.Assigned != 0 || s.Crashed != 0 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

// TestGrandchildrenKilled: when the leader exits, what it left behind in its
// group is killed, so stdout reaches EOF instead of being held open by an
// orphan (npx exiting while node runs on).
func TestGrandchildrenKilled(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, shell("sleep 1000 & echo $!; exit 0"))
	pr := tp.acquire(t)
	defer pr.Release()
	r := bufio.NewReader(pr.Stdout())
	grandchild, err := strconv.Atoi(readLine(t, r))
	if err != nil {
		t.Fatal(err)
	}
	// The orphaned sleep inherited stdout; only the group kill ends it.
	readDone := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); readDone <- err }()
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatalf("reading to EOF: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stdout never reached EOF: the grandchild holds it")
	}
	waitDone(t, pr, 5*time.Second)
	waitFor(t, "grandchild to die", 5*time.Second, func() bool { return gone(grandchild) })
	if err := syscall.Kill(pr.PID(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("leader %d not reaped: %v", pr.PID(), err)
	}
}
