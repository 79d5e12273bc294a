package intercept

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
)

// Engine is a pipeline stage that evaluates rules in order.
type Engine struct {
	rules              []*compiledRule
	toServer, toClient bool // some rule applies in that direction
	logger             *zap.Logger

	holds    *hold.Registry // where pause holds messages; nil: a pause times out at once
	endpoint string         // names the endpoint in what pause holds
	maxHeld  int            // bounds the endpoint's held messages (0: no bound)

	onAction   func(rule, action string) // OnAction; nil: nobody counts
	maxDecode  int64                     // MaxDecode
	onTooLarge func(rule string)         // OnTooLarge; nil: nobody counts
}

// OnAction makes the engine call f with the rule's name and the action
// (block, mock, set, …) each time a matching rule reaches one of its
// actions, where the engine decides (the Caddy face counts them). f must
// be quick and safe for concurrent use. Call it before the engine serves.
func (e *Engine) OnAction(f func(rule, action string)) { e.onAction = f }

// HoldIn makes pause rules hold their messages in r, under the endpoint's
// name, at most max of them at once (0: no bound; beyond it a pause's
// timeout action applies at once).
func (e *Engine) HoldIn(r *hold.Registry, endpoint string, max int) {
	e.holds, e.endpoint, e.maxHeld = r, endpoint, max
}

// New compiles rules into an Engine. The error names the rule and what is
// wrong with it. logger receives the log action's lines and a line per
// blocked message (nil: none).
func New(rules []Rule, logger *zap.Logger) (*Engine, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	e := &Engine{logger: logger, maxDecode: DefaultMaxDecode}
	names := make(map[string]bool, len(rules))
	for i, r := range rules {
		c, err := compile(i, r)
		if err != nil {
			return nil, err
		}
		if names[c.name] {
			return nil, fmt.Errorf("intercept rule %q: the name is given twice", c.name)
		}
		names[c.name] = true
		e.toServer = e.toServer || c.toServer
		e.toClient = e.toClient || c.toClient
		e.rules = append(e.rules, c)
	}
	warn(rules, logger)
	return e, nil
}

// Len returns the number of rules.
func (e *Engine) Len() int { return len(e.rules) }

// Handle evaluates the rules on m (pipeline.Stage). A delay makes the
// verdict Wait: the rest of the evaluation runs when the delay is over, on
// the goroutine of the caller's choosing (pipeline.Chain.Start).
func (e *Engine) Handle(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	if ex.Direction == pipeline.ToServer && !e.toServer || ex.Direction == pipeline.ToClient && !e.toClient {
		return pipeline.Verdict{}
	}
	return e.run(newEvaluation(ex, m, e.maxDecode), 0, 0, false)
}

// run evaluates from action a of rule r on; resumed says that rule r
// already matched (the evaluation went on after a delay).
func (e *Engine) run(st *evaluation, ri, ai int, resumed bool) pipeline.Verdict {
	for ; ri < len(e.rules); ri, ai, resumed = ri+1, 0, false {
		r := e.rules[ri]
		if !resumed {
			j := r.matches(st)
			if j == noMatch {
				continue
			}
			st.unjudged = e.unjudged(st, r, j)
		}
		for ; ai < len(r.actions); ai++ {
			a := r.actions[ai]
			if e.onAction != nil {
				e.onAction(r.name, a.kind)
			}
			switch a.kind {
			case ActionBlock:
				if st.unjudged != "" {
					return e.block(st, r, st.unjudged)
				}
				return e.block(st, r, a.message)
			case ActionMock:
				return byRule(mock(st, a.result), r)
			case ActionSet:
				raw, err := pipeline.SetAt(st.raw, a.ptr, a.value)
				if err != nil {
					e.logger.Warn("intercept: set did not apply", zap.String("rule", r.name), zap.Error(err))
					continue
				}
				st.edit(raw, r)
			case ActionRemove:
				if raw, ok := pipeline.RemoveAt(st.raw, a.ptr); ok {
					st.edit(raw, r)
				}
			case ActionDelay:
				nextRule, nextAction := ri, ai+1
				return pipeline.WaitFor(func(ctx context.Context) pipeline.Verdict {
					if !sleep(ctx, a.delay) {
						return pipeline.Verdict{Action: pipeline.Drop}
					}
					return e.run(st, nextRule, nextAction, true)
				})
			case ActionLog:
				e.log(st, r, a.level)
			case ActionPause:
				next := ri + 1
				return byRule(pipeline.WaitFor(func(ctx context.Context) pipeline.Verdict {
					return e.pause(ctx, st, r, a, next)
				}), r)
			}
		}
	}
	if !st.dirty {
		if st.m != st.original {
			return pipeline.Verdict{Message: st.m, By: st.by}
		}
		return pipeline.Verdict{}
	}
	return pipeline.Verdict{Message: st.message(e.logger), By: st.by}
}

