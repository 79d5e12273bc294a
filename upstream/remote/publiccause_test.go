package remote

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
)

// credentialsFailure stands for a wrapping RoundTripper's error that
// says itself what the client may read.
type credentialsFailure struct{}

func (credentialsFailure) Error() string {
	return "token endpoint https://auth.internal/token: connection refused"
}
func (credentialsFailure) PublicCause() string {
	return "the gateway could not obtain its access token for it"
}

// TestConnectCauseOfAWrappingTransport: the cause a transport wrapper
// gives wins over the words of its detail (which here would read as the
// upstream refusing the connection, and names an internal URL).
func TestConnectCauseOfAWrappingTransport(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://mcp.internal/mcp", Err: fmt.Errorf("wrapped: %w", credentialsFailure{})}
	if got := connectCause(err); got != "the gateway could not obtain its access token for it" {
		t.Fatalf("connectCause = %q", got)
	}
	if got := connectCause(errors.New("dial tcp: connection refused")); got != "connection refused" {
		t.Fatalf("plain error: %q", got)
	}
}
