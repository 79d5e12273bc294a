package pipeline_test

import (
	"context"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestChainStartWait: Start returns at once when a stage waits; Resume
// waits, then runs the stages after it on the message as the waiting stage
// left it. Run waits in place.
func TestChainStartWait(t *testing.T) {
	release := make(chan struct{})
	var seen []string
	waiting := pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
		seen = append(seen, "wait")
		return pipeline.WaitFor(func(ctx context.Context) pipeline.Verdict {
			select {
			case <-release:
				return pipeline.Verdict{Message: pipeline.NewNotification("edited", nil)}
			case <-ctx.Done():
				return pipeline.Verdict{Action: pipeline.Drop}
			}
		})
	})
	after := pipeline.StageFunc(func(_ context.Context, _ *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
		seen = append(seen, "after:"+m.Method)
		return pipeline.Verdict{}
	})
	c := pipeline.NewChain(waiting, after)
	m := pipeline.NewNotification("original", nil)
	ex := &pipeline.Exchange{}

	v := c.Start(context.Background(), ex, m)
	if v.Action != pipeline.Wait || v.Pending == nil {
		t.Fatalf("Start = %+v, want Wait", v)
	}
	if len(seen) != 1 {
		t.Fatalf("stages after the waiting one ran before it decided: %v", seen)
	}
	close(release)
	final := v.Pending.Resume(context.Background())
	if final.Action != pipeline.Continue || final.Message.Method != "edited" {
		t.Errorf("final = %+v", final)
	}
	if len(seen) != 2 || seen[1] != "after:edited" {
		t.Errorf("seen %v", seen)
	}

	// Run waits in place; a context that ends drops the message.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	release = make(chan struct{})
	if v := c.Run(ctx, ex, m); v.Action != pipeline.Drop {
		t.Errorf("Run with an ended context = %+v, want Drop", v)
	}
	// A stage waiting twice in a row is waited for in full.
	twice := pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
		return pipeline.WaitFor(func(context.Context) pipeline.Verdict {
			return pipeline.WaitFor(func(context.Context) pipeline.Verdict {
				return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewResult([]byte("1"), nil)}
			})
		})
	})
	if v := pipeline.NewChain(twice, after).Run(context.Background(), ex, m); v.Action != pipeline.Respond {
		t.Errorf("twice = %+v", v)
	}
	// A Wait without a pending decision drops the message.
	broken := pipeline.StageFunc(func(context.Context, *pipeline.Exchange, *pipeline.Message) pipeline.Verdict {
		return pipeline.Verdict{Action: pipeline.Wait}
	})
	if v := pipeline.NewChain(broken).Run(context.Background(), ex, m); v.Action != pipeline.Drop {
		t.Errorf("broken = %+v", v)
	}
}
