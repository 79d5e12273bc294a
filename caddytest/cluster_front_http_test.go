package caddytest

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
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
