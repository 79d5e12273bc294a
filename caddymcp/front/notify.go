package front

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// maxNotices bounds the gateway notifications waiting to go out; an
// identical one already waiting is not queued twice.
const maxNotices = 16

// notice is a notification of the gateway's own, for every session.
type notice struct {
	method string
	params json.RawMessage
}

// noticeQueue holds the notices Notify was given until its sender, one
// goroutine at a time, has handed them to every session.
type noticeQueue struct {
	mu      sync.Mutex
	waiting []notice
	sending bool
}

// Notify sends a notification of the gateway's own (a tools list that
// changed because an operator approved a tool definition) to every live
// session, as if its server had sent it: it passes the session's pipeline
// and goes to the session's GET stream, whose buffer holds it until a
// client listens. 2026-07-28 requests have no session and do not hear it.
//
// It does not wait: the caller may be a session's own outbound worker (a
// stage), whose queue the delivery may have to wait for. Each session gets
// a message of its own, as stages may keep what they see.
func (st *Store) Notify(method string, params json.RawMessage) {
	q := &st.notices
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, n := range q.waiting {
		if n.method == method && bytes.Equal(n.params, params) {
			return // the one waiting says it already
		}
	}
	if len(q.waiting) >= maxNotices {
		q.waiting = q.waiting[1:]
	}
	q.waiting = append(q.waiting, notice{method: method, params: params})
	if !q.sending {
		q.sending = st.goTracked(st.sendNotices)
	}
}

// sendNotices hands the waiting notices to every live session, until none
// is left.
func (st *Store) sendNotices() {
	q := &st.notices
	for {
		q.mu.Lock()
		if len(q.waiting) == 0 {
			q.sending = false
			q.mu.Unlock()
			return
		}
		n := q.waiting[0]
		q.waiting = q.waiting[1:]
		q.mu.Unlock()
		st.mu.Lock()
		sessions := make([]*Session, 0, len(st.sessions))
		for _, s := range st.sessions {
			sessions = append(sessions, s)
		}
		st.mu.Unlock()
		for _, s := range sessions {
			if !s.isClosed() {
				s.Deliver(pipeline.NewNotification(n.method, n.params))
			}
		}
	}
}
