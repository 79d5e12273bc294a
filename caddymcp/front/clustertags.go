package front

import (
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// With a cluster every tag the gateway mints — a member's or a process's
// cursor, requestState or task id, a federation's cursor — reaches the
// client sealed for this endpoint and the request's user, and comes back
// plain to the upstream layers, which tag as without a cluster
// (upstream/tags: SealOut, OpenIn). This is the one place that happens:
// what the upstream delivers (sealTags) and the request on its way there
// (openTags), for 2026-07-28 requests and for sessions alike.

// codec returns the tags codec of user's messages.
func (c *Cluster) codec(user string) *seal.Codec {
	return &seal.Codec{Ring: c.Ring, Binding: seal.Binding{Endpoint: c.Endpoint, User: user}, Node: c.Node}
}

// sealTags returns m, on its way to user, with the tags it carries sealed.
func (c *Cluster) sealTags(m *pipeline.Message, user string) *pipeline.Message {
	return tags.SealOut(m, c.codec(user))
}

// TagOwner returns the node_url of the instance that must serve request
// m of user, for the tags it carries: "" when any instance may (no tag, or
// tags an HTTP upstream minted), this instance's own Node for a tag of
// one of its processes, another's for one of that instance's. ok is false
// for a request whose tags are not this endpoint's for this user (the
// request is answered tags.Invalid). It is the seam for forwarding a
// 2026-07-28 request to its owner.
func (c *Cluster) TagOwner(m *pipeline.Message, user string) (owner string, ok bool) {
	owner, err := tags.OwnerIn(m, c.codec(user))
	return owner, err == nil
}

// openTags opens the tags of request m of user into the plain ones the
// upstream layers read. It returns nil when a tag is forged, tampered, or
// another endpoint's, user's or instance's: the caller answers
// tags.Invalid, as to a cursor or task id no upstream minted.
func (c *Cluster) openTags(m *pipeline.Message, user string) *pipeline.Message {
	out, owner, err := tags.OpenIn(m, c.codec(user))
	if err != nil || (owner != "" && owner != c.Node) {
		// Another instance's process holds what the tag names: it lives
		// there only (forwarding to the owner is not done here).
		return nil
	}
	return out
}

// openStateless opens the tags of a 2026-07-28 request on its way
// upstream; false: answer tags.Invalid.
func (c *Cluster) openStateless(req *upstream.StatelessRequest) bool {
	out := c.openTags(req.Message, req.User)
	if out == nil {
		return false
	}
	if out != req.Message {
		req.Message = out
		req.Header = tags.Header(req.Header, out) // Mcp-Name mirrors the task id the upstream reads
	}
	return true
}

// sealingDeliver wraps deliver so that what the upstream sends user has
// its tags sealed.
func (c *Cluster) sealingDeliver(user string, deliver func(*pipeline.Message, int)) func(*pipeline.Message, int) {
	return func(m *pipeline.Message, status int) { deliver(c.sealTags(m, user), status) }
}
