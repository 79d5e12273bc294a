//go:build linux

package pool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildDiesWithKilledParent: a parent killed with SIGKILL (no stop
// sequence can run) leaves no direct child running.
func TestChildDiesWithKilledParent(t *testing.T) {
	t.Parallel()
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), orphanParentEnv+"=1")
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = parent.Process.Kill()
		_ = parent.Wait()
		t.Fatalf("reading the child's pid from the parent: %v (got %q)", err, line)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || child <= 0 {
		t.Fatalf("parent printed %q, not a pid", line)
	}
	// Should the test fail, do not leave a five-minute sleep behind.
	t.Cleanup(func() { _ = syscall.Kill(-child, syscall.SIGKILL) })
	if gone(child) {
		t.Fatalf("child %d is not running before its parent was killed", child)
	}

	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for !gone(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still runs 5s after its parent was killed with SIGKILL", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestChildOutlivesForkingThread: the parent-death signal fires when the OS
// thread that forked the child exits (golang/go#27505). A child acquired by
// a goroutine whose thread then exits must keep running.
func TestChildOutlivesForkingThread(t *testing.T) {
	t.Parallel()
	tp := newTestPool(t, Config{Command: "cat", Warm: NoWarm})

	type result struct {
		pr  *Process
		tid int
		err error
	}
	var r result
	for attempt := 0; r.pr == nil; attempt++ {
		if attempt == 10 {
			t.Fatal("10 goroutines in a row ran on the main thread")
		}
		got := make(chan result, 1)
		go func() {
			// Locked and never unlocked: the runtime ends this thread when
			// the goroutine returns — unless it is the main thread, which
			// the runtime never ends; then try again on another.
			runtime.LockOSThread()
			if tid := syscall.Gettid(); tid == os.Getpid() {
				got <- result{tid: tid}
				return
			}
			pr, err := tp.Acquire(context.Background())
			got <- result{pr, syscall.Gettid(), err}
		}()
		r = <-got
		if r.err != nil {
			t.Fatalf("Acquire: %v", r.err)
		}
	}
	defer r.pr.Release()
	waitFor(t, "the acquiring thread to exit", 5*time.Second, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", r.tid))
		return os.IsNotExist(err)
	})

	// The child still answers: cat echoes a line.
	if _, err := r.pr.Stdin().Write([]byte("alive\n")); err != nil {
		t.Fatalf("writing to the child after its requester's thread exited: %v", err)
	}
	lineCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r.pr.Stdout()).ReadString('\n')
		lineCh <- line
	}()
	select {
	case line := <-lineCh:
		if line != "alive\n" {
			t.Fatalf("child answered %q after its requester's thread exited (killed: %v)", line, r.pr.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("child did not answer within 5s")
	}
}
