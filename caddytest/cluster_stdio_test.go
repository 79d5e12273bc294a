package caddytest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// startStdioClusterInstance runs a Caddy of a cluster at addr whose /mcp
// serves server-everything over stdio, with node_url its own address.
func startStdioClusterInstance(t *testing.T, key, addr string) *caddyProcess {
	t.Helper()
	node := node20(t)
	everything := nodeModule(t, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	p := runCaddySiteAt(t, addr, fmt.Sprintf(`	mcp_proxy /mcp {
		name api
		cluster {
			key {env.MCP_SESSION_KEY}
			node_url http://%s
		}
		stdio %s %s stdio
	}
`, addr, caddyfileQuote(node), caddyfileQuote(everything)), "MCP_SESSION_KEY="+key)
	waitProcessServing(t, p)
	return p
}

// runCaddySiteAt runs the built caddy with one site at addr (host:port),
// whose body is site: a cluster instance whose node_url names addr.
func runCaddySiteAt(t *testing.T, addr, site string, env ...string) *caddyProcess {
	t.Helper()
	return runCaddyProcessAt(t, freeLoopbackAddr(t), addr, "", "http://"+addr+" {\n"+site+"}\n", env...)
}

// twoInstances routes a client's requests: those that begin a session
// (no session id) to begin, the others to serve — so that a session begun
// on one instance is used through the other.
type twoInstances struct {
	mu           sync.Mutex
	begin, serve string // host:port

	scheme string            // the instances' scheme; "": as the request's
	base   http.RoundTripper // nil: http.DefaultTransport
}

func (ti *twoInstances) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	ti.mu.Lock()
	to := ti.serve
	if r.Header.Get("Mcp-Session-Id") == "" && !r.URL.Query().Has("sessionId") {
		to = ti.begin
	}
	ti.mu.Unlock()
	r.URL.Host = to
	r.Host = to
	if ti.scheme != "" {
		r.URL.Scheme = ti.scheme
	}
	if ti.base != nil {
		return ti.base.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (ti *twoInstances) set(begin, serve string) {
	ti.mu.Lock()
	ti.begin, ti.serve = begin, serve
	ti.mu.Unlock()
}

// TestClusterStdioProcesses: two Caddy processes sharing a cluster key,
// each with its own server-everything over stdio and its own node_url. A
// go-sdk session begun on A is served through B — calls, a call with
// progress, the GET stream, DELETE (which ends it on A) — and so is a
// 2024-11-05 session; once A is killed (-9) its sessions are 404 through
// B, naming no address, and the client begins again, on B.
func TestClusterStdioProcesses(t *testing.T) {
	requireIntegration(t)
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	a := startStdioClusterInstance(t, key, addrA)
	startStdioClusterInstance(t, key, addrB)
	route := &twoInstances{begin: addrA, serve: addrB}
	httpc := &http.Client{Transport: route}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var progress atomic.Int32
	client := mcp.NewClient(&mcp.Implementation{Name: "caddytest-cluster-stdio", Version: "0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
	})
	endpoint := "http://" + addrA + "/mcp"
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: httpc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two", "three"} {
		if got := callText(ctx, t, cs, "echo", map[string]any{"message": msg}); got != "Echo: "+msg {
			t.Fatalf("echo through B answered %q", got)
		}
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "trigger-long-running-operation",
		Arguments: map[string]any{"duration": 0.3, "steps": 3}, Meta: mcp.Meta{"progressToken": "p"}})
	if err != nil || res.IsError {
		t.Fatalf("a call with progress through B: %v %+v", err, res)
	}
	// The client hears notifications on goroutines of its own, maybe
	// after the call's answer.
	if !poll(10*time.Second, func() bool { return progress.Load() == 3 }) {
		n := progress.Load()
		t.Errorf("the client heard %d progress notifications through B, want 3", n)
	}
	stdioGetThroughB(t, addrB, cs.ID())
	sid := cs.ID()
	if err := cs.Close(); err != nil { // DELETE, through B
		t.Fatal(err)
	}
	if st := postPing(t, "http://"+addrA+"/mcp", sid); st != http.StatusNotFound {
		t.Errorf("the session DELETEd through B answered %d on A, want 404", st)
	}

	stdioSSE2024ThroughB(t, addrA, addrB)

	cs, err = client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: httpc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	resp := rawRequest(t, http.MethodPost, "http://"+addrB+"/mcp", `{"jsonrpc":"2.0","id":9,"method":"ping"}`, map[string]string{
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Session-Id": cs.ID(), "Mcp-Protocol-Version": "2025-06-18"})
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Session not found") || strings.Contains(body, "127.0.0.1") {
		t.Errorf("a session of the killed owner through B: %d %s", resp.StatusCode, body)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "x"}}); err == nil {
		t.Error("a call on a session of the killed owner succeeded")
	}
	route.set(addrB, addrB) // the balancer no longer sends anything to A
	cs2, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: httpc}, nil)
	if err != nil {
		t.Fatalf("beginning again on B: %v", err)
	}
	defer cs2.Close()
	if got := callText(ctx, t, cs2, "echo", map[string]any{"message": "again"}); got != "Echo: again" {
		t.Errorf("the new session answered %q", got)
	}
}

