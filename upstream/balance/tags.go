package balance

import (
	"bytes"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// What one member mints and only it understands travels through the
// client tagged with the member's name (package tags, every kind).

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
