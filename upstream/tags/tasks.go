package tags

import (
	"bytes"
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// taskNotifications are the notifications whose params are a task (2026:
// notifications/tasks; 2025-11-25: notifications/tasks/status).
var taskNotifications = map[string]bool{"notifications/tasks": true, "notifications/tasks/status": true}

// Notification tags the task id of an upstream's task notification, and
// the task ids it acknowledged for a subscriptions/listen. Other
// notifications pass as they are.
func Notification(m *pipeline.Message, name string, k Kinds) *pipeline.Message {
	switch {
	case taskNotifications[m.Method]:
		params, ok := tagMembers(m.Params, name, k, false)
		if !ok {
			return m
		}
		return pipeline.NewNotification(m.Method, params)
	case m.Method == "notifications/subscriptions/acknowledged" && bytes.Contains(m.Params, []byte(`"taskIds"`)):
		params, ok := tagListenIDs(m.Params, name)
		if !ok {
			return m
		}
		return pipeline.NewNotification(m.Method, params)
	}
	return m
}

// listenTaskIDs reads the part of a subscriptions/listen (and of its
// acknowledgement) that names tasks; the rest of params.notifications is
// kept as it came.
func listenTaskIDs(params map[string]json.RawMessage) (filter map[string]json.RawMessage, ids []string, ok bool) {
	raw, ok := params["notifications"]
	if !ok || !bytes.Contains(raw, []byte(`"taskIds"`)) {
		return nil, nil, false
	}
	if json.Unmarshal(raw, &filter) != nil || json.Unmarshal(filter["taskIds"], &ids) != nil {
		return nil, nil, false
	}
	return filter, ids, true
}

// setListenIDs puts ids back into params.notifications.taskIds.
func setListenIDs(params, filter map[string]json.RawMessage, ids []string) {
	filter["taskIds"], _ = json.Marshal(ids)
	params["notifications"], _ = json.Marshal(filter)
}

// untagListen untags the task ids of a subscriptions/listen's filter
// (params.notifications.taskIds): every tagged one must name the member
// name names, if any (one upstream serves one listen), and every one must be
// tagged when some are and the endpoint tags.
func untagListen(params map[string]json.RawMessage, name string, changed bool) (string, bool, error) {
	filter, ids, ok := listenTaskIDs(params)
	if !ok {
		return name, changed, nil
	}
	tagged := false
	for i, id := range ids {
		n, orig, ok := Open(id)
		if !ok {
			continue
		}
		if name != "" && n != name {
			return "", false, ErrForged
		}
		name, ids[i], tagged = n, orig, true
	}
	if !tagged {
		return name, changed, nil
	}
	setListenIDs(params, filter, ids)
	return name, true, nil
}

// tagListenIDs tags the task ids of an acknowledgement's filter.
func tagListenIDs(raw json.RawMessage, name string) (json.RawMessage, bool) {
	var params map[string]json.RawMessage
	if json.Unmarshal(raw, &params) != nil {
		return raw, false
	}
	filter, ids, ok := listenTaskIDs(params)
	if !ok || len(ids) == 0 {
		return raw, false
	}
	for i, id := range ids {
		ids[i] = Seal(name, id)
	}
	setListenIDs(params, filter, ids)
	b, err := json.Marshal(params)
	return b, err == nil
}

// Created tags the task id of a 2025-11-25 CreateTaskResult
// (result.task.taskId), the answer to a tools/call with params.task; other
// answers pass as they are.
func Created(resp *pipeline.Message, name string) *pipeline.Message {
	if resp.Result == nil || !bytes.Contains(resp.Result, []byte(`"task"`)) {
		return resp
	}
	path := []string{"task", "taskId"}
	var id string
	if raw, ok := pipeline.ValueAt(resp.Result, path); !ok || json.Unmarshal(raw, &id) != nil || id == "" {
		return resp
	}
	sealed, _ := json.Marshal(Seal(name, id))
	result, err := pipeline.SetAt(resp.Result, path, sealed)
	if err != nil {
		return resp
	}
	return pipeline.NewResult(resp.ID, result)
}