// stdioGetThroughB opens the session's GET stream through B.
func stdioGetThroughB(t *testing.T, addrB, sid string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addrB+"/mcp", nil)
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Mcp-Session-Id", sid)
	r.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("the GET stream through B: %d %s", resp.StatusCode, resp.Header)
	}
}

// stdioSSE2024ThroughB: a 2024-11-05 session's stream is opened on A; its
// POSTs, which name the session in the query, go through B to A, and the
// answers come on A's stream.
func stdioSSE2024ThroughB(t *testing.T, addrA, addrB string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addrA+"/mcp", nil)
	r.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := readRawStream("2024-11-05", resp)
	stream.waitFor(t, "?sessionId=", 10*time.Second)
	text := stream.String()
	i := strings.Index(text, "/mcp?sessionId=")
	post := "http://" + addrB + strings.Fields(text[i:])[0]
	hdr := map[string]string{"Content-Type": "application/json"}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"0"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"old"}}}`,
	} {
		resp := rawRequest(t, http.MethodPost, post, body, hdr)
		if got := readAll(t, resp); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("a 2024-11-05 POST through B: %d %s", resp.StatusCode, got)
		}
	}
	stream.waitFor(t, "Echo: old", 10*time.Second)
}

// TestClusterStdioTasks2026: two Caddy processes sharing a cluster key,
// each with caddytest/taskserver over stdio (named after its instance),
// serving 2026-07-28. A task made through A is followed through B —
// tasks/get to its result, done by A's process, and a
// subscriptions/listen naming it, which streams through — because B
// forwards each request to A, which the sealed task id names. Once A is
// killed, the task id through B is -32602, naming no address. Failed
// before: B answered the task's requests -32602.
func TestClusterStdioTasks2026(t *testing.T) {
	requireIntegration(t)
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("t", 32)))
	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	a := startTaskClusterInstance(t, key, addrA, "A")
	startTaskClusterInstance(t, key, addrB, "B")
	ca := &taskClient{wireClient: newWireClient(t, "http://"+addrA+"/mcp")}
	cb := &taskClient{wireClient: newWireClient(t, "http://"+addrB+"/mcp")}

	m := ca.call("tools/call", `{"name":"slow","arguments":{}}`, "slow")
	var created taskState
	if m.Error != nil || json.Unmarshal(m.Result, &created) != nil || !strings.HasPrefix(created.TaskID, "mcpgw.") {
		t.Fatalf("tools/call through A: %+v %s", m.Error, m.Result)
	}
	id := created.TaskID
	var got taskState
	for polls := 0; got.Status != "completed"; polls++ {
		if polls == 10 {
			t.Fatalf("task still %q after 10 polls through B", got.Status)
		}
		m := cb.call("tasks/get", `{"taskId":"`+id+`"}`, id)
		if m.Error != nil || json.Unmarshal(m.Result, &got) != nil || !strings.HasPrefix(got.TaskID, "mcpgw.") {
			t.Fatalf("tasks/get through B: %+v %s", m.Error, m.Result)
		}
	}
	if len(got.Result.Content) != 1 || got.Result.Content[0].Text != "done by A" {
		t.Errorf("the task's result through B: %+v, want done by A", got.Result)
	}
	if acked, notified := cb.listenTasks(id); len(acked) != 1 || len(notified) != 1 {
		t.Errorf("subscriptions/listen through B: acknowledged %q, notified %q; want the task each", acked, notified)
	}

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	resp, text := cb.send("tasks/get", `{"taskId":"`+id+`"}`, id)
	m = responseTo(t, resp, text, fmt.Sprint(cb.id))
	if m.Error == nil || m.Error.Code != -32602 || strings.Contains(text, "127.0.0.1") {
		t.Errorf("the killed owner's task through B: %s", text)
	}
}

// startTaskClusterInstance runs a Caddy at addr, an instance of the
// cluster of key whose stdio upstream is caddytest/taskserver named name,
// with flags (such as -local) after the name, serving 2026-07-28.
func startTaskClusterInstance(t *testing.T, key, addr, name string, flags ...string) *caddyProcess {
	t.Helper()
	args := strings.Join(append([]string{"-name", name}, flags...), " ")
	p := runCaddySiteAt(t, addr, fmt.Sprintf(`	mcp_proxy /mcp {
		name tasks
		cluster {
			key {env.MCP_SESSION_KEY}
			node_url http://%s
		}
		stdio %s %s {
			protocol modern
		}
	}
