package federate

import (
	"context"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// A 2025-11-25 session's task lives in the session of the server that
// created it: as in 2026 (statelesstasks.go), its id reaches the client
// tagged with the server's name, and tasks/get, tasks/result and
// tasks/cancel go back to that server with its own id.

// sessionTaskMethods are the session's requests that name a task.
var sessionTaskMethods = map[string]bool{"tasks/get": true, "tasks/result": true, "tasks/cancel": true}

// taskRequest forwards a request naming a tagged task id to the server
// the tag names; an id the federation did not tag, or one of a server
// that is not in the session, is -32602.
func (c *conn) taskRequest(ctx context.Context, msg *pipeline.Message) error {
	name, out, err := tags.Untag(msg, tags.Tasks)
	if err == nil && name != "" {
		for _, m := range c.members {
			if m.name == name && m.ready() {
				return c.forward(ctx, m, out, nil)
			}
		}
	}
	c.r.Deliver(tags.Invalid(msg.ID))
	return nil
}

// tagSessionTasks tags the task ids of member m's answer to a request of
// method: a task a tools/call created, the task a tasks/* request reports.
func tagSessionTasks(resp *pipeline.Message, method string, m *member) *pipeline.Message {
	switch {
	case resp.Result == nil:
		return resp
	case method == "tools/call":
		return tags.Created(resp, m.name)
	case sessionTaskMethods[method] && method != "tasks/result":
		return tags.Tag(resp, method, m.name, tags.Tasks)
	}
	return resp
}
