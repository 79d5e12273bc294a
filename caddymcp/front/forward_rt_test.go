package front

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// TestHopRoundTripper: a hop to a plain http:// owner with a body of
// known length (or none) goes through the owner's raw client, the same
// one each time; a chunked body, an https owner, and owners beyond
// maxRawOwners go through the transport.
func TestHopRoundTripper(t *testing.T) {
	h := NewHops()
	t.Cleanup(h.CloseIdleConnections)
	parse := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, c := range []struct {
		name   string
		url    string
		length int64
		raw    bool
	}{
		{"no body", "http://10.0.0.5:8080/mcp", 0, true},
		{"known length", "http://10.0.0.5:8080/mcp", 120, true},
		{"chunked", "http://10.0.0.5:8080/mcp", -1, false},
		{"https", "https://10.0.0.5:8443/mcp", 120, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := h.roundTripper(parse(c.url), c.length, HopTLS{})
			if _, raw := rt.(*remote.RawTransport); raw != c.raw {
				t.Fatalf("raw client %v, want %v (%T)", raw, c.raw, rt)
			}
		})
	}
	first := h.roundTripper(parse("http://10.0.0.5:8080/a"), 0, HopTLS{})
	if again := h.roundTripper(parse("http://10.0.0.5:8080/b?x=1"), 10, HopTLS{}); again != first {
		t.Error("a second hop to the same owner got another raw client")
	}
	for i := range maxRawOwners {
		h.roundTripper(parse(fmt.Sprintf("http://10.0.1.%d:8080/mcp", i)), 0, HopTLS{})
	}
	if rt := h.roundTripper(parse("http://10.0.2.1:8080/mcp"), 0, HopTLS{}); rt != http.RoundTripper(h.transport) {
		t.Errorf("an owner beyond %d got %T, want the transport", maxRawOwners, rt)
	}
	if rt := h.roundTripper(parse("http://10.0.0.5:8080/mcp"), 0, HopTLS{}); rt != first {
		t.Error("a known owner lost its raw client once the bound was reached")
	}
}
