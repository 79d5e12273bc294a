package caddytest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// The cluster of cluster_front_test.go with HTTP upstreams: any instance
// serves any session.

// echoEndpoint is the api endpoint in front of the echo upstream at url.
func echoEndpoint(url string) clusterEndpoint {
	return clusterEndpoint{path: "/mcp", name: "api", upstream: "http " + url}
}

// clusterKeyEnv returns MCP_SESSION_KEY=<a fresh key> for the instances'
// environment, and the key.
func clusterKeyEnv(t *testing.T) []string {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*13 + 1)
	}
	return []string{"MCP_SESSION_KEY=" + base64.StdEncoding.EncodeToString(key)}
}

// echoCall calls echo with text on cs and checks the answer.
func echoCall(ctx context.Context, cs *mcp.ClientSession, text string) error {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	if err != nil {
		return err
	}
	if len(res.Content) != 1 {
		return fmt.Errorf("answered %d contents", len(res.Content))
	}
	if got, _ := res.Content[0].(*mcp.TextContent); got == nil || got.Text != text {
		return fmt.Errorf("answered %v, want %q", res.Content[0], text)
	}
	return nil
}

// connectThrough connects a go-sdk client with default settings to url.
func connectThrough(ctx context.Context, t *testing.T, url string, httpClient *http.Client) *mcp.ClientSession {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "cluster-client", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: httpClient}, nil)
	if err != nil {
		t.Fatalf("connect through the front: %v", err)
	}
	return cs
}

// callLoop is a client calling echo in a loop until stopped.
type callLoop struct {
	cs     *mcp.ClientSession
	id     string // the session id it began with
	calls  atomic.Int64
	mu     sync.Mutex
	failed []string
}

func (l *callLoop) run(ctx context.Context, n int, wg *sync.WaitGroup) {
	defer wg.Done()
	for i := 0; ctx.Err() == nil; i++ {
		text := fmt.Sprintf("client %d call %d", n, i)
		if err := echoCall(ctx, l.cs, text); err != nil {
			if ctx.Err() != nil {
				return
			}
			l.mu.Lock()
			l.failed = append(l.failed, fmt.Sprintf("%s: %v", text, err))
			l.mu.Unlock()
		}
		l.calls.Add(1)
		// A pace rather than a spin: the machine running the tests is
		// shared, and a call every few milliseconds per client keeps
		// calls in flight through every restart.
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestClusterFrontRollingRestart: go-sdk clients with default settings,
// each calling a tool in a loop through the front, keep their sessions and
// lose no call while the three instances restart one at a time (SIGTERM,
// exit, start on the same port): every client holds the id it began with,
// the upstream saw one session per client and no DELETE.
func TestClusterFrontRollingRestart(t *testing.T) {
	up := startEchoUpstream(t)
	c := startClusterFront(t, clusterKeyEnv(t), "", echoEndpoint(up.server.URL))

	const clients = 8
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loops := make([]*callLoop, clients)
	for i := range loops {
		cs := connectThrough(ctx, t, c.url+"/mcp", nil)
		defer cs.Close()
		loops[i] = &callLoop{cs: cs, id: cs.ID()}
	}
	loopCtx, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, l := range loops {
		wg.Add(1)
		go l.run(loopCtx, i, &wg)
	}
	// progress waits until every client made calls since the last wait:
	// each restart happens with every session in use.
	progress := func(when string) {
		t.Helper()
		marks := make([]int64, clients)
		for i, l := range loops {
			marks[i] = l.calls.Load()
		}
		waitUntil(t, 30*time.Second, "every client calls "+when, func() bool {
			for i, l := range loops {
				if l.calls.Load() < marks[i]+3 {
					return false
				}
			}
			return true
		})
	}
	progress("before the restarts")
	for _, n := range c.nodes {
		c.restart(n)
		progress(fmt.Sprintf("after instance %d restarted", n.index))
	}
	stopLoops()
	wg.Wait()

	total := int64(0)
	for i, l := range loops {
		total += l.calls.Load()
		if len(l.failed) > 0 {
			t.Errorf("client %d: %d of %d calls failed, first: %s", i, len(l.failed), l.calls.Load(), l.failed[0])
		}
		if id := l.cs.ID(); id != l.id {
			t.Errorf("client %d holds session %q, began with %q", i, id, l.id)
		}
		if err := echoCall(ctx, l.cs, "after the restarts"); err != nil {
			t.Errorf("client %d after the restarts: %v", i, err)
		}
	}
	t.Logf("%d clients made %d calls through a rolling restart of %d instances", clients, total, clusterInstances)
	if n := up.inits.Load(); n != clients {
		t.Errorf("the upstream saw %d sessions begin, want %d", n, clients)
	}
	if n := up.deletes.Load(); n != 0 {
		t.Errorf("the restarts sent %d DELETEs upstream", n)
	}
}

// pingThrough POSTs a ping naming session id to url as user (none when
// empty) and returns the status and body.
func pingThrough(t *testing.T, url, id, user string) (int, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
		"Mcp-Session-Id": id, "Mcp-Protocol-Version": "2025-06-18"}
	if user != "" {
		h["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+testPassword))
	}
	resp := rawRequest(t, http.MethodPost, url, `{"jsonrpc":"2.0","id":9,"method":"ping"}`, h)
	body := readAll(t, resp)
	return resp.StatusCode, body
}

// flipByte returns the sealed id with the byte at i (from the end when
// negative) of its decoded form changed.
func flipByte(t *testing.T, id string, i int) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		t.Fatalf("the session id %q is not base64url: %v", id, err)
	}
	if i < 0 {
		i += len(raw)
	}
	raw[i] ^= 0x20
	return base64.RawURLEncoding.EncodeToString(raw)
}

