package pipeline_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func testRequest(t testing.TB) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recorder collects the names of the stages that ran, in order.
type recorder struct{ calls []string }

// observe returns a stage that records its name and the message it saw.
func (r *recorder) observe(name string, seen *[]*pipeline.Message) pipeline.Stage {
	return pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		r.calls = append(r.calls, name)
		if seen != nil {
			*seen = append(*seen, m)
		}
		return pipeline.Verdict{}
	})
}

// fixed returns a stage that records its name and returns v.
func (r *recorder) fixed(name string, v pipeline.Verdict) pipeline.Stage {
	return pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
		r.calls = append(r.calls, name)
		return v
	})
}

var directions = []pipeline.Direction{pipeline.ToServer, pipeline.ToClient}

func TestChainEmptyPassesThrough(t *testing.T) {
	chains := []struct {
		name string
		c    *pipeline.Chain
	}{
		{"nil", nil},
		{"NewChain()", pipeline.NewChain()},
		{"zero", &pipeline.Chain{}},
	}
	for _, tc := range chains {
		for _, d := range directions {
			t.Run(tc.name+"/"+d.String(), func(t *testing.T) {
				m := testRequest(t)
				if tc.c.Len() != 0 {
					t.Errorf("Len = %d, want 0", tc.c.Len())
				}
				v := tc.c.Run(context.Background(), &pipeline.Exchange{Direction: d}, m)
				if v.Action != pipeline.Continue {
					t.Errorf("Action = %v, want Continue", v.Action)
				}
				if v.Message != m {
					t.Errorf("Message = %p, want the same pointer %p", v.Message, m)
				}
			})
		}
	}
}

func TestChainObserversKeepPointer(t *testing.T) {
	var r recorder
	c := pipeline.NewChain(r.observe("a", nil), r.observe("b", nil))
	m := testRequest(t)
	v := c.Run(context.Background(), &pipeline.Exchange{}, m)
	if v.Action != pipeline.Continue || v.Message != m {
		t.Errorf("verdict = %+v, want Continue with the same pointer", v)
	}
}

func TestChainLen(t *testing.T) {
	var r recorder
	for n := range 4 {
		stages := make([]pipeline.Stage, n)
		for i := range stages {
			stages[i] = r.observe("s", nil)
		}
		if got := pipeline.NewChain(stages...).Len(); got != n {
			t.Errorf("Len = %d, want %d", got, n)
		}
	}
}

func TestChainOrder(t *testing.T) {
	tests := []struct {
		dir  pipeline.Direction
		want []string
	}{
		{pipeline.ToServer, []string{"a", "b", "c"}},
		{pipeline.ToClient, []string{"c", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir.String(), func(t *testing.T) {
			var r recorder
			c := pipeline.NewChain(r.observe("a", nil), r.observe("b", nil), r.observe("c", nil))
			c.Run(context.Background(), &pipeline.Exchange{Direction: tt.dir}, testRequest(t))
			if !slices.Equal(r.calls, tt.want) {
				t.Errorf("order = %v, want %v", r.calls, tt.want)
			}
		})
	}
}

type ctxKey struct{}

func TestChainPassesContextAndExchange(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	ex := &pipeline.Exchange{Direction: pipeline.ToClient, SessionID: "sess", ProtocolVersion: "2025-06-18"}
	calls := 0
	stage := pipeline.StageFunc(func(gotCtx context.Context, gotEx *pipeline.Exchange, _ *pipeline.Message) pipeline.Verdict {
		calls++
		if gotCtx.Value(ctxKey{}) != "v" {
			t.Errorf("stage did not get the caller's context")
		}
		if gotEx != ex {
			t.Errorf("stage got exchange %p, want %p", gotEx, ex)
		}
		return pipeline.Verdict{}
	})
	pipeline.NewChain(stage, stage).Run(ctx, ex, testRequest(t))
	if calls != 2 {
		t.Errorf("calls = %d, want 2", calls)
	}
}

func TestChainRewrite(t *testing.T) {
	for _, d := range directions {
		t.Run(d.String(), func(t *testing.T) {
			orig := testRequest(t)
			repl := pipeline.NewNotification("notifications/rewritten", json.RawMessage(`{}`))
			var r recorder
			var before, after []*pipeline.Message
			rewrite := pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
				r.calls = append(r.calls, "rewrite")
				if m != orig {
					t.Errorf("rewriter saw %p, want the original %p", m, orig)
				}
				return pipeline.Verdict{Action: pipeline.Continue, Message: repl}
			})
			// Place the observers so that "first" runs before the rewriter
			// and "second"/"third" after it, in either direction.
			var c *pipeline.Chain
			if d == pipeline.ToServer {
				c = pipeline.NewChain(r.observe("first", &before), rewrite, r.observe("second", &after), r.observe("third", &after))
			} else {
				c = pipeline.NewChain(r.observe("third", &after), r.observe("second", &after), rewrite, r.observe("first", &before))
			}
			v := c.Run(context.Background(), &pipeline.Exchange{Direction: d}, orig)
			if want := []string{"first", "rewrite", "second", "third"}; !slices.Equal(r.calls, want) {
				t.Errorf("calls = %v, want %v", r.calls, want)
			}
			if len(before) != 1 || before[0] != orig {
				t.Errorf("stage before the rewrite saw %v, want the original", before)
			}
			if len(after) != 2 || after[0] != repl || after[1] != repl {
				t.Errorf("stages after the rewrite saw %v, want the replacement", after)
			}
			if v.Action != pipeline.Continue || v.Message != repl {
				t.Errorf("verdict = %+v, want Continue with the replacement", v)
			}
		})
	}
}

