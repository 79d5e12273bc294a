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
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// holdForTest holds a tools/call in mcpstate.Held and returns its id and
// the channel of its decision.
func holdForTest(t *testing.T) (string, <-chan hold.Decision) {
	t.Helper()
	return holdMessageForTest(t, "ep", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"deploy"}}`)
}

// holdMessageForTest holds raw, a tools/call of deploy, for endpoint.
func holdMessageForTest(t *testing.T, endpoint, raw string) (string, <-chan hold.Decision) {
	t.Helper()
	m, err := pipeline.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	events, stop := mcpstate.Held.Listen()
	defer stop()
	out := make(chan hold.Decision, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		d, _ := mcpstate.Held.Hold(ctx, hold.Entry{Endpoint: endpoint, Rule: "approve", Direction: "to_server", Method: "tools/call", Tool: "deploy"}, m, 0, 0)
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

// TestAdminHeldRedacted: the list and the events stream show a held
// message redacted as its endpoint's tapes are (its pointers, credential
// members always, escaped names too); the one message an operator opens
// is shown as a continue would send it.
func TestAdminHeldRedacted(t *testing.T) {
	red, err := tape.NewRedactor([]string{"/params/arguments/api_key"})
	if err != nil {
		t.Fatal(err)
	}
	owner := new(struct{ handler int }) // any pointer stands for the handler that registered the redaction
	mcpstate.HeldRedaction.Set("ep-redacted", owner, red)
	t.Cleanup(func() { mcpstate.HeldRedaction.Remove("ep-redacted", owner) })
	const raw = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"deploy","arguments":{"api_key":"sk-1","headers":{"\u0041uthorization":"Bearer t"},"q":"x"}}}`
	for _, tc := range []struct {
		endpoint string
		listed   string // the arguments the list and the events show
	}{
		{"ep-redacted", `{"api_key":"[redacted]","headers":{"Authorization":"[redacted]"},"q":"x"}`},
		{"ep-without-record", `{"api_key":"sk-1","headers":{"Authorization":"[redacted]"},"q":"x"}`},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = handleHeld(w, r) }))
			t.Cleanup(srv.Close) // after the stream's end (cleanups run last first): Close waits for it
			events := followHeldEvents(t, srv.URL)
			id, out := holdMessageForTest(t, tc.endpoint, raw)
			defer func() {
				_ = mcpstate.Held.Decide(id, hold.Decision{Kind: hold.Continue}, nil)
				<-out
			}()
			arguments := func(msg json.RawMessage) string {
				var m struct {
					Params struct{ Arguments json.RawMessage }
				}
				if err := json.Unmarshal(msg, &m); err != nil {
					t.Fatalf("message %s: %v", msg, err)
				}
				return string(m.Params.Arguments)
			}
			status, body := serveHeldAdmin(handleListHeld, http.MethodGet, adminHeldPath, "")
			var list struct{ Held []hold.Entry }
			if status != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil {
				t.Fatalf("list: %d %s", status, body)
			}
			found := false
			for _, e := range list.Held {
				if e.ID == id {
					found = true
					if got := arguments(e.Message); got != tc.listed {
						t.Errorf("listed arguments %s, want %s", got, tc.listed)
					}
				}
			}
			if !found {
				t.Fatalf("%s not listed: %s", id, body)
			}
			if ev := <-events; ev.Entry.ID != id || arguments(ev.Entry.Message) != tc.listed {
				t.Errorf("held event %s %s, want arguments %s", ev.Entry.ID, ev.Entry.Message, tc.listed)
			}
			status, body = serveHeldAdmin(handleHeld, http.MethodGet, adminHeldPath+"/"+id, "")
			var one hold.Entry
			if status != http.StatusOK || json.Unmarshal([]byte(body), &one) != nil {
				t.Fatalf("GET one: %d %s", status, body)
			}
			if one.ID != id || string(one.Message) != raw {
				t.Errorf("the opened message %s, want it as held: %s", one.Message, raw)
			}
		})
	}
	if status, _ := serveHeldAdmin(handleHeld, http.MethodGet, adminHeldPath+"/h0000", ""); status != http.StatusNotFound {
		t.Errorf("GET an unknown id: %d, want 404", status)
	}
}

// followHeldEvents opens the events stream at base and returns its held
// events.
func followHeldEvents(t *testing.T, base string) <-chan hold.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+adminHeldPath+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	out := make(chan hold.Event, 16)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		resp.Body.Close()
	})
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != ": listening\n" {
		t.Fatalf("first line %q", line)
	}
	go func() {
		defer close(done)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			var ev hold.Event
			if data, ok := strings.CutPrefix(line, "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil && ev.Type == "held" {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
