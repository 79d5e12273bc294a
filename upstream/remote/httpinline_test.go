package remote

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// setInlineWaits sets how long an awaited Send waits for its answer, and
// a request for the end of the stream before it, for one test (the
// package's tests do not run in parallel).
func setInlineWaits(t *testing.T, first, more time.Duration) {
	t.Helper()
	oldFirst, oldMore, oldTail := inlineWait, inlineMore, tailWait
	inlineWait, inlineMore, tailWait = first, more, more
	t.Cleanup(func() { inlineWait, inlineMore, tailWait = oldFirst, oldMore, oldTail })
}

// sendAwaited sends raw as a request whose caller waits for its answer.
func sendAwaited(t *testing.T, c upstream.Conn, raw string) {
	t.Helper()
	if err := upstream.SendAwaited(context.Background(), c, mustParse(t, raw)); err != nil {
		t.Fatalf("Send(%s): %v", raw, err)
	}
}

// TestAwaitedAnsweredInline: an awaited request to a go-sdk server that
// answers at once is answered before Send returns, with a JSON answer and
// with an SSE stream, on the connection the earlier requests used. (The
// waits are long here so that a loaded machine cannot make the answer late;
// a late one would go on on a goroutine, which the tests below cover.)
func TestAwaitedAnsweredInline(t *testing.T) {
	setInlineWaits(t, 10*time.Second, 10*time.Second)
	for _, tc := range []struct {
		name string
		json bool
	}{{"SSE answers", false}, {"JSON answers", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := startGoSDKPeer(t, &mcp.StreamableHTTPOptions{JSONResponse: tc.json})
			h := newTestHTTP(t, Config{URL: p.srv.URL})
			rec := newHTTPRecorder()
			c := openConn(t, h, rec)
			warmUp(t, h, c, rec, "echo")
			conns := p.newConns.Load()
			for i := range 3 {
				id := `"inline-` + string(rune('a'+i)) + `"`
				sendAwaited(t, c, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"inline"}}}`)
				var answered bool
				for _, d := range rec.all() {
					if d.m.IsResponse() && string(d.m.ID) == id {
						answered = true
						if !strings.Contains(string(d.m.Result), "inline") || string(d.related) != id {
							t.Errorf("answer %s (related %s)", d.m.Raw, d.related)
						}
					}
				}
				if !answered {
					t.Fatalf("call %s: Send returned before its answer was delivered; have %s", id, rec.dump())
				}
			}
			if n := p.newConns.Load(); n != conns {
				t.Errorf("the awaited calls opened %d new connections, want 0 (each reuses the pooled one)", n-conns)
			}
		})
	}
}

// TestAwaitedSlowAnswerGoesOn: a server that takes longer than the wait
// does not hold Send up: the rest of the exchange goes on by itself, and
// the answer arrives once the server sends it. So does a stream that sends
// a progress notification first and answers later: the notification is
// delivered while the server still works (a server request there, such as
// an elicitation, must reach the client before the server can answer).
func TestAwaitedSlowAnswerGoesOn(t *testing.T) {
	setInlineWaits(t, 5*time.Millisecond, time.Millisecond)
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	reached := make(chan string, 4)
	srv := newScriptedServer(t, func(w http.ResponseWriter, _ *http.Request, id json.RawMessage, tool string) {
		reached <- tool
		switch tool {
		case "slow-json":
			<-release
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(id)+`,"result":{"content":[]}}`)
		case "progress-first":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n")
			w.(http.Flusher).Flush()
			<-release
			_, _ = io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":"+string(id)+",\"result\":{\"content\":[]}}\n\n")
		}
	})
	t.Cleanup(let) // cleanups run last first: before the server's Close, which waits for its handlers
	h := newTestHTTP(t, Config{URL: srv})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-06-18")

	returned := make(chan struct{})
	go func() {
		defer close(returned)
		sendAwaited(t, c, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow-json"}}`)
		sendAwaited(t, c, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"progress-first"}}`)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Send waited for a server that had not answered")
	}
	rec.waitFor(t, 1, func(d delivery) bool {
		return d.m.Method == "notifications/progress" && string(d.related) == "2"
	})
	for _, d := range rec.all() {
		if d.m.IsResponse() && (string(d.m.ID) == "1" || string(d.m.ID) == "2") {
			t.Fatalf("an answer came before the server sent it: %s", d.m.Raw)
		}
	}
	let()
	for _, id := range []string{"1", "2"} {
		if d := rec.response(t, id); d.m.Result == nil {
			t.Errorf("answer %s", d.m.Raw)
		}
	}
}

// TestAwaitedCancelEndsTheWait: a client's cancellation ends an awaited
// Send that waits for its answer on the caller's goroutine at once.
func TestAwaitedCancelEndsTheWait(t *testing.T) {
	setInlineWaits(t, time.Hour, time.Hour)
	aborted, testDone := make(chan struct{}), make(chan struct{})
	defer close(testDone)
	reached := make(chan string, 4)
	srv := newScriptedServer(t, func(_ http.ResponseWriter, r *http.Request, _ json.RawMessage, tool string) {
		reached <- tool
		select { // FAULT INJECTION: no answer until the POST is aborted
		case <-r.Context().Done():
			close(aborted)
		case <-testDone:
		}
	})
	h := newTestHTTP(t, Config{URL: srv})
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	handshake(t, c, rec, "2025-06-18")

	returned := make(chan struct{})
	go func() {
		defer close(returned)
		sendAwaited(t, c, `{"jsonrpc":"2.0","id":"hang","method":"tools/call","params":{"name":"hang"}}`)
	}()
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the server")
	}
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"hang"}}`)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancellation did not end the awaited Send's wait")
	}
	select {
	case <-aborted:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled request's POST was not aborted")
	}
}

