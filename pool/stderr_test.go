//go:build unix

package pool

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

// stderrLines returns the stderr lines logged for pid, in order.
func stderrLines(tp *testPool, pid int) (lines []string, entries []map[string]any) {
	for _, e := range tp.logs.FilterMessage("stderr").All() {
		m := e.ContextMap()
		if m["pid"] != int64(pid) {
			continue
		}
		if e.Level != zapcore.InfoLevel {
			panic("stderr logged at " + e.Level.String())
		}
		lines = append(lines, m["line"].(string))
		entries = append(entries, m)
	}
	return lines, entries
}

func TestStderrLogged(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10000)
	tests := []struct {
		name      string
		script    string
		want      []string
		truncated []bool
	}{
		{"lines", `echo one >&2; echo "two  words" >&2; echo >&2; printf 'no newline' >&2`,
			[]string{"one", "two  words", "", "no newline"}, []bool{false, false, false, false}},
		{"crlf", `printf 'dos\r\n' >&2`, []string{"dos"}, []bool{false}},
		{"truncated at 4 KiB", `printf '%s\nafter\n' "` + long + `" >&2`,
			[]string{long[:maxStderrLine], "after"}, []bool{true, false}},
		{"exit status is not an error", `echo failing >&2; exit 1`, []string{"failing"}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := newTestPool(t, shell(tt.script))
			pr := tp.acquire(t)
			waitDone(t, pr, 5*time.Second) // stderr is drained before Done
			pr.Release()
			got, entries := stderrLines(tp, pr.PID())
			if len(got) != len(tt.want) {
				t.Fatalf("logged %d lines %q, want %q", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d = %q (len %d), want %q (len %d)", i, got[i], len(got[i]), tt.want[i], len(tt.want[i]))
				}
				if tr := entries[i]["truncated"] == true; tr != tt.truncated[i] {
					t.Errorf("line %d truncated = %v, want %v", i, tr, tt.truncated[i])
				}
			}
			if n := tp.logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n > 0 {
				t.Errorf("%d error logs", n)
			}
		})
	}
}

func TestStderrRateLimited(t *testing.T) {
	t.Parallel()
	cfg := shell(`i=0; while [ $i -lt 50 ]; do echo line $i >&2; i=$((i+1)); done`)
	cfg.StderrLinesPerSecond = 5
	tp := newTestPool(t, cfg)
	pr := tp.acquire(t)
	waitDone(t, pr, 5*time.Second)
	pr.Release()

	lines, _ := stderrLines(tp, pr.PID())
	suppressed := 0
	for _, e := range tp.logs.FilterMessage("stderr lines suppressed").All() {
		suppressed += int(e.ContextMap()["suppressed"].(int64))
	}
	// 50 lines take far less than a second to print: 5 logged, 45 counted.
	if len(lines) != 5 || suppressed != 45 {
		t.Errorf("logged %d lines and summarized %d suppressed, want 5 and 45", len(lines), suppressed)
	}
	if len(lines) > 0 && lines[0] != "line 0" {
		t.Errorf("first line %q", lines[0])
	}
}

func TestLineLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	l := lineLimiter{perSecond: 2}
	steps := []struct {
		at       time.Duration
		ok       bool
		prevSupp int
	}{
		{0, true, 0},
		{100 * time.Millisecond, true, 0},
		{200 * time.Millisecond, false, 0},
		{900 * time.Millisecond, false, 0},
		{time.Second, true, 2}, // new window: summarize the last one
		{1100 * time.Millisecond, true, 0},
		{1200 * time.Millisecond, false, 0},
		{5 * time.Second, true, 1},
	}
	for i, s := range steps {
		ok, prev := l.allow(t0.Add(s.at))
		if ok != s.ok || prev != s.prevSupp {
			t.Errorf("step %d (%s): allow = %v, %d; want %v, %d", i, s.at, ok, prev, s.ok, s.prevSupp)
		}
	}
	if n := l.flush(); n != 0 {
		t.Errorf("flush = %d", n)
	}
}
