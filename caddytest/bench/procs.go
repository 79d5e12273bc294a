package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process the benchmark started: in its own process group, with
// its output in a log file, stopped (and reaped) by stop.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stdin   io.WriteCloser // kept open for processes that exit on stdin EOF
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// lab owns everything a run starts: its temp dir and its processes.
type lab struct {
	dir    string
	mu     sync.Mutex
	procs  []*proc
	logf   func(format string, args ...any)
	nextID int
}

// start runs bin args... in its own process group with env added to a
// minimal environment, output to a log file in the lab dir. With keepStdin
// the child gets a pipe on stdin that stop closes; else /dev/null.
func (l *lab) start(name string, env []string, keepStdin bool, bin string, args ...string) (*proc, error) {
	l.mu.Lock()
	l.nextID++
	logPath := filepath.Join(l.dir, fmt.Sprintf("%02d-%s.log", l.nextID, name))
	l.mu.Unlock()
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = l.dir
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = procAttr()
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	if keepStdin {
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	l.logf("started %s (pid %d)", name, cmd.Process.Pid)
	return p, nil
}

// baseEnv is what every child gets from the benchmark's environment.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR", "GOMAXPROCS", "GODEBUG":
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: close its stdin (if kept), SIGTERM, wait up to
// grace, then SIGKILL its whole process group; it always reaps. Safe to
// call more than once.
func (p *proc) stop(grace time.Duration) {
	p.once.Do(func() {
		pid := p.cmd.Process.Pid
		if p.stdin != nil {
			_ = p.stdin.Close()
		}
		if !p.exited() {
			_ = syscall.Kill(pid, syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		// Whatever else is left in its group (it owns the group: Setpgid).
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	})
}

// stopAll stops every process the lab started, newest first.
func (l *lab) stopAll() {
	l.mu.Lock()
	procs := append([]*proc(nil), l.procs...)
	l.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop(5 * time.Second)
	}
}

// tail returns the last n bytes of the process's log.
func (p *proc) tail(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening waits until addr accepts TCP connections, the process
// exits, or the timeout passes.
func waitListening(ctx context.Context, p *proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before listening on %s (%v):\n%s", p.name, addr, p.waitErr, p.tail(4000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after %v:\n%s", p.name, addr, timeout, p.tail(4000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// processesRunning returns the pids of live processes whose executable is
// one of bins (absolute paths of binaries the benchmark built).
func processesRunning(bins ...string) map[int]string {
	found := map[int]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return found
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		exe = strings.TrimSuffix(exe, " (deleted)")
		for _, b := range bins {
			if exe == b {
				if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && isZombie(st) {
					continue
				}
				found[pid] = filepath.Base(b)
			}
		}
	}
	return found
}

// isZombie reports whether a /proc/PID/stat line has state Z.
func isZombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// leftovers waits up to wait for processes running one of bins to go away;
// those still there are killed (they are the benchmark's own: it built
// the binaries into its temp dir) and described.
func leftovers(wait time.Duration, bins ...string) []string {
	deadline := time.Now().Add(wait)
	for {
		found := processesRunning(bins...)
		if len(found) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var out []string
			for pid, name := range found {
				out = append(out, fmt.Sprintf("%s (pid %d)", name, pid))
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rssBytes is the resident set size of pid (VmRSS), 0 if unknown.
func rssBytes(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// cpuTime is the user+system CPU time the process pid has used so far
// (/proc/PID/stat, in clock ticks of 10ms); 0 when unknown.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

// goBuild builds pkg (a package path or ./dir relative to root) to out.
func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.WaitDelay = 5 * time.Second
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// moduleRoot finds the repository root (the directory of go.mod).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the caddy-mcp module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}
