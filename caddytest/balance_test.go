package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// replica is a go-sdk MCP server over Streamable HTTP that a test can take
// down and bring back on the same address, as an operator's replica that
// crashes and restarts. Its tool whoami answers the replica's name, so a
// test sees which replica served a call.
type replica struct {
	t         *testing.T
	name      string
	addr      string
	stateless bool         // go-sdk's stateless mode, which serves 2026-07-28 requests
	calls     atomic.Int32 // tools/call requests received
	lists     atomic.Int32 // tools/list requests received
	sick      atomic.Bool  // GET /healthz answers 503
	broken    atomic.Bool  // a tools/call gets a bare 502, as from a failing load balancer in front

	mu  sync.Mutex
	srv *http.Server
}

func startReplica(t *testing.T, name string) *replica { return startReplicaMode(t, name, false) }

func startReplicaMode(t *testing.T, name string, stateless bool) *replica {
	t.Helper()
	r := &replica{t: t, name: name, addr: freeLoopbackAddr(t), stateless: stateless}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) url() string { return "http://" + r.addr + "/mcp" }

func (r *replica) start() {
	r.t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: r.name, Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: r.name}}}, nil, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: r.stateless})
	counted := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/healthz" {
			if r.sick.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		if req.Method == http.MethodPost {
			body, _ := io.ReadAll(req.Body)
			switch {
			case strings.Contains(string(body), `"method":"tools/call"`):
				r.calls.Add(1)
				if r.broken.Load() {
					http.Error(w, "bad gateway", http.StatusBadGateway)
					return
				}
			case strings.Contains(string(body), `"method":"tools/list"`):
				r.lists.Add(1)
			}
			req.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		h.ServeHTTP(w, req)
	})
	var l net.Listener
	var err error
	// The old listener's port may take a moment to free.
	if !poll(time.Second, func() bool { l, err = net.Listen("tcp", r.addr); return err == nil }) {
		r.t.Fatalf("replica %s: listen on %s: %v", r.name, r.addr, err)
	}
	srv := &http.Server{Handler: counted}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// stop takes the replica down: its listener and every connection close.
func (r *replica) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// servedBy is the serverInfo name in a session's initialize answer.
func servedBy(t *testing.T, wc *wireClient) (session, name string) {
	t.Helper()
	resp, body := wc.post("", "", initializeBodyAt("2025-11-25"), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize: %s %s", resp.Status, body)
	}
	m := responseTo(t, resp, body, "1")
	var r struct {
		ServerInfo struct{ Name string } `json:"serverInfo"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil {
		t.Fatalf("initialize answered %s", body)
	}
	session = resp.Header.Get("Mcp-Session-Id")
	if resp, body := wc.post(session, "2025-11-25", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %s %s", resp.Status, body)
	}
	return session, r.ServerInfo.Name
}

// whoami calls the whoami tool in a session and returns the status and
// the replica that answered ("" if none did).
func whoami(t *testing.T, wc *wireClient, session string) (int, string) {
	t.Helper()
	resp, body := wc.post(session, "2025-11-25", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`, nil)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	m := responseTo(t, resp, body, "7")
	var r struct {
		Content []struct{ Text string } `json:"content"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil || len(r.Content) == 0 {
		t.Fatalf("whoami answered %s", body)
	}
	return resp.StatusCode, r.Content[0].Text
}

func twoReplicaSite(a, b *replica, lines ...string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		http %s {
			name a
		}
		http %s {
			name b
		}
		%s
	}
}
`, caddyfileQuote(a.url()), caddyfileQuote(b.url()), strings.Join(lines, "\n\t\t"))
}

// upstreamHealth reads GET /mcp_proxy/upstreams: healthy by name.
func upstreamHealth(t *testing.T) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + caddyAdminAddr + "/mcp_proxy/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Upstreams []struct {
			Name   string
			Health struct{ Healthy bool }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]bool)
	for _, u := range got.Upstreams {
		out[u.Name] = u.Health.Healthy
	}
	return out
}

