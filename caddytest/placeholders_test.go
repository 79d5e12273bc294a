package caddytest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// callTool is the JSON-RPC tools/call of the everything-server tool name.
func callTool(id, name string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + name + `","arguments":{}}}`
}

// TestMatcherPlaceholdersBeforeProxy: a header handler ordered before
// mcp_proxy sees {http.mcp.tool} once an mcp matcher has read the body
// (TestAccessLogCarriesMCPFields shows it sees nothing without one), a
// deferred header sees what mcp_proxy set, the CEL form matches as the
// Caddyfile form does, and the matcher leaves the body
// whole for mcp_proxy, which answers the call.
func TestMatcherPlaceholdersBeforeProxy(t *testing.T) {
	bin := buildEverythingServer(t)
	url := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	@call mcp {
		method tools/call
		tool test_*
	}
	header @call X-Matched-Tool {http.mcp.tool}
	@cel expression mcp({'method': ['tools/call'], 'tool': ['test_simple_*'], 'max_size': '64KiB'})
	header @cel X-CEL-Tool {http.mcp.tool}
	header >X-Proxied-Tool "[{http.mcp.tool}]"
	mcp_proxy /mcp {
		stdio %s
	}
}
`, caddyfileQuote(bin))) + "/mcp"
	wc := newWireClient(t, url)
	sid := wc.openSessionAt("2025-06-18", nil)

	resp, body := wc.post(sid, "2025-06-18", callTool("2", "test_simple_text"), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/call: %s %s", resp.Status, body)
	}
	if m := responseTo(t, resp, body, "2"); m.Error != nil || !strings.Contains(string(m.Result), "This is a simple text response") {
		t.Errorf("tools/call after the matcher read the body answered %s", body)
	}
	for header, want := range map[string]string{
		"X-Matched-Tool": "test_simple_text",   // set by the matcher, read by a header before mcp_proxy
		"X-Proxied-Tool": "[test_simple_text]", // set by mcp_proxy, read by a deferred header
		"X-CEL-Tool":     "test_simple_text",   // the matcher's CEL form
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s = %q, want %q\n%s", header, got, want, wc.text())
		}
	}

	// tools/list does not match: no matched header, and mcp_proxy's own
	// placeholders say there is no tool.
	resp, body = wc.post(sid, "2025-06-18", `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/list: %s %s", resp.Status, body)
	}
	for _, h := range []string{"X-Matched-Tool", "X-Cel-Tool"} {
		if got, ok := resp.Header[h]; ok {
			t.Errorf("tools/list got %s %q: the matcher matched a method it does not name", h, got)
		}
	}
	if got := resp.Header.Get("X-Proxied-Tool"); got != "[]" {
		t.Errorf("tools/list: X-Proxied-Tool = %q, want []", got)
	}
}

// accessLine is the part of a Caddy access log line this test reads.
type accessLine struct {
	Msg     string `json:"msg"`
	Status  int    `json:"status"`
	Request struct {
		URI string `json:"uri"`
	} `json:"request"`
	MCP map[string]any `json:"mcp"`
}

// TestAccessLogCarriesMCPFields: with nothing but `log`, the access log
// line of each MCP POST through mcp_proxy names its method, tool, session,
// revision and id (an initialize, the session it started). Without a
// matcher a header handler sees no {http.mcp.*} value (it runs before
// mcp_proxy), a deferred one does.
func TestAccessLogCarriesMCPFields(t *testing.T) {
	bin := buildEverythingServer(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	url := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	log {
		output file %s
		format json
	}
	header X-Plain-Tool "[{http.mcp.tool}]"
	header >X-Proxied-Tool "[{http.mcp.tool}]"
	mcp_proxy /mcp {
		stdio %s
	}
}
`, caddyfileQuote(logFile), caddyfileQuote(bin))) + "/mcp"
	wc := newWireClient(t, url)
	sid := wc.openSessionAt("2025-06-18", nil)
	resp, body := wc.post(sid, "", callTool(`"call-7"`, "test_simple_text"), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/call: %s %s", resp.Status, body)
	}
	if plain, deferred := resp.Header.Get("X-Plain-Tool"), resp.Header.Get("X-Proxied-Tool"); plain != "[{http.mcp.tool}]" || deferred != "[test_simple_text]" {
		// header leaves a placeholder that is not set as it is written.
		t.Errorf("X-Plain-Tool = %q, X-Proxied-Tool = %q; want [{http.mcp.tool}] (it runs before mcp_proxy) and [test_simple_text] (deferred)", plain, deferred)
	}
	wc.post(sid, "2025-06-18", `[`+callTool("8", "x")+`]`, nil) // a batch, refused at this revision

	want := []map[string]any{
		{"method": "initialize", "session_id": sid, "protocol_version": "2025-06-18", "request_id": "1"},
		{"method": "notifications/initialized", "session_id": sid, "protocol_version": "2025-06-18"},
		// No MCP-Protocol-Version header: the session's revision.
		{"method": "tools/call", "tool": "test_simple_text", "session_id": sid, "protocol_version": "2025-06-18", "request_id": `"call-7"`},
		{"method": "tools/call", "tool": "x", "session_id": sid, "protocol_version": "2025-06-18", "request_id": "8", "batch_size": float64(1)},
	}
	var lines []accessLine
	waitUntil(t, 5*time.Second, "four access log lines of MCP POSTs", func() bool {
		lines = readAccessLog(t, logFile)
		return len(lines) >= len(want)
	})
	for i, w := range want {
		got := lines[i].MCP
		if len(got) != len(w) {
			t.Errorf("line %d: mcp = %v, want %v", i, got, w)
			continue
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("line %d: mcp.%s = %v, want %v (line: %+v)", i, k, got[k], v, lines[i])
			}
		}
	}
}

// readAccessLog returns the access log lines of POSTs to /mcp in file.
func readAccessLog(t *testing.T, file string) []accessLine {
	t.Helper()
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []accessLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l accessLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line is not JSON: %v: %s", err, sc.Bytes())
		}
		if l.Msg == "handled request" && l.Request.URI == "/mcp" && l.MCP != nil {
			lines = append(lines, l)
		}
	}
	return lines
}
