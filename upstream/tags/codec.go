package tags

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// With a cluster, every tag the gateway mints is sealed once, at the edge
// (the front), whatever layer minted it and however layers nested it: the
// layers write and read the plain form above (Seal, Open), and SealOut and
// OpenIn turn every plain tag in what goes to a client into a sealed one
// and back in what comes from it. A plain tag from a client is then
// forged: the gateway never hands one out.
//
// A tag that names a process of this instance (a shared stdio process)
// must come back to this instance: the layer that mints it marks its name
// (Owned), and the sealed tag then carries the owner, which OpenIn returns.

// sealedPrefix opens a sealed tag: sealedPrefix + the codec's token.
const sealedPrefix = "mcpgw."

// ownedMark begins the name of a tag minted by a process of this instance.
const ownedMark = "@"

// Codec seals and opens tags for one endpoint and one user (a cluster's
// key ring and binding).
type Codec interface {
	// Seal returns value (a plain tag without its prefix) sealed; owned
	// says a process of this instance minted it, so the token names this
	// instance.
	Seal(value string, owned bool) string
	// Open returns the value a token Seal made for this endpoint and user
	// holds, and the instance that owns it ("" for any); ok is false for
	// anything else.
	Open(token string) (value, owner string, ok bool)
}

type clusterKey struct{}

// WithCluster returns ctx saying that the endpoint seals its tags (it has
// a cluster): a process then tags every task id it mints, with Owned, so
// that the request naming it finds the instance it lives on.
func WithCluster(ctx context.Context) context.Context {
	return context.WithValue(ctx, clusterKey{}, true)
}

// Clustered reports whether ctx says the endpoint seals its tags.
func Clustered(ctx context.Context) bool { return ctx.Value(clusterKey{}) != nil }

// Owned is the name a process named name tags with when Clustered: it
// marks the tag as one only this instance can serve. Open returns it as
// written; Process reads the process's name back.
func Owned(name string) string { return ownedMark + name }

// Process is the process name of a tag's name (Owned or not).
func Process(name string) string { return strings.TrimPrefix(name, ownedMark) }

// owned reports whether a plain tag names a process of this instance at
// some level of its nesting.
func owned(plain string) bool {
	for {
		name, rest, ok := Open(plain)
		if !ok {
			return false
		}
		if strings.HasPrefix(name, ownedMark) {
			return true
		}
		plain = rest
	}
}

// SealOut seals with c every plain tag in m, a message on its way to a
// client: a result's nextCursor, requestState and task ids, a task
// notification's task id, an acknowledged listen's task ids. A message
// without one is returned as it is, at the cost of a byte search.
func SealOut(m *pipeline.Message, c Codec) *pipeline.Message {
	f := func(s string) (string, error) {
		if !strings.HasPrefix(s, prefix) {
			return s, nil
		}
		return sealedPrefix + c.Seal(s[len(prefix):], owned(s)), nil
	}
	switch {
	case m.IsResponse() && m.Result != nil && bytes.Contains(m.Result, []byte(`"`+prefix)):
		if out, ok, _ := mapMembers(m.Result, resultMembers, f); ok {
			return pipeline.NewResult(m.ID, out)
		}
	case m.IsNotification() && m.Params != nil && bytes.Contains(m.Params, []byte(`"`+prefix)):
		if out, ok, _ := mapMembers(m.Params, notificationMembers, f); ok {
			return pipeline.NewNotification(m.Method, out)
		}
	}
	return m
}

// OpenIn opens the sealed tags of m, a client's request, into the plain
// ones the layers read, and returns the instance that owns them ("" for
// any). A tag c does not open (forged, tampered, another endpoint's or
// user's), a plain tag, or two tags of different owners are ErrForged:
// answer Invalid. A request without a tag is returned as it is, at the
// cost of a byte search.
func OpenIn(m *pipeline.Message, c Codec) (out *pipeline.Message, owner string, err error) {
	if !m.IsRequest() || m.Params == nil || !bytes.Contains(m.Params, []byte(`"mcpgw`)) {
		return m, "", nil
	}
	first := true
	f := func(s string) (string, error) {
		token, ok := strings.CutPrefix(s, sealedPrefix)
		if !ok {
			if strings.HasPrefix(s, prefix) {
				return "", ErrForged // the gateway hands out no plain tag
			}
			return s, nil
		}
		value, o, ok := c.Open(token)
		if !ok || (!first && o != owner) {
			return "", ErrForged
		}
		first, owner = false, o
		return prefix + value, nil
	}
	params, changed, err := mapMembers(m.Params, requestMembers, f)
	if err != nil {
		return m, "", err
	}
	if !changed {
		return m, "", nil
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(params, &p); err != nil {
		return m, "", err
	}
	out, err = withParams(m, p)
	return out, owner, err
}

// The members that carry tags: strings at these paths of an object; a
// path element "*" is every element of an array.
var (
	requestMembers = [][]string{
		{"cursor"}, {"requestState"}, {"taskId"}, {"notifications", "taskIds", "*"},
	}
	resultMembers = [][]string{
		{"nextCursor"}, {"requestState"}, {"taskId"}, {"task", "taskId"}, {"tasks", "*", "taskId"},
	}
	notificationMembers = [][]string{
		{"requestState"}, {"taskId"}, {"notifications", "taskIds", "*"},
	}
)

// mapMembers applies f to the strings of obj at paths, and returns obj
// rebuilt if f changed one; only the members on a path are decoded, so a
// large list result passes mostly as raw bytes. An error of f is returned
// as it is.
func mapMembers(obj json.RawMessage, paths [][]string, f func(string) (string, error)) (json.RawMessage, bool, error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(obj, &top) != nil {
		return obj, false, nil
	}
	changed := false
	for _, p := range paths {
		e, ok := top[p[0]]
		if !ok {
			continue
		}
		out, c, err := mapAt(e, p[1:], f)
		if err != nil {
			return obj, false, err
		}
		if c {
			top[p[0]], changed = out, true
		}
	}
	return remarshal(obj, top, changed)
}

// mapAt applies f to the strings at path in raw, and returns raw rebuilt if
// it changed one. A member that is not what the path expects is left.
func mapAt(raw json.RawMessage, path []string, f func(string) (string, error)) (json.RawMessage, bool, error) {
	if len(path) == 0 {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return raw, false, nil
		}
		n, err := f(s)
		if err != nil || n == s {
			return raw, false, err
		}
		b, err := json.Marshal(n)
		return b, err == nil, err
	}
	if path[0] == "*" {
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil {
			return raw, false, nil
		}
		changed := false
		for i, e := range arr {
			out, c, err := mapAt(e, path[1:], f)
			if err != nil {
				return raw, false, err
			}
			if c {
				arr[i], changed = out, true
			}
		}
		return remarshal(raw, arr, changed)
	}
	var obj map[string]json.RawMessage
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &obj) != nil {
		return raw, false, nil
	}
	e, ok := obj[path[0]]
	if !ok {
		return raw, false, nil
	}
	out, c, err := mapAt(e, path[1:], f)
	if err != nil || !c {
		return raw, false, err
	}
	obj[path[0]] = out
	return remarshal(raw, obj, true)
}

// remarshal returns v encoded when changed, else raw.
func remarshal(raw json.RawMessage, v any, changed bool) (json.RawMessage, bool, error) {
	if !changed {
		return raw, false, nil
	}
	b, err := json.Marshal(v)
	return b, err == nil, err
}
