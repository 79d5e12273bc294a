package verify

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// TestVerifyHTTPFailures: when the live HTTP server cannot be reached or
// answers with an HTTP error, each request gets a stand-in answer, and the
// report shows it against the recorded one.
func TestVerifyHTTPFailures(t *testing.T) {
	f, err := tape.ReadFile(recordAgainst(t, greeter(t, "hello")))
	if err != nil {
		t.Fatal(err)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"server gone", gone.URL, `verify: the request failed`},
		{"server failing", failing.URL, `verify: HTTP 503: down for maintenance`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := HTTP(tc.url, nil)
			rep, err := Run(context.Background(), f, target, Options{Timeout: 10 * time.Second})
			_ = target.Close()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			Print(&out, f.Name, rep)
			for _, w := range []string{"DIFF record 1, initialize #1:", "/error: recorded absent, live", tc.want, "FAIL: " + f.Name + ": 2 of 2 answers differ"} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("the report lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