func TestChainSecondRewriteWins(t *testing.T) {
	var r recorder
	m1 := pipeline.NewNotification("one", nil)
	m2 := pipeline.NewNotification("two", nil)
	var seen []*pipeline.Message
	c := pipeline.NewChain(
		r.fixed("r1", pipeline.Verdict{Message: m1}),
		r.observe("o", &seen),
		r.fixed("r2", pipeline.Verdict{Message: m2}),
		r.fixed("keep", pipeline.Verdict{Action: pipeline.Continue}),
	)
	v := c.Run(context.Background(), &pipeline.Exchange{}, testRequest(t))
	if len(seen) != 1 || seen[0] != m1 {
		t.Errorf("observer saw %v, want m1", seen)
	}
	if v.Action != pipeline.Continue || v.Message != m2 {
		t.Errorf("verdict = %+v, want Continue with m2", v)
	}
}

func TestChainStops(t *testing.T) {
	reply := pipeline.NewError(json.RawMessage(`1`), pipeline.CodeInvalidParams, "blocked by policy")
	other := pipeline.NewNotification("ignored", nil)
	tests := []struct {
		name       string
		verdict    pipeline.Verdict
		wantAction pipeline.Action
		wantMsg    *pipeline.Message
	}{
		{"respond with reply", pipeline.Verdict{Action: pipeline.Respond, Message: reply}, pipeline.Respond, reply},
		{"respond without message becomes drop", pipeline.Verdict{Action: pipeline.Respond}, pipeline.Drop, nil},
		{"drop", pipeline.Verdict{Action: pipeline.Drop}, pipeline.Drop, nil},
		{"drop ignores message", pipeline.Verdict{Action: pipeline.Drop, Message: other}, pipeline.Drop, nil},
		{"unknown action drops", pipeline.Verdict{Action: pipeline.Action(99), Message: other}, pipeline.Drop, nil},
	}
	for _, tt := range tests {
		for _, d := range directions {
			t.Run(tt.name+"/"+d.String(), func(t *testing.T) {
				var r recorder
				var c *pipeline.Chain
				var want []string
				if d == pipeline.ToServer {
					c = pipeline.NewChain(r.observe("before", nil), r.fixed("stop", tt.verdict), r.observe("after", nil))
					want = []string{"before", "stop"}
				} else {
					c = pipeline.NewChain(r.observe("after", nil), r.fixed("stop", tt.verdict), r.observe("before", nil))
					want = []string{"before", "stop"}
				}
				v := c.Run(context.Background(), &pipeline.Exchange{Direction: d}, testRequest(t))
				if !slices.Equal(r.calls, want) {
					t.Errorf("calls = %v, want %v (later stages must not run)", r.calls, want)
				}
				if v.Action != tt.wantAction {
					t.Errorf("Action = %v, want %v", v.Action, tt.wantAction)
				}
				if v.Message != tt.wantMsg {
					t.Errorf("Message = %v, want %v", v.Message, tt.wantMsg)
				}
			})
		}
	}
}