// TestClusterFrontRefusals: through the front, whichever instance a request
// lands on, a session id is refused (404, the answer to an unknown session,
// with no word of why) on another endpoint of the instances, for another
// user, and when tampered with; it is served on its endpoint for its user.
func TestClusterFrontRefusals(t *testing.T) {
	up := startEchoUpstream(t)
	users := fmt.Sprintf("\tbasic_auth /users* {\n\t\talice %s\n\t\tbob %s\n\t}\n", testPasswordHash, testPasswordHash)
	api := echoEndpoint(up.server.URL)
	api.nodeURL = true // names the instances in their admin APIs
	c := startClusterFront(t, clusterKeyEnv(t), users,
		api,
		clusterEndpoint{path: "/other", name: "other", upstream: "http " + up.server.URL},
		clusterEndpoint{path: "/users", name: "users", upstream: "http " + up.server.URL})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectThrough(ctx, t, c.url+"/mcp", nil)
	defer cs.Close()
	alice := connectThrough(ctx, t, c.url+"/users", &http.Client{Transport: basicAuthTransport{user: "alice"}})
	defer alice.Close()

	for _, tc := range []struct {
		name, path, id, user string
		want                 int
	}{
		{"its endpoint", "/mcp", cs.ID(), "", http.StatusOK},
		{"its user", "/users", alice.ID(), "alice", http.StatusOK},
		{"another endpoint", "/other", cs.ID(), "", http.StatusNotFound},
		{"another user", "/users", alice.ID(), "bob", http.StatusNotFound},
		{"another endpoint's user", "/mcp", alice.ID(), "", http.StatusNotFound},
		{"tampered tag", "/mcp", flipByte(t, cs.ID(), -1), "", http.StatusNotFound},
		{"tampered nonce", "/mcp", flipByte(t, cs.ID(), 5), "", http.StatusNotFound},
		{"tampered key id", "/mcp", flipByte(t, cs.ID(), 1), "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Round robin: each instance answers one of them.
			for range clusterInstances {
				status, body := pingThrough(t, c.url+tc.path, tc.id, tc.user)
				if status != tc.want {
					t.Fatalf("answered %d %s, want %d", status, body, tc.want)
				}
				if status == http.StatusNotFound && (strings.Contains(body, "user") || strings.Contains(body, "endpoint")) {
					t.Errorf("the refusal hints at why: %s", body)
				}
			}
		})
	}
	t.Run("admin API", func(t *testing.T) { checkInstancesAdmin(t, c, cs.ID()) })
}

// checkInstancesAdmin checks what each instance's admin API says: it
// names the instance by its node_url, lists the session held under id,
// and its metrics carry no instance label (Prometheus adds one).
func checkInstancesAdmin(t *testing.T, c *clusterFront, id string) {
	for _, n := range c.nodes {
		get := func(path string) string {
			t.Helper()
			resp, err := http.Get("http://" + n.admin + path)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("instance %d: GET %s: %d %s", n.index, path, resp.StatusCode, body)
			}
			return body
		}
		var in struct {
			Instance string            `json:"instance"`
			NodeURLs map[string]string `json:"node_urls"`
		}
		if err := json.Unmarshal([]byte(get("/mcp_proxy/instance")), &in); err != nil {
			t.Fatal(err)
		}
		if in.Instance != n.base || in.NodeURLs["api"] != n.base {
			t.Errorf("instance %d calls itself %+v, want %s", n.index, in, n.base)
		}
		if sessions := get("/mcp_proxy/sessions?endpoint=api"); !strings.Contains(sessions, strconv.Quote(id)) {
			t.Errorf("instance %d does not list the session it served:\n%s", n.index, sessions)
		}
		for line := range strings.Lines(get("/metrics")) {
			if strings.HasPrefix(line, "caddy_mcp") && strings.Contains(line, "instance=") {
				t.Errorf("instance %d: a metric with an instance label: %s", n.index, line)
			}
		}
	}
}

