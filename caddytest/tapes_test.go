package caddytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// tapeScript is the client script of the tape tests: one go-sdk session
// at 2025-11-25 that lists the tools and calls two of server-everything's.
// It returns what the client saw, one line per step.
func tapeScript(t *testing.T, url string) []string {
	t.Helper()
	return tapeScriptAt(t, url, "2025-11-25")
}

// tapeScriptAt is tapeScript at the given protocol version ("": the
// go-sdk client's default, which probes with a 2026-07-28 server/discover
// and falls back to initialize).
func tapeScriptAt(t *testing.T, url, version string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-tapes", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: transport}, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer cs.Close()
	var out []string
	out = append(out, "server "+cs.InitializeResult().ServerInfo.Name+" "+cs.InitializeResult().ProtocolVersion)
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	out = append(out, "tools "+strings.Join(names, ","))
	for _, call := range []*mcp.CallToolParams{
		{Name: "echo", Arguments: map[string]any{"message": "hello tape"}},
		{Name: "get-sum", Arguments: map[string]any{"a": 2, "b": 3}},
		{Name: "echo", Arguments: map[string]any{"message": "hello tape"}},
	} {
		res, err := cs.CallTool(ctx, call)
		if err != nil {
			t.Fatalf("tools/call %s: %v", call.Name, err)
		}
		var texts []string
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				texts = append(texts, tc.Text)
			}
		}
		out = append(out, fmt.Sprintf("%s → %s (error %v)", call.Name, strings.Join(texts, "|"), res.IsError))
	}
	return out
}

// TestTapeRecordReplayVerify: a go-sdk session against server-everything
// through the proxy is recorded; the tape replays the same script with
// identical results and no server; a request not on the tape gets an error
// that names the tape and the tool and shows no recorded argument; `caddy
// mcp-tape show` prints it; `caddy mcp-tape verify` passes against the live
// server and fails, with a readable diff, against one that answers otherwise.
func TestTapeRecordReplayVerify(t *testing.T) {
	requireIntegration(t)
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	dir := t.TempDir()

	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name tapes-test
		stdio %s %s stdio
		record %s
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(dir)))
	live := tapeScript(t, base+"/mcp")
	if !strings.HasPrefix(live[2], "echo → Echo: hello tape") {
		t.Fatalf("unexpected live results (is server-everything's echo what this test expects?): %q", live)
	}

	var tapes []string
	// Polling a directory: no event to await.
	if !poll(10*time.Second, func() bool { tapes, _ = tape.List(dir); return len(tapes) != 0 }) {
		t.Fatal("no tape in the record directory 10s after the session")
	}
	if len(tapes) != 1 {
		t.Fatalf("want one tape for one session, got %v", tapes)
	}
	path := tapes[0]

	// Replay: no server. Loading it unloads the recording configuration,
	// which writes the rest of the tape.
	startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		replay %s
	}
}
`, caddyfileQuote(path)))
	f, err := tape.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Header.Endpoint != "tapes-test" || f.Header.Upstream != "node" || f.Header.ProtocolVersion != "2025-11-25" {
		t.Errorf("tape header: %+v", f.Header)
	}
	replayed := tapeScript(t, base+"/mcp")
	if strings.Join(replayed, "\n") != strings.Join(live, "\n") {
		t.Fatalf("the replay differs from the live session:\nlive:\n%s\nreplay:\n%s", strings.Join(live, "\n"), strings.Join(replayed, "\n"))
	}

	// A request that is not on the tape.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-tapes", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: base + "/mcp", DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "not recorded"}})
	cs.Close()
	var rpcErr interface{ Error() string }
	if err == nil || !errors.As(err, &rpcErr) {
		t.Fatalf("an unrecorded call must fail, got %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, filepath.Base(path)) || !strings.Contains(msg, `tools/call of tool "echo"`) ||
		strings.Contains(msg, dir) || strings.Contains(msg, "hello tape") {
		t.Fatalf("the error must name the tape's file name and the tool, and nothing recorded: %s", msg)
	}

	// The command.
	bin := buildCaddy(t)
	show, err := exec.Command(bin, "mcp-tape", "show", path).CombinedOutput()
	if err != nil {
		t.Fatalf("mcp-tape show: %v\n%s", err, show)
	}
	for _, want := range []string{"endpoint tapes-test, upstream node", "→ tools/call echo", "← result"} {
		if !strings.Contains(string(show), want) {
			t.Errorf("mcp-tape show lacks %q:\n%s", want, show)
		}
	}
	serverCmd := node + " " + everything + " stdio"
	ok, err := exec.Command(bin, "mcp-tape", "verify", path, "--to", serverCmd).CombinedOutput()
	if err != nil {
		t.Fatalf("verify against the live server: %v\n%s", err, ok)
	}
	if !strings.Contains(string(ok), "OK: ") {
		t.Fatalf("verify against the live server: %s", ok)
	}
	// The go-sdk everything-server is another server: it has no get-sum.
	out, err := exec.Command(bin, "mcp-tape", "verify", path, "--to", buildEverythingServer(t)).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("verify against a server that answers differently must exit 1, got %v:\n%s", err, out)
	}
	if !strings.Contains(string(out), "DIFF record") || !strings.Contains(string(out), "tools/call get-sum") ||
		!strings.Contains(string(out), "/result/serverInfo/name: recorded") || !strings.Contains(string(out), "FAIL: ") {
		t.Fatalf("verify's diff is not readable:\n%s", out)
	}
}

// TestTapeAdminRecord: an endpoint that samples (almost) no session
// records one live session once the admin API starts its recording, stops
// when told, lists the tape under /mcp_proxy/recordings; an endpoint
// without a record directory refuses, naming what to add.
func TestTapeAdminRecord(t *testing.T) {
	requireIntegration(t)
	server := buildEverythingServer(t)
	dir := t.TempDir()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name tapes-admin
		stdio %s
		record %s {
			sample 0.000001
		}
	}
	mcp_proxy /plain {
		name tapes-plain
		stdio %s
	}
}
`, caddyfileQuote(server), caddyfileQuote(dir), caddyfileQuote(server)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	connect := func(path string) *mcp.ClientSession {
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-tapes-admin", Version: "0"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: base + path, DisableStandaloneSSE: true},
			&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	cs, plain := connect("/mcp"), connect("/plain")
	defer cs.Close()
	defer plain.Close()
	if err := callSimpleText(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if tapes, _ := tape.List(dir); len(tapes) != 0 {
		t.Fatalf("a session the sampling left out has a tape: %v", tapes)
	}
	for _, tc := range []struct {
		sess   *mcp.ClientSession
		method string
		status int
	}{
		{cs, http.MethodPost, http.StatusNoContent},
		{plain, http.MethodPost, http.StatusConflict},
	} {
		status, body := adminDo(t, tc.method, "/mcp_proxy/sessions/"+tc.sess.ID()+"/record")
		if status != tc.status {
			t.Fatalf("%s record of %s: %d %s, want %d", tc.method, tc.sess.ID(), status, body, tc.status)
		}
		if status == http.StatusConflict && !strings.Contains(string(body), "has no record directory: add a record") {
			t.Fatalf("the refusal does not say what to do: %s", body)
		}
	}
	if err := callSimpleText(ctx, cs); err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Recordings []struct {
			File, Endpoint, Session string
		} `json:"recordings"`
	}
	// Polling the disk: no event to await.
	if !poll(10*time.Second, func() bool { adminGet(t, "/mcp_proxy/recordings", &listed); return len(listed.Recordings) != 0 }) {
		t.Fatal("no recording listed 10s after the admin API started one")
	}
	if r := listed.Recordings[0]; len(listed.Recordings) != 1 || r.Endpoint != "tapes-admin" || strings.Contains(r.File, "/") {
		t.Fatalf("recordings: %+v", listed.Recordings)
	}
	if status, body := adminDo(t, http.MethodDelete, "/mcp_proxy/sessions/"+cs.ID()+"/record"); status != http.StatusNoContent {
		t.Fatalf("DELETE record: %d %s", status, body)
	}
	if err := callSimpleText(ctx, cs); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	startProxy(t, idleSite) // unloads the endpoint: the tape is complete
	f, err := tape.ReadFile(filepath.Join(dir, listed.Recordings[0].File))
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	for _, r := range f.Records {
		if strings.Contains(string(r.Msg), `"method":"tools/call"`) {
			calls++
		}
	}
	if calls != 1 {
		t.Fatalf("want the one call made while recording on the tape, got %d", calls)
	}
}

