package front

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestCrossSiteRequests: what a web page can make a browser send (an <img>,
// a no-cors fetch, a form) neither opens a session nor a stream, while every
// MCP client and same-site page still gets through.
func TestCrossSiteRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		origins  []string
		fetch    string // Sec-Fetch-Site
		origin   string
		wantCode int
		substr   string // of the 403's message
	}{
		{name: "cross-site without Origin", fetch: "cross-site", wantCode: http.StatusForbidden, substr: "Sec-Fetch-Site"},
		{name: "cross-site, upper case", fetch: "Cross-Site", wantCode: http.StatusForbidden, substr: "Sec-Fetch-Site"},
		{name: "cross-site with a foreign Origin", fetch: "cross-site", origin: "https://evil.example", wantCode: http.StatusForbidden, substr: "Origin"},
		{name: "cross-site with an allowed Origin", origins: []string{"https://app.example"}, fetch: "cross-site", origin: "https://app.example", wantCode: http.StatusOK},
		{name: "cross-site with a loopback Origin", fetch: "cross-site", origin: "http://localhost:3000", wantCode: http.StatusOK},
		{name: "same-origin without Origin", fetch: "same-origin", wantCode: http.StatusOK},
		{name: "same-site without Origin", fetch: "same-site", wantCode: http.StatusOK},
		{name: "none (typed by the user) without Origin", fetch: "none", wantCode: http.StatusOK},
		{name: "no Sec-Fetch-Site (not a browser)", wantCode: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *setup) { s.cfg.AllowedOrigins = tc.origins })
			hr, err := h.build(context.Background(), req{origin: tc.origin, body: initBody(Version20250618)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.fetch != "" {
				hr.Header.Set("Sec-Fetch-Site", tc.fetch)
			}
			rp := serveRecorded(h.server, hr)
			if tc.wantCode == http.StatusOK {
				wantStatus(t, rp, http.StatusOK)
				return
			}
			wantError(t, rp, tc.wantCode, pipeline.CodeInvalidRequest, tc.substr)
			if rp.header.Get("Mcp-Session-Id") != "" || h.up.opened() != 0 {
				t.Errorf("a refused cross-site request opened a session: %s, %d upstream connections", rp, h.up.opened())
			}
		})
	}
}

// TestGetNeedsEventStreamListed: a GET opens a stream only for a client that
// names text/event-stream; the wildcards every browser sends get 406.
func TestGetNeedsEventStreamListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sid := h.initialize(t, Version20250618)
	for _, tc := range []struct {
		accept string
		want   int
	}{
		{"*/*", http.StatusNotAcceptable},
		{"text/*", http.StatusNotAcceptable},
		{"image/avif,image/webp,*/*;q=0.8", http.StatusNotAcceptable},
		{"text/event-stream;q=0, */*", http.StatusNotAcceptable},
		{"application/json", http.StatusNotAcceptable},
		{"text/event-stream", http.StatusOK},
		{"application/json, text/event-stream;q=0.5", http.StatusOK},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := h.send(t, ctx, req{method: http.MethodGet, sid: sid, version: Version20250618, accept: tc.accept})
			if resp.StatusCode != tc.want {
				t.Fatalf("GET with Accept %q: status %d, want %d", tc.accept, resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK {
				rp, err := readReply(resp)
				if err != nil {
					t.Fatal(err)
				}
				wantError(t, rp, tc.want, pipeline.CodeInvalidRequest, "must list text/event-stream")
			}
		})
	}
}

// TestPostAcceptWildcards: a POST keeps HTTP's rule (wildcards admit both
// types; its JSON Content-Type already keeps cross-site pages out), and a
// type refused with q=0 is not accepted.
func TestPostAcceptWildcards(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept string
		want   int
	}{
		{"application/json, text/event-stream", http.StatusOK},
		{"*/*", http.StatusOK},
		{"application/json, text/event-stream;q=0", http.StatusNotAcceptable},
		{"*/*, application/json;q=0", http.StatusNotAcceptable},
		{"application/json", http.StatusNotAcceptable},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			rp := h.do(t, req{accept: tc.accept, body: initBody(Version20250618)})
			if tc.want == http.StatusOK {
				wantStatus(t, rp, http.StatusOK)
				return
			}
			wantError(t, rp, tc.want, pipeline.CodeInvalidRequest, "Not Acceptable")
		})
	}
}

// serveRecorded serves hr straight through the Server (with the request's
// own context, so a test can set its local address) and returns the whole
// answer.
func serveRecorded(srv *Server, hr *http.Request) reply {
	if hr.Host == "" || strings.HasPrefix(hr.Host, "127.0.0.1") {
		hr.Host = "localhost"
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, hr)
	resp := rec.Result()
	rp, _ := readReply(resp)
	return rp
}
