package balance

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// What one member mints and only it understands — a list's cursor, a
// multi-round-trip request's requestState, a task's id — travels through
// the client tagged with the member's name: tagPrefix + name + ":" + the
// member's own string. The request that brings it back goes to that member
// with the member's string restored byte for byte. sealTag and openTag are
// the only two functions that write and read a tag.
const tagPrefix = "mcpgw:"

// taggedParams are the params members the tags travel in.
var taggedParams = [...]string{"cursor", "requestState", "taskId"}

// errInvalidTag is a request whose tags name two members: the gateway
// never mints that, so it is an invalid cursor, requestState or task id.
var errInvalidTag = errors.New("the request's cursor, requestState or task ids name different upstreams")

// sealTag tags value, which member minted, for the way to the client.
func sealTag(member, value string) string { return tagPrefix + member + ":" + value }

// openTag reads a tag sealTag made: the member's name and its own value;
// ok is false for a string that is not a tag (which passes unchanged).
func openTag(s string) (member, value string, ok bool) {
	rest, ok := strings.CutPrefix(s, tagPrefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// invalidTag answers request id whose cursor, requestState or task id no
// member that can take it now minted: the client starts the list, the call
// or the task over, which goes to a member that is up. The message names
// no upstream.
func invalidTag(id json.RawMessage) *pipeline.Message {
	return pipeline.NewError(id, pipeline.CodeInvalidParams,
		"the cursor, requestState or taskId is not valid here (its upstream is not one of this endpoint's, or cannot take requests now); start the list, the call or the task over")
}

// taggedMember returns the member a tag names, claimed for the request
// (as pick claims one), or nil when the group has no such member or it
// does not take work now. A tag is the client's to forge: it must not
// reach a member outside the group, nor one its health checks or breaker
// keep out of the rotation.
func (g *Group) taggedMember(name string) *Member {
	m := g.byName[name]
	if m == nil || !m.claim(time.Now()) {
		return nil
	}
	return m
}

// untag finds a tagged cursor, requestState or taskId (and the task ids of
// a subscriptions/listen) in a 2026 request's params: it returns the
// member's name and the request with the tags removed, or "" and the
// request itself when nothing in it is tagged.
func untag(m *pipeline.Message) (name string, out *pipeline.Message, err error) {
	if m.Params == nil || !bytes.Contains(m.Params, []byte(tagPrefix)) {
		return "", m, nil
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(m.Params, &params) != nil {
		return "", m, nil // the upstream tells the client what is wrong with it
	}
	changed := false
	for _, key := range taggedParams {
		raw, ok := params[key]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			continue
		}
		n, orig, ok := openTag(s)
		if !ok {
			continue
		}
		if name != "" && n != name {
			// No member minted both: one of them is forged.
			return "", m, errInvalidTag
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

// tag tags what a member minted in its response to a request of method:
// the nextCursor of a list, the requestState of an input_required result,
// the taskId of a task it created or reports on.
func tag(resp *pipeline.Message, method, name string) *pipeline.Message {
	if resp.Result == nil {
		return resp
	}
	result, ok := tagMembers(resp.Result, name, strings.HasSuffix(method, "/list"))
	if !ok {
		return resp
	}
	return pipeline.NewResult(resp.ID, result)
}

// tagMembers tags the members of obj a member minted (nextCursor only
// when cursor), and reports whether it tagged any.
func tagMembers(obj json.RawMessage, name string, cursor bool) (json.RawMessage, bool) {
	keys := make([]string, 0, 3)
	if cursor && bytes.Contains(obj, []byte(`"nextCursor"`)) {
		keys = append(keys, "nextCursor")
	}
	for _, k := range [...]string{"requestState", "taskId"} {
		if bytes.Contains(obj, []byte(`"`+k+`"`)) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return obj, false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(obj, &members) != nil {
		return obj, false
	}
	changed := false
	for _, key := range keys {
		var s string
		if raw, ok := members[key]; !ok || json.Unmarshal(raw, &s) != nil || s == "" {
			continue
		}
		members[key], _ = json.Marshal(sealTag(name, s))
		changed = true
	}
	if !changed {
		return obj, false
	}
	b, err := json.Marshal(members)
	return b, err == nil
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

// retriable reports whether a request is one that any member answers the
// same, so that a member's failure to answer it may be retried on another:
// the first page of a list, a resource read, a ping, server/discover.
// Never a tools/call: a retried call would run twice.
func retriable(m *pipeline.Message) bool {
	switch m.Method {
	case "ping", "server/discover", "resources/read":
		return true
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		return m.Params == nil || !bytes.Contains(m.Params, []byte(`"cursor"`))
	}
	return false
}