// byRule names rule r as what decided v.
func byRule(v pipeline.Verdict, r *compiledRule) pipeline.Verdict {
	v.By = r.name
	return v
}

// block answers what the rule blocked: a request gets an error with its id
// (to_server: the client gets it; to_client: the server does), a response
// is replaced by an error with its id, a notification is dropped.
func (e *Engine) block(st *evaluation, r *compiledRule, message string) pipeline.Verdict {
	m := st.message(e.logger)
	cid := pipeline.NewCorrelationID()
	e.logger.Info("intercept: a rule blocked a message", st.fields(r, zap.String("correlation_id", cid))...)
	if m.IsNotification() {
		return pipeline.Verdict{Action: pipeline.Drop, By: r.name}
	}
	data := json.RawMessage(`{"rule":` + r.blockData + `,"correlation_id":"` + cid + `"}`)
	reply := pipeline.NewErrorWithData(m.ID, CodeBlocked, message, data)
	if m.IsRequest() {
		return pipeline.Verdict{Action: pipeline.Respond, Message: reply, By: r.name}
	}
	return pipeline.Verdict{Message: reply, By: r.name}
}

// mock answers a request with result instead of passing it on, replaces a
// response's result, and drops a notification.
func mock(st *evaluation, result json.RawMessage) pipeline.Verdict {
	m := st.m
	switch {
	case m.IsRequest():
		return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewResult(m.ID, result)}
	case m.IsResponse():
		return pipeline.Verdict{Message: pipeline.NewResult(m.ID, result)}
	}
	return pipeline.Verdict{Action: pipeline.Drop}
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// compact returns raw without insignificant space.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// pause holds the message until an operator decides or the timeout passes;
// a continue resumes the evaluation with rule next.
func (e *Engine) pause(ctx context.Context, st *evaluation, r *compiledRule, a compiledAction, next int) pipeline.Verdict {
	m := st.message(e.logger)
	method, target := st.what()
	entry := hold.Entry{Endpoint: e.endpoint, Rule: r.name, Session: st.ex.SessionID, User: st.ex.User,
		Direction: st.ex.Direction.String(), Method: method, Client: hold.ClientOf(st.ex.User, st.ex.ClientIP)}
	if method == "tools/call" {
		entry.Tool = target
	}
	d := hold.Decision{Kind: hold.TimedOut}
	if e.holds != nil {
		var ok bool
		if d, ok = e.holds.Hold(ctx, entry, m, e.maxHeld, a.delay); !ok {
			e.logger.Warn("intercept: max_held messages, or this client's share of them, are held already; the pause's timeout action applies at once",
				st.fields(r, zap.Int("max_held", e.maxHeld))...)
		}
	}
	v := e.decide(ctx, st, r, a, d, next)
	v.By = cmp.Or(v.By, r.name)
	return v
}

// decide carries out an operator's decision d about a paused message (or
// the pause's timeout action) and says how the hold ended.
func (e *Engine) decide(ctx context.Context, st *evaluation, r *compiledRule, a compiledAction, d hold.Decision, next int) pipeline.Verdict {
	var v pipeline.Verdict
	switch d.Kind {
	case hold.Continue:
		if d.Message != nil {
			st.replace(d.Message, r)
		}
		v = e.run(st, next, 0, false)
	case hold.Block:
		msg := d.Reason
		if msg == "" {
			msg = "blocked by the gateway's operator"
		}
		v = e.block(st, r, msg)
	case hold.Respond:
		v = byRule(mock(st, d.Result), r)
	case hold.Cancelled:
		return pipeline.Verdict{Action: pipeline.Drop, Ended: pipeline.CancelledEnd(ctx)}
	default: // timed out
		if a.then == ThenContinue {
			v = e.run(st, next, 0, false)
		} else {
			v = e.block(st, r, "held for the gateway's operator, who did not decide within "+a.delay.String())
		}
		v.Ended = pipeline.HoldTimedOut
		return v
	}
	v.Ended = pipeline.HoldReleased
	return v
}
