package remote

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// dropServer is a fault injector: an HTTP/1.1 server that, on its first
// connection, answers the first request and then takes the next one and
// closes the connection without a word — the race of a server closing a
// kept-alive connection (its idle timeout, a restart) just as a request is
// sent on it. Other connections answer every request "ok". With
// closeFirst, the first connection is closed at its first request.
type dropServer struct {
	ln         net.Listener
	closeFirst bool
	wg         sync.WaitGroup

	mu       sync.Mutex
	closed   bool // the test ended: a connection accepted now is closed at once
	conns    int
	received []string // method and body of each request read, in order
	keyed    []bool   // whether each carried an Idempotency-Key on the wire
	open     []net.Conn
}

func startDropServer(t *testing.T, closeFirst bool) *dropServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dropServer{ln: ln, closeFirst: closeFirst}
	s.wg.Go(s.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.open {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *dropServer) url() string { return "http://" + s.ln.Addr().String() + "/mcp" }

func (s *dropServer) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		first, closed := s.conns == 1, s.closed
		s.open = append(s.open, conn)
		s.mu.Unlock()
		if closed {
			_ = conn.Close()
			continue
		}
		s.wg.Go(func() { s.serve(conn, first) })
	}
}

func (s *dropServer) serve(conn net.Conn, first bool) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		s.mu.Lock()
		s.received = append(s.received, req.Method+" "+string(body))
		s.keyed = append(s.keyed, req.Header.Get("Idempotency-Key") != "")
		s.mu.Unlock()
		if first && (n == 2 || s.closeFirst) {
			return // read, and dropped unanswered
		}
		if _, err := io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

func (s *dropServer) log() (received []string, keyed []bool, conns int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.received...), append([]bool(nil), s.keyed...), s.conns
}

// failingWrites is a connection whose writes fail, writing nothing, once
// armed: a connection the server reset while it was idle.
type failingWrites struct {
	net.Conn
	armed *bool
	mu    *sync.Mutex
}

func (c failingWrites) Write(p []byte) (int, error) {
	c.mu.Lock()
	armed := *c.armed
	c.mu.Unlock()
	if armed {
		return 0, syscall.EPIPE
	}
	return c.Conn.Write(p)
}

// TestRawClientRetriesStaleConnection: a request whose pooled connection
// the server closed before answering is made again on a new connection
// when net/http's Transport would make it again — a GET; a POST marked
// idempotent (the Idempotency-Key entry without a value is not sent);
// a POST of which nothing was written — and not otherwise: a POST the
// server read stays failed, read once (an MCP call is not made twice), and
// so does a request on a new connection. Failed before: every one failed.
func TestRawClientRetriesStaleConnection(t *testing.T) {
	for _, tc := range []struct {
		name       string
		method     string
		idempotent bool
		resetIdle  bool // the second request's writes fail, writing nothing
		closeFirst bool // the first connection is dropped at its first request
		ok         bool
		received   []string
		conns      int
	}{
		{name: "GET", method: http.MethodGet, ok: true,
			received: []string{"GET ", "GET ", "GET "}, conns: 2},
		{name: "POST with an Idempotency-Key entry", method: http.MethodPost, idempotent: true, ok: true,
			received: []string{"POST one", "POST two", "POST two"}, conns: 2},
		{name: "POST", method: http.MethodPost, ok: false,
			received: []string{"POST one", "POST two"}, conns: 1},
		{name: "POST of which nothing was written", method: http.MethodPost, resetIdle: true, ok: true,
			received: []string{"POST one", "POST two"}, conns: 2},
		{name: "GET on a new connection", method: http.MethodGet, closeFirst: true, ok: false,
			received: []string{"GET "}, conns: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startDropServer(t, tc.closeFirst)
			tr := defaultTransport()
			var mu sync.Mutex
			armed := false
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil || !tc.resetIdle {
					return c, err
				}
				// Only the first connection goes bad.
				mu.Lock()
				defer mu.Unlock()
				if tc.resetIdle {
					tc.resetIdle = false
					return failingWrites{Conn: c, armed: &armed, mu: &mu}, nil
				}
				return c, nil
			}
			u, _ := url.Parse(s.url())
			c := newRawClient(tr, u)
			t.Cleanup(c.closeIdle)
			send := func(body string) error {
				var rd io.Reader
				if tc.method == http.MethodPost {
					rd = bytes.NewReader([]byte(body))
				}
				req, _ := http.NewRequest(tc.method, s.url(), rd)
				if tc.idempotent {
					req.Header["Idempotency-Key"] = nil
				}
				resp, err := c.RoundTrip(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err == nil && string(b) != "ok" {
					err = errors.New("answered " + string(b))
				}
				return err
			}
			if err := send("one"); err != nil != tc.closeFirst {
				t.Fatalf("the first request: %v", err)
			}
			if tc.closeFirst {
				_, _, conns := s.log()
				if conns != tc.conns {
					t.Errorf("%d connections, want %d", conns, tc.conns)
				}
				return
			}
			mu.Lock()
			armed = true
			mu.Unlock()
			err := send("two")
			if (err == nil) != tc.ok {
				t.Errorf("the request on the stale connection: %v, want success %v", err, tc.ok)
			}
			received, keyed, conns := s.log()
			if strings.Join(received, "|") != strings.Join(tc.received, "|") || conns != tc.conns {
				t.Errorf("the server read %q on %d connections, want %q on %d", received, conns, tc.received, tc.conns)
			}
			for i, k := range keyed {
				if k {
					t.Errorf("request %d carried an Idempotency-Key on the wire", i+1)
				}
			}
		})
	}
}
