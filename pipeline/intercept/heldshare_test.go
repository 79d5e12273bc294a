package intercept_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// TestPauseClientShare: with max_held 4, a client alone may hold 2
// (hold.ClientShare); its next pause match gets the rule's timeout action
// at once, while another client's pause still holds. Clients are told
// apart by user, else by address.
func TestPauseClientShare(t *testing.T) {
	t.Parallel()
	reg := hold.NewRegistry()
	e, err := intercept.New([]intercept.Rule{
		{Name: "approve", Tools: []string{"echo"}, Actions: []intercept.Action{{Action: "pause", Timeout: "1h"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.HoldIn(reg, "ep", 4)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	events, stop := reg.Listen()
	defer stop()
	run := func(ex *pipeline.Exchange) <-chan pipeline.Verdict {
		done := make(chan pipeline.Verdict, 1)
		wg.Add(1)
		go func() { defer wg.Done(); done <- pipeline.NewChain(e).Run(ctx, ex, parse(t, callEcho)) }()
		return done
	}
	alice := &pipeline.Exchange{SessionID: "s1", User: "alice", ClientIP: "192.0.2.1"}
	for _, ex := range []*pipeline.Exchange{alice, {SessionID: "s2", User: "alice", ClientIP: "192.0.2.9"}} {
		run(ex)
		if ev := <-events; ev.Type != "held" {
			t.Fatalf("alice's pause within her share: %+v", ev)
		}
	}
	select {
	case v := <-run(alice):
		if v.Action != pipeline.Respond || v.Ended != pipeline.HoldTimedOut || v.By != "approve" {
			t.Errorf("alice past her share: %+v, want the rule's timeout action (block) at once", v)
		}
	case ev := <-events:
		t.Fatalf("alice's pause past her share was held: %+v", ev)
	case <-time.After(10 * time.Second):
		t.Fatal("alice's pause past her share neither held nor answered")
	}
	// Others still hold: a user, and an address without one.
	for _, ex := range []*pipeline.Exchange{{SessionID: "s3", User: "bob"}, {ClientIP: "192.0.2.1"}} {
		done := run(ex)
		select {
		case ev := <-events:
			if ev.Type != "held" {
				t.Fatalf("event %+v", ev)
			}
		case v := <-done:
			t.Fatalf("%+v was not held: %+v", ex, v)
		}
	}
}
