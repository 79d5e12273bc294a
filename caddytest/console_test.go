package caddytest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// consoleSite serves the everything-server at /mcp, with a pause rule on
// test_simple_text, and the console under /console/.
func consoleSite(command string) string { return consoleSiteWith(command, "") }

// consoleSiteWith is consoleSite with extra lines in the mcp_proxy block.
func consoleSiteWith(command, extra string) string {
	return consoleSiteAt(siteAddr, command, "\t\tname console-test\n"+extra)
}

// consoleSiteAt is consoleSite with the site addresses addrs and the
// lines extra in the mcp_proxy block, which names the endpoint only if
// extra does (else the Caddyfile adapter names it after the first address).
func consoleSiteAt(addrs, command, extra string) string {
	return fmt.Sprintf(addrs+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		stdio %s
		intercept approve {
			tool test_simple_text
			pause 1m
		}
%s	}
	handle_path /console/* {
		mcp_console
	}
}
`, caddyfileQuote(command), extra)
}

// consoleDo sends a request to the console and returns the response with
// its body read.
func consoleDo(t *testing.T, method, path string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	resp := sendRequest(context.Background(), t, http.DefaultClient, method, proxyBaseURL+"/console/"+path, body, header)
	return resp, readAll(t, resp)
}

// consoleGet GETs a console API path and decodes its JSON.
func consoleGet(t *testing.T, path string, v any) {
	t.Helper()
	resp, body := consoleDo(t, http.MethodGet, path, nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /console/%s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET /console/%s: %v in %s", path, err, body)
	}
}

var consoleTokenMeta = regexp.MustCompile(`<meta name="mcp-console-token" content="([^"]+)">`)

// consoleToken reads the CSRF token from the console's page, as its script does.
func consoleToken(t *testing.T) string {
	t.Helper()
	_, page := consoleDo(t, http.MethodGet, "", nil, "")
	m := consoleTokenMeta.FindStringSubmatch(page)
	if m == nil || strings.Contains(m[1], "{{") {
		t.Fatalf("no token in the console page:\n%s", page)
	}
	return m[1]
}

// consoleAction is the header of a change sent by the console's own page.
func consoleAction(token string) http.Header {
	return http.Header{"X-Mcp-Console-Token": {token}, "Origin": {proxyBaseURL}, "Sec-Fetch-Site": {"same-origin"},
		"Content-Type": {"application/json"}}
}

func wantCSP(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("%s: Content-Security-Policy %q allows something unsafe", what, csp)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q", what, got)
	}
}

// TestConsolePage: the page and its files load from a real Caddy under
// handle_path, with a strict CSP, and the page has no inline script or
// style for that CSP to block.
func TestConsolePage(t *testing.T) {
	startProxy(t, consoleSite(buildEverythingServer(t)))
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"", "text/html", `<script src="console.js" defer></script>`},
		{"index.html", "text/html", `<link rel="stylesheet" href="console.css">`},
		{"console.js", "text/javascript", `new EventSource("api/held/events")`},
		{"console.css", "text/css", ":focus-visible"},
	} {
		resp, body := consoleDo(t, http.MethodGet, tc.path, nil, "")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) ||
			!strings.Contains(body, tc.contains) {
			t.Errorf("GET /console/%s: %d %q, want %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType, tc.contains)
		}
		wantCSP(t, "/console/"+tc.path, resp)
		if tc.contentType != "text/html" {
			continue
		}
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
			if !strings.Contains(tag, "src=") {
				t.Errorf("inline script %s: the CSP would block it", tag)
			}
		}
		if m := regexp.MustCompile(`(?i)\s(style|on[a-z]+)=`).FindString(body); m != "" || strings.Contains(body, "<style") {
			t.Errorf("inline style or handler %q: the CSP would block it", m)
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("the page names another site; it must work offline")
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "no-such-file.js", http.StatusNotFound},
		{http.MethodPost, "", http.StatusMethodNotAllowed},
		{http.MethodGet, "api/no-such-route", http.StatusNotFound},
	} {
		resp, body := consoleDo(t, tc.method, tc.path, nil, "")
		if resp.StatusCode != tc.status || !strings.Contains(body, `"error":`) {
			t.Errorf("%s /console/%s: %d %s, want %d with an error", tc.method, tc.path, resp.StatusCode, body, tc.status)
		}
		wantCSP(t, tc.method+" /console/"+tc.path, resp)
	}
}

// TestConsoleSessions: a go-sdk client's session shows in the console's
// API; ending it there needs the page's token and origin, and once ended
// the client's next request gets 404.
func TestConsoleSessions(t *testing.T) {
	url := startProxy(t, consoleSite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)

	var list adminSessionList
	consoleGet(t, "api/sessions", &list)
	if len(list.Sessions) != 1 || list.Sessions[0].ID != cs.ID() || list.Sessions[0].Endpoint != "console-test" ||
		list.Sessions[0].Upstream.Kind != "stdio" {
		t.Fatalf("console sessions = %+v, want the go-sdk client's %s", list.Sessions, cs.ID())
	}
	var ups struct {
		Upstreams []struct {
			adminUpstream
			Health struct {
				Healthy bool   `json:"healthy"`
				Breaker string `json:"breaker"`
			} `json:"health"`
		} `json:"upstreams"`
	}
	consoleGet(t, "api/upstreams", &ups)
	if len(ups.Upstreams) != 1 || ups.Upstreams[0].Endpoint != "console-test" || !ups.Upstreams[0].Health.Healthy || ups.Upstreams[0].Health.Breaker != "closed" ||
		ups.Upstreams[0].Processes == nil || ups.Upstreams[0].Sessions != 1 {
		t.Errorf("console upstreams = %+v", ups.Upstreams)
	}

	token := consoleToken(t)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"no token", http.Header{"Origin": {proxyBaseURL}, "Sec-Fetch-Site": {"same-origin"}}, "needs the page's token"},
		{"no token, not a browser", nil, "needs the page's token"},
		{"a wrong token", http.Header{"X-Mcp-Console-Token": {token + "x"}}, "needs the page's token"},
		{"another origin", http.Header{"X-Mcp-Console-Token": {token}, "Origin": {"http://evil.example"}}, "same origin"},
		{"another port", http.Header{"X-Mcp-Console-Token": {token}, "Origin": {fmt.Sprintf("http://127.0.0.1:%d", testPorts.http+1)}}, "same origin"},
		{"cross-site fetch", http.Header{"X-Mcp-Console-Token": {token}, "Sec-Fetch-Site": {"cross-site"}}, "same origin"},
		{"same-site fetch", http.Header{"X-Mcp-Console-Token": {token}, "Sec-Fetch-Site": {"same-site"}}, "same origin"},
	} {
		resp, body := consoleDo(t, http.MethodDelete, "api/sessions/"+cs.ID(), tc.header, "")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.want) {
			t.Errorf("%s: DELETE = %d %s, want 403 saying %q", tc.name, resp.StatusCode, body, tc.want)
		}
		wantCSP(t, tc.name, resp)
	}
	if err := callSimpleTextHeld(ctx, t, cs); err != nil {
		t.Fatalf("the session after refused DELETEs: %v", err)
	}

	if resp, body := consoleDo(t, http.MethodDelete, "api/sessions/"+cs.ID(), consoleAction(token), ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE with the token: %d %s", resp.StatusCode, body)
	}
	if _, err := cs.ListTools(ctx, nil); !errors.Is(err, mcp.ErrSessionMissing) {
		t.Errorf("the ended session's next request = %v, want mcp.ErrSessionMissing (a 404)", err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("a request on the ended session: %d, want 404", resp.StatusCode)
	}
	if resp, body := consoleDo(t, http.MethodDelete, "api/sessions/"+cs.ID(), consoleAction(token), ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE again: %d %s, want 404", resp.StatusCode, body)
	}
}

// callSimpleTextHeld calls test_simple_text, which consoleSite holds, and
// continues it through the admin endpoint: a session that still works.
func callSimpleTextHeld(ctx context.Context, t *testing.T, cs *mcp.ClientSession) error {
	t.Helper()
	pending := callAsync(ctx, cs, "test_simple_text")
	e := awaitHeld(t, "test_simple_text")
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNoContent {
		t.Fatalf("continue through the admin endpoint: %d", st)
	}
	o := <-pending
	return o.err
}

// heldEvent is one event of the console's held-events stream.
type heldEvent struct {
	name string
	data struct {
		Type  string
		Entry heldEntry
	}
}

// followConsoleHeld opens the console's held-events stream; its events
// arrive on the channel, which closes when the stream ends. The stream is
// listening when it returns.
func followConsoleHeld(ctx context.Context, t *testing.T) <-chan heldEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxyBaseURL+"/console/api/held/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("held events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	wantCSP(t, "held events", resp)
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != ": listening\n" {
		t.Fatalf("held events start with %q, %v", line, err)
	}
	events := make(chan heldEvent, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		var ev heldEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event: "))
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "\n" && ev.name != "":
				events <- ev
				ev = heldEvent{}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return events
}

// awaitConsoleEvent waits (bounded) for the next event of the stream.
func awaitConsoleEvent(t *testing.T, events <-chan heldEvent, name string) heldEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatalf("the held-events stream ended before a %q event", name)
		}
		if ev.name != name || ev.data.Type != name {
			t.Fatalf("held event %q (%q), want %q", ev.name, ev.data.Type, name)
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatalf("no %q event on the console's held-events stream", name)
	}
	panic("unreachable")
}

// TestConsoleHeld: a tools/call held by a pause rule shows on the
// console's live stream and in its list; continued through the console
// (as is, then edited), the client receives the result; a decision
// without the token is refused and decides nothing.
func TestConsoleHeld(t *testing.T) {
	url := startProxy(t, consoleSite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	events := followConsoleHeld(ctx, t)
	token := consoleToken(t)

	for _, tc := range []struct {
		name, body, want string
	}{
		{"as held", "", "This is a simple text response for testing."},
		{"edited", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"test_multiple_content_types"}}`, "This is text content"},
	} {
		pending := callAsync(ctx, cs, "test_simple_text")
		ev := awaitConsoleEvent(t, events, "held")
		e := ev.data.Entry
		if e.Tool != "test_simple_text" || e.Rule != "approve" || e.Session != cs.ID() || e.ID == "" {
			t.Fatalf("%s: held event entry %+v", tc.name, e)
		}
		var list struct{ Held []heldEntry }
		consoleGet(t, "api/held", &list)
		if len(list.Held) != 1 || list.Held[0].ID != e.ID {
			t.Fatalf("%s: console held list %+v, want %s", tc.name, list.Held, e.ID)
		}
		path := "api/held/" + e.ID + "/continue"
		if resp, body := consoleDo(t, http.MethodPost, path, http.Header{"Origin": {proxyBaseURL}}, tc.body); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: continue without the token: %d %s, want 403", tc.name, resp.StatusCode, body)
		}
		if resp, body := consoleDo(t, http.MethodPost, path, consoleAction(token), tc.body); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("%s: continue with the token: %d %s", tc.name, resp.StatusCode, body)
		}
		if o := <-pending; o.err != nil || firstText(o.res) != tc.want {
			t.Errorf("%s: the continued call = %v %+v, want %q", tc.name, o.err, o.res, tc.want)
		}
		if d := awaitConsoleEvent(t, events, "decided"); d.data.Entry.ID != e.ID {
			t.Errorf("%s: decided event for %s, want %s", tc.name, d.data.Entry.ID, e.ID)
		}
	}
}