// newScriptedServer starts a Streamable HTTP server that answers the
// handshake and notifications itself and hands each tools/call to call,
// and returns its URL.
func newScriptedServer(t *testing.T, call func(w http.ResponseWriter, r *http.Request, id json.RawMessage, tool string), connState ...func(net.Conn, http.ConnState)) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		switch {
		case m.Method == "initialize":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Mcp-Session-Id", "s1")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"t","version":"1"}}}`)
		case m.ID == nil || m.Method == "":
			w.WriteHeader(http.StatusAccepted)
		case r.Method == http.MethodPost:
			call(w, r, m.ID, m.Params.Name)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	if len(connState) > 0 {
		srv.Config.ConnState = connState[0]
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAwaitedStreamEndsLater: a server that sends its answer on an SSE
// stream and ends the stream only later (go-sdk sends the end in a write of
// its own) is answered before Send returns, without waiting for that end;
// the connection keeps the stream's rest, and the next request reads it
// and uses the same connection.
func TestAwaitedStreamEndsLater(t *testing.T) {
	setInlineWaits(t, 10*time.Second, 10*time.Second) // the stream's end comes once the test says so
	for _, tc := range []struct{ name, eol string }{{"LF lines", "\n"}, {"CRLF lines", "\r\n"}} {
		t.Run(tc.name, func(t *testing.T) {
			end := make(chan struct{})
			var newConns atomic.Int32
			srv := newScriptedServer(t, func(w http.ResponseWriter, _ *http.Request, id json.RawMessage, tool string) {
				if tool == "quick" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(id)+`,"result":{"content":[]}}`)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "event: message"+tc.eol+"data: {\"jsonrpc\":\"2.0\",\"id\":"+string(id)+",\"result\":{\"content\":[]}}"+tc.eol+tc.eol)
				w.(http.Flusher).Flush()
				<-end
			}, func(c net.Conn, s http.ConnState) {
				if s == http.StateNew {
					newConns.Add(1)
				}
			})
			h := newTestHTTP(t, Config{URL: srv})
			rec := newHTTPRecorder()
			c := openConn(t, h, rec)
			warmUp(t, h, c, rec, "quick")
			conns := newConns.Load()

			returned := make(chan struct{})
			go func() {
				defer close(returned)
				sendAwaited(t, c, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"answer-then-wait"}}`)
			}()
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				close(end)
				t.Fatal("Send waited for the end of a stream whose answer had come")
			}
			if !answeredNow(rec, "1") {
				t.Fatalf("Send returned before the answer was delivered: %s", rec.dump())
			}
			close(end)
			sendAwaited(t, c, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"quick"}}`)
			if !answeredNow(rec, "2") {
				t.Fatalf("the next call: Send returned before the answer was delivered: %s", rec.dump())
			}
			if n := newConns.Load() - conns; n != 0 {
				t.Errorf("%d new connections, want 0: the next request reads the stream's end and reuses the connection", n)
			}
		})
	}
}

