package caddytest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// heldEntry is one entry of GET /mcp_proxy/held.
type heldEntry struct {
	ID, Endpoint, Rule, Session, Direction, Method, Tool string
	Since                                                time.Time
}

// awaitHeld waits (bounded) until the admin API lists a held call of tool.
func awaitHeld(t *testing.T, tool string) heldEntry {
	t.Helper()
	var found heldEntry
	awaitHeldList(t, "a held call of "+tool+" listed", func(held []heldEntry) bool {
		for _, e := range held {
			if e.Tool == tool {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// awaitHeldList polls GET /mcp_proxy/held (bounded) until done holds for
// the listed entries.
func awaitHeldList(t *testing.T, what string, done func([]heldEntry) bool) {
	t.Helper()
	var list struct{ Held []heldEntry }
	if !poll(15*time.Second, func() bool {
		resp, err := http.Get("http://" + caddyAdminAddr + "/mcp_proxy/held")
		if err != nil {
			t.Fatal(err)
		}
		list.Held = nil
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /mcp_proxy/held: %v", err)
		}
		return done(list.Held)
	}) {
		t.Fatalf("waited 15s for %s: %+v", what, list.Held)
	}
}

// decideHeld POSTs a decision and returns the status.
func decideHeld(t *testing.T, id, verb, body string) int {
	t.Helper()
	resp, err := http.Post("http://"+caddyAdminAddr+"/mcp_proxy/held/"+id+"/"+verb, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPipelinePause: a paused tools/call that the admin API continues,
// edits, blocks and answers — while another call of the same session
// completes meanwhile — and a pause that times out, through a real Caddy
// in front of the go-sdk everything-server over stdio.
func TestPipelinePause(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, pipelineSite("stdio "+caddyfileQuote(bin),
		"intercept approve {\n\ttool test_simple_text\n\tpause 1m\n}",
		"intercept hurry {\n\ttool test_image_content\n\tpause 300ms\n}",
		"request_timeout 1s")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)

	// continue, while another call of the session completes.
	pending := callAsync(ctx, cs, "test_simple_text")
	e := awaitHeld(t, "test_simple_text")
	if e.Rule != "approve" || e.Session == "" || e.Direction != "to_server" || e.Method != "tools/call" || e.Since.IsZero() {
		t.Errorf("held entry %+v", e)
	}
	res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "test_simple_prompt"})
	if err != nil || len(res.Messages) == 0 {
		t.Fatalf("another call of the session while one is held: %v", err)
	}
	// Held longer than request_timeout (1s): its timer does not run. A
	// sleep: the time held is the thing under test.
	time.Sleep(1500 * time.Millisecond)
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNoContent {
		t.Fatalf("continue: %d", st)
	}
	if o := <-pending; o.err != nil || firstText(o.res) != "This is a simple text response for testing." {
		t.Errorf("continued call: %v %+v", o.err, o.res)
	}
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNotFound {
		t.Errorf("deciding again: %d, want 404", st)
	}

	// continue with an edit: the server gets the replacement (its id is
	// forced back to the original).
	pending = callAsync(ctx, cs, "test_simple_text")
	e = awaitHeld(t, "test_simple_text")
	if st := decideHeld(t, e.ID, "continue", `{"jsonrpc":"2.0","id":"whatever","method":"tools/call","params":{"name":"test_multiple_content_types"}}`); st != http.StatusNoContent {
		t.Fatalf("continue edited: %d", st)
	}
	if o := <-pending; o.err != nil || firstText(o.res) != "This is text content" {
		t.Errorf("edited call: %v %+v", o.err, o.res)
	}

	// block.
	pending = callAsync(ctx, cs, "test_simple_text")
	e = awaitHeld(t, "test_simple_text")
	if st := decideHeld(t, e.ID, "block", `{"message":"the operator said no"}`); st != http.StatusNoContent {
		t.Fatalf("block: %d", st)
	}
	o := <-pending
	if e := wantRPCError(t, o.err, "blocked call"); e.Code != codeBlocked || e.Message != "the operator said no" || !strings.Contains(string(e.Data), `"rule":"approve"`) {
		t.Errorf("blocked: %d %q %s", e.Code, e.Message, e.Data)
	}

	// respond.
	pending = callAsync(ctx, cs, "test_simple_text")
	e = awaitHeld(t, "test_simple_text")
	if st := decideHeld(t, e.ID, "respond", `{"content":[{"type":"text","text":"answered by the operator"}]}`); st != http.StatusNoContent {
		t.Fatalf("respond: %d", st)
	}
	if o := <-pending; o.err != nil || firstText(o.res) != "answered by the operator" {
		t.Errorf("answered call: %v %+v", o.err, o.res)
	}

	// A pause that times out: blocked (the default then).
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_image_content"})
	if e := wantRPCError(t, err, "timed-out pause"); e.Code != codeBlocked || !strings.Contains(e.Message, "did not decide within 300ms") {
		t.Errorf("timed out: %d %q", e.Code, e.Message)
	}
}

// TestPipelinePauseProgressTypeScript: a TypeScript SDK client calls with
// a 15s timeout and resetTimeoutOnProgress; the gateway holds the call for
// longer than that (a pause rule), and its progress while held (every 10s)
// keeps the client waiting until the operator continues it.
func TestPipelinePauseProgressTypeScript(t *testing.T) {
	requireIntegration(t)
	node := node20(t)
	nodeModule(t, "@modelcontextprotocol", "sdk", "package.json")
	bin := buildEverythingServer(t)
	url := startProxy(t, pipelineSite("stdio "+caddyfileQuote(bin),
		"intercept approve {\n\ttool test_simple_text\n\tpause 2m\n}")) + "/mcp"
	script, err := filepath.Abs(filepath.Join("interop_ts", "held_client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	const clientTimeout = 15 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan nodeRun, 1)
	go func() {
		done <- runNode(ctx, node, script, url, "test_simple_text", strconv.Itoa(int(clientTimeout/time.Millisecond)))
	}()
	e := awaitHeld(t, "test_simple_text")
	// Held past the client's own timeout: only the progress keeps it waiting.
	select {
	case run := <-done:
		t.Fatalf("the client gave up while held: %v\n%s\n%s", run.Err, run.Stdout, run.Stderr)
	case <-time.After(time.Until(e.Since.Add(clientTimeout + 3*time.Second))):
	}
	if st := decideHeld(t, e.ID, "continue", ""); st != http.StatusNoContent {
		t.Fatalf("continue: %d", st)
	}
	run := <-done
	if run.Err != nil {
		t.Fatalf("TypeScript client: %v\nstdout:\n%s\nstderr:\n%s", run.Err, run.Stdout, run.Stderr)
	}
	var got struct {
		Progress []struct {
			Progress float64 `json:"progress"`
			Message  string  `json:"message"`
		} `json:"progress"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.Stdout)), &got); err != nil {
		t.Fatalf("output %q: %v", run.Stdout, err)
	}
	if got.Text != "This is a simple text response for testing." {
		t.Errorf("text %q", got.Text)
	}
	if len(got.Progress) < 1 || !strings.Contains(got.Progress[0].Message, "held by the gateway") {
		t.Errorf("progress while held: %+v", got.Progress)
	}
}

// TestPipelinePauseRedacted: through a real Caddy, the admin API lists a
// held call's arguments redacted as the endpoint's tapes are (its record
// block's pointers, credential-like members always, an escaped name
// too), and shows the one held message an operator opens as it will be
// sent.
func TestPipelinePauseRedacted(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, pipelineSite("stdio "+caddyfileQuote(bin),
		"record "+caddyfileQuote(t.TempDir())+" {\n\tredact /params/arguments/api_key\n}",
		"intercept approve {\n\ttool test_simple_text\n\tpause 1m\n}")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	pending := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{
			"api_key": "sk-secret", "headers": map[string]any{"Authorization": "Bearer secret-token"}, "q": "visible"}})
		pending <- err
	}()
	e := awaitHeld(t, "test_simple_text")
	adminGet := func(path string) string {
		resp, err := http.Get("http://" + caddyAdminAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if list := adminGet("/mcp_proxy/held"); strings.Contains(list, "secret") ||
		!strings.Contains(list, `"api_key":"[redacted]"`) || !strings.Contains(list, `"Authorization":"[redacted]"`) || !strings.Contains(list, `"q":"visible"`) {
		t.Errorf("the list shows %s, want the arguments redacted", list)
	}
	var one struct {
		ID      string
		Message struct {
			Params struct{ Arguments map[string]any }
		}
	}
	if err := json.Unmarshal([]byte(adminGet("/mcp_proxy/held/"+e.ID)), &one); err != nil {
		t.Fatal(err)
	}
	if args := one.Message.Params.Arguments; one.ID != e.ID || args["api_key"] != "sk-secret" || args["q"] != "visible" {
		t.Errorf("the opened message has %+v, want the arguments as they will be sent", one)
	}
	if st := decideHeld(t, e.ID, "block", ""); st != http.StatusNoContent {
		t.Fatalf("block: %d", st)
	}
	if err := <-pending; err == nil {
		t.Error("the blocked call succeeded")
	}
}
