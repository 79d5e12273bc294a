package front

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcptrace"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// The requests a session has in flight: begun when a POST forwards one,
// answered by the server (respondCall), the gateway (fail), or a timeout.

// call is a client request waiting for the server's response.
type call struct {
	id     json.RawMessage
	stream *stream
	token  string // progress token key, "" if none
	method string
	target string              // what the request names (pipeline.Message.Target)
	post   http.ResponseWriter // of the POST that carried the request, for Observer.OnAnswer
	params json.RawMessage     // the request's params as the client sent them, for Observer.OnAnswer
	start  time.Time           // when it began, for Observer.OnAnswer (zero without it)
	timer  *time.Timer
	unhold context.CancelFunc               // ends a stage's hold on the request (stages_inbound.go), nil if not held
	policy Policy                           // whether a stage decided the answer (policy.go)
	claim  func(name string) (string, bool) // the claims of the POST that asked, for the stages on its response
	trace  *mcptrace.Request                // the request's span, nil when not traced
	// exchangeEnd ends the span of the exchange with the server
	// (tracing.go); nil when none is open. Under the session's mu.
	exchangeEnd func(answer *pipeline.Message, err error)
}

var (
	errSessionClosed = errors.New("session ended")
	errDuplicateID   = errors.New("a request with this id is already in flight in this session")
	errTooManyCalls  = errors.New("too many requests in flight in this session")
)

// begin registers request m as waiting for a response on st.
// claim is the asking POST's claims (Exchange.Claim): the response's
// stages judge it with the token that asked, not the session's first.
func (s *Session) begin(m *pipeline.Message, st *stream, post http.ResponseWriter, claim func(string) (string, bool), tr *mcptrace.Request) error {
	set := s.settings.Load()
	c := &call{id: m.ID, stream: st, method: m.Method, post: post, claim: claim, trace: tr}
	if t := m.ProgressToken(); t != nil {
		c.token = string(t)
	}
	// In a cluster the stream's event ids carry the target, for the
	// instance that may go on with the call (clusterresume.go).
	if set.observer != nil || !set.chain.Empty() || set.cluster != nil {
		c.target = m.Target()
	}
	if set.observer != nil {
		c.params, c.start = m.Params, time.Now()
	}
	return s.track(c, set)
}

// track registers call c as in flight, waiting for a response on its
// stream.
func (s *Session) track(c *call, set *sessionSettings) error {
	key := string(c.id)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return errSessionClosed
	case s.inflight[key] != nil:
		return errDuplicateID
	case set.maxInFlight > 0 && len(s.inflight) >= set.maxInFlight:
		return errTooManyCalls
	}
	if c.token != "" {
		s.tokens[c.token] = c.stream
	}
	if set.requestTimeout > 0 {
		c.timer = time.AfterFunc(set.requestTimeout, func() { s.timeout(key, c, set.requestTimeout) })
	}
	s.inflight[key] = c
	c.stream.expect()
	if set.cluster != nil {
		c.stream.noteAsk(c)
	}
	return nil
}

// takeCall removes the call with id key if it is still in flight.
func (s *Session) takeCall(key string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.inflight[key]
	if c == nil {
		return nil
	}
	s.dropCallLocked(key, c)
	return c
}

func (s *Session) dropCallLocked(key string, c *call) {
	delete(s.inflight, key)
	if c.token != "" && s.tokens[c.token] == c.stream {
		delete(s.tokens, c.token)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.unhold != nil {
		c.unhold() // a cancelled or answered request is held no longer
		s.forgetShiftLocked(c)
	}
}

// fail answers an in-flight request with an error, e.g. when it could not be
// sent upstream.
func (s *Session) fail(key string, code int, msg string) {
	if c := s.takeCall(key); c != nil {
		s.answerGateway(c, pipeline.NewError(c.id, code, msg))
	}
}

// failWith answers an in-flight request with the error response m (fail
// with an error data object).
func (s *Session) failWith(key string, m *pipeline.Message) {
	if c := s.takeCall(key); c != nil {
		s.answerGateway(c, m)
	}
}

// timeout answers a request that outlived request_timeout and tells the
// server to stop working on it.
func (s *Session) timeout(key string, c *call, after time.Duration) {
	s.mu.Lock()
	if s.inflight[key] != c {
		s.mu.Unlock()
		return
	}
	s.dropCallLocked(key, c)
	s.mu.Unlock()
	s.answerGateway(c, pipeline.NewError(c.id, pipeline.CodeRequestTimeout,
		"the upstream MCP server did not answer within request_timeout ("+after.String()+")"))
	s.sendGateway(pipeline.CancelledNotification(c.id, "request timed out at the gateway"))
}

// cancelled handles the client's notifications/cancelled: the stream of the
// cancelled request ends without a response, and any late response is
// dropped (the notification itself is forwarded by the caller).
func (s *Session) cancelled(m *pipeline.Message) {
	id := m.CancelledRequestID()
	if id == nil {
		return
	}
	if c := s.takeCall(string(id)); c != nil {
		c.stream.respond(nil)
	}
}

// respondCall answers call c (taken from the calls in flight) with m.
// Observer.OnAnswer hears of it first, so that what it records is in place
// by the time the POST's handler has written the answer.
func (s *Session) respondCall(c *call, m *pipeline.Message) {
	if c.trace != nil {
		s.endTrace(c, m) // tracing.go
	}
	if on := s.settings.Load().observer; on != nil {
		on.OnAnswer(Answered{Post: c.post, Method: c.method, Target: c.target, Params: c.params,
			Session: s.heldID(), User: s.user, Started: c.start, Answer: m, Policy: c.policy})
	}
	c.stream.respond(m)
}
