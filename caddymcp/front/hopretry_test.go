package front

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// staleProxy is a fault injector in front of an owner: on its first
// connection it passes the first request and its answer, then takes the
// next request and closes the connection without an answer — the race of
// an owner closing a kept-alive connection (its idle timeout, a restart)
// just as a request is sent on it. With deliver, it first passes that
// request to the owner and reads the owner's answer, which is lost: the
// owner served it. Its other connections pass everything.
type staleProxy struct {
	ln      net.Listener
	owner   string // host:port
	deliver bool
	wg      sync.WaitGroup

	mu     sync.Mutex
	first  bool
	closed bool // the test ended: a connection accepted now is closed at once
	conns  []net.Conn
}

func startStaleProxy(t *testing.T, owner string, deliver bool) *staleProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &staleProxy{ln: ln, owner: owner, deliver: deliver, first: true}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *staleProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *staleProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		owner, err := net.Dial("tcp", p.owner)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		first, closed := p.first, p.closed
		p.first = false
		p.conns = append(p.conns, client, owner)
		p.mu.Unlock()
		if closed {
			_ = client.Close()
			_ = owner.Close()
			continue
		}
		if first {
			p.wg.Go(func() { p.stale(client, owner) })
			continue
		}
		p.wg.Go(func() { _, _ = io.Copy(owner, client); _ = owner.Close() })
		p.wg.Go(func() { _, _ = io.Copy(client, owner); _ = client.Close() })
	}
}

// stale serves the first connection: one exchange, then the drop.
func (p *staleProxy) stale(client, owner net.Conn) {
	defer client.Close()
	defer owner.Close()
	cr, or := bufio.NewReader(client), bufio.NewReader(owner)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(cr)
		if err != nil {
			return
		}
		if n == 2 && !p.deliver {
			return
		}
		if req.Write(owner) != nil {
			return
		}
		resp, err := http.ReadResponse(or, req)
		if err != nil {
			return
		}
		if n == 2 {
			_, _ = io.Copy(io.Discard, resp.Body)
			return
		}
		if resp.Write(client) != nil {
			return
		}
	}
}

// TestHopRetriesStaleConnection: B forwards a session's requests to its
// owner A over a kept-alive connection, which A closes just as B sends the
// second one. A request A never read is sent again, with its token, on a
// new connection, and served: the client keeps its session (failed before:
// 404, the session lost). A request A read and served, whose answer was
// lost, is sent again too, and A refuses its token as a replay: the call
// ran once.
func TestHopRetriesStaleConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		deliver bool
		status  int
		calls   int // the second call's runs on A's upstream
	}{
		{name: "the owner never read it", status: http.StatusOK, calls: 1},
		{name: "the owner served it, the answer was lost", deliver: true, status: http.StatusNotFound, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := testRing(t)
			a, b := newNode(t, ring), newNode(t, ring)
			proxy := startStaleProxy(t, strings.TrimPrefix(a.ts.URL, "http://"), tc.deliver)
			a.c.Node = proxy.url() // the owner the ids name: A, through the proxy
			sid := begin(t, a, "alice")
			ctx := context.Background()
			if resp, body := send(t, ctx, http.MethodPost, b.ts.URL, sid, "alice", toolCall(1, "first")); resp.StatusCode != http.StatusOK {
				t.Fatalf("the first call through B: %d %s", resp.StatusCode, body)
			}
			resp, body := send(t, ctx, http.MethodPost, b.ts.URL, sid, "alice", toolCall(2, "second"))
			if resp.StatusCode != tc.status {
				t.Errorf("the call on the stale connection: %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if n := strings.Count(a.up.conn(t, 0).receivedSummary(), `"second"`); n != tc.calls {
				t.Errorf("A's upstream got the second call %d times, want %d", n, tc.calls)
			}
		})
	}
}

// TestStatelessHopRetriesStaleConnection: a 2026-07-28 request that B
// forwards to the owner of its task over a kept-alive connection the owner
// closes just as the request goes is sent again, with its token, on a new
// connection: the client gets the task, not -32602. Failed before.
func TestStatelessHopRetriesStaleConnection(t *testing.T) {
	ring := testRing(t)
	a, b := newTaskNode(t, ring), newTaskNode(t, ring)
	proxy := startStaleProxy(t, strings.TrimPrefix(a.ts.URL, "http://"), false)
	a.c.Node, a.node = proxy.url(), proxy.url()
	task := createTask(t, a, "alice")
	for i := range 2 {
		status, _, body := postTask(t, b.ts.URL, "alice", "tasks/get", taskBody(10+i, "tasks/get", task), nil)
		if m := decodeMsg(t, []byte(body)); status != http.StatusOK || m.Error != nil {
			t.Fatalf("tasks/get %d through B: %d %s", i+1, status, body)
		}
	}
	if got := a.served(); got != 2 {
		t.Errorf("A's upstream served %d requests, want 2", got)
	}
}