// answeredNow reports whether the response with the raw id was delivered.
func answeredNow(rec *httpRecorder, id string) bool {
	for _, d := range rec.all() {
		if d.m.IsResponse() && string(d.m.ID) == id && d.m.Result != nil {
			return true
		}
	}
	return false
}

// TestTailMissPausesTails: a server that keeps a stream open after its
// answer costs the connection its next request would have used, and for a
// while streams are drained on a goroutine again; the answers are not
// late either way.
func TestTailMissPausesTails(t *testing.T) {
	setInlineWaits(t, 10*time.Second, 10*time.Millisecond)
	end := make(chan struct{})
	srv := newScriptedServer(t, func(w http.ResponseWriter, _ *http.Request, id json.RawMessage, tool string) {
		if tool == "quick" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(id)+`,"result":{"content":[]}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":"+string(id)+",\"result\":{\"content\":[]}}\n\n")
		w.(http.Flusher).Flush()
		<-end // FAULT INJECTION: the stream stays open after the answer
	})
	t.Cleanup(func() { close(end) }) // cleanups run last first: before the server's Close
	// One idle connection at most, so that the next request takes the one
	// put back with the rest.
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	h := newTestHTTP(t, Config{URL: srv, Transport: tr})
	raw := h.rt.(*rawClient)
	rec := newHTTPRecorder()
	c := openConn(t, h, rec)
	warmUp(t, h, c, rec, "quick")

	for i, want := range []bool{true, false} { // tails left before the miss, not after it
		id := strconv.Itoa(10 + i)
		sendAwaited(t, c, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"hold"}}`)
		if !answeredNow(rec, id) {
			t.Fatalf("call %s: Send returned before the answer was delivered: %s", id, rec.dump())
		}
		raw.mu.Lock()
		left := slices.ContainsFunc(raw.idle, func(c *rawConn) bool { return c.tail != nil })
		raw.mu.Unlock()
		if left != want {
			t.Fatalf("call %s: a connection put back with the stream's rest: %v, want %v", id, left, want)
		}
		// The next request finds the rest missing: that connection goes.
		sendAwaited(t, c, `{"jsonrpc":"2.0","id":"q`+id+`","method":"tools/call","params":{"name":"quick"}}`)
		rec.response(t, `"q`+id+`"`)
		if raw.tailsOK() {
			t.Fatalf("call %s: tails still left after a rest that did not come", id)
		}
	}
}

// warmUp initializes c's session and makes one call of tool, then waits
// until a pooled connection is idle (the handshake's last POST may still
// be draining its own): the next awaited call can be made inline.
func warmUp(t *testing.T, h *HTTP, c upstream.Conn, rec *httpRecorder, tool string) {
	t.Helper()
	handshake(t, c, rec, "2025-06-18")
	send(t, c, `{"jsonrpc":"2.0","id":"warm","method":"tools/call","params":{"name":"`+tool+`","arguments":{"text":"warm"}}}`)
	rec.response(t, `"warm"`)
	raw := h.rt.(*rawClient)
	eventually(t, "an idle connection", func() bool {
		raw.mu.Lock()
		defer raw.mu.Unlock()
		return len(raw.idle) > 0
	})
}
