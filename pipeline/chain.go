package pipeline

import "context"

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
)

// Verdict is a stage's decision about one message.
type Verdict struct {
	// Action is what happens next.
	Action Action
	// Message replaces the message (Continue) or is the reply (Respond).
	// With Continue, nil means "unchanged".
	Message *Message
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
	Claim func(name string) (string, bool)
	// ClientIP is the client's address as Caddy determined it.
	ClientIP string
	// RequestMethod is, for a response, the method of the request it
	// answers ("" when unknown or for other messages).
	RequestMethod string
	// RequestTarget is, for a response, what the request it answers named
	// (Message.Target: a tool or prompt name, a resource URI).
	RequestTarget string
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
}

// NewChain builds a chain of the given stages.
func NewChain(stages ...Stage) *Chain {
	return &Chain{stages: stages}
}

// Len returns the number of stages.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.stages)
}

// Run passes m through every stage in ex.Direction's order and returns the
// final verdict. With Continue, Verdict.Message is the message to pass on
// (never nil); with Respond, it is the reply to send back to the sender; with
// Drop it is nil.
func (c *Chain) Run(ctx context.Context, ex *Exchange, m *Message) Verdict {
	n := c.Len()
	for i := range n {
		s := c.stages[i]
		if ex.Direction == ToClient {
			s = c.stages[n-1-i]
		}
		v := s.Handle(ctx, ex, m)
		switch v.Action {
		case Continue:
			if v.Message != nil {
				m = v.Message
			}
		case Respond:
			if v.Message == nil {
				return Verdict{Action: Drop}
			}
			return v
		default:
			return Verdict{Action: Drop}
		}
	}
	return Verdict{Action: Continue, Message: m}
}