func TestChainRespondAfterRewrite(t *testing.T) {
	var r recorder
	repl := pipeline.NewNotification("rewritten", nil)
	reply := pipeline.NewResult(json.RawMessage(`1`), json.RawMessage(`{"content":[]}`))
	var seen []*pipeline.Message
	c := pipeline.NewChain(
		r.fixed("rewrite", pipeline.Verdict{Message: repl}),
		pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
			seen = append(seen, m)
			return pipeline.Verdict{Action: pipeline.Respond, Message: reply}
		}),
		r.observe("never", nil),
	)
	v := c.Run(context.Background(), &pipeline.Exchange{}, testRequest(t))
	if len(seen) != 1 || seen[0] != repl {
		t.Errorf("responder saw %v, want the rewritten message", seen)
	}
	if v.Action != pipeline.Respond || v.Message != reply {
		t.Errorf("verdict = %+v, want Respond with the reply", v)
	}
	if slices.Contains(r.calls, "never") {
		t.Errorf("a stage after Respond ran")
	}
}

// delay is a stage that holds a message until release is closed, and drops
// it if ctx ends first, as a rate limiter or a delay injector would.
func delay(release <-chan struct{}) pipeline.Stage {
	return pipeline.StageFunc(func(ctx context.Context, _ *pipeline.Exchange, _ *pipeline.Message) pipeline.Verdict {
		select {
		case <-ctx.Done():
			return pipeline.Verdict{Action: pipeline.Drop}
		case <-release:
			return pipeline.Verdict{}
		}
	})
}

// runWithin runs the chain and fails the test if it has not returned in a
// generous bound (the cases here never actually wait).
func runWithin(t *testing.T, ctx context.Context, c *pipeline.Chain, m *pipeline.Message) pipeline.Verdict {
	t.Helper()
	done := make(chan pipeline.Verdict, 1)
	go func() { done <- c.Run(ctx, &pipeline.Exchange{}, m) }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("chain did not return: the blocking stage ignored ctx")
		return pipeline.Verdict{}
	}
}

func TestChainBlockingStageHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var r recorder
	never := make(chan struct{}) // never released
	c := pipeline.NewChain(r.observe("before", nil), delay(never), r.observe("after", nil))
	v := runWithin(t, ctx, c, testRequest(t))
	if v.Action != pipeline.Drop || v.Message != nil {
		t.Errorf("verdict = %+v, want Drop", v)
	}
	if want := []string{"before"}; !slices.Equal(r.calls, want) {
		t.Errorf("calls = %v, want %v", r.calls, want)
	}
}

func TestChainBlockingStageHonoursDeadline(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	c := pipeline.NewChain(pipeline.StageFunc(func(ctx context.Context, _ *pipeline.Exchange, _ *pipeline.Message) pipeline.Verdict {
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return pipeline.Verdict{Action: pipeline.Drop}
		case <-timer.C:
			return pipeline.Verdict{}
		}
	}))
	if v := runWithin(t, ctx, c, testRequest(t)); v.Action != pipeline.Drop {
		t.Errorf("verdict = %+v, want Drop", v)
	}
}

func TestChainBlockingStageReleased(t *testing.T) {
	released := make(chan struct{})
	close(released)
	var r recorder
	m := testRequest(t)
	c := pipeline.NewChain(delay(released), r.observe("after", nil))
	v := runWithin(t, context.Background(), c, m)
	if v.Action != pipeline.Continue || v.Message != m {
		t.Errorf("verdict = %+v, want Continue with the same message", v)
	}
	if want := []string{"after"}; !slices.Equal(r.calls, want) {
		t.Errorf("calls = %v, want %v", r.calls, want)
	}
}

func TestStageFuncHandle(t *testing.T) {
	want := pipeline.Verdict{Action: pipeline.Drop}
	var got *pipeline.Message
	f := pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		got = m
		return want
	})
	m := testRequest(t)
	var s pipeline.Stage = f
	if v := s.Handle(context.Background(), &pipeline.Exchange{}, m); v != want {
		t.Errorf("Handle = %+v, want %+v", v, want)
	}
	if got != m {
		t.Errorf("function saw %p, want %p", got, m)
	}
}

func TestDirectionString(t *testing.T) {
	if got := pipeline.ToServer.String(); got != "to_server" {
		t.Errorf("ToServer = %q", got)
	}
	if got := pipeline.ToClient.String(); got != "to_client" {
		t.Errorf("ToClient = %q", got)
	}
}

func TestVerdictZeroIsContinue(t *testing.T) {
	var v pipeline.Verdict
	if v.Action != pipeline.Continue || v.Message != nil {
		t.Errorf("zero Verdict = %+v, want Continue unchanged", v)
	}
}
