package balance

import (
	"context"
	"errors"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// Call serves one 2026-07-28 request (upstream.Stateless). A request that
// carries a member's tagged cursor, requestState or task id goes to that member; any
// other goes to the member the policy selects (with turns of its own, apart
// from the sessions'), and when that member gives no answer, a retriable
// request (see retriable) tries the next one, up to Retries more. Members
// that speak only the 2025 revisions are passed over (ServesStateless), and
// one that shows it in its answer is passed over from then on; when all
// available members do, Call returns upstream.ErrSessionfulOnly, and the
// client falls back to initialize.
func (g *Group) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	name, msg := "", req.Message
	if len(g.members) > 1 {
		// A group of one tags nothing (callOn): a tag in the request is
		// its member's own (a shared stdio process's), which it reads.
		var err error
		name, msg, err = tags.Untag(req.Message, tags.All)
		if errors.Is(err, tags.ErrForged) {
			deliver(tags.Invalid(req.Message.ID), 200)
			return nil
		}
		if err != nil {
			return err
		}
	}
	if name != "" {
		// What a member minted only it understands: another member must
		// not get it, so a tag whose member cannot take it is invalid
		// (MCP: an invalid cursor is -32602), not routed elsewhere.
		m := g.taggedMember(name)
		if m == nil {
			deliver(tags.Invalid(req.Message.ID), 200)
			return nil
		}
		r := *req
		r.Message = msg
		r.Header = tags.Header(req.Header, msg)
		_, err := g.callOn(ctx, m, &r, deliver, false)
		if errors.Is(err, upstream.ErrSessionfulOnly) {
			deliver(tags.Invalid(req.Message.ID), 200) // it could not have minted it
			return nil
		}
		return err
	}
	again := retriable(req.Message)
	tried := make(map[*Member]bool)
	retries := g.retries
	sessionfulOnly := false
	var (
		held *heldFailure
		last error
	)
	for {
		m, passedOver := g.pickStateless(ctx, tried)
		if m == nil {
			switch {
			case held != nil:
				deliver(held.m, held.status)
				return nil
			case last != nil:
				return last
			case sessionfulOnly || passedOver:
				return upstream.ErrSessionfulOnly
			}
			return g.unavailable()
		}
		tried[m] = true
		hold := again && retries > 0
		failed, err := g.callOn(ctx, m, req, deliver, hold)
		switch {
		case errors.Is(err, upstream.ErrSessionfulOnly):
			sessionfulOnly = true
			continue // not a failure: another member may speak 2026
		case ctx.Err() != nil:
			return err
		case failed == nil && err == nil:
			return nil
		case !again || retries == 0:
			if failed != nil {
				deliver(failed.m, failed.status)
				return nil
			}
			return err
		}
		retries--
		held, last = failed, err
	}
}

// heldFailure is a member's made-up error answer held back while the
// request is tried on another member.
type heldFailure struct {
	m      *pipeline.Message
	status int
}

// callOn forwards the request to m. With hold, an answer the member never
// gave (the HTTP upstream's made-up error) is not delivered but returned,
// for the caller to retry elsewhere; an error return (a stdio member's
// failure) is returned either way. What m minted comes back tagged.
func (g *Group) callOn(ctx context.Context, m *Member, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int), hold bool) (*heldFailure, error) {
	st, ok := m.Upstream().(upstream.Stateless)
	if !ok {
		return nil, upstream.ErrSessionfulOnly
	}
	method := req.Message.Method
	many := len(g.members) > 1
	var failed *heldFailure
	delivered, legacy := false, false
	start := time.Now()
	err := st.Call(ctx, req, func(resp *pipeline.Message, status int) {
		if !resp.IsResponse() {
			delivered = true
			if many {
				resp = tags.Notification(resp, m.name, tags.All)
			}
			deliver(resp, status)
			return
		}
		if !delivered && legacyAnswer(method, resp, status) {
			legacy = true // not the client's answer: another member may serve it
			return
		}
		if hold && upstream.GatewayStatus(resp) != 0 {
			m.fail(time.Now(), "the upstream gave no answer to "+method)
			failed = &heldFailure{m: resp, status: status}
			return
		}
		if resp.Error != nil {
			m.judge(resp)
		} else {
			m.judgeLatency(time.Since(start), method)
		}
		if many {
			resp = tags.Tag(resp, method, m.name, tags.All)
		}
		deliver(resp, status)
	})
	if legacy || errors.Is(err, upstream.ErrSessionfulOnly) {
		m.sessionsOnly(time.Now())
		if err == nil && m.tripped() {
			m.succeed() // it answered: alive, if of the other era
		}
		return nil, upstream.ErrSessionfulOnly
	}
	if err != nil && ctx.Err() == nil {
		var busy *upstream.BusyError
		if !errors.As(err, &busy) {
			m.fail(time.Now(), method+" failed: "+err.Error())
		}
	}
	return failed, err
}
