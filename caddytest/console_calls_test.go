package caddytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/tape/record"
)

// consoleCallsSite serves the everything-server at /mcp as endpoint
// console-calls, recording into dir with /params/arguments/secret
// redacted and tapes rotated past 2 KiB, and the console under /console/.
// extra goes into the mcp_proxy block.
func consoleCallsSite(command, dir, extra string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name console-calls
		stdio %s
		record %s {
			redact /params/arguments/secret
			max_size 2KiB
		}
%s	}
	handle_path /console/* {
		mcp_console
	}
}
`, caddyfileQuote(command), caddyfileQuote(dir), extra)
}

// apiCall is one entry of GET /mcp_proxy/calls.
type apiCall struct {
	ID               uint64          `json:"id"`
	Time             time.Time       `json:"time"`
	Endpoint         string          `json:"endpoint"`
	Session          string          `json:"session"`
	User             string          `json:"user"`
	Tool             string          `json:"tool"`
	DurationMS       float64         `json:"duration_ms"`
	Outcome          string          `json:"outcome"`
	Error            string          `json:"error"`
	Arguments        json.RawMessage `json:"arguments"`
	ArgumentsPreview string          `json:"arguments_preview"`
}

// apiCalls is the answer of GET /mcp_proxy/calls.
type apiCalls struct {
	Endpoints []struct {
		Endpoint string    `json:"endpoint"`
		Calls    []apiCall `json:"calls"`
		Rates    struct {
			BucketSeconds int       `json:"bucket_seconds"`
			Start         time.Time `json:"start"`
			Tools         []struct {
				Tool       string `json:"tool"`
				Calls      []int  `json:"calls"`
				Errors     []int  `json:"errors"`
				ToolErrors []int  `json:"tool_errors"`
			} `json:"tools"`
		} `json:"rates"`
	} `json:"endpoints"`
}

// rateTotals sums each tool's buckets: calls, errors, tool errors.
func (a apiCalls) rateTotals() map[string][3]int {
	out := map[string][3]int{}
	for _, ep := range a.Endpoints {
		for _, tl := range ep.Rates.Tools {
			var s [3]int
			for i := range tl.Calls {
				s[0] += tl.Calls[i]
				s[1] += tl.Errors[i]
				s[2] += tl.ToolErrors[i]
			}
			out[tl.Tool] = s
		}
	}
	return out
}

// TestConsoleCalls: tool calls of a go-sdk client in a 2025 session and
// of a stateless 2026-07-28 one show in GET /mcp_proxy/calls (the admin
// endpoint's and the console's), newest first, with their outcomes and
// their arguments redacted as the endpoint's tapes are, and are counted in
// the rates; a reload that keeps the endpoint keeps them. The session's
// tape is listed, shown as the mcp-tape show transcript and downloaded as
// one JSONL file; names that are not a listed tape's are refused.
func TestConsoleCalls(t *testing.T) {
	bin := buildEverythingServer(t)
	dir := t.TempDir()
	url := startProxy(t, consoleCallsSite(bin, dir, "")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	if _, err := cs.ListTools(ctx, nil); err != nil { // the tools' names become the rates' labels
		t.Fatal(err)
	}
	args := map[string]any{"secret": "s3cr3t-value", "Authorization": "Bearer t0ken", "q": "visible"}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: args}); err != nil || res.IsError {
		t.Fatalf("test_simple_text: %v %+v", err, res)
	}
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_error_handling"}); err != nil || !res.IsError {
		t.Fatalf("test_error_handling: %v %+v, want a result with isError", err, res)
	}
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"})
	rpcErr := wantRPCError(t, err, "no_such_tool")
	stateless := connectGo(ctx, t, url, "", nil) // the go-sdk's default: 2026-07-28, no session
	if v := stateless.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("the stateless client negotiated %q", v)
	}
	if _, err := stateless.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{"q": "stateless"}}); err != nil {
		t.Fatal(err)
	}

	check := func(what string, got apiCalls) {
		t.Helper()
		if len(got.Endpoints) != 1 || got.Endpoints[0].Endpoint != "console-calls" {
			t.Fatalf("%s: endpoints %+v", what, got.Endpoints)
		}
		calls := got.Endpoints[0].Calls
		if len(calls) != 4 {
			t.Fatalf("%s: %d calls, want 4: %+v", what, len(calls), calls)
		}
		for i, want := range []struct {
			tool, session, outcome, error, arguments string // arguments "-": not checked
		}{
			{"test_simple_text", "", "ok", "", `{"q":"stateless"}`},
			{"no_such_tool", cs.ID(), "error", rpcErr.Message, "-"},
			{"test_error_handling", cs.ID(), "tool_error", "", "-"},
			{"test_simple_text", cs.ID(), "ok", "", `{"Authorization":"[redacted]","q":"visible","secret":"[redacted]"}`},
		} {
			c := calls[i]
			if c.Tool != want.tool || c.Session != want.session || c.Outcome != want.outcome || c.Error != want.error ||
				(want.arguments != "-" && string(c.Arguments) != want.arguments) || c.Endpoint != "console-calls" || c.DurationMS < 0 || c.Time.IsZero() {
				t.Errorf("%s: call %d = %+v (arguments %s), want %+v", what, i, c, c.Arguments, want)
			}
			if i > 0 && (c.ID >= calls[i-1].ID || c.Time.After(calls[i-1].Time)) {
				t.Errorf("%s: call %d (#%d at %v) is not older than the one before it", what, i, c.ID, c.Time)
			}
		}
		totals := got.rateTotals()
		for tool, want := range map[string][3]int{"test_simple_text": {2, 0, 0}, "test_error_handling": {1, 0, 1}, "other": {1, 1, 0}} {
			if totals[tool] != want {
				t.Errorf("%s: rates of %s = %v, want %v (all: %v)", what, tool, totals[tool], want, totals)
			}
		}
	}
	var fromAdmin, fromConsole apiCalls
	adminGet(t, "/mcp_proxy/calls?endpoint=console-calls", &fromAdmin)
	check("the admin endpoint", fromAdmin)
	consoleGet(t, "api/calls", &fromConsole)
	check("the console", fromConsole)
	if status, body := adminDo(t, http.MethodGet, "/mcp_proxy/calls?endpoint=nope"); status != http.StatusNotFound ||
		!strings.Contains(string(body), `no endpoint \"nope\"`) {
		t.Errorf("?endpoint=nope: %d %s", status, body)
	}
	for _, leak := range []string{"s3cr3t-value", "t0ken"} {
		_, body := adminDo(t, http.MethodGet, "/mcp_proxy/calls")
		if bytes.Contains(body, []byte(leak)) {
			t.Errorf("GET /mcp_proxy/calls shows %q", leak)
		}
	}

	// The recording of the session.
	file := awaitRecording(t, cs.ID())
	transcript := consoleText(t, "api/recordings/"+file, http.StatusOK)
	for _, want := range []string{"tape " + file, "endpoint console-calls", "→ tools/call test_simple_text", "[redacted]", "← result #"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the transcript lacks %q:\n%s", want, transcript)
		}
	}
	if strings.Contains(transcript, "s3cr3t-value") {
		t.Errorf("the transcript shows the redacted secret:\n%s", transcript)
	}
	resp, body := consoleDo(t, http.MethodGet, "api/recordings/"+file+"/download", nil, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Disposition") != "attachment; filename="+file {
		t.Fatalf("download: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	wantCSP(t, "download", resp)
	h, recs, _, err := tape.Read(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the download is not one tape: %v", err)
	}
	onDisk, err := tape.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.Parts < 2 || h.Endpoint != "console-calls" || len(recs) < len(onDisk.Records)-2 || len(recs) > len(onDisk.Records) {
		// The session is live: the tape may grow between the two reads,
		// never shrink; the download must hold every part.
		t.Errorf("download: %d records of %d parts, the tape on disk %d records in %d parts", len(recs), h.Part, len(onDisk.Records), onDisk.Parts)
	}
	base, _, _ := tape.SplitName(file)
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/mcp_proxy/recordings/" + tape.FileName(base, 1), http.StatusBadRequest, "is part 1 of recording"},
		{"/mcp_proxy/recordings/nope.jsonl", http.StatusNotFound, "no recording"},
		{"/mcp_proxy/recordings/a%5Cb.jsonl", http.StatusBadRequest, "never a path"},
		{"/mcp_proxy/recordings/" + file + "%2Fdownload%2Fx", http.StatusNotFound, "no such route"},
	} {
		if status, body := adminDo(t, http.MethodGet, tc.path); status != tc.status || !strings.Contains(string(body), tc.says) {
			t.Errorf("GET %s: %d %s, want %d saying %q", tc.path, status, body, tc.status, tc.says)
		}
	}
	if got := consoleText(t, "api/recordings/..%2F..%2Fetc%2Fpasswd", http.StatusNotFound); !strings.Contains(got, "no such console path") {
		t.Errorf("a path through the console: %s", got)
	}

	// A reload that keeps the endpoint keeps its calls.
	startProxy(t, consoleCallsSite(bin, dir, "\t\trequest_timeout 2m\n"))
	var afterReload apiCalls
	adminGet(t, "/mcp_proxy/calls?endpoint=console-calls", &afterReload)
	check("after a reload", afterReload)
}

// awaitRecording waits (bounded) until GET /mcp_proxy/recordings lists
// the tape of session sid, and returns its file name.
func awaitRecording(t *testing.T, sid string) string {
	t.Helper()
	want := record.SessionHash(sid)
	var list struct {
		Recordings []struct {
			File, Session string
		}
	}
	file := ""
	// The tape writer runs on its own: no event to await.
	if !poll(15*time.Second, func() bool {
		adminGet(t, "/mcp_proxy/recordings", &list)
		for _, r := range list.Recordings {
			if r.Session == want {
				file = r.File
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no recording of session %s listed: %+v", sid, list.Recordings)
	}
	return file
}

// consoleText GETs a console path, wants status, and returns the body.
func consoleText(t *testing.T, path string, status int) string {
	t.Helper()
	resp, body := consoleDo(t, http.MethodGet, path, nil, "")
	if resp.StatusCode != status {
		t.Fatalf("GET /console/%s: %d %s, want %d", path, resp.StatusCode, body, status)
	}
	return body
}
