package federate

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// A task (the io.modelcontextprotocol/tasks extension of 2026-07-28) lives
// on the server that created it, which no name in the request says: its id
// is tagged with the server's name (tags.Seal) in every answer and
// notification toward the client, and tasks/get, tasks/update, tasks/cancel
// and a subscriptions/listen naming task ids go back to that server with
// its own id. Only task ids are tagged: the federation's cursors are its own.

// tagTasks wraps deliver so that what server i sends for a request of
// method carries its task ids tagged with the server's name.
func (f *Federation) tagTasks(i int, method string, deliver func(*pipeline.Message, int)) func(*pipeline.Message, int) {
	name := f.names[i]
	return func(m *pipeline.Message, status int) {
		if m.IsResponse() {
			m = tags.Tag(m, method, name, tags.Tasks)
		} else {
			m = tags.Notification(m, name, tags.Tasks)
		}
		deliver(m, status)
	}
}

// untagTasks reads the tagged task ids of req: the server that minted
// them (-1: none named) and the request with its own ids, or the -32602
// answer of ids no server of the federation minted (forged, or naming two).
func (f *Federation) untagTasks(req *upstream.StatelessRequest) (int, *upstream.StatelessRequest, *pipeline.Message) {
	name, msg, err := tags.Untag(req.Message, tags.Tasks)
	if err != nil {
		return -1, nil, tags.Invalid(req.Message.ID)
	}
	if name == "" {
		return -1, req, nil
	}
	for i, n := range f.names {
		if n == name {
			r := *req
			r.Message = msg
			r.Header = tags.Header(req.Header, msg)
			return i, &r, nil
		}
	}
	return -1, nil, tags.Invalid(req.Message.ID)
}

// taskRequest sends tasks/get, tasks/update or tasks/cancel to the server
// whose tag the task id bears; an id the federation did not tag is not
// one of its tasks.
func (f *Federation) taskRequest(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	i, r, ans := f.untagTasks(req)
	if ans == nil && i < 0 {
		ans = tags.Invalid(req.Message.ID)
	}
	if ans != nil {
		deliver(ans, http.StatusOK)
		return nil
	}
	err := f.callServer(ctx, i, r, deliver)
	if errors.Is(err, upstream.ErrSessionfulOnly) {
		deliver(tags.Invalid(req.Message.ID), http.StatusOK) // it could not have minted it
		return nil
	}
	return err
}
