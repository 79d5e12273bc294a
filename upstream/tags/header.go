package tags

import (
	"encoding/json"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Header is the client's mirrored headers h for the upstream's request msg
// (untagged by Untag): a tasks/* request's Mcp-Name mirrors params.taskId
// (the extension's routing header), so it carries the upstream's own id
// too, else a server that checks the header against the body refuses it.
func Header(h http.Header, msg *pipeline.Message) http.Header {
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
