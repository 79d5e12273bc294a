package hold_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
)

func request(t *testing.T) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"deploy"}}`))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// holdOne holds a request in the background and returns its entry (once
// listed) and the channel of its decision.
func holdOne(t *testing.T, r *hold.Registry, ctx context.Context, timeout time.Duration) (hold.Entry, <-chan hold.Decision) {
	t.Helper()
	events, stop := r.Listen()
	defer stop()
	out := make(chan hold.Decision, 1)
	go func() {
		d, _ := r.Hold(ctx, hold.Entry{Endpoint: "ep", Rule: "approve", Direction: "to_server", Method: "tools/call", Tool: "deploy"}, request(t), 0, timeout)
		out <- d
	}()
	select {
	case ev := <-events:
		if ev.Type != "held" {
			t.Fatalf("first event %+v", ev)
		}
		return ev.Entry, out
	case <-time.After(10 * time.Second):
		t.Fatal("no held event")
	}
	return hold.Entry{}, nil
}

func await(t *testing.T, ch <-chan hold.Decision) hold.Decision {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the hold did not end")
	}
	return hold.Decision{}
}

func TestDecisions(t *testing.T) {
	tests := []struct {
		name        string
		decision    hold.Decision
		replacement string
		check       func(t *testing.T, d hold.Decision)
	}{
		{"continue", hold.Decision{Kind: hold.Continue}, "", func(t *testing.T, d hold.Decision) {
			if d.Kind != hold.Continue || d.Message != nil {
				t.Errorf("%+v", d)
			}
		}},
		{"continue with a replacement, id forced back", hold.Decision{Kind: hold.Continue},
			`{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"dry_run"}}`, func(t *testing.T, d hold.Decision) {
				if d.Message == nil || string(d.Message.ID) != "5" || d.Message.Target() != "dry_run" {
					t.Errorf("%+v", d.Message)
				}
			}},
		{"block", hold.Decision{Kind: hold.Block, Reason: "no"}, "", func(t *testing.T, d hold.Decision) {
			if d.Kind != hold.Block || d.Reason != "no" {
				t.Errorf("%+v", d)
			}
		}},
		{"respond", hold.Decision{Kind: hold.Respond, Result: json.RawMessage(`{"content":[]}`)}, "", func(t *testing.T, d hold.Decision) {
			if d.Kind != hold.Respond || string(d.Result) != `{"content":[]}` {
				t.Errorf("%+v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hold.NewRegistry()
			e, out := holdOne(t, r, context.Background(), 0)
			if list := r.List(); len(list) != 1 || list[0].ID != e.ID || list[0].Tool != "deploy" || string(list[0].Message) == "" {
				t.Fatalf("list %+v", list)
			}
			if err := r.Decide(e.ID, tt.decision, json.RawMessage(tt.replacement)); err != nil {
				t.Fatal(err)
			}
			tt.check(t, await(t, out))
			if err := r.Decide(e.ID, hold.Decision{Kind: hold.Continue}, nil); !errors.Is(err, hold.ErrUnknown) {
				t.Errorf("second decision: %v, want ErrUnknown", err)
			}
			if len(r.List()) != 0 {
				t.Errorf("still listed after the decision")
			}
		})
	}
}

func TestBadReplacement(t *testing.T) {
	r := hold.NewRegistry()
	e, out := holdOne(t, r, context.Background(), 0)
	for _, bad := range []string{`[1]`, `{"jsonrpc":"2.0","id":1,"result":{}}`, `not json`} {
		if err := r.Decide(e.ID, hold.Decision{Kind: hold.Continue}, json.RawMessage(bad)); !errors.Is(err, hold.ErrBadReplacement) {
			t.Errorf("replacement %s: %v", bad, err)
		}
	}
	if len(r.List()) != 1 {
		t.Fatal("a refused decision ended the hold")
	}
	if err := r.Decide(e.ID, hold.Decision{Kind: hold.Block}, nil); err != nil {
		t.Fatal(err)
	}
	await(t, out)
}

func TestTimeoutCancelAndMax(t *testing.T) {
	r := hold.NewRegistry()
	_, out := holdOne(t, r, context.Background(), time.Millisecond)
	if d := await(t, out); d.Kind != hold.TimedOut {
		t.Errorf("timeout: %+v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	_, out = holdOne(t, r, ctx, 0)
	// Bounded: the endpoint holds one message; a second one is refused at once.
	if d, ok := r.Hold(context.Background(), hold.Entry{Endpoint: "ep"}, request(t), 1, 0); ok || d.Kind != hold.TimedOut {
		t.Errorf("beyond max: %+v %v", d, ok)
	}
	cancel()
	if d := await(t, out); d.Kind != hold.Cancelled {
		t.Errorf("cancel: %+v", d)
	}
	if len(r.List()) != 0 {
		t.Error("left listed")
	}
}
