package caddytest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"
)

// loadTransport is the transport of the tests' HTTP clients
// (http.DefaultClient, and so http.Get and go-sdk clients without a client
// of their own, and testClient's): a fresh http.Transport for each config
// load. A load shuts the old servers down, and every connection they
// accepted with them; a keep-alive connection the client pooled from
// before would carry the next request into a reset. Closing idle
// connections at the load is not enough: a response still being read
// while the load runs puts its connection in the pool afterwards. With a
// transport per load, no request after a load uses a connection from
// before it; the old transport's connections end as their servers close
// them.
type loadTransport struct {
	cur atomic.Pointer[http.Transport]
}

// testTransport is the one loadTransport of this test binary; TestMain
// makes it http.DefaultClient's.
var testTransport = newLoadTransport()

func newLoadTransport() *loadTransport {
	l := &loadTransport{}
	l.cur.Store(http.DefaultTransport.(*http.Transport).Clone())
	return l
}

// RoundTrip sends r on the current load's transport.
func (l *loadTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return l.cur.Load().RoundTrip(r)
}

// CloseIdleConnections closes the current transport's idle connections
// (http.Client.CloseIdleConnections calls it).
func (l *loadTransport) CloseIdleConnections() { l.cur.Load().CloseIdleConnections() }

// renew starts a new transport for the requests from now on.
func (l *loadTransport) renew() {
	old := l.cur.Swap(http.DefaultTransport.(*http.Transport).Clone())
	old.CloseIdleConnections()
}

// testClient is a client on testTransport with a timeout.
func testClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: testTransport}
}

// afterLoad is called after every config load: later requests of the
// tests' clients use new connections. caddytest's own admin clients use
// http.DefaultTransport, whose idle connections are closed too (the admin
// server restarts at a load).
func afterLoad() {
	testTransport.renew()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

// TestNoConnectionOutlivesALoad: a response that is still being read while
// a config load runs puts its keep-alive connection in the pool after the
// load (any request since the load, the tests' or Caddy's own, lifts the
// closing of idle connections); the tests' clients never send a later
// request on it. The server here is not Caddy, so that the connection stays
// open and its reuse is seen, not raced: after a load Caddy's old server
// closes it, and a request written on it meanwhile is reset.
func TestNoConnectionOutlivesALoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "kept alive")
	}))
	t.Cleanup(srv.Close)
	startProxy(t, idleSite)
	for _, tc := range []struct {
		name string
		c    *http.Client
	}{
		{"http.DefaultClient (http.Get, go-sdk clients without one)", http.DefaultClient},
		{"testClient", testClient(30 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// get sends a GET and reports the local address of its
			// connection; with hold, the body is left unread.
			get := func(trace httptrace.ClientTrace, hold bool) (string, *http.Response) {
				t.Helper()
				var local string
				trace.GotConn = func(info httptrace.GotConnInfo) { local = info.Conn.LocalAddr().String() }
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), &trace), http.MethodGet, srv.URL, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := tc.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if !hold {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				return local, resp
			}
			settled := make(chan error, 1)
			before, held := get(httptrace.ClientTrace{PutIdleConn: func(err error) { settled <- err }}, true)
			startProxy(t, idleSite+"# another config text: a load\n")
			get(httptrace.ClientTrace{}, false) // a request since the load
			_, _ = io.Copy(io.Discard, held.Body)
			held.Body.Close()
			<-settled // pooled, or refused by a transport that closed its idle connections
			if after, _ := get(httptrace.ClientTrace{}, false); after == before {
				t.Fatalf("a request after the config load went out on a connection from before it (%s)", before)
			}
		})
	}
}