`, addr, caddyfileQuote(taskServer.get(t)), args), "MCP_SESSION_KEY="+key)
	waitProcessServing(t, p)
	return p
}

// postPing POSTs a ping on session sid to url and returns the status.
func postPing(t *testing.T, url, sid string) int {
	t.Helper()
	resp := rawRequest(t, http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, map[string]string{
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"})
	readAll(t, resp)
	return resp.StatusCode
}

// TestClusterStdioHopBench measures tools/call per second on stdio
// sessions owned by A, sent to A ("owner") and to B, which forwards them
// ("one hop"), in alternating rounds; the issue asks one hop ≥ 0.8× owner.
// A bench run, not a check: it runs only with CADDYMCP_BENCH=1.
func TestClusterStdioHopBench(t *testing.T) {
	requireIntegration(t)
	if os.Getenv("CADDYMCP_BENCH") == "" {
		t.Skip("a bench run: set CADDYMCP_BENCH=1")
	}
	key := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("b", 32)))
	addrA, addrB := freeLoopbackAddr(t), freeLoopbackAddr(t)
	startStdioClusterInstance(t, key, addrA)
	startStdioClusterInstance(t, key, addrB)
	const workers, calls, rounds = 4, 250, 3
	ctx := context.Background()
	connect := func(serve string) []*mcp.ClientSession {
		var out []*mcp.ClientSession
		for range workers {
			tr := &http.Transport{MaxIdleConnsPerHost: workers}
			t.Cleanup(tr.CloseIdleConnections)
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil).Connect(ctx,
				&mcp.StreamableClientTransport{Endpoint: "http://" + addrA + "/mcp", HTTPClient: &http.Client{Transport: &twoInstances{begin: addrA, serve: serve}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cs.Close() })
			out = append(out, cs)
		}
		return out
	}
	routes := map[string][]*mcp.ClientSession{"owner": connect(addrA), "one hop": connect(addrB)}
	total := map[string]time.Duration{}
	for range rounds {
		for _, name := range []string{"owner", "one hop"} {
			start := time.Now()
			var wg sync.WaitGroup
			for _, cs := range routes[name] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range calls {
						if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "x"}}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			total[name] += time.Since(start)
		}
	}
	rate := func(name string) float64 { return float64(workers*calls*rounds) / total[name].Seconds() }
	t.Logf("stdio tools/call, %d sessions × %d calls × %d rounds: owner %.0f calls/s, one hop %.0f calls/s, ratio %.2f",
		workers, calls, rounds, rate("owner"), rate("one hop"), rate("one hop")/rate("owner"))
}
