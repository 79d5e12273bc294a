package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
)

// Direction tells which way a message travels.
type Direction uint8

// The two directions.
const (
	// ToServer is client → upstream server.
	ToServer Direction = iota
	// ToClient is upstream server → client.
	ToClient
)

// String names the direction for logs.
func (d Direction) String() string {
	if d == ToClient {
		return "to_client"
	}
	return "to_server"
}

// Action is what a stage decides about a message.
type Action uint8

// The actions a stage may take.
const (
	// Continue passes the message (or its replacement) to the next stage.
	Continue Action = iota
	// Respond stops the message and sends Verdict.Message back to its
	// sender instead, as the answer to a request.
	Respond
	// Drop discards the message. A dropped request is answered by the caller
	// with an error, so nothing is lost silently.
	Drop
	// Wait means the stage's decision takes time (a delay, an operator's
	// decision): Verdict.Pending waits and returns the decision. A caller of
	// Chain.Start runs Resume off its own goroutine, so that the message
	// holds up only itself; Chain.Run calls it in place.
	Wait
)

// Verdict is a stage's decision about one message.
type Verdict struct {
	// Action is what happens next.
	Action Action
	// Message replaces the message (Continue) or is the reply (Respond).
	// With Continue, nil means "unchanged".
	Message *Message
	// Pending, with Wait, is the decision that takes time.
	Pending *Pending
	// By names what decided, for taps and logs: a stage sets it to a part
	// of itself (an interception rule's name); "" stands for the stage. On
	// the chain's final verdict it names the last stage that changed,
	// answered, dropped or held the message ("" when none did).
	By string
	// Ended, on the verdict a held message's Pending returns, says how the
	// hold ended; "" for a wait that was not a hold (a delay).
	Ended HoldEnd
}

// HoldEnd says how a hold ended (Verdict.Ended).
type HoldEnd string

// How holds end.
const (
	// HoldReleased: someone decided (an operator continued, edited,
	// blocked or answered the message).
	HoldReleased HoldEnd = "released"
	// HoldTimedOut: nobody decided in time; the hold's timeout action applied.
	HoldTimedOut HoldEnd = "timeout"
	// HoldCancelled: the client cancelled the request (or went away).
	HoldCancelled HoldEnd = "cancelled"
	// HoldSessionEnded: the message's session ended.
	HoldSessionEnded HoldEnd = "session_end"
)

// ErrSessionEnded is the cause (context.Cause) of a session's context once
// the session has ended, so that a stage whose wait ends with it can tell a
// session's end from a cancelled request (CancelledEnd).
var ErrSessionEnded = errors.New("the session ended")

// CancelledEnd is how a hold whose ctx ended was ended: with the session
// (HoldSessionEnded) or with the request (HoldCancelled).
func CancelledEnd(ctx context.Context) HoldEnd {
	if errors.Is(context.Cause(ctx), ErrSessionEnded) {
		return HoldSessionEnded
	}
	return HoldCancelled
}

// Pending is a decision a stage takes time to make. (A pointer, so that
// Verdict stays comparable.)
type Pending struct {
	resume func(ctx context.Context) Verdict
}

// NewPending wraps resume, which waits for the decision and returns it; it
// must return when ctx ends (with Drop).
func NewPending(resume func(ctx context.Context) Verdict) *Pending {
	return &Pending{resume: resume}
}

// Resume waits for the decision and returns it. From Chain.Start it is the
// final verdict of the whole chain, never Wait.
func (p *Pending) Resume(ctx context.Context) Verdict {
	if p == nil || p.resume == nil {
		return Verdict{Action: Drop}
	}
	return p.resume(ctx)
}

// WaitFor returns the verdict of a stage that decides later, through resume.
func WaitFor(resume func(ctx context.Context) Verdict) Verdict {
	return Verdict{Action: Wait, Pending: NewPending(resume)}
}

// Exchange describes where a message is: the direction and the session.
// Stages must not keep it beyond the call.
type Exchange struct {
	// Direction is the way the message travels.
	Direction Direction
	// SessionID is the client-facing session id ("" for stateless requests).
	SessionID string
	// ProtocolVersion is the client's negotiated MCP revision.
	ProtocolVersion string
	// User is the authenticated user's id as Caddy's authentication set it
	// ({http.auth.user.id}), "" for anonymous clients.
	User string
	// Claim looks up one claim of the authenticated user
	// ({http.auth.user.<name>}, e.g. "scopes"); nil when there is no user.
	// For a response they are the claims of the HTTP request that carried
	// the request it answers (its token's), not the session's first.
	Claim func(name string) (string, bool)
	// ClientIP is the client's address as Caddy determined it.
	ClientIP string
	// RequestMethod is, for a response, the method of the request it
	// answers ("" when unknown or for other messages).
	RequestMethod string
	// RequestTarget is, for a response, what the request it answers named
	// (Message.Target: a tool or prompt name, a resource URI).
	RequestTarget string
	// Gateway says the gateway made the message itself rather than relay
	// it: its own error answers (a request_timeout, an upstream that
	// failed, a session that ended) and the cancels it sends. Such messages
	// pass the same stages, so rules and taps see them too.
	Gateway bool
	// Servers, on an endpoint of several MCP servers (federation), names
	// the server a request of method naming target goes to and that
	// server's own name for target ("" for both when it cannot tell); nil
	// on an endpoint of one server. Read it through Server.
	Servers func(method, target string) (server, own string)
}

