package front

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// discoverBody is a 2026-07-28 server/discover, the probe a dual-era client
// sends first.
const discoverBody = `{"jsonrpc":"2.0","id":"d","method":"server/discover","params":{` + statelessMeta + `}}`

// dualEra makes the fake answer server/discover as a server that speaks
// 2026-07-28 too.
func dualEra(s *setup) {
	s.up.script = func(c *fakeConn, m *pipeline.Message) bool {
		if m.Method != "server/discover" {
			return false
		}
		c.emit(pipeline.NewResult(m.ID, []byte(`{"supportedVersions":["2026-07-28"],"capabilities":{}}`)))
		return true
	}
}

// TestSSE2024Discover: a POST to a 2024-11-05 session's endpoint is that
// session's, whatever its _meta and MCP-Protocol-Version say: a 2026-07-28
// server/discover there is answered 202, and -32601 on the stream, by the
// gateway (the upstream, which would answer it, never sees it); any other
// request goes to the session's upstream, at the session's revision. Failed before: 400, "2026-07-28
// requests need the MCP-Protocol-Version header", or with that header it was
// served as a 2026-07-28 request.
func TestSSE2024Discover(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"", "2026-07-28"} {
		stage := &holdStage{hold: func(*pipeline.Exchange, *pipeline.Message) <-chan struct{} { return nil }}
		h := newHarness(t, dualEra, func(s *setup) { s.cfg.Chain = pipeline.NewChain(stage) })
		lc := h.openSSE2024(t, req{})
		rp := lc.h.doAt(t, lc.endpoint, req{accept: "application/json", version: version, body: discoverBody})
		wantStatus(t, rp, 202)
		if m := lc.nextResponse(t, `"d"`); m.Error == nil || m.Error.Code != pipeline.CodeMethodNotFound || !strings.Contains(m.Error.Message, "initialize") {
			t.Errorf("header %q: server/discover in a 2024-11-05 session answered %s", version, m.raw)
		}
		lc.initialize(t, Version20241105)
		// Any other request with 2026-07-28 _meta is the session's too
		// (sse2024_test.go had it refused 400, which ends an SDK's client).
		lc.send(t, rpcRequest(7, "tools/list", `{`+statelessMeta+`}`))
		lc.nextResponse(t, "7")
		if got := h.up.conn(t, 0).receivedSummary(); strings.Contains(got, "server/discover") || !strings.Contains(got, "tools/list") {
			t.Errorf("the upstream got %s", got)
		}
		for _, ex := range stage.exchanges() {
			if ex.Direction == pipeline.ToServer && isStatelessVersion(ex.ProtocolVersion) {
				t.Errorf("header %q: a stage saw a message of the session at %s", version, ex.ProtocolVersion)
			}
		}
	}
}

// TestSSE2024GoSDKClient: the go-sdk's HTTP+SSE client, default settings,
// in front of a server that speaks 2026-07-28 too: its server/discover
// probe is answered -32601 and it initializes the session at a 2025
// revision.
func TestSSE2024GoSDKClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, dualEra)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cs := connectSDK(t, ctx, &mcp.SSEClientTransport{Endpoint: h.srv.URL + sse2024Path, HTTPClient: h.srv.Client()})
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != Version20251125 {
		t.Errorf("negotiated %q, want %s", v, Version20251125)
	}
	if err := cs.Ping(ctx, nil); err != nil {
		t.Error(err)
	}
}

// TestSSE2024DiscoverForwarded: with a cluster, a 2024-11-05 POST that
// carries a 2026-07-28 MCP-Protocol-Version and lands on an instance that
// does not hold its session is forwarded to the owner like the session's
// other POSTs, and the answer comes on the owner's stream. Failed before
// (with the classification fixed in servePost only): it was not forwarded,
// since its header read as 2026, and B answered 404.
func TestSSE2024DiscoverForwarded(t *testing.T) {
	ring := testRing(t)
	a, b := newNode(t, ring), newNode(t, ring)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.ts.URL+sse2024Path, nil)
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("X-Test-User", "alice")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	endpoint := nextData(t, br)
	if !strings.Contains(endpoint, "sessionId=") {
		t.Fatalf("the endpoint event is %q", endpoint)
	}
	got, body := send(t, ctx, http.MethodPost, b.ts.URL+endpoint, "", "alice", discoverBody, "Mcp-Protocol-Version", "2026-07-28", "Accept", "application/json")
	if got.StatusCode != http.StatusAccepted {
		t.Fatalf("the POST through B: %d %s", got.StatusCode, body)
	}
	if m := nextData(t, br); !strings.Contains(m, `"id":"d"`) || !strings.Contains(m, "-32601") {
		t.Errorf("the stream on A carried %s", m)
	}
}

// nextData returns the data of the next event br reads, within waitLimit.
func nextData(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		for {
			line, err := readSSELine(br)
			if err != nil {
				got <- ""
				return
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				got <- d
				return
			}
		}
	}()
	return within(t, got, "an event")
}