// TestSeveralUpstreamsSticky: round_robin spreads new sessions over two
// go-sdk replicas, and each session's calls stay on the replica that
// initialized it.
func TestSeveralUpstreamsSticky(t *testing.T) {
	a, b := startReplica(t, "A"), startReplica(t, "B")
	url := startProxy(t, twoReplicaSite(a, b, "lb_policy round_robin")) + "/mcp"
	wc := newWireClient(t, url)
	served := make(map[string]string)
	count := map[string]int{}
	for range 4 {
		s, name := servedBy(t, wc)
		served[s] = name
		count[name]++
	}
	if count["A"] != 2 || count["B"] != 2 {
		t.Fatalf("sessions by replica %v, want 2 and 2", count)
	}
	for range 3 {
		for s, name := range served {
			if status, got := whoami(t, wc, s); status != http.StatusOK || got != name {
				t.Fatalf("a call of a session initialized on %s: %d, answered by %q", name, status, got)
			}
		}
	}
	if a.calls.Load() != 6 || b.calls.Load() != 6 {
		t.Errorf("calls by replica: A %d, B %d; want 6 each", a.calls.Load(), b.calls.Load())
	}
	status, raw := adminDo(t, http.MethodGet, "/mcp_proxy/sessions")
	var list struct {
		Sessions []struct {
			ID       string
			Upstream struct{ Name, Kind string }
		}
	}
	if status != http.StatusOK || json.Unmarshal(raw, &list) != nil {
		t.Fatalf("GET /mcp_proxy/sessions: %d %s", status, raw)
	}
	for _, s := range list.Sessions {
		if want := strings.ToLower(served[s.ID]); want != "" && (s.Upstream.Name != want || s.Upstream.Kind != "http") {
			t.Errorf("session served by %s listed with upstream %+v", served[s.ID], s.Upstream)
		}
	}
}

// TestUpstreamDownAndBack: with active health checks, a replica taken down
// ends its sessions (404, the client initializes again), every new session
// goes to the other, the admin API and the gauge say so; brought back, it
// takes sessions again. The interval is short so that the test is quick;
// the default has no active checks.
func TestUpstreamDownAndBack(t *testing.T) {
	a, b := startReplica(t, "A"), startReplica(t, "B")
	url := startProxy(t, twoReplicaSite(a, b, "health_interval 200ms", "health_timeout 1s")) + "/mcp"
	wc := newWireClient(t, url)
	sessions := map[string]string{}
	for range 2 {
		s, name := servedBy(t, wc)
		sessions[name] = s
	}
	if sessions["A"] == "" || sessions["B"] == "" {
		t.Fatalf("sessions %v, want one on each replica", sessions)
	}

	b.stop()
	waitUntil(t, 5*time.Second, "the admin API shows b unhealthy", func() bool { return !upstreamHealth(t)["b"] })
	if h := upstreamHealth(t); !h["a"] {
		t.Errorf("a unhealthy too: %v", h)
	}
	if status, _ := whoami(t, wc, sessions["B"]); status != http.StatusNotFound {
		t.Errorf("a call of the session on the downed replica: %d, want 404 (the client initializes again)", status)
	}
	if status, got := whoami(t, wc, sessions["A"]); status != http.StatusOK || got != "A" {
		t.Errorf("a call of the session on the healthy replica: %d %q", status, got)
	}
	for range 4 {
		if _, name := servedBy(t, wc); name != "A" {
			t.Fatalf("a new session went to %s while b is down", name)
		}
	}
	healthy := map[string]float64{}
	for series, v := range scrape(t) {
		if strings.HasPrefix(series, "caddy_mcp_upstream_healthy{") {
			// The endpoint is named after its site and path (http://:port/mcp);
			// the upstream's URL is what must not show.
			if labels := endpointLabel.ReplaceAllString(series, ""); strings.Contains(labels, a.addr) || strings.Contains(labels, "/mcp") {
				t.Errorf("the gauge names the upstream's URL: %s", series)
			}
			for _, n := range []string{"a", "b"} {
				if strings.Contains(series, `upstream="`+n+`"`) {
					healthy[n] = v
				}
			}
		}
	}
	if h, ok := healthy["b"]; !ok || h != 0 || healthy["a"] != 1 {
		t.Errorf("caddy_mcp_upstream_healthy: %v, want a 1 and b 0", healthy)
	}

	b.start()
	waitUntil(t, 5*time.Second, "the admin API shows b healthy again", func() bool { return upstreamHealth(t)["b"] })
	seen := map[string]bool{}
	for range 4 {
		_, name := servedBy(t, wc)
		seen[name] = true
	}
	if !seen["B"] {
		t.Errorf("no new session went to b once it was back: %v", seen)
	}
}

