package pipeline_test

import (
	"context"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// tapLog is a tap that keeps every decision it hears.
type tapLog struct{ decisions []pipeline.Decision }

func (t *tapLog) Decided(_ context.Context, _ *pipeline.Exchange, d pipeline.Decision) {
	t.decisions = append(t.decisions, d)
}

// named is a stage that names itself.
type named struct {
	pipeline.Stage
	name string
}

func (n named) StageName() string { return n.name }

// TestChainTapHearsFinalDecision: a tap hears, once per message, the
// chain's final verdict — who decided it (the stage's own name for a part
// of itself, else the stage's name), whether the message changed, and, for
// a message that waited, the verdict after the wait with how a hold ended.
func TestChainTapHearsFinalDecision(t *testing.T) {
	edited := func(t *testing.T) *pipeline.Message {
		m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	pass := named{pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
		return pipeline.Verdict{}
	}), "observer"}
	tests := []struct {
		name        string
		stage       func(t *testing.T) pipeline.Stage
		wantAction  pipeline.Action
		wantBy      string
		wantChanged bool
		wantWaited  bool
		wantEnded   pipeline.HoldEnd
	}{
		{name: "passed names nobody", wantAction: pipeline.Continue,
			stage: func(*testing.T) pipeline.Stage { return pass }},
		{name: "a rewrite names the stage", wantAction: pipeline.Continue, wantBy: "rewriter", wantChanged: true,
			stage: func(t *testing.T) pipeline.Stage {
				m := edited(t)
				return named{pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
					return pipeline.Verdict{Message: m}
				}), "rewriter"}
			}},
		{name: "a part of a stage names itself", wantAction: pipeline.Respond, wantBy: "rule-7",
			stage: func(*testing.T) pipeline.Stage {
				return named{pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
					return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewError(m.ID, -32030, "no"), By: "rule-7"}
				}), "intercept"}
			}},
		{name: "an unnamed stage goes by its type", wantAction: pipeline.Drop, wantBy: "pipeline.StageFunc",
			stage: func(*testing.T) pipeline.Stage {
				return pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
					return pipeline.Verdict{Action: pipeline.Drop}
				})
			}},
		{name: "a hold released with an edit", wantAction: pipeline.Continue, wantBy: "approve", wantChanged: true,
			wantWaited: true, wantEnded: pipeline.HoldReleased,
			stage: func(t *testing.T) pipeline.Stage {
				m := edited(t)
				return named{pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
					return pipeline.WaitFor(func(context.Context) pipeline.Verdict {
						return pipeline.Verdict{Message: m, Ended: pipeline.HoldReleased}
					})
				}), "approve"}
			}},
		{name: "a hold that timed out into a block", wantAction: pipeline.Drop, wantBy: "approve",
			wantWaited: true, wantEnded: pipeline.HoldTimedOut,
			stage: func(*testing.T) pipeline.Stage {
				return named{pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
					return pipeline.WaitFor(func(context.Context) pipeline.Verdict {
						return pipeline.Verdict{Action: pipeline.Drop, Ended: pipeline.HoldTimedOut}
					})
				}), "approve"}
			}},
	}
	for _, tt := range tests {
		for _, dir := range directions {
			t.Run(tt.name+"/"+dir.String(), func(t *testing.T) {
				tap := &tapLog{}
				// An observer on either side: the decision is the whole chain's.
				chain := pipeline.NewChain(pass, tt.stage(t), pass).WithTaps(tap)
				m := testRequest(t)
				v := chain.Run(context.Background(), &pipeline.Exchange{Direction: dir}, m)
				if len(tap.decisions) != 1 {
					t.Fatalf("the tap heard %d decisions, want 1", len(tap.decisions))
				}
				d := tap.decisions[0]
				if d.Message != m || d.Verdict.Action != v.Action || d.Verdict.Message != v.Message {
					t.Errorf("the tap heard %+v, the caller got %+v", d, v)
				}
				if d.Verdict.Action != tt.wantAction || d.Verdict.By != tt.wantBy || d.Changed() != tt.wantChanged ||
					d.Waited != tt.wantWaited || d.Verdict.Ended != tt.wantEnded {
					t.Errorf("decision %+v (changed %v), want action %v by %q changed %v waited %v ended %q",
						d, d.Changed(), tt.wantAction, tt.wantBy, tt.wantChanged, tt.wantWaited, tt.wantEnded)
				}
			})
		}
	}
}

// TestChainTapsAlone: a chain of taps without stages passes every message
// unchanged and never waits, and is not Empty; WithTaps leaves the chain it
// extends as it was.
func TestChainTapsAlone(t *testing.T) {
	tap := &tapLog{}
	var base *pipeline.Chain
	chain := base.WithTaps(tap)
	if !base.Empty() || chain.Empty() || chain.Len() != 0 {
		t.Fatalf("Empty: base %v, with a tap %v; Len %d", base.Empty(), chain.Empty(), chain.Len())
	}
	m := testRequest(t)
	v := chain.Start(context.Background(), &pipeline.Exchange{}, m)
	if v.Action != pipeline.Continue || v.Message != m || len(tap.decisions) != 1 {
		t.Fatalf("verdict %+v, decisions %d", v, len(tap.decisions))
	}
	stages := pipeline.NewChain(pass0{})
	if tapped := stages.WithTaps(tap); tapped.Len() != 1 || stages.Empty() {
		t.Fatal("WithTaps lost the stages")
	}
	stages.Run(context.Background(), &pipeline.Exchange{}, m)
	if len(tap.decisions) != 1 {
		t.Error("WithTaps changed the chain it extends")
	}
}

type pass0 struct{}

func (pass0) Handle(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
	return pipeline.Verdict{}
}

// TestCancelledEnd: a wait cut short by its session's end says so; one cut
// short otherwise is a cancel.
func TestCancelledEnd(t *testing.T) {
	session, endSession := context.WithCancelCause(context.Background())
	request, cancelRequest := context.WithCancel(session)
	cancelRequest()
	if got := pipeline.CancelledEnd(request); got != pipeline.HoldCancelled {
		t.Errorf("a cancelled request: %q", got)
	}
	endSession(pipeline.ErrSessionEnded)
	held, stop := context.WithCancel(session)
	defer stop()
	if got := pipeline.CancelledEnd(held); got != pipeline.HoldSessionEnded {
		t.Errorf("a session that ended: %q", got)
	}
}
