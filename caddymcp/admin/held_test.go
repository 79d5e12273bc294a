package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
)

// holdForTest holds a tools/call in mcpstate.Held and returns its id and
// the channel of its decision.
func holdForTest(t *testing.T) (string, <-chan hold.Decision) {
	t.Helper()
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"deploy"}}`))
	if err != nil {
		t.Fatal(err)
	}
	events, stop := mcpstate.Held.Listen()
	defer stop()
	out := make(chan hold.Decision, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		d, _ := mcpstate.Held.Hold(ctx, hold.Entry{Endpoint: "ep", Rule: "approve", Direction: "to_server", Method: "tools/call", Tool: "deploy"}, m, 0, 0)
		out <- d
	}()
	select {
	case ev := <-events:
		return ev.Entry.ID, out
	case <-time.After(10 * time.Second):
		t.Fatal("nothing held")
	}
	return "", nil
}

// serveHeldAdmin runs an admin handler and returns the status it answered.
func serveHeldAdmin(h caddy.AdminHandlerFunc, method, path, body string) (int, string) {
	w := httptest.NewRecorder()
	err := h(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	var apiErr caddy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatus, apiErr.Err.Error()
	}
	return w.Code, w.Body.String()
}

func TestAdminHeldList(t *testing.T) {
	id, out := holdForTest(t)
	status, body := serveHeldAdmin(handleListHeld, http.MethodGet, adminHeldPath, "")
	var list struct {
		Held []map[string]any `json:"held"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("%d %s", status, body)
	}
	var found map[string]any
	for _, e := range list.Held {
		if e["id"] == id {
			found = e
		}
	}
	if found == nil || found["rule"] != "approve" || found["tool"] != "deploy" || found["endpoint"] != "ep" || found["direction"] != "to_server" {
		t.Errorf("entry %v in %s", found, body)
	}
	if since, _ := found["since"].(string); since == "" {
		t.Errorf("no since in %v", found)
	} else if _, err := time.Parse(time.RFC3339, since); err != nil {
		t.Errorf("since %q is not RFC 3339", since)
	}
	if status, _ := serveHeldAdmin(handleListHeld, http.MethodPost, adminHeldPath, ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST list: %d", status)
	}
	if status, _ := serveHeldAdmin(handleHeld, http.MethodPost, adminHeldPath+"/"+id+"/continue", ""); status != http.StatusNoContent {
		t.Fatalf("continue: %d", status)
	}
	if d := <-out; d.Kind != hold.Continue {
		t.Errorf("decision %+v", d)
	}
}

func TestAdminHeldDecisions(t *testing.T) {
	tests := []struct {
		name, verb, body string
		status           int
		check            func(t *testing.T, d hold.Decision)
	}{
		{"continue edited", "continue", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"dry_run"}}`, http.StatusNoContent,
			func(t *testing.T, d hold.Decision) {
				if d.Kind != hold.Continue || d.Message == nil || string(d.Message.ID) != "3" || d.Message.Target() != "dry_run" {
					t.Errorf("%+v", d)
				}
			}},
		{"block with a message", "block", `{"message":"not now"}`, http.StatusNoContent,
			func(t *testing.T, d hold.Decision) {
				if d.Kind != hold.Block || d.Reason != "not now" {
					t.Errorf("%+v", d)
				}
			}},
		{"block without a body", "block", ``, http.StatusNoContent, func(t *testing.T, d hold.Decision) {
			if d.Kind != hold.Block || d.Reason != "" {
				t.Errorf("%+v", d)
			}
		}},
		{"respond", "respond", `{"content":[{"type":"text","text":"approved"}]}`, http.StatusNoContent, func(t *testing.T, d hold.Decision) {
			if d.Kind != hold.Respond || !strings.Contains(string(d.Result), "approved") {
				t.Errorf("%+v", d)
			}
		}},
		{"continue with a response body", "continue", `{"jsonrpc":"2.0","id":1,"result":{}}`, http.StatusBadRequest, nil},
		{"continue not JSON", "continue", `nope`, http.StatusBadRequest, nil},
		{"block bad body", "block", `[1]`, http.StatusBadRequest, nil},
		{"respond without a body", "respond", ``, http.StatusBadRequest, nil},
		{"respond with an array", "respond", `[]`, http.StatusBadRequest, nil},
		{"unknown verb", "approve", ``, http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, out := holdForTest(t)
			status, body := serveHeldAdmin(handleHeld, http.MethodPost, adminHeldPath+"/"+id+"/"+tt.verb, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if tt.check == nil {
				if len(out) != 0 {
					t.Error("a refused decision ended the hold")
				}
				_ = mcpstate.Held.Decide(id, hold.Decision{Kind: hold.Continue}, nil)
				<-out
				return
			}
			tt.check(t, <-out)
			// Decided: the id is gone.
			if status, _ := serveHeldAdmin(handleHeld, http.MethodPost, adminHeldPath+"/"+id+"/continue", ""); status != http.StatusNotFound {
				t.Errorf("second decision: %d, want 404", status)
			}
		})
	}
	for _, path := range []string{"/nothing/continue", "/x", "/x/continue/more"} {
		if status, _ := serveHeldAdmin(handleHeld, http.MethodPost, adminHeldPath+path, ""); status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, status)
		}
	}
	if status, _ := serveHeldAdmin(handleHeld, http.MethodGet, adminHeldPath+"/x/continue", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET a decision: %d, want 405", status)
	}
}

// TestAdminHeldEvents: the events stream tells of each new hold and each
// decision.
func TestAdminHeldEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = handleHeld(w, r) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+adminHeldPath+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, ct)
	}
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != ": listening\n" {
		t.Fatalf("first line %q", line)
	}
	_, _ = br.ReadString('\n')
	id, out := holdForTest(t)
	next := func() (string, map[string]any) {
		var typ string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimSpace(strings.TrimPrefix(line, "event: "))
			case strings.HasPrefix(line, "data: "):
				var ev map[string]any
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
					t.Fatal(err)
				}
				return typ, ev
			}
		}
	}
	typ, ev := next()
	if entry, _ := ev["entry"].(map[string]any); typ != "held" || entry["id"] != id {
		t.Errorf("%s %v", typ, ev)
	}
	if err := mcpstate.Held.Decide(id, hold.Decision{Kind: hold.Block}, nil); err != nil {
		t.Fatal(err)
	}
	<-out
	typ, ev = next()
	if typ != "decided" || ev["decision"] != "block" {
		t.Errorf("%s %v", typ, ev)
	}
}

// TestServerShutdownOneHookPerServer: every events stream of a server
// shares one shutdown channel (one hook on the server, not one per stream),
// closed when the server shuts down.
func TestServerShutdownOneHookPerServer(t *testing.T) {
	srv := &http.Server{}
	a, b := serverShutdown(srv), serverShutdown(srv)
	if a != b {
		t.Fatal("two streams of one server got two shutdown channels (two hooks)")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a:
	case <-time.After(5 * time.Second):
		t.Fatal("the channel did not close when the server shut down")
	}
	if c := serverShutdown(&http.Server{}); c == a {
		t.Error("another server shares the channel")
	}
}