// TestFirstPolicyFailsOver: lb_policy first sends every session to a while
// it is up; with a down and no active checks, a new session's initialize
// gets no answer from a and is retried on b (lb_retries' default: each
// other upstream once).
func TestFirstPolicyFailsOver(t *testing.T) {
	a, b := startReplica(t, "A"), startReplica(t, "B")
	url := startProxy(t, twoReplicaSite(a, b, "lb_policy first")) + "/mcp"
	wc := newWireClient(t, url)
	for range 3 {
		if _, name := servedBy(t, wc); name != "A" {
			t.Fatalf("lb_policy first sent a session to %s", name)
		}
	}
	a.stop()
	if s, name := servedBy(t, wc); name != "B" {
		t.Fatalf("with a down, a new session went to %q", name)
	} else if status, got := whoami(t, wc, s); status != http.StatusOK || got != "B" {
		t.Fatalf("the session moved to b: %d %q", status, got)
	}
}

// TestStatelessRetriedOnlyWhenSafe: a 2026-07-28 client balanced per
// request; with the first upstream down, a tools/list is retried on the
// other and succeeds, a tools/call is not retried (it could run twice) and
// fails. max_fails is raised so that the breaker stays closed and every
// request meets the downed upstream first.
func TestStatelessRetriedOnlyWhenSafe(t *testing.T) {
	a, b := startReplicaMode(t, "A", true), startReplicaMode(t, "B", true)
	url := startProxy(t, twoReplicaSite(a, b, "lb_policy first", "max_fails 1000")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "stateless-balance", Version: "0"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("negotiated %q, want 2026-07-28", v)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil || len(res.Content) == 0 || res.Content[0].(*mcp.TextContent).Text != "A" {
		t.Fatalf("with both up, first: %+v %v", res, err)
	}
	a.stop()
	listsB := b.lists.Load()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Errorf("tools/list with a down: %v (want it retried on b)", err)
	}
	if b.lists.Load() != listsB+1 {
		t.Errorf("b got %d tools/list, want 1", b.lists.Load()-listsB)
	}
	callsB := b.calls.Load()
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err == nil {
		t.Errorf("tools/call with a down succeeded: it must not be retried on b")
	}
	if b.calls.Load() != callsB {
		t.Errorf("b got the tools/call: a call must never be retried")
	}
	if err != nil && strings.Contains(err.Error(), a.addr) {
		t.Errorf("the error names the upstream's address: %v", err)
	}
}

// TestStdioAndHTTPUpstreams: one endpoint in front of a stdio server and
// an HTTP replica; sessions alternate between the two, calls reach the
// right one, and the admin API lists both by name with their kinds (and
// the stdio pool's processes), naming no URL path.
func TestStdioAndHTTPUpstreams(t *testing.T) {
	bin := buildEverythingServer(t)
	b := startReplica(t, "B")
	url := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		stdio %s {
			name local
		}
		http %s {
			name remote
		}
	}
}
`, caddyfileQuote(bin), caddyfileQuote(b.url()))) + "/mcp"
	wc := newWireClient(t, url)
	names := map[string]string{}
	for range 2 {
		s, name := servedBy(t, wc)
		names[name] = s
	}
	if len(names) != 2 || names["B"] == "" {
		t.Fatalf("sessions by server %v, want one on the stdio server and one on B", names)
	}
	if status, got := whoami(t, wc, names["B"]); status != http.StatusOK || got != "B" {
		t.Errorf("the HTTP session's call: %d %q", status, got)
	}
	for name, s := range names {
		if name == "B" {
			continue
		}
		resp, body := wc.post(s, "2025-11-25", `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, nil)
		if m := responseTo(t, resp, body, "3"); m.Error != nil || strings.Contains(string(m.Result), `"whoami"`) {
			t.Errorf("the stdio session's tools/list reached B or failed: %s", body)
		}
	}
	status, raw := adminDo(t, http.MethodGet, "/mcp_proxy/upstreams")
	if status != http.StatusOK {
		t.Fatalf("GET /mcp_proxy/upstreams: %d %s", status, raw)
	}
	var got struct {
		Upstreams []struct {
			Name, Kind, Address string
			Sessions            int
			Processes           *struct{ Assigned int }
		}
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, u := range got.Upstreams {
		kinds[u.Name] = u.Kind
		if u.Sessions != 1 {
			t.Errorf("upstream %s serves %d sessions, want 1", u.Name, u.Sessions)
		}
		if u.Name == "local" && (u.Processes == nil || u.Processes.Assigned != 1) {
			t.Errorf("the stdio upstream's processes: %+v", u.Processes)
		}
	}
	if kinds["local"] != "stdio" || kinds["remote"] != "http" {
		t.Errorf("upstreams %s", raw)
	}
	if upstreams := endpointLabel.ReplaceAllString(string(raw), ""); strings.Contains(upstreams, "/mcp") || strings.Contains(upstreams, bin) {
		t.Errorf("the admin API names a URL path or the command's path: %s", raw)
	}
}