// TestTapeReplayDefaultClient: a go-sdk client at its defaults probes with
// a 2026-07-28 server/discover (recorded on a client-day tape) and falls
// back to initialize (a session tape); the replay of the directory answers
// the probe as a 2025 server does, so the same script gets the same results.
func TestTapeReplayDefaultClient(t *testing.T) {
	requireIntegration(t)
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	dir := t.TempDir()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		stdio %s %s stdio
		record %s
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(dir)))
	live := tapeScriptAt(t, base+"/mcp", "")
	startProxy(t, idleSite) // unloads the recorder: the tapes are complete
	tapes, err := tape.List(dir)
	if err != nil || len(tapes) != 2 {
		t.Fatalf("want a client-day tape and a session tape, got %v %v", tapes, err)
	}
	var probe bool
	for _, p := range tapes {
		f, err := tape.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.ProtocolVersion == "2026-07-28" && len(f.Records) > 0 && strings.Contains(string(f.Records[0].Msg), `"server/discover"`) {
			probe = true
		}
	}
	if !probe {
		t.Fatalf("no client-day tape holds the client's server/discover probe: %v", tapes)
	}
	startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		replay %s
	}
}
`, caddyfileQuote(dir)))
	replayed := tapeScriptAt(t, base+"/mcp", "")
	if strings.Join(replayed, "\n") != strings.Join(live, "\n") {
		t.Fatalf("the replay differs (tapes %v):\nlive:\n%s\nreplay:\n%s", tapes, strings.Join(live, "\n"), strings.Join(replayed, "\n"))
	}
}
