package pool

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrFull means every slot stayed busy for the whole acquire wait. The
	// caller should answer 503 with the Retry-After that RetryAfter gives.
	ErrFull = errors.New("pool: all processes busy")
	// ErrClosed is returned by Acquire once Close was called.
	ErrClosed = errors.New("pool: closed")
	// ErrSpawn wraps every failure to start a child (command not found,
	// exec error, bad working directory); the wrapped error says which.
	ErrSpawn = errors.New("pool: cannot start process")
)

// FullError is the error Acquire returns when no slot freed in time. It
// matches ErrFull with errors.Is, and the context's error too when the wait
// ended because the context did.
type FullError struct {
	// Max is the pool's MaxProcesses.
	Max int
	// Waited is how long Acquire waited.
	Waited time.Duration
	// RetryAfter is a hint for the client's Retry-After: no slot freed during
	// a whole acquire wait, so trying again sooner is unlikely to succeed.
	RetryAfter time.Duration
	// Cause is the context's error when the wait ended because of it, or nil.
	Cause error
}

// Error says that the pool is full and when to retry.
func (e *FullError) Error() string {
	msg := fmt.Sprintf("pool: all %d processes busy (waited %s); retry after %s",
		e.Max, e.Waited.Round(time.Millisecond), e.RetryAfter)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap lets errors.Is find ErrFull and the context's error.
func (e *FullError) Unwrap() []error {
	if e.Cause != nil {
		return []error{ErrFull, e.Cause}
	}
	return []error{ErrFull}
}

// RetryAfter returns the retry hint carried by an ErrFull error from Acquire,
// and whether err was one.
func RetryAfter(err error) (time.Duration, bool) {
	var fe *FullError
	if errors.As(err, &fe) {
		return fe.RetryAfter, true
	}
	return 0, false
}

// retryAfter turns the acquire wait into a whole number of seconds (at least
// one), the unit of an HTTP Retry-After header.
func retryAfter(wait time.Duration) time.Duration {
	s := (wait + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}
