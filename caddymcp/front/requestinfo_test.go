package front

import (
	"net/http"
	"sync"
	"testing"
)

// infoLog records what Observer.OnRequest is told, by X-Test-Tag.
type infoLog struct {
	mu   sync.Mutex
	last map[string]RequestInfo
	seen map[string]int
}

func (l *infoLog) record(r *http.Request, info *RequestInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tag := r.Header.Get("X-Test-Tag")
	l.last[tag] = *info
	l.seen[tag]++
}

func (l *infoLog) get(tag string) (RequestInfo, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last[tag], l.seen[tag]
}

// TestOnRequestDescribesEachPost: the hook hears what each POST asks, the
// session an initialize started, and the session's revision when the
// request does not name one; a body that is not JSON-RPC tells it nothing.
func TestOnRequestDescribesEachPost(t *testing.T) {
	t.Parallel()
	log := &infoLog{last: map[string]RequestInfo{}, seen: map[string]int{}}
	h := newHarness(t, func(s *setup) { s.cfg.Observer = testObserver{onRequest: log.record} })

	rp := h.do(t, req{body: initBody(Version20250618), tag: "init"})
	wantStatus(t, rp, http.StatusOK)
	sid := rp.header.Get("Mcp-Session-Id")
	init, _ := log.get("init")
	if init.Method != "initialize" || init.SessionID != sid || init.ProtocolVersion != Version20250618 || string(init.RequestID) != "0" {
		t.Errorf("initialize described as %+v, want method initialize, session %q, version %s, id 0", init, sid, Version20250618)
	}

	wantStatus(t, h.do(t, req{sid: sid, body: toolCall("c-1", "echo"), tag: "call"}), http.StatusOK)
	call, _ := log.get("call")
	want := RequestInfo{Method: "tools/call", Target: "echo", SessionID: sid, ProtocolVersion: Version20250618}
	if call.Method != want.Method || call.Target != want.Target || call.SessionID != want.SessionID ||
		call.ProtocolVersion != want.ProtocolVersion || string(call.RequestID) != `"c-1"` || call.BatchSize != 0 {
		t.Errorf("call without a version header described as %+v, want %+v with id \"c-1\" (the session's revision)", call, want)
	}

	wantStatus(t, h.do(t, req{sid: sid, version: Version20250618, body: `{"jsonrpc":"2.0"`, tag: "bad"}), http.StatusBadRequest)
	if info, n := log.get("bad"); n != 0 {
		t.Errorf("a body that is not JSON-RPC was described as %+v", info)
	}
}
