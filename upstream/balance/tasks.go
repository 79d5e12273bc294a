package balance

import (
	"encoding/json"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// A task (the io.modelcontextprotocol/tasks extension of 2026-07-28) lives
// on the member that created it: its id is tagged like a cursor (tags.Seal)
// in every answer and notification toward the client, and tasks/get,
// tasks/update, tasks/cancel and a subscriptions/listen naming task ids go
// back to that member with the member's own id.

// untaggedHeader is the client's mirrored headers for the member's request
// msg (untagged): a tasks/* request's Mcp-Name mirrors params.taskId (the
// extension's routing header), so it carries the member's own id too, else
// a server that checks the header against the body refuses it.
func untaggedHeader(h http.Header, msg *pipeline.Message) http.Header {
	if h.Get("Mcp-Name") == "" {
		return h
	}
	switch msg.Method {
	case "tasks/get", "tasks/update", "tasks/cancel":
	default:
		return h
	}
	var p struct {
		TaskID string `json:"taskId"`
	}
	if json.Unmarshal(msg.Params, &p) != nil {
		return h
	}
	out := h.Clone()
	out.Set("Mcp-Name", p.TaskID)
	return out
}
