package caddytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// The cluster of cluster_front_test.go with a stdio upstream: each instance
// runs the go-sdk everything-server (the one TestConformanceStdio runs) as
// processes of its own, and a request for a session that lands on another
// instance than the process's is forwarded to the owner's node_url.

// stdioEverythingEndpoint is the api endpoint with the everything-server at
// bin over stdio, each instance naming itself in node_url; options are
// lines of the stdio block.
func stdioEverythingEndpoint(bin string, options ...string) clusterEndpoint {
	upstream := "stdio " + caddyfileQuote(bin)
	if len(options) > 0 {
		upstream += " {\n\t\t\t" + strings.Join(options, "\n\t\t\t") + "\n\t\t}"
	}
	return clusterEndpoint{path: "/mcp", name: "api", upstream: upstream, nodeURL: true}
}

// TestClusterFrontConformanceStdio runs the official conformance suite
// through the front with the everything-server over stdio behind the
// instances: every scenario that passes against the server directly passes
// with requests spread over three instances, two of every three of them
// forwarded to the instance that runs the session's process.
func TestClusterFrontConformanceStdio(t *testing.T) {
	bin := buildEverythingServer(t)
	testConformanceThrough(t, func(t *testing.T) string {
		return startClusterFront(t, clusterKeyEnv(t), "", stdioEverythingEndpoint(bin)).url + "/mcp"
	})
}

// TestClusterFrontStdioKilled: an instance killed with SIGKILL ends the
// stdio sessions whose processes it ran, and only those. Through the front
// (so through every instance left), each of them is 404, the go-sdk client
// reports the session gone, and a new session works; every session owned
// by another instance goes on, with the id it began with, and so does every
// session of an HTTP upstream the instances also serve.
func TestClusterFrontStdioKilled(t *testing.T) {
	requireIntegration(t)
	env := clusterKeyEnv(t)
	up := startEchoUpstream(t)
	// protocol legacy: the everything-server speaks 2026-07-28 too, and the
	// go-sdk client would then use it, which has no sessions.
	c := startClusterFront(t, env, "", stdioEverythingEndpoint(buildEverythingServer(t), "protocol legacy"),
		clusterEndpoint{path: "/echo", name: "echo", upstream: "http " + up.server.URL})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	owners := sessionOwners(t, env)
	sessions, count := connectOwnedByEach(ctx, t, c, owners, 2)
	var httpSessions []*mcp.ClientSession
	for range clusterInstances {
		cs := connectThrough(ctx, t, c.url+"/echo", nil)
		t.Cleanup(func() { cs.Close() })
		httpSessions = append(httpSessions, cs)
	}
	// use calls a tool on each session once through every instance running.
	use := func(when string, sessions []*mcp.ClientSession, instances int) {
		t.Helper()
		for i, cs := range sessions {
			for range instances {
				if got := callText(ctx, t, cs, "test_simple_text", nil); got == "" {
					t.Fatalf("%s: session %d answered no text", when, i)
				}
			}
		}
	}
	useHTTP := func(when string) {
		t.Helper()
		for i, cs := range httpSessions {
			for j := range clusterInstances {
				if err := echoCall(ctx, cs, fmt.Sprintf("%s %d.%d", when, i, j)); err != nil {
					t.Fatalf("%s: HTTP session %d: %v", when, i, err)
				}
			}
		}
	}
	use("before the kill", sessions, clusterInstances)
	useHTTP("before the kill")

	killed := c.nodes[0]
	var gone, live []*mcp.ClientSession
	ids := map[*mcp.ClientSession]string{}
	for _, cs := range append(sessions, httpSessions...) {
		ids[cs] = cs.ID()
	}
	for _, cs := range sessions {
		if owners(cs.ID()) == killed.base {
			gone = append(gone, cs)
		} else {
			live = append(live, cs)
		}
	}
	c.kill(killed)

	use("after the kill", live, clusterInstances-1)
	useHTTP("after the kill")
	checkSessionsGone(ctx, t, c, gone)
	// The client begins again, on an instance still running.
	again := connectThrough(ctx, t, c.url+"/mcp", nil)
	defer again.Close()
	if owners(again.ID()) == killed.base {
		t.Errorf("a session begun after the kill is owned by the killed instance")
	}
	use("a new session", []*mcp.ClientSession{again}, clusterInstances-1)
	use("after the new session", live, clusterInstances-1)
	for i, cs := range append(live, httpSessions...) {
		if cs.ID() != ids[cs] {
			t.Errorf("session %d that went on changed id", i)
		}
	}
	t.Logf("killed instance 0: %d stdio sessions ended; %d stdio sessions of other instances and %d of the HTTP upstream went on (owners %v)",
		len(gone), len(live), len(httpSessions), count)
}

// connectOwnedByEach connects go-sdk clients through the front to /mcp
// until every instance owns at least least of their sessions (round robin
// places each initialize on the next instance), and returns the sessions
// and how many each owner (by node_url) has.
func connectOwnedByEach(ctx context.Context, t *testing.T, c *clusterFront, owners func(string) string, least int) ([]*mcp.ClientSession, map[string]int) {
	t.Helper()
	var sessions []*mcp.ClientSession
	count := map[string]int{}
	for len(count) < clusterInstances || minCount(count) < least {
		if len(sessions) == 4*least*clusterInstances {
			t.Fatalf("%d sessions, owned %v", len(sessions), count)
		}
		cs := connectThrough(ctx, t, c.url+"/mcp", nil)
		t.Cleanup(func() { cs.Close() })
		sessions = append(sessions, cs)
		count[owners(cs.ID())]++
	}
	for _, n := range c.nodes {
		if count[n.base] == 0 {
			t.Fatalf("no session owned by instance %d (%s): owners %v", n.index, n.base, count)
		}
	}
	return sessions, count
}

// checkSessionsGone checks that each of the sessions is 404 through every
// instance left, and that the go-sdk client reports it gone.
func checkSessionsGone(ctx context.Context, t *testing.T, c *clusterFront, gone []*mcp.ClientSession) {
	t.Helper()
	for i, cs := range gone {
		for range clusterInstances - 1 {
			if status, body := pingThrough(t, c.url+"/mcp", cs.ID(), ""); status != http.StatusNotFound {
				t.Errorf("session %d of the killed instance: %d %s, want 404", i, status, body)
			}
		}
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
		if !errors.Is(err, mcp.ErrSessionMissing) {
			t.Errorf("session %d of the killed instance: the client reports %v, want the session missing", i, err)
		}
	}
}

// sessionOwners returns a function naming the node_url of the instance
// that owns a session id sealed with the key in env: the id carries it.
func sessionOwners(t *testing.T, env []string) func(id string) string {
	t.Helper()
	encoded, ok := strings.CutPrefix(env[0], "MCP_SESSION_KEY=")
	if len(env) != 1 || !ok {
		t.Fatalf("no cluster key in %q", env)
	}
	key, err := seal.ParseKey(encoded)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewRing(key)
	if err != nil {
		t.Fatal(err)
	}
	return func(id string) string {
		t.Helper()
		s, err := ring.OpenSession(id, seal.Binding{Endpoint: "api"})
		if err != nil || s.Owner == "" {
			t.Fatalf("session id %q names no owner: %v", id, err)
		}
		return s.Owner
	}
}

// minCount returns the smallest count in m.
func minCount(m map[string]int) int {
	least := -1
	for _, n := range m {
		if least < 0 || n < least {
			least = n
		}
	}
	return least
}
