package tags

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
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
	var paths [][]string
	switch {
	case m.IsResponse() && m.Result != nil && bytes.Contains(m.Result, []byte(`"`+prefix)):
		paths = resultMembers
	case m.IsNotification() && m.Params != nil && bytes.Contains(m.Params, []byte(`"`+prefix)):
		paths = notificationMembers
	default:
		return m
	}
	raw, changed, _ := mapMembers(m.Raw, paths, func(s string) (string, error) {
		if !strings.HasPrefix(s, prefix) {
			return s, nil
		}
		return sealedPrefix + c.Seal(s[len(prefix):], owned(s)), nil
	})
	if !changed {
		return m
	}
	out, err := pipeline.Parse(raw)
	if err != nil {
		return m
	}
	out.Cached = m.Cached
	return out
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
	raw, changed, err := mapMembers(m.Raw, requestMembers, opener(c, &owner))
	if err != nil || !changed {
		return m, "", err
	}
	if out, err = pipeline.Parse(raw); err != nil {
		return m, "", err
	}
	return out, owner, nil
}

// OwnerIn returns what OpenIn would of request m's owner, and its error,
// without rebuilding m: the cost of reading where a request must go when
// it is served elsewhere.
func OwnerIn(m *pipeline.Message, c Codec) (owner string, err error) {
	if !m.IsRequest() || m.Params == nil || !bytes.Contains(m.Params, []byte(`"mcpgw`)) {
		return "", nil
	}
	open := opener(c, &owner)
	_, _, err = mapMembers(m.Raw, requestMembers, func(s string) (string, error) {
		_, err := open(s)
		return s, err
	})
	if err != nil {
		return "", err
	}
	return owner, nil
}

// opener returns the function that opens each tag of a request for
// OpenIn and OwnerIn, recording the owner they share in owner.
func opener(c Codec, owner *string) func(string) (string, error) {
	first := true
	return func(s string) (string, error) {
		token, ok := strings.CutPrefix(s, sealedPrefix)
		if !ok {
			if strings.HasPrefix(s, prefix) {
				return "", ErrForged // the gateway hands out no plain tag
			}
			return s, nil
		}
		value, o, ok := c.Open(token)
		if !ok || (!first && o != *owner) {
			return "", ErrForged
		}
		first, *owner = false, o
		return prefix + value, nil
	}
}

// The members of a message that carry tags: strings at these paths; a
// path element "*" is every element of an array.
var (
	requestMembers = [][]string{
		{"params", "cursor"}, {"params", "requestState"}, {"params", "taskId"}, {"params", "notifications", "taskIds", "*"},
	}
	resultMembers = [][]string{
		{"result", "nextCursor"}, {"result", "requestState"}, {"result", "taskId"}, {"result", "task", "taskId"}, {"result", "tasks", "*", "taskId"},
	}
	notificationMembers = [][]string{
		{"params", "requestState"}, {"params", "taskId"}, {"params", "notifications", "taskIds", "*"},
	}
)

// mapMembers applies f to the strings of doc at paths, and returns doc
// rebuilt if f changed one. Only the spans of those members are read and
// replaced (pipeline's pointers), so a large list passes as raw bytes. An
// error of f is returned as it is.
func mapMembers(doc []byte, paths [][]string, f func(string) (string, error)) ([]byte, bool, error) {
	changed := false
	for _, p := range paths {
		if !bytes.Contains(doc, []byte(`"`+p[1]+`"`)) {
			continue // a walk of a large list for a member it lacks costs more
		}
		out, c, err := mapPath(doc, p, 0, f)
		if err != nil {
			return doc, false, err
		}
		if c {
			doc, changed = out, true
		}
	}
	return doc, changed, nil
}

// mapPath applies f to the strings at path in doc, expanding the "*" at or
// after path[from] into the indexes of its array.
func mapPath(doc []byte, path []string, from int, f func(string) (string, error)) ([]byte, bool, error) {
	for i := from; i < len(path); i++ {
		if path[i] != "*" {
			continue
		}
		arr, ok := pipeline.ValueAt(doc, path[:i])
		if !ok || len(arr) == 0 || arr[0] != '[' {
			return doc, false, nil
		}
		changed := false
		for j := range pipeline.ArrayLen(arr) {
			p := append(append(append(make([]string, 0, len(path)), path[:i]...), strconv.Itoa(j)), path[i+1:]...)
			out, c, err := mapPath(doc, p, i+1, f)
			if err != nil {
				return doc, false, err
			}
			if c {
				doc, changed = out, true
			}
		}
		return doc, changed, nil
	}
	raw, ok := pipeline.ValueAt(doc, path)
	var s string
	if !ok || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return doc, false, nil
	}
	n, err := f(s)
	if err != nil || n == s {
		return doc, false, err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return doc, false, err
	}
	out, err := pipeline.SetAt(doc, path, b)
	return out, err == nil, err
}
