package front

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// deliveryQueue carries a stateless call's messages from the upstream to
// the client's writer. The notifications are bounded: when the client falls
// that far behind, the call is cancelled instead of blocking the upstream
// (whose reader other clients share). The final message — the response, or
// the gateway's error for the call — has a slot of its own, so no full
// queue can drop it: the client always learns how its request ended.
type deliveryQueue struct {
	ch         chan *delivery // notifications, in order
	done       chan struct{}  // closed by finish: nothing more goes into ch
	id         json.RawMessage
	limit      int
	onOverflow func()

	mu         sync.Mutex
	finished   bool
	overflowed bool
	final      *delivery // the last message, out of band
	finalTaken bool
}

// newDeliveryQueue returns a queue for the call of request id that holds
// up to n notifications; onOverflow runs (once) when one more arrives.
func newDeliveryQueue(n int, id json.RawMessage, onOverflow func()) *deliveryQueue {
	return &deliveryQueue{ch: make(chan *delivery, n), done: make(chan struct{}), id: id, limit: n, onOverflow: onOverflow}
}

// push never blocks. A response becomes the final message; a notification
// that finds the queue full ends the call (onOverflow), and the final
// message is then the gateway's error unless the response still arrives.
func (q *deliveryQueue) push(m *pipeline.Message, status int) {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	if m.IsResponse() {
		q.final = &delivery{m: m, status: status}
		q.mu.Unlock()
		return
	}
	if q.overflowed {
		q.mu.Unlock()
		return // the call is being cancelled; the client is told so at the end
	}
	select {
	case q.ch <- &delivery{m: m, status: status}:
		q.mu.Unlock()
		return
	default:
	}
	q.overflowed = true
	if q.final == nil {
		q.final = &delivery{status: http.StatusServiceUnavailable, gateway: true, m: pipeline.NewError(q.id, pipeline.CodeInternalError,
			"the gateway cancelled this request: the client fell more than "+strconv.Itoa(q.limit)+
				" messages behind its stream; read the stream faster or ask for less progress")}
	}
	q.mu.Unlock()
	q.onOverflow()
}

// finish ends the queue. last, when not nil, is the call's final message
// (an error of the gateway's): it replaces anything but a response.
func (q *deliveryQueue) finish(last *delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.finished {
		return
	}
	q.finished = true
	if last != nil && (q.final == nil || !q.final.m.IsResponse()) {
		q.final = last
	}
	close(q.done)
}

// await returns the next delivery — the queued notifications in order, then
// the final message once the queue finished — or nil when there is nothing
// more or ctx ended.
func (q *deliveryQueue) await(ctx context.Context) *delivery {
	select {
	case d := <-q.ch:
		return d
	case <-q.done:
		select {
		case d := <-q.ch:
			return d
		default:
		}
		return q.takeFinal()
	case <-ctx.Done():
		return nil
	}
}

// takeFinal returns the final message once, then nil.
func (q *deliveryQueue) takeFinal() *delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.finalTaken {
		return nil
	}
	q.finalTaken = true
	return q.final
}

// finalMessage is the call's final message (nil if there is none), once
// the queue finished, whether or not a writer took it.
func (q *deliveryQueue) finalMessage() *pipeline.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.final == nil {
		return nil
	}
	return q.final.m
}