// TestClusterFrontKeyRotation: key rotation by reloading every instance.
// With "key NEW OLD" the live sessions (sealed with OLD) go on and new
// ones are sealed with NEW; with "key NEW" alone, the sessions begun after
// the first step go on and those sealed with OLD are unknown on every
// instance, including those that held them.
func TestClusterFrontKeyRotation(t *testing.T) {
	up := startEchoUpstream(t)
	oldKey, newKey := seal.NewKey(), seal.NewKey()
	endpoint := func(keys string) clusterEndpoint {
		e := echoEndpoint(up.server.URL)
		e.keys = keys
		return e
	}
	c := startClusterFront(t, []string{"MCP_KEY_OLD=" + oldKey, "MCP_KEY_NEW=" + newKey}, "", endpoint("{env.MCP_KEY_OLD}"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func(n int) []*mcp.ClientSession {
		var out []*mcp.ClientSession
		for range n {
			cs := connectThrough(ctx, t, c.url+"/mcp", nil)
			t.Cleanup(func() { cs.Close() })
			out = append(out, cs)
		}
		return out
	}
	// use calls through every instance on each session.
	use := func(when string, sessions []*mcp.ClientSession) {
		t.Helper()
		for i, cs := range sessions {
			for j := range clusterInstances {
				if err := echoCall(ctx, cs, fmt.Sprintf("%s %d.%d", when, i, j)); err != nil {
					t.Fatalf("%s: session %d: %v", when, i, err)
				}
			}
		}
	}
	sealedWith := func(key, id string) bool {
		k, err := seal.ParseKey(key)
		if err != nil {
			t.Fatal(err)
		}
		ring, err := seal.NewRing(k)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ring.OpenSession(id, seal.Binding{Endpoint: "api"})
		return err == nil
	}

	old := connect(2)
	use("before the rotation", old)

	c.reload(endpoint("{env.MCP_KEY_NEW} {env.MCP_KEY_OLD}"))
	use("after key NEW OLD", old)
	fresh := connect(2)
	for i, cs := range fresh {
		if !sealedWith(newKey, cs.ID()) || sealedWith(oldKey, cs.ID()) {
			t.Errorf("session %d begun after key NEW OLD is not sealed with NEW", i)
		}
	}
	use("after key NEW OLD", fresh)

	c.reload(endpoint("{env.MCP_KEY_NEW}"))
	use("after key NEW", fresh)
	for i, cs := range old {
		for range clusterInstances {
			if status, body := pingThrough(t, c.url+"/mcp", cs.ID(), ""); status != http.StatusNotFound {
				t.Errorf("session %d sealed with OLD, after key NEW: %d %s, want 404", i, status, body)
			}
		}
	}
	if n := up.deletes.Load(); n != 0 {
		t.Errorf("the reloads sent %d DELETEs upstream", n)
	}
}

// TestClusterFrontConformanceHTTP runs the official conformance suite
// through the front, with the everything-server over stateful Streamable
// HTTP behind the instances: every scenario that passes against the server
// directly passes with requests spread over three instances.
func TestClusterFrontConformanceHTTP(t *testing.T) {
	upstreamURL := startEverythingServerHTTP(t)
	testConformanceThrough(t, func(t *testing.T) string {
		return startClusterFront(t, clusterKeyEnv(t), "", clusterEndpoint{
			path: "/mcp", name: "api", upstream: "http " + caddyfileQuote(upstreamURL)}).url + "/mcp"
	})
}

// TestClusterFrontKilled: an instance killed with SIGKILL (a lost node)
// ends no session of an HTTP upstream: every client goes on through the
// other instances, with the id it began with, and through the instance
// once it runs again.
func TestClusterFrontKilled(t *testing.T) {
	up := startEchoUpstream(t)
	c := startClusterFront(t, clusterKeyEnv(t), "", echoEndpoint(up.server.URL))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var sessions []*mcp.ClientSession
	for range 4 {
		cs := connectThrough(ctx, t, c.url+"/mcp", nil)
		defer cs.Close()
		sessions = append(sessions, cs)
	}
	use := func(when string) {
		t.Helper()
		for i, cs := range sessions {
			for j := range clusterInstances {
				if err := echoCall(ctx, cs, fmt.Sprintf("%s %d.%d", when, i, j)); err != nil {
					t.Fatalf("%s: session %d: %v", when, i, err)
				}
			}
		}
	}
	use("before the kill")
	ids := make([]string, len(sessions))
	for i, cs := range sessions {
		ids[i] = cs.ID()
	}
	c.kill(c.nodes[0])
	use("after the kill")
	c.start(c.nodes[0])
	c.waitRouted(c.nodes[0])
	use("after the restart")
	for i, cs := range sessions {
		if cs.ID() != ids[i] {
			t.Errorf("session %d changed id", i)
		}
	}
	if n := up.inits.Load(); n != int32(len(sessions)) {
		t.Errorf("the upstream saw %d sessions begin, want %d", n, len(sessions))
	}
}
