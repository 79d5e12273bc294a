package caddytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file holds the helpers that look at the child processes of this
// test binary: the MCP servers the stdio upstreams start, and built Caddys.

// childPIDs lists the live (non-zombie) child processes of this test binary.
func childPIDs(t testing.TB) []int {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	entries, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue // exited meanwhile
		}
		// The command may contain spaces; fields after ") " are fixed.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == self {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitForChildren waits until this binary has at most want children.
func waitForChildren(t testing.TB, want int, within time.Duration) {
	t.Helper()
	var pids []int
	if !poll(within, func() bool { pids = childPIDs(t); return len(pids) <= want }) {
		t.Fatalf("%d child processes left (want at most %d): %v", len(pids), want, pids)
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(t testing.TB, pid int) []int {
	t.Helper()
	entries, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	parent := strconv.Itoa(pid)
	var pids []int
	for _, e := range entries {
		if st, ppid, ok := procStat(e); ok && ppid == parent && st != "Z" {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
			pids = append(pids, n)
		}
	}
	return pids
}

// alive returns those of pids that still exist and are not zombies, with
// their command lines.
func alive(pids []int) []string {
	var left []string
	for _, pid := range pids {
		st, _, ok := procStat(fmt.Sprintf("/proc/%d/stat", pid))
		if !ok || st == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		left = append(left, fmt.Sprintf("%d (%s)", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")))
	}
	return left
}

// killLeftoversAtCleanup makes sure that pids, children of a caddy process,
// do not outlive the test whatever its result: at cleanup it kills those
// still running the command they ran now (a pid reused since is left alone).
func killLeftoversAtCleanup(t *testing.T, pids []int) {
	cmdlines := make(map[int]string, len(pids))
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cmdlines[pid] = string(b)
	}
	t.Cleanup(func() {
		for pid, cmdline := range cmdlines {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && string(b) == cmdline && cmdline != "" {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// buildCaddy builds ./cmd/caddy once per test binary and returns its path.
func buildCaddy(t testing.TB) string { return caddyBinary.get(t) }

// caddyEnv is the environment of a built Caddy that a test runs: nothing
// of the test binary's but PATH, and its home and storage in dir.
func caddyEnv(dir string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
	}
}

// stopAtCleanup kills cmd when the test ends, unless it has exited
// already (exited is closed then), and logs its output, named what, when
// the test failed.
func stopAtCleanup(t *testing.T, cmd *exec.Cmd, exited <-chan struct{}, what string, output fmt.Stringer) {
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", what, output.String())
		}
	})
}