// TestHealthURI: with health_uri the active check is a plain GET of that
// path on the upstream's host; a replica whose health endpoint fails is
// taken out of service although its MCP endpoint still answers, and comes
// back when the endpoint passes again.
func TestHealthURI(t *testing.T) {
	a, b := startReplica(t, "A"), startReplica(t, "B")
	url := startProxy(t, twoReplicaSite(a, b, "health_interval 200ms", "health_uri /healthz")) + "/mcp"
	wc := newWireClient(t, url)
	b.sick.Store(true)
	waitUntil(t, 5*time.Second, "b unhealthy by its health_uri", func() bool { return !upstreamHealth(t)["b"] })
	for range 3 {
		if _, name := servedBy(t, wc); name != "A" {
			t.Fatalf("a new session went to %s while its health_uri fails", name)
		}
	}
	b.sick.Store(false)
	waitUntil(t, 5*time.Second, "b healthy again", func() bool { return upstreamHealth(t)["b"] })
}

// TestBreakerOpens: passive health through a real Caddy — a replica whose
// calls fail (a bare 502, no JSON-RPC answer) max_fails times opens its
// breaker: its sessions end (404), new sessions go to the other, and the
// admin API shows the breaker open. One failed call alone ends nothing.
func TestBreakerOpens(t *testing.T) {
	a, b := startReplica(t, "A"), startReplica(t, "B")
	url := startProxy(t, twoReplicaSite(a, b, "max_fails 3", "fail_duration 1m")) + "/mcp"
	wc := newWireClient(t, url)
	var onB string
	for range 2 {
		if s, name := servedBy(t, wc); name == "B" {
			onB = s
		}
	}
	if onB == "" {
		t.Fatal("no session on B")
	}
	b.broken.Store(true)
	call := func() (int, *rpcMessage) {
		resp, body := wc.post(onB, "2025-11-25", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`, nil)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		m := responseTo(t, resp, body, "7")
		return resp.StatusCode, &m
	}
	for i := range 2 {
		if status, m := call(); status != http.StatusOK || m.Error == nil || !strings.Contains(m.Error.Message, "502") {
			t.Fatalf("failing call %d: %d %+v, want the JSON-RPC error for the 502 (the session lives on)", i+1, status, m)
		}
	}
	call() // the third failure opens the breaker
	waitUntil(t, 5*time.Second, "the breaker of b opens", func() bool { return !upstreamHealth(t)["b"] })
	// The breaker's opening ends b's sessions on a goroutine of its own:
	// the admin API may show it open a moment before the session is gone.
	waitUntil(t, 5*time.Second, "the session on b answers 404", func() bool {
		status, _ := call()
		return status == http.StatusNotFound
	})
	for range 3 {
		if _, name := servedBy(t, wc); name != "A" {
			t.Fatalf("a new session went to %s while its breaker is open", name)
		}
	}
	_, raw := adminDo(t, http.MethodGet, "/mcp_proxy/upstreams")
	if !strings.Contains(string(raw), `"breaker":"open"`) {
		t.Errorf("the admin API does not show the open breaker: %s", raw)
	}
}

// endpointLabel matches the endpoint's name in a metric's labels or the
// admin API's JSON: the site's address and path, which an upstream check
// must not mistake for the upstream's URL.
var endpointLabel = regexp.MustCompile(`"?endpoint"?[=:]"[^"]*"`)