// Server returns the federated server m (or, for a response, the request
// it answers) concerns and the name that server knows its target by; ""
// for both without federation or when the endpoint cannot tell. A
// completion/complete concerns the server of the prompt or resource
// template it completes (Message.ServerQuery).
func (ex *Exchange) Server(m *Message) (server, own string) {
	if ex.Servers == nil {
		return "", ""
	}
	if m.Kind == KindRequest {
		return ex.Servers(m.ServerQuery())
	}
	return ex.Servers(ex.Method(m), ex.Target(m))
}

// Method returns the method a rule about m judges: m's own, or for a
// response the method of the request it answers.
func (ex *Exchange) Method(m *Message) string {
	if m.Kind == KindResponse {
		return ex.RequestMethod
	}
	return m.Method
}

// Target returns what m (or, for a response, the request it answers)
// names: a tool or prompt name, a resource URI.
func (ex *Exchange) Target(m *Message) string {
	if m.Kind == KindResponse {
		return ex.RequestTarget
	}
	return m.Target()
}

// Stage sees a message and decides what happens to it. A stage that only
// observes returns Verdict{} (Continue, unchanged). A stage may block, for
// example to delay a message, but must return when ctx is done.
type Stage interface {
	Handle(ctx context.Context, ex *Exchange, m *Message) Verdict
}

// StageFunc adapts a function to Stage.
type StageFunc func(ctx context.Context, ex *Exchange, m *Message) Verdict

// Handle calls f.
func (f StageFunc) Handle(ctx context.Context, ex *Exchange, m *Message) Verdict {
	return f(ctx, ex, m)
}

// Chain is the ordered list of stages. Messages to the server pass the stages
// first to last; messages to the client pass them last to first, so a stage
// sees the answers to what it let through in the mirror order, like HTTP
// middleware. The zero Chain (and a nil *Chain) has no stages and costs
// nothing.
type Chain struct {
	stages []Stage
	names  []string // each stage's name (Namer, else its type)
	taps   []Tap
}

// Namer is a stage that names itself for taps and logs (Verdict.By when
// the stage does not name a part of itself). A stage without it is named
// by its Go type.
type Namer interface {
	StageName() string
}

// Tap hears the chain's final decision about every message: a recorder, a
// counter. It runs on the goroutine that carried the message, once the
// decision is final (after a hold, when the hold ends), so it must not
// block. Taps cost the messages nothing when there are none, and a chain
// with taps but no stages runs them alone.
type Tap interface {
	Decided(ctx context.Context, ex *Exchange, d Decision)
}

// Decision is the chain's final decision about one message, as taps hear it.
type Decision struct {
	// Message is the message as it arrived at the chain.
	Message *Message
	// Verdict is the final verdict: Continue with the message that goes on
	// (Verdict.Message, the same pointer when unchanged), Respond with the
	// reply sent back instead, or Drop. By and Ended say who decided and
	// how a hold ended.
	Verdict Verdict
	// Waited says that a stage made the message wait (a delay or a hold).
	Waited bool
}

// Changed reports whether the message that goes on differs from the one
// that arrived.
func (d *Decision) Changed() bool {
	return d.Verdict.Action == Continue && d.Verdict.Message != nil && d.Verdict.Message != d.Message
}

// NewChain builds a chain of the given stages.
func NewChain(stages ...Stage) *Chain {
	names := make([]string, len(stages))
	for i, s := range stages {
		if n, ok := s.(Namer); ok {
			names[i] = n.StageName()
		} else {
			names[i] = fmt.Sprintf("%T", s)
		}
	}
	return &Chain{stages: stages, names: names}
}

// WithTaps returns a chain of c's stages whose final decisions taps hear
// (c itself is unchanged; a nil c has no stages).
func (c *Chain) WithTaps(taps ...Tap) *Chain {
	out := &Chain{}
	if c != nil {
		*out = *c
	}
	out.taps = append(append([]Tap(nil), out.taps...), taps...)
	return out
}

