package front

import (
	"time"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// Cluster makes the endpoint one of several instances serving the same MCP
// service: the session ids it mints are sealed tokens (package seal) bound
// to Endpoint and the session's user, which any instance holding the key
// can open.
//
// A session this instance holds is found by its id in the Store as any
// session is, and its user compared, which judges exactly what opening the
// id would (the id was sealed here, for that user, on this endpoint) at the
// cost of a map lookup; a session of another user is then answered 404,
// like an unknown one, as another instance would answer it.
type Cluster struct {
	// Ring holds the cluster's keys.
	Ring *seal.Ring
	// Endpoint is the endpoint's name, the same on every instance.
	Endpoint string
	// Node is this instance's node_url: sealed into the ids and the tags
	// of its processes it mints as their owner, so that a session no other
	// instance can join (stdio) is forwarded here (forward.go). "": they
	// name no owner.
	Node string
	// Hops forwards requests to the instance that owns their session and
	// judges the ones forwarded here; nil: nothing is forwarded, and a
	// request that says it was is refused.
	Hops *Hops
	// HopTLS is how the certificate of another instance's https node_url
	// is checked (node_trust_pool, node_server_name); zero: against the
	// system's roots.
	HopTLS HopTLS
}

// mintSessionID returns the id of a new session of user that asked for
// revision: a sealed token with a cluster, else 128 random bits (c nil).
func (c *Cluster) mintSessionID(user, revision string) string {
	if c == nil {
		return newSessionID()
	}
	bind := seal.Binding{Endpoint: c.Endpoint, User: user}
	s := seal.Session{Revision: revision, Issued: time.Now(), Owner: c.Node}
	id, err := c.Ring.SealSession(bind, s)
	if err != nil {
		// The revision the client asked for is not a date (the front
		// answers such an initialize with the revision it supports): the id
		// carries none rather than the client's words.
		s.Revision = ""
		id, _ = c.Ring.SealSession(bind, s)
	}
	return id
}

// openSessionID returns what a sealed id carries if it was minted for this
// endpoint and user by an instance holding one of the ring's keys.
func (c *Cluster) openSessionID(id, user string) (seal.Session, bool) {
	s, err := c.Ring.OpenSession(id, seal.Binding{Endpoint: c.Endpoint, User: user})
	return s, err == nil
}
