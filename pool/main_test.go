//go:build unix

package pool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Variables the child environment test expects to be filtered or kept.
const (
	secretVar = "POOL_TEST_SECRET"
	localeVar = "LC_POOLTEST"
)

func TestMain(m *testing.M) {
	if os.Getenv(orphanParentEnv) != "" {
		runOrphanParent() // never returns
	}
	// Set before any pool is built (New snapshots the environment), so the
	// environment test can check what a child inherits.
	os.Setenv(secretVar, "must-not-leak")
	os.Setenv(localeVar, "kept")
	code := m.Run()
	if code == 0 {
		// Every child of the test binary must have been reaped: a live
		// process or a zombie here is a leak.
		if kids := childrenOf(os.Getpid()); len(kids) > 0 {
			fmt.Fprintf(os.Stderr, "child processes left after tests: %v\n", kids)
			code = 1
		}
		if err := goleak.Find(goleak.IgnoreAnyFunction(SpawnerFunction)); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// orphanParentEnv makes the test binary act as a parent that starts a pool
// child, prints the child's pid and then waits to be killed.
const orphanParentEnv = "CADDY_MCP_POOL_TEST_ORPHAN_PARENT"

// runOrphanParent is the test binary in orphanParentEnv mode. Its child is
// `sleep 300`: it ignores stdin EOF and would outlive its parent by five
// minutes without a parent-death signal.
func runOrphanParent() {
	p, err := New(Config{Command: "sleep", Args: []string{"300"}, Warm: NoWarm})
	if err != nil {
		fmt.Fprintln(os.Stderr, "orphan parent:", err)
		os.Exit(2)
	}
	pr, err := p.Acquire(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "orphan parent:", err)
		os.Exit(2)
	}
	fmt.Println(pr.PID())
	select {} // until the test kills us
}

// testPool is a pool whose lifecycle logs are observed, so a test knows the
// pid of every process the pool ever started.
type testPool struct {
	*Pool
	logs *observer.ObservedLogs
}

// newTestPool builds a pool with fast test timeouts; cleanup closes it,
// waits, and checks that no process it started (or anything in their
// groups) is still alive.
func newTestPool(t *testing.T, cfg Config) *testPool {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg.Logger = zap.New(core)
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 200 * time.Millisecond
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tp := &testPool{Pool: p, logs: logs}
	t.Cleanup(func() {
		tp.Close()
		waitOrFail(t, tp.Wait, 10*time.Second, "Wait after Close")
		tp.checkAllGone(t)
	})
	return tp
}

// pids returns the pid of every process the pool started so far.
func (tp *testPool) pids() []int {
	var pids []int
	for _, e := range tp.logs.FilterMessage("process started").All() {
		pids = append(pids, int(e.ContextMap()["pid"].(int64)))
	}
	return pids
}

// checkAllGone asserts that every process the pool started was reaped
// (kill(pid, 0) → ESRCH) and that nothing of their groups lingers.
func (tp *testPool) checkAllGone(t *testing.T) {
	t.Helper()
	pids := tp.pids()
	ours := make(map[int]bool, len(pids))
	for _, pid := range pids {
		ours[pid] = true
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Close+Wait (kill: %v)", pid, err)
		}
	}
	for _, st := range readProcStats() {
		if ours[st.pgrp] && st.state != 'Z' {
			t.Errorf("pid %d of process group %d still alive", st.pid, st.pgrp)
		}
	}
}

// acquire is Acquire with a test-fatal error.
func (tp *testPool) acquire(t *testing.T) *Process {
	t.Helper()
	pr, err := tp.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return pr
}

// shell is a Config running a /bin/sh script.
func shell(script string) Config {
	return Config{Command: "/bin/sh", Args: []string{"-c", script}, Warm: NoWarm}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitOrFail runs f and fails the test if it does not return in time.
func waitOrFail(t *testing.T, f func(), timeout time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("%s did not return within %s", what, timeout)
	}
}

// waitDone waits for a process to be reaped.
func waitDone(t *testing.T, pr *Process, timeout time.Duration) {
	t.Helper()
	select {
	case <-pr.Done():
	case <-time.After(timeout):
		t.Fatalf("pid %d not reaped within %s", pr.PID(), timeout)
	}
}

// readLine reads one line of a process's stdout.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading stdout: %v (got %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

// procStat is what the tests need from /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
}

func readProcStats() []procStat {
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []procStat
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp …; comm may contain spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(s)[0])
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out = append(out, procStat{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]})
	}
	return out
}

// childrenOf lists the processes (zombies included) whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	for _, st := range readProcStats() {
		if st.ppid == pid {
			kids = append(kids, st.pid)
		}
	}
	return kids
}

// groupMembers lists the non-zombie processes of a process group. Zombies
// are left out: an orphaned grandchild is reaped by init, not by us, and
// some container inits are slow to do it.
func groupMembers(pgid int) []int {
	var m []int
	for _, st := range readProcStats() {
		if st.pgrp == pgid && st.state != 'Z' {
			m = append(m, st.pid)
		}
	}
	return m
}

// gone reports whether pid no longer runs (absent, or a zombie that is not
// ours to reap).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}
