package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// fedSession is what GET /mcp_proxy/sessions shows of a federated session.
type fedSession struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	Upstream struct {
		Kind string `json:"kind"`
	} `json:"upstream"`
	Servers []struct {
		Name     string `json:"name"`
		Upstream struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"upstream"`
	} `json:"servers"`
}

// TestFederationSeesServers: server-everything over stdio and a go-sdk
// server over HTTP behind one endpoint, both with a tool named echo. A
// rule on `server docs` + `tool echo` (the server's own name) blocks
// docs_echo only; the tape names each message's server; the admin API
// and the metrics label the servers (tool calls too), their replicas named
// <server>/<replica>; the tape replays without either server.
func TestFederationSeesServers(t *testing.T) {
	requireIntegration(t)
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	ts := httptest.NewServer(goSDKHandler(newDocsServer()))
	defer ts.Close()
	dir := t.TempDir()
	base := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name fed-labels
		server everything {
			stdio %s %s stdio {
				warm 0
			}
		}
		server docs {
			http %s
		}
		intercept no-docs-echo {
			server docs
			tool echo
			block "docs may not echo"
		}
		record %s
	}
}
`, caddyfileQuote(node), caddyfileQuote(everything), caddyfileQuote(ts.URL), caddyfileQuote(dir)))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	live := federatedEchoes(ctx, t, base+"/mcp", func(cs *mcp.ClientSession) {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "docs_echo", Arguments: map[string]any{"text": "hi"}})
		if err == nil || !strings.Contains(err.Error(), "docs may not echo") {
			t.Errorf("docs_echo: %v, want the rule's block", err)
		}
		federatedAdmin(t, cs.ID(), strings.TrimPrefix(ts.URL, "http://"))
	})
	if !strings.Contains(live, "Echo: hi") {
		t.Fatalf("everything_echo through the rule: %q", live)
	}

	// The go-sdk client asks server/discover first; a federation holding a
	// 2025-only server refuses it, and the client falls back to a session.
	// Both are recorded (a 2026-07-28 request on its own tape): replay the
	// session's tape.
	var session string
	// Polling a directory: no event to await.
	if !poll(10*time.Second, func() bool { session = sessionTape(dir); return session != "" }) {
		t.Fatal("no session tape 10s after the session")
	}
	// Replaying it unloads the recording configuration, which writes the rest of the tape.
	startProxy(t, fmt.Sprintf(siteAddr+" {\n\tbind 127.0.0.1\n\tmcp_proxy /mcp {\n\t\treplay %s\n\t}\n}\n", caddyfileQuote(session)))
	federatedTapeServers(t, session)
	replayed := federatedEchoes(ctx, t, base+"/mcp", nil)
	if replayed != live {
		t.Errorf("the replay answered %q, the live session %q", replayed, live)
	}
}

// federatedEchoes lists the tools, calls everything_echo and then more.
func federatedEchoes(ctx context.Context, t *testing.T, endpoint string, more func(*mcp.ClientSession)) string {
	t.Helper()
	changed := make(chan struct{}, 8)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-fedlabels", Version: "0"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	federatedToolNames(ctx, t, cs, changed, "everything_echo", "docs_echo")
	out := callText(ctx, t, cs, "everything_echo", map[string]any{"message": "hi"})
	if more != nil {
		more(cs)
	}
	return out
}

// federatedAdmin checks the admin API's (session, upstreams, recent
// calls) and the metrics' server labels.
func federatedAdmin(t *testing.T, sessionID, docsHostPort string) {
	t.Helper()
	docsReplica := "docs/" + strings.ReplaceAll(docsHostPort, ":", "-")
	var s fedSession
	adminGet(t, "/mcp_proxy/sessions/"+sessionID, &s)
	got := fmt.Sprint(s.Upstream.Kind, " ", s.Servers)
	want := fmt.Sprintf("federation [{everything {everything/node stdio}} {docs {%s http}}]", docsReplica)
	if got != want {
		t.Errorf("session: %s, want %s", got, want)
	}
	var ups struct {
		Upstreams []struct {
			Endpoint, Name, Server string
		} `json:"upstreams"`
	}
	adminGet(t, "/mcp_proxy/upstreams", &ups)
	seen := map[string]string{}
	for _, u := range ups.Upstreams {
		if u.Endpoint == "fed-labels" {
			seen[u.Name] = u.Server
		}
	}
	if seen["everything/node"] != "everything" || seen[docsReplica] != "docs" || len(seen) != 2 {
		t.Errorf("upstreams of fed-labels: %v", seen)
	}
	var calls struct {
		Endpoints []struct {
			Calls []struct{ Tool, Server, Outcome string } `json:"calls"`
		} `json:"endpoints"`
	}
	adminGet(t, "/mcp_proxy/calls?endpoint=fed-labels", &calls)
	var served []string
	for _, e := range calls.Endpoints {
		for _, c := range e.Calls {
			served = append(served, c.Tool+"@"+c.Server+":"+c.Outcome)
		}
	}
	if got := strings.Join(served, " "); got != "docs_echo@docs:blocked everything_echo@everything:ok" {
		t.Errorf("recent calls (newest first): %s", got)
	}
	healthy := 0
	series := scrape(t)
	for _, s := range []string{
		`caddy_mcp_tool_calls_total{endpoint="fed-labels",outcome="blocked",server="docs",tool="docs_echo"}`,
		`caddy_mcp_tool_calls_total{endpoint="fed-labels",outcome="ok",server="everything",tool="everything_echo"}`,
	} {
		if series[s] != 1 {
			t.Errorf("%s = %v, want 1", s, series[s])
		}
	}
	for series := range series {
		if strings.HasPrefix(series, "caddy_mcp_upstream_healthy{") && strings.Contains(series, `endpoint="fed-labels"`) &&
			(strings.Contains(series, `server="docs"`) && strings.Contains(series, `upstream="`+docsReplica+`"`) ||
				strings.Contains(series, `server="everything"`) && strings.Contains(series, `upstream="everything/node"`)) {
			healthy++
		}
	}
	if healthy != 2 {
		t.Errorf("caddy_mcp_upstream_healthy of fed-labels with server labels: %d series, want 2", healthy)
	}
}

// federatedTapeServers checks that the tape names the server of each call
// and of its answer.
// sessionTape is the tape in dir that records a session (it begins with
// an initialize), or "" while there is none.
func sessionTape(dir string) string {
	tapes, _ := tape.List(dir)
	for _, path := range tapes {
		f, err := tape.ReadFile(path)
		if err != nil || len(f.Records) == 0 {
			continue
		}
		var first struct {
			Method string `json:"method"`
		}
		if json.Unmarshal(f.Records[0].Msg, &first) == nil && first.Method == "initialize" {
			return path
		}
	}
	return ""
}

func federatedTapeServers(t *testing.T, path string) {
	t.Helper()
	f, err := tape.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.Records {
		if r.Server != "" {
			got = append(got, r.Dir+" "+r.Server+" "+r.Pipeline.Action)
		}
	}
	want := "c2s everything passed|s2c everything passed|c2s docs blocked|s2c docs generated"
	if strings.Join(got, "|") != want {
		t.Errorf("tape records with a server: %q, want %q", strings.Join(got, "|"), want)
	}
}
