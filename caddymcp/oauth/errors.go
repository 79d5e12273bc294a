package oauth

import (
	"fmt"
	"time"
)

// TokenError is a token the resource server refuses: malformed, badly
// signed, expired, for another audience or issuer. The client gets a 401
// with error="invalid_token"; Reason says what to fix and is safe to show
// (it names no key material and no internal address).
type TokenError struct {
	Reason string
}

func (e *TokenError) Error() string { return "invalid token: " + e.Reason }

func invalid(format string, args ...any) error {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

// UnavailableError means the token could not be checked because the
// authorization server's metadata or keys could not be fetched. It is not
// the client's fault: the request gets a 503 with Retry-After, and Err
// (with the URL) goes only to the log.
type UnavailableError struct {
	// RetryAfter is when a new fetch will be tried.
	RetryAfter time.Duration
	// Err is the fetch failure, for the log.
	Err error
}

func (e *UnavailableError) Error() string {
	return "authorization server unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }
