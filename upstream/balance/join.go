package balance

import (
	"context"
	"errors"
	"fmt"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// errNoMember is Attach's answer for a session on a member the group no
// longer has (a reload renamed or removed it): the client starts over.
var errNoMember = errors.New("balance: the session's member is not in the group")

// Attach joins e on the member e.Member names (upstream.Attacher): the
// session stays where it began, whatever the policy would pick, since only
// that member knows it. The member's health is not consulted: a member
// that lost the session shows on the first Send.
func (g *Group) Attach(ctx context.Context, r upstream.Receiver, e upstream.Existing) (upstream.Conn, error) {
	var m *Member
	for _, x := range g.members {
		if x.name == e.Member {
			m = x
			break
		}
	}
	if m == nil {
		return nil, errNoMember
	}
	a, ok := m.Upstream().(upstream.Attacher)
	if !ok {
		return nil, fmt.Errorf("upstream %s: its sessions cannot be joined", m.name)
	}
	c := &groupConn{g: g, r: r, tried: map[*Member]bool{m: true}}
	mc := &memberConn{gc: c, m: m}
	inner, err := a.Attach(ctx, mc, e)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", m.name, err)
	}
	mc.inner = inner
	m.track(mc)
	c.mu.Lock() // the member's reader may already look at it
	c.cur = mc
	c.mu.Unlock()
	return c, nil
}

// Existing returns the member's server session, named by the member
// (upstream.Joinable).
func (c *groupConn) Existing() (upstream.Existing, bool) {
	cur := c.current()
	j, ok := cur.inner.(upstream.Joinable)
	if !ok {
		return upstream.Existing{}, false
	}
	e, ok := j.Existing()
	e.Member = cur.m.name
	return e, ok
}

// ReleaseGet passes a cluster's release on to the member's session
// (upstream.GetReleaser).
func (c *groupConn) ReleaseGet() {
	if r, ok := c.current().inner.(upstream.GetReleaser); ok {
		r.ReleaseGet()
	}
}

// ResumeGet passes a cluster's resume on to the member's session
// (upstream.GetResumer).
func (c *groupConn) ResumeGet(eventID string) bool {
	if r, ok := c.current().inner.(upstream.GetResumer); ok {
		return r.ResumeGet(eventID)
	}
	return false
}

// ResumeStream resumes a stream of the member's session
// (upstream.StreamResumer).
func (c *groupConn) ResumeStream(ctx context.Context, eventID string, deliver func(*pipeline.Message)) error {
	if r, ok := c.current().inner.(upstream.StreamResumer); ok {
		return r.ResumeStream(ctx, eventID, deliver)
	}
	return fmt.Errorf("upstream %s: its streams cannot be resumed", c.current().m.name)
}

// Detach closes c without ending the member's server session
// (upstream.Detacher).
func (c *groupConn) Detach() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	cur := c.cur
	c.mu.Unlock()
	if cur.ended.CompareAndSwap(false, true) {
		cur.m.forget(cur)
		if d, ok := cur.inner.(upstream.Detacher); ok {
			d.Detach()
			return
		}
		cur.inner.Close()
	}
}

var (
	_ upstream.Attacher      = (*Group)(nil)
	_ upstream.GetResumer    = (*groupConn)(nil)
	_ upstream.GetReleaser   = (*groupConn)(nil)
	_ upstream.StreamResumer = (*groupConn)(nil)
	_ upstream.Joinable      = (*groupConn)(nil)
	_ upstream.Detacher      = (*groupConn)(nil)
)
