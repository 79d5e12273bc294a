// Package tags tags what one upstream mints and only it understands — a
// list's cursor, a multi-round-trip request's requestState, a task's id —
// with the name of that upstream on its way to the client, and reads the
// tag back from the request that returns it, so that the request goes to
// the upstream that minted it with its own string byte for byte. The
// members of a balance group are tagged this way (every kind), and the
// shared processes of a stdio upstream (task ids: a task lives in the
// process that made it). Tags nest: a group tags what a member tagged.
// With a cluster the front seals every tag once on its way out and opens
// it on its way back (codec.go): the layers never see a sealed one.
package tags

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// prefix opens every tag: prefix + name + ":" + the upstream's own string.
// Seal and Open are the only two functions that write and read a tag.
const prefix = "mcpgw:"

// Kinds is which minted strings a tagging layer tags.
type Kinds int

const (
	// All tags list cursors, requestState and task ids.
	All Kinds = iota
	// Tasks tags task ids only.
	Tasks
)

// params are the request params members the tags of k travel in.
func (k Kinds) params() []string {
	if k == Tasks {
		return []string{"taskId"}
	}
	return []string{"cursor", "requestState", "taskId"}
}

// results are the result members that carry what an upstream minted
// (nextCursor of lists aside).
func (k Kinds) results() []string {
	if k == Tasks {
		return []string{"taskId"}
	}
	return []string{"requestState", "taskId"}
}

// ErrForged is a request whose tags name two upstreams: the gateway never
// mints that, so it is an invalid cursor, requestState or task id.
var ErrForged = errors.New("the request's cursor, requestState or task ids name different upstreams")

// Seal tags value, which the upstream name minted, for the way to the client.
func Seal(name, value string) string { return prefix + name + ":" + value }

// Open reads a tag Seal made: the upstream's name and its own value; ok is
// false for a string that is not a tag (which passes unchanged).
func Open(s string) (name, value string, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// Inner is the upstream's own string under every tag of s (s itself when
// it is no tag): what two tags of copies of one server that mint the same
// strings (two shared processes, two members of a group) have in common.
func Inner(s string) string {
	for {
		_, value, ok := Open(s)
		if !ok {
			return s
		}
		s = value
	}
}

// Invalid answers request id whose cursor, requestState or task id no
// upstream that can take it now minted (a forged tag, or one naming an
// upstream or a process that is gone): -32602, as a server answers an
// unknown task or cursor, so the client starts over. It names no upstream.
func Invalid(id json.RawMessage) *pipeline.Message {
	return pipeline.NewError(id, pipeline.CodeInvalidParams,
		"the cursor, requestState or taskId is not valid here (its upstream is not one of this endpoint's, or cannot take requests now); start the list, the call or the task over")
}

// Untag finds a tagged string of kinds k (and the task ids of a
// subscriptions/listen) in a 2026 request's params: it returns the
// upstream's name and the request with the tags removed, or "" and the
// request itself when nothing in it is tagged.
func Untag(m *pipeline.Message, k Kinds) (name string, out *pipeline.Message, err error) {
	if m.Params == nil || !bytes.Contains(m.Params, []byte(prefix)) {
		return "", m, nil
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(m.Params, &params) != nil {
		return "", m, nil // the upstream tells the client what is wrong with it
	}
	changed := false
	for _, key := range k.params() {
		raw, ok := params[key]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		n, orig, ok := Open(s)
		if !ok {
			continue
		}
		if name != "" && n != name {
			// No upstream minted both: one of them is forged.
			return "", m, ErrForged
		}
		name = n
		params[key], _ = json.Marshal(orig)
		changed = true
	}
	if name, changed, err = untagListen(params, name, changed); err != nil {
		return "", m, err
	}
	if !changed {
		return "", m, nil
	}
	out, err = withParams(m, params)
	return name, out, err
}

// Tag tags what the upstream name minted in its response to a request of
// method: the nextCursor of a list, the requestState of an input_required
// result, the taskId of a task it created or reports on (as k says).
func Tag(resp *pipeline.Message, method, name string, k Kinds) *pipeline.Message {
	if resp.Result == nil {
		return resp
	}
	result, ok := tagMembers(resp.Result, name, k, strings.HasSuffix(method, "/list"))
	if !ok {
		return resp
	}
	return pipeline.NewResult(resp.ID, result)
}

// tagMembers tags the members of obj an upstream minted (nextCursor only
// when cursor and k tags all), and reports whether it tagged any. Only
// those members' spans are read and replaced (pipeline's pointers): a
// large list passes as raw bytes, its members in their order.
func tagMembers(obj json.RawMessage, name string, k Kinds, cursor bool) (json.RawMessage, bool) {
	changed := false
	if cursor && k == All {
		obj, changed = tagMember(obj, name, "nextCursor")
	}
	for _, key := range k.results() {
		var c bool
		if obj, c = tagMember(obj, name, key); c {
			changed = true
		}
	}
	return obj, changed
}

// memberPaths are the one-member paths tagMember reads, made once.
var memberPaths = map[string][]string{"nextCursor": {"nextCursor"}, "requestState": {"requestState"}, "taskId": {"taskId"}}

// quotedMembers are the member names as they appear in JSON, for the byte
// search that spares a walk of a message without them.
var quotedMembers = map[string][]byte{"nextCursor": []byte(`"nextCursor"`), "requestState": []byte(`"requestState"`), "taskId": []byte(`"taskId"`)}

// tagMember tags obj's string member key, when it has a non-empty one.
func tagMember(obj json.RawMessage, name, key string) (json.RawMessage, bool) {
	if !bytes.Contains(obj, quotedMembers[key]) {
		return obj, false
	}
	path := memberPaths[key]
	raw, ok := pipeline.ValueAt(obj, path)
	var s string
	if !ok || len(raw) < 3 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil || s == "" {
		return obj, false
	}
	sealed, err := json.Marshal(Seal(name, s))
	if err != nil {
		return obj, false
	}
	out, err := pipeline.SetAt(obj, path, sealed)
	if err != nil {
		return obj, false
	}
	return out, true
}

// withParams rebuilds request m with other params.
func withParams(m *pipeline.Message, params map[string]json.RawMessage) (*pipeline.Message, error) {
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id,omitempty"`
		Method  string          `json:"method"`
		Params  json.RawMessage `json:"params"`
	}{"2.0", m.ID, m.Method, p})
	if err != nil {
		return nil, err
	}
	return pipeline.Parse(b)
}
