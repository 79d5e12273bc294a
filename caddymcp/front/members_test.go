package front

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestAmbiguousMembersRefused: a POST whose members a Go server would read
// otherwise than the gateway (issue 20's measured bypasses) is answered 400
// with -32600 naming the member, and the upstream never sees it.
func TestAmbiguousMembersRefused(t *testing.T) {
	t.Parallel()
	watch, err := pipeline.NewWatch("/params/arguments/path")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(s *setup) { s.cfg.Watch = watch })
	const v = Version20250618
	sid := h.initialize(t, v)
	call := func(id int, params string) string { return rpcRequest(id, "tools/call", params) }
	tests := []struct {
		name, body, says string
		modern           bool // a 2026-07-28 stateless request (no session)
	}{
		{"name and Name", call(1, `{"name":"safe","Name":"danger"}`), `duplicate member "name" (also "Name") in /params`, false},
		{"NAME alone", call(2, `{"NAME":"danger"}`), `member "NAME" in /params must be spelled "name"`, false},
		{"escaped Name", call(3, `{"name":"safe","\u004eame":"danger"}`), `duplicate member "name" (also "Name")`, false},
		{"arguments and ARGUMENTS", call(4, `{"name":"safe","arguments":{"path":"/tmp"},"ARGUMENTS":{"path":"/etc/passwd"}}`), `duplicate member "arguments" (also "ARGUMENTS")`, false},
		{"argumentſ", call(5, `{"name":"safe","argumentſ":{"path":"/etc/passwd"}}`), `must be spelled "arguments"`, false},
		{"Path that a rule reads", call(6, `{"name":"safe","arguments":{"Path":"/etc/passwd"}}`), `member "Path" in /params/arguments must be spelled "path"`, false},
		{"path twice", call(7, `{"name":"safe","arguments":{"path":"/tmp","path":"/etc/passwd"}}`), `duplicate member "path" in /params/arguments`, false},
		{"stateless Name", `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"safe","Name":"danger","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, `duplicate member "name" (also "Name")`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req{sid: sid, version: v, body: tt.body}
			if tt.modern {
				r = req{version: "2026-07-28", body: tt.body}
			}
			rp := h.do(t, r)
			wantStatus(t, rp, http.StatusBadRequest)
			m := rp.only(t)
			if m.Error == nil || m.Error.Code != pipeline.CodeInvalidRequest || !strings.Contains(m.Error.Message, tt.says) {
				t.Fatalf("answer %s, want -32600 saying %q", rp, tt.says)
			}
		})
	}
	// A well-formed call afterwards reaches the upstream, and is the only
	// tools/call it saw: the refused ones never got there.
	rp := h.do(t, req{sid: sid, version: v, body: call(99, `{"name":"safe","arguments":{"path":"/tmp"}}`)})
	wantStatus(t, rp, http.StatusOK)
	c := h.up.conn(t, 0)
	c.waitMethod(t, "tools/call", "99")
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.received {
		if m.Method == "tools/call" && string(m.ID) != "99" {
			t.Errorf("the upstream received a refused message: %s", m.Raw)
		}
	}
}
