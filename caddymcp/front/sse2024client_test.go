package front

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The client side of the 2024-11-05 HTTP+SSE transport, for sse2024_test.go.

// sse2024Path is where the legacy tests open their streams, so the endpoint
// event has a path to repeat.
const sse2024Path = "/mcp"

// sse2024Client is an open 2024-11-05 session: its event stream and what
// the endpoint event announced.
type sse2024Client struct {
	h        *harness
	stream   *sseStream
	endpoint string // the endpoint event's data, e.g. /mcp?sessionId=<id>
	sid      string
	user     string             // X-Test-User of the GET, sent on every POST
	close    context.CancelFunc // closes the GET stream
}

// withTarget makes the request hr go to target (a path with a query) on the
// test server instead of its root.
func (h *harness) withTarget(t testing.TB, hr *http.Request, target string) {
	t.Helper()
	u, err := url.Parse(h.srv.URL + target)
	if err != nil {
		t.Fatal(err)
	}
	hr.URL = u
}

// sendAt is harness.send for a request to target.
func (h *harness) sendAt(t testing.TB, ctx context.Context, target string, r req) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	hr, err := h.build(ctx, r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h.withTarget(t, hr, target)
	timer := time.AfterFunc(waitLimit, cancel) // bounds the wait for the headers
	resp, err := h.srv.Client().Do(hr)
	if !timer.Stop() {
		cancel()
		if err == nil {
			resp.Body.Close()
		}
		t.Fatalf("%s %s: timed out after %v waiting for the response headers", hr.Method, target, waitLimit)
	}
	if err != nil {
		cancel()
		t.Fatalf("%s %s: %v", hr.Method, target, err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	return resp
}

// doAt sends r to target and reads the whole answer, within waitLimit.
func (h *harness) doAt(t testing.TB, target string, r req) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	hr, err := h.build(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	h.withTarget(t, hr, target)
	resp, err := h.srv.Client().Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", hr.Method, target, err)
	}
	defer resp.Body.Close()
	rp, err := readReply(resp)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", hr.Method, target, err)
	}
	return rp
}

// openSSE2024 opens a legacy session as an HTTP+SSE client does (a GET
// without Mcp-Session-Id at sse2024Path) and checks the endpoint event,
// which must come first.
func (h *harness) openSSE2024(t testing.TB, r req) *sse2024Client {
	t.Helper()
	r.method = http.MethodGet
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp := h.sendAt(t, ctx, sse2024Path, r)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("legacy GET: want a 200 event stream, got %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		t.Errorf("legacy GET answered with Mcp-Session-Id %q; the id belongs in the endpoint event only", sid)
	}
	lc := &sse2024Client{h: h, stream: newSSEStream(t, resp), user: r.user, close: cancel}
	ev := lc.stream.nextBlock(t) // the very first block, comments included
	if ev.event != "endpoint" || !ev.hasData || len(ev.comments) > 0 {
		t.Fatalf("the first event is %+v, want an endpoint event", ev)
	}
	u, err := url.Parse(ev.data)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path != sse2024Path {
		t.Fatalf("endpoint %q: want a relative URI with path %s (err %v)", ev.data, sse2024Path, err)
	}
	lc.endpoint, lc.sid = ev.data, u.Query().Get("sessionId")
	if lc.sid == "" || len(u.Query()) != 1 {
		t.Fatalf("endpoint %q does not carry exactly the sessionId", ev.data)
	}
	return lc
}

// post sends a legacy POST of body to the endpoint, as the TypeScript SDK's
// SSEClientTransport does (Accept application/json, no session header).
func (lc *sse2024Client) post(t testing.TB, body string) reply {
	t.Helper()
	return lc.h.doAt(t, lc.endpoint, req{accept: "application/json", user: lc.user, body: body})
}

// send posts body and expects 202 with an empty body.
func (lc *sse2024Client) send(t testing.TB, body string) {
	t.Helper()
	rp := lc.post(t, body)
	wantStatus(t, rp, http.StatusAccepted)
	if len(rp.body) != 0 || rp.isSSE() {
		t.Errorf("a legacy POST was answered with a body: %s", rp)
	}
}

// next returns the next message event of the stream.
func (lc *sse2024Client) next(t testing.TB) (sseEvent, rpcMsg) {
	t.Helper()
	ev, m := lc.stream.nextMessage(t)
	if ev.event != "message" {
		t.Errorf("event %+v: want event: message", ev)
	}
	return ev, m
}

// nextResponse returns the next message and checks it is the response to id.
func (lc *sse2024Client) nextResponse(t testing.TB, id string) rpcMsg {
	t.Helper()
	_, m := lc.next(t)
	if string(m.ID) != id || m.Method != "" || (m.Result == nil && m.Error == nil) {
		t.Fatalf("got %s, want the response to %s", m.raw, id)
	}
	return m
}

// initialize runs the handshake over the legacy transport.
func (lc *sse2024Client) initialize(t testing.TB, version string) {
	t.Helper()
	lc.send(t, initBody(version))
	if m := lc.nextResponse(t, "0"); m.Error != nil || !strings.Contains(string(m.Result), `"protocolVersion":"`+version+`"`) {
		t.Fatalf("initialize: %s", m.raw)
	}
	lc.send(t, rpcNotification("notifications/initialized", ""))
}
