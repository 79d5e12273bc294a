package front

import "github.com/caddy-mcp/caddy-mcp/pipeline"

// Policy says whether the gateway's policy — a pipeline stage — rather
// than the server decided the answer a request got (Answered.Policy), so
// that what counts and shows answers can tell a rule's refusal from a
// server's failure.
type Policy uint8

// The deciders of an answer.
const (
	// PolicyNone: the server answered, or the gateway failed on its own
	// (a timeout, an upstream that could not be reached).
	PolicyNone Policy = iota
	// PolicyBlocked: a stage refused the request or the server's answer
	// (an interception rule's block, a hidden name, an operator's block
	// of a held message, a stage that dropped it).
	PolicyBlocked
	// PolicyMocked: a stage answered with a result in the server's place
	// (an interception rule's mock, an operator's answer to a held
	// message).
	PolicyMocked
)

// String is the policy's name as metrics and the call log show it.
func (p Policy) String() string {
	switch p {
	case PolicyBlocked:
		return "blocked"
	case PolicyMocked:
		return "mocked"
	}
	return ""
}

// replyPolicy is the policy of a stage's reply in place of the receiver
// (pipeline.Respond): a result is a mock, an error a refusal.
func replyPolicy(reply *pipeline.Message) Policy {
	if reply != nil && reply.Result != nil {
		return PolicyMocked
	}
	return PolicyBlocked
}

// replacedPolicy is the policy of a server's response that the pipeline
// let through as replacement: a result a stage turned into an error was
// blocked; anything else stays the server's answer.
func replacedPolicy(server, out *pipeline.Message) Policy {
	if out != server && server.Error == nil && out != nil && out.Error != nil {
		return PolicyBlocked
	}
	return PolicyNone
}

// refuse answers the in-flight request key with the gateway's error, as
// the pipeline's refusal (PolicyBlocked).
func (s *Session) refuse(key string, code int, msg string) {
	if c := s.takeCall(key); c != nil {
		c.policy = PolicyBlocked
		s.answerGateway(c, pipeline.NewError(c.id, code, msg))
	}
}

// markPolicy records that the answer to the in-flight request key, still
// on its way, was decided by p.
func (s *Session) markPolicy(key string, p Policy) {
	if p == PolicyNone {
		return
	}
	s.mu.Lock()
	if c := s.inflight[key]; c != nil {
		c.policy = p
	}
	s.mu.Unlock()
}
