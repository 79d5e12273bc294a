package mcptrace

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Tap is a pipeline.Tap that adds the chain's verdicts about the messages
// of a traced request to its span: held (and how the hold ended), blocked
// (dropped, or answered with an error in the receiver's place), mocked
// (answered with a result), modified, each with the rule (or stage) that
// decided. Messages
// that simply pass make no event; a request not traced costs a context
// lookup.
type Tap struct{}

// Decided implements pipeline.Tap.
func (Tap) Decided(ctx context.Context, ex *pipeline.Exchange, d pipeline.Decision) {
	q := FromContext(ctx)
	if q == nil {
		return
	}
	v := d.Verdict
	var events []string
	if d.Waited && v.Ended != "" {
		events = append(events, EventHeld)
	}
	switch {
	case v.Action == pipeline.Drop, v.Action == pipeline.Respond && v.Message.Error != nil:
		// An error in the receiver's place is a block, as tapes say.
		events = append(events, EventBlocked)
	case v.Action == pipeline.Respond:
		events = append(events, EventMocked)
	case d.Changed():
		events = append(events, EventModified)
	}
	if len(events) == 0 {
		return
	}
	attrs := []attribute.KeyValue{keyDirection.String(ex.Direction.String())}
	if v.By != "" {
		attrs = append(attrs, keyRule.String(v.By))
	}
	if ex.Gateway {
		attrs = append(attrs, keyGateway.Bool(true))
	}
	for _, e := range events {
		a := attrs
		if e == EventHeld {
			a = append(a[:len(a):len(a)], keyHoldEnded.String(string(v.Ended)))
		}
		q.span.AddEvent(e, trace.WithAttributes(a...))
	}
}

// Interface guard.
var _ pipeline.Tap = Tap{}
