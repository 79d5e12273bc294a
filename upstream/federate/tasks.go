package federate

import (
	"context"
	"encoding/json"

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

// listTasks answers a 2025-11-25 tasks/list: one page of one server's
// tasks at a time, the servers that offer tasks/list in configuration
// order, each task id tagged with its server's name, and the gateway's
// cursor (the server and its own cursor) for the page after. A server
// that fails is passed over, unless the client's cursor was its own: then
// the client gets its error (or that the server is unavailable).
func (c *conn) listTasks(ctx context.Context, msg *pipeline.Message) {
	ctx, cancel := c.detach(ctx, listTimeout)
	defer cancel()
	params := map[string]json.RawMessage{}
	_ = json.Unmarshal(msg.Params, &params)
	start, at := 0, ""
	if raw, ok := params["cursor"]; ok {
		var cur string
		_ = json.Unmarshal(raw, &cur)
		name, own, err := decodeCursor(cur)
		if start = c.f.serverIndex(name); err != nil || start < 0 {
			c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid cursor"))
			return
		}
		at = own
	}
	for i := start; i < len(c.members); i, at = i+1, "" {
		m := c.members[i]
		if !m.offersTaskList() {
			continue
		}
		delete(params, "cursor")
		if at != "" {
			params["cursor"], _ = json.Marshal(at)
		}
		ans, err := c.call(ctx, m, "tasks/list", params)
		if err != nil || ans.Error != nil {
			if at != "" {
				c.r.Deliver(listTasksError(msg.ID, m.name, ans))
				return
			}
			continue
		}
		res, next, ok := tagTaskPage(ans.Result, m.name)
		if !ok {
			continue
		}
		cursor := ""
		if next != "" {
			cursor = encodeCursor(m.name, next)
		} else if j := c.nextTaskLister(i + 1); j >= 0 {
			if string(res["tasks"]) == "[]" {
				continue // nothing on this server: the next one's page is the client's
			}
			cursor = encodeCursor(c.f.names[j], "")
		}
		delete(res, "nextCursor")
		if cursor != "" {
			res["nextCursor"], _ = json.Marshal(cursor)
		}
		b, _ := json.Marshal(res)
		c.r.Deliver(pipeline.NewResult(msg.ID, b))
		return
	}
	c.r.Deliver(pipeline.NewResult(msg.ID, json.RawMessage(`{"tasks":[]}`)))
}

// nextTaskLister is the first member from i on that offers tasks/list,
// -1 when none does.
func (c *conn) nextTaskLister(i int) int {
	for ; i < len(c.members); i++ {
		if c.members[i].offersTaskList() {
			return i
		}
	}
	return -1
}

// listTasksError is the client's answer to a tasks/list whose server
// failed: the server's own error, or that it is unavailable.
func listTasksError(id json.RawMessage, server string, ans *pipeline.Message) *pipeline.Message {
	var e pipeline.ErrorObject
	if ans == nil || json.Unmarshal(ans.Error, &e) != nil {
		return unavailable(id, server)
	}
	return pipeline.NewError(id, e.Code, e.Message)
}

// tagTaskPage is a server's tasks/list result with each task's id tagged
// with the server's name, and the server's own cursor of its next page.
func tagTaskPage(result json.RawMessage, server string) (map[string]json.RawMessage, string, bool) {
	var res map[string]json.RawMessage
	var tasks []json.RawMessage
	if json.Unmarshal(result, &res) != nil || json.Unmarshal(res["tasks"], &tasks) != nil {
		return nil, "", false
	}
	for n, t := range tasks {
		var id string
		if v, ok := pipeline.ValueAt(t, []string{"taskId"}); !ok || json.Unmarshal(v, &id) != nil || id == "" {
			continue
		}
		sealed, _ := json.Marshal(tags.Seal(server, id))
		if out, err := pipeline.SetAt(t, []string{"taskId"}, sealed); err == nil {
			tasks[n] = out
		}
	}
	if tasks == nil {
		tasks = []json.RawMessage{}
	}
	res["tasks"], _ = json.Marshal(tasks)
	var next string
	_ = json.Unmarshal(res["nextCursor"], &next)
	return res, next, true
}