// Len returns the number of stages.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.stages)
}

// Empty reports whether the chain has neither stages nor taps: then
// messages need not pass it at all.
func (c *Chain) Empty() bool {
	return c == nil || len(c.stages) == 0 && len(c.taps) == 0
}

// Run passes m through every stage in ex.Direction's order and returns the
// final verdict. With Continue, Verdict.Message is the message to pass on
// (never nil); with Respond, it is the reply to send back to the sender; with
// Drop it is nil. A stage that waits (Wait) is waited for in place.
func (c *Chain) Run(ctx context.Context, ex *Exchange, m *Message) Verdict {
	v := c.Start(ctx, ex, m)
	if v.Action == Wait {
		return v.Pending.Resume(ctx)
	}
	return v
}

// Start is Run for a caller that can let a message wait on its own: when a
// stage waits, Start returns Wait at once, and Verdict.Pending waits, runs the
// rest of the chain and returns the final verdict (never Wait). ex must stay
// unchanged until Resume returns.
func (c *Chain) Start(ctx context.Context, ex *Exchange, m *Message) Verdict {
	v := c.from(ctx, ex, m, 0)
	if c == nil || len(c.taps) == 0 {
		return v
	}
	if v.Action != Wait {
		c.tell(ctx, ex, Decision{Message: m, Verdict: v})
		return v
	}
	pending := v.Pending
	return WaitFor(func(ctx context.Context) Verdict {
		v := pending.Resume(ctx)
		c.tell(ctx, ex, Decision{Message: m, Verdict: v, Waited: true})
		return v
	})
}

// tell gives the taps a final decision.
func (c *Chain) tell(ctx context.Context, ex *Exchange, d Decision) {
	for _, t := range c.taps {
		t.Decided(ctx, ex, d)
	}
}

// from runs the stages from position i (in ex.Direction's order).
func (c *Chain) from(ctx context.Context, ex *Exchange, m *Message, i int) Verdict {
	n := c.Len()
	var by string
	for ; i < n; i++ {
		at := i
		if ex.Direction == ToClient {
			at = n - 1 - i
		}
		v := c.stages[at].Handle(ctx, ex, m)
		if v.By == "" && (v.Action != Continue || v.Message != nil && v.Message != m) {
			v.By = c.names[at]
		}
		if v.Action == Wait {
			return c.waiting(ex, m, v.Pending, i+1, v.By)
		}
		v, done := c.decided(m, v)
		if done {
			return v
		}
		if v.Message != m {
			by = v.By
		}
		m = v.Message
	}
	return Verdict{Action: Continue, Message: m, By: by}
}

// waiting is the verdict of a chain whose stage before next waits: the
// rest runs once pending decided. (A function of its own, so that the
// closure does not move from's variables to the heap.)
func (c *Chain) waiting(ex *Exchange, m *Message, pending *Pending, next int, by string) Verdict {
	return WaitFor(func(ctx context.Context) Verdict {
		v := pending.Resume(ctx)
		ended := v.Ended
		for v.Action == Wait {
			v = v.Pending.Resume(ctx) // a stage may wait more than once
			ended = cmp.Or(v.Ended, ended)
		}
		v.By = cmp.Or(v.By, by)
		v = c.after(ctx, ex, m, v, next)
		v.Ended = cmp.Or(v.Ended, ended)
		return v
	})
}

// after applies a resumed stage's verdict and runs the stages after it;
// their own waits are waited for in place, since Resume already runs off
// the caller's goroutine. The final verdict names the resumed stage unless
// a later one acted.
func (c *Chain) after(ctx context.Context, ex *Exchange, m *Message, v Verdict, next int) Verdict {
	v, done := c.decided(m, v)
	if done {
		return v
	}
	by := v.By
	v = c.from(ctx, ex, v.Message, next)
	if v.Action == Wait {
		v = v.Pending.Resume(ctx)
	}
	v.By = cmp.Or(v.By, by)
	return v
}

// decided folds one stage's verdict: done with the chain's final verdict
// for Respond and Drop; otherwise the message to go on with.
func (c *Chain) decided(m *Message, v Verdict) (Verdict, bool) {
	switch v.Action {
	case Continue:
		if v.Message == nil {
			v.Message = m
		}
		return Verdict{Action: Continue, Message: v.Message, By: v.By, Ended: v.Ended}, false
	case Respond:
		if v.Message == nil {
			return Verdict{Action: Drop, By: v.By, Ended: v.Ended}, true
		}
		return Verdict{Action: Respond, Message: v.Message, By: v.By, Ended: v.Ended}, true
	default:
		return Verdict{Action: Drop, By: v.By, Ended: v.Ended}, true
	}
}
