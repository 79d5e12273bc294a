package remote

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestReadJSONMessages: a JSON answer is read into a recycled buffer, so
// reading and parsing it costs only the message (its copy of the body and
// the message with its list); readBounded's bounding reader and 512-byte
// buffer made four allocations in all.
func TestReadJSONMessages(t *testing.T) {
	const answer = `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello"}]}}`
	tests := []struct {
		name, body    string
		limit         int
		n             int
		tooLarge, bad bool
	}{
		{name: "one message", body: answer, limit: 1 << 10, n: 1},
		{name: "a batch", body: "[" + answer + "," + answer + "]", limit: 1 << 10, n: 2},
		{name: "at the limit", body: answer, limit: len(answer), n: 1},
		{name: "over the limit", body: answer + " ", limit: len(answer), tooLarge: true},
		{name: "not JSON-RPC", body: `{"x":`, limit: 1 << 10, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, tooLarge, rerr, perr := readJSONMessages(strings.NewReader(tt.body), tt.limit)
			if len(msgs) != tt.n || tooLarge != tt.tooLarge || rerr != nil || (perr != nil) != tt.bad {
				t.Fatalf("%d messages, tooLarge %v, read error %v, parse error %v", len(msgs), tooLarge, rerr, perr)
			}
		})
	}
	if raceEnabled {
		return
	}
	var r strings.Reader
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(answer)
		if msgs, _, _, err := readJSONMessages(&r, 1<<10); err != nil || len(msgs) != 1 || string(msgs[0].ID) != "7" {
			t.Fatalf("%v, %v", msgs, err)
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations to read and parse a JSON answer, want at most 2", allocs)
	}
}

// countingConn counts the reads and writes made on a connection: the
// system calls the gateway makes on it for each call.
type countingConn struct {
	net.Conn
	reads, writes *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestHTTPOneWriteOneReadPerCall: with a go-sdk server answering in JSON,
// each tools/call is one write of the request and one read of the whole
// answer on one kept-alive connection (the raw client's path), the
// answer read to its end so that the connection is used again.
func TestHTTPOneWriteOneReadPerCall(t *testing.T) {
	p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{JSONResponse: true})
	var dials, reads, writes atomic.Int64
	tr := defaultTransport()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, reads: &reads, writes: &writes}, nil
	}
	t.Cleanup(tr.CloseIdleConnections)
	h := newTestHTTP(t, Config{URL: p.srv.URL + "/mcp", Transport: tr})
	if _, ok := h.rt.(*rawClient); !ok {
		t.Fatalf("the upstream's RoundTripper is %T, want the raw client", h.rt)
	}
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-06-18")
	call := func(id string) {
		send(t, c, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`)
		if d := rec.response(t, id); !strings.Contains(string(d.m.Result), "hi") {
			t.Fatalf("tools/call response %s", d.m.Raw)
		}
	}
	// The notification's POST may still hold its connection when Send
	// returns (its empty body is read after): a first call may dial.
	call("99")
	const calls = 20
	d0, r0, w0 := dials.Load(), reads.Load(), writes.Load()
	for i := range calls {
		call(strconv.Itoa(100 + i))
	}
	if d, r, w := dials.Load()-d0, reads.Load()-r0, writes.Load()-w0; d != 0 || r != calls || w != calls {
		t.Errorf("%d calls took %d dials, %d reads and %d writes; want 0, %d and %d", calls, d, r, w, calls, calls)
	}
}
