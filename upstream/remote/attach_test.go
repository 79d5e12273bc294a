package remote

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestHTTPAttachGoSDK: a second connection attached to a go-sdk server's
// existing session by its id serves requests in that session, as a second
// gateway instance would for a client whose first instance began it.
func TestHTTPAttachGoSDK(t *testing.T) {
	p, srv := startGoSDKPeer(t, nil)
	h := newTestHTTP(t, Config{URL: p.srv.URL + "/mcp"})
	first := newHTTPRecorder()
	handshake(t, openConn(t, h, first), first, "2025-06-18")
	sid := p.sessionID(t)

	second := newHTTPRecorder()
	c, err := h.Attach(context.Background(), second, upstream.Existing{SessionID: sid, Version: "2025-06-18"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	send(t, c, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"from the other instance"}}}`)
	if d := second.response(t, "9"); !strings.Contains(string(d.m.Result), "from the other instance") {
		t.Fatalf("tools/call through the attached conn: %s", d.m.Raw)
	}
	posts := p.requests(http.MethodPost)
	last := posts[len(posts)-1]
	if last.header.Get("Mcp-Session-Id") != sid || last.header.Get("Mcp-Protocol-Version") != "2025-06-18" {
		t.Errorf("the attached request carried session %q, revision %q", last.header.Get("Mcp-Session-Id"), last.header.Get("Mcp-Protocol-Version"))
	}
	if n := len(p.requests(http.MethodPost)); n != 4 { // initialize, initialized, Attach's ping, the call: no second handshake
		t.Errorf("server saw %d POSTs, want 4", n)
	}
	if sessionCount(srv) != 1 {
		t.Errorf("server has %d sessions, want the one", sessionCount(srv))
	}
	if _, err := h.Attach(context.Background(), newHTTPRecorder(), upstream.Existing{Version: "2025-06-18"}); err == nil {
		t.Error("Attach without a session id succeeded")
	}
	// A session the server does not have fails Attach, not the first Send.
	if _, err := h.Attach(context.Background(), newHTTPRecorder(), upstream.Existing{SessionID: "ended", Version: "2025-06-18"}); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("Attach to a session the server does not have: %v", err)
	}
}
