package pool

import (
	"bufio"
	"time"

	"go.uber.org/zap"
)

// maxStderrLine is the longest stderr line logged; the rest of a longer line
// is dropped so one runaway line cannot blow up the log.
const maxStderrLine = 4 << 10

// readStderr logs the child's stderr line by line at Info. Stderr is where
// stdio MCP servers write their logs, so it is never an error. At most
// StderrLinesPerSecond lines are logged per second; the rest are counted and
// summarized, so a chatty server cannot flood Caddy's log.
func (p *Pool) readStderr(pr *Process) {
	defer p.wg.Done()
	defer close(pr.stderrDone)

	lim := lineLimiter{perSecond: p.limits().StderrLinesPerSecond}
	summarize := func(n int) {
		if n > 0 {
			pr.log.Info("stderr lines suppressed", zap.Int("suppressed", n))
		}
	}
	// A 4 KiB buffer makes ReadLine return at most maxStderrLine bytes per
	// call; the remaining fragments of a longer line are skipped below.
	r := bufio.NewReaderSize(pr.stderr, maxStderrLine)
	for {
		line, isPrefix, err := r.ReadLine()
		if err != nil {
			// EOF, or the waiter closed the pipe after a drain timeout.
			summarize(lim.flush())
			return
		}
		text := string(line)
		truncated := false
		for isPrefix && err == nil {
			truncated = true
			_, isPrefix, err = r.ReadLine()
		}
		logIt, suppressed := lim.allow(time.Now())
		summarize(suppressed)
		if logIt {
			fields := []zap.Field{zap.String("line", text)}
			if truncated {
				fields = append(fields, zap.Bool("truncated", true))
			}
			pr.log.Info("stderr", fields...)
		}
	}
}

// lineLimiter allows perSecond lines per one-second window and counts the
// rest. It is used by a single goroutine.
type lineLimiter struct {
	perSecond  int
	window     time.Time // start of the current window
	count      int       // lines allowed in the window
	suppressed int       // lines dropped in the window
}

// allow reports whether a line seen at now may be logged, and how many lines
// the previous window suppressed (to be summarized now that it ended).
func (l *lineLimiter) allow(now time.Time) (ok bool, prevSuppressed int) {
	if now.Sub(l.window) >= time.Second {
		prevSuppressed = l.flush()
		l.window, l.count = now, 0
	}
	if l.count < l.perSecond {
		l.count++
		return true, prevSuppressed
	}
	l.suppressed++
	return false, prevSuppressed
}

// flush returns and resets the suppressed count.
func (l *lineLimiter) flush() int {
	n := l.suppressed
	l.suppressed = 0
	return n
}
