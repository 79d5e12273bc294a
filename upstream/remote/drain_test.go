package remote

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestHTTPDrainIsBounded: once the response arrived on a response stream,
// what is left of the stream is read for at most drainTimeout, with the
// raw client (a read deadline on its connection) and with any other
// RoundTripper (cancelling the request). A server that keeps the stream
// open loses the connection; one that ends it keeps it, and the deadline
// does not follow the raw client's connection into the pool: the call
// after a pause longer than drainTimeout uses it again.
func TestHTTPDrainIsBounded(t *testing.T) {
	var held, ended atomic.Int32
	end := make(chan struct{}, 1)
	p := startPeer(t, fakeServer(func(w http.ResponseWriter, r *http.Request, m *pipeline.Message) {
		if m == nil {
			w.WriteHeader(http.StatusMethodNotAllowed) // no GET stream
			return
		}
		startSSE(w)
		writeSSE(w, "data: "+string(pipeline.NewResult(m.ID, []byte(`{"content":[]}`)).Raw)+"\n\n")
		if strings.Contains(string(m.Params), "hold") {
			held.Add(1)
			<-r.Context().Done() // the gateway gave up the stream
			ended.Add(1)
			return
		}
		// The stream ends once the gateway has the response: its drain
		// waits for the end, under the deadline it set.
		select {
		case <-end:
		case <-r.Context().Done():
		}
	}))
	for _, tc := range []struct {
		name string
		raw  bool
	}{{"raw client", true}, {"other RoundTripper", false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{URL: p.srv.URL}
			if !tc.raw {
				tr := defaultTransport()
				t.Cleanup(tr.CloseIdleConnections)
				cfg.Transport = roundTripFunc(tr.RoundTrip) // not an *http.Transport: no raw client
			}
			h := newTestHTTP(t, cfg)
			if _, ok := h.rt.(*rawClient); ok != tc.raw {
				t.Fatalf("the upstream's RoundTripper is %T", h.rt)
			}
			rec := newHTTPRecorder()
			c := openConn(t, h, rec)
			handshake(t, c, rec, "2025-11-25")
			n := 0
			call := func(args string) {
				t.Helper()
				n++
				id := strconv.Itoa(n)
				send(t, c, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`+args+`"}}}`)
				if d := rec.response(t, id); d.m.Error != nil {
					t.Fatalf("call %s: %s", id, d.m.Raw)
				}
				if args == "end" {
					end <- struct{}{}
				}
				// The exchange ends once the stream's end was read.
				eventually(t, "the exchange ends", func() bool { return len(c.(*httpConn).slots) == 0 })
			}
			call("end") // the notification's POST may still hold a connection
			conns := p.newConns.Load()
			call("end")
			time.Sleep(2 * drainTimeout) // past the deadline the drain set
			call("end")
			// http.Transport pools the connection after its body's EOF,
			// on its own goroutine: only the raw client's count is exact.
			if d := p.newConns.Load() - conns; d != 0 && tc.raw {
				t.Errorf("calls on streams that ended took %d new connections, want 0", d)
			}
			h0, e0 := held.Load(), ended.Load()
			call("hold")
			eventually(t, "the held stream is given up", func() bool { return ended.Load() == e0+1 })
			if held.Load() != h0+1 {
				t.Fatalf("held %d streams, want %d", held.Load(), h0+1)
			}
			call("end") // on another connection
			c.Close()
			h.Wait()
		})
	}
}
