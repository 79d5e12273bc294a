package federate

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// A federation's session in a cluster of gateways: the client's session id
// names one server session per server (ExistingSessions), and an instance
// that did not begin the session joins each of them (AttachSessions). A
// server that was not in the session when the id was made (down, left out)
// gets a session of its own on the joining instance, as a failed server's
// rejoin makes one; the id does not change, so every instance that joins
// makes its own such session.

// A joined session's gateway ids start at a random point at or above
// joinedIDBase, so that they do not repeat the ids that the instance that
// began the session sends the same server sessions (counting from 1), nor
// those of another instance that joined it: a server would take a second
// request under an id in flight for the answer to the first. They stay
// exact as JSON numbers (below 2^53).
const (
	joinedIDBase   = 1 << 32
	joinedIDSpread = 1 << 40
)

// ExistingSessions returns the server session of every server in the
// session (upstream.SessionsJoinable). A server whose session cannot be
// joined from elsewhere — one that keeps its sessions in a process of this
// instance (stdio), or gave no session id — makes the whole session one
// only this instance serves (ok false), as such a server alone would.
func (c *conn) ExistingSessions() ([]upstream.Existing, bool) {
	var es []upstream.Existing
	for _, m := range c.members {
		if !m.ready() {
			continue // left out: a joining instance opens a session of its own
		}
		j, ok := m.conn().(upstream.Joinable)
		if !ok {
			return nil, false
		}
		e, ok := j.Existing()
		if !ok {
			return nil, false
		}
		e.Server = m.name
		es = append(es, e)
	}
	return es, true
}

// Detach closes the session's connections without ending the servers'
// sessions (upstream.Detacher).
func (c *conn) Detach() { c.end(true) }

// detach closes the member's connection, leaving its server session alive
// when the connection can.
func (m *member) detach() {
	up := m.conn()
	if up == nil {
		return
	}
	if d, ok := up.(upstream.Detacher); ok {
		d.Detach()
		return
	}
	up.Close()
}

// errNoServerJoined is AttachSessions' error when no server is in the
// joined session.
var errNoServerJoined = errors.New("federate: no server of the session could be joined")

// AttachSessions joins the server sessions es, which another instance's
// session holds, on every server at once (upstream.SessionsAttacher). A
// server named in es is joined with no handshake; one that is not, or
// whose session has ended, gets a new session initialized as a rejoining
// server's is, and list_changed tells the client to list its names; one
// that fails both is left out and rejoins later, as in any session.
func (f *Federation) AttachSessions(ctx context.Context, r upstream.Receiver, version string, es []upstream.Existing) (upstream.Conn, error) {
	if r == nil {
		return nil, errors.New("federate: AttachSessions needs a Receiver")
	}
	c := newConn(f, r)
	c.nextID = joinedIDBase + rand.Int64N(joinedIDSpread)
	c.initParams = f.joinInitParams(version)
	ctx, cancel := context.WithTimeout(ctx, f.cfg.InitTimeout)
	defer cancel()
	joined, fresh := make([]bool, len(c.members)), make([]bool, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		e, known := existingOf(es, m.name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if known && f.attachMember(ctx, m, e, version) {
				joined[i] = true
				return
			}
			m.markDown()
			joined[i] = c.tryRejoin(m)
			fresh[i] = joined[i]
		}()
	}
	wg.Wait()
	n := 0
	for i, m := range c.members {
		switch {
		case fresh[i]:
			c.listChanged(m, allKinds...)
		case !joined[i]:
			f.log.Warn("a federated server could not join a session another instance began; the session goes on without it",
				zap.String("server", m.name))
			c.rejoin(m)
			continue
		}
		n++
	}
	if n == 0 {
		c.Close()
		return nil, errNoServerJoined
	}
	return c, nil
}

// attachMember joins m's server session e; it reports whether m is in the
// session.
func (f *Federation) attachMember(ctx context.Context, m *member, e upstream.Existing, version string) bool {
	a, ok := f.cfg.Servers[m.idx].Upstream.(upstream.Attacher)
	if !ok {
		return false
	}
	e.Server, e.Version = "", version
	up, err := a.Attach(ctx, m, e)
	if err != nil {
		f.log.Debug("joining a federated server's session failed; opening a new one",
			zap.String("server", m.name), zap.Error(err))
		return false
	}
	m.mu.Lock()
	m.up, m.down, m.initialized = up, false, true
	m.mu.Unlock()
	return true
}

// existingOf is the session of server name in es.
func existingOf(es []upstream.Existing, name string) (upstream.Existing, bool) {
	for _, e := range es {
		if e.Server == name {
			return e, true
		}
	}
	return upstream.Existing{}, false
}

// joinInitParams is the initialize a joining instance sends a server that
// needs a new session: the client's own params stayed with the instance
// that began the session, so it names the session's revision and the
// gateway, with no client capabilities.
func (f *Federation) joinInitParams(version string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"protocolVersion": version,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]string{"name": f.cfg.ServerName, "version": f.cfg.ServerVersion},
	})
	return b
}

// ResumeGet makes the standalone stream of the server the event id names
// (as named made it) pick up after that server's event id
// (upstream.GetResumer). The other servers' streams open afresh: the id
// carries one server's place.
func (c *conn) ResumeGet(eventID string) bool {
	server, id, ok := strings.Cut(eventID, ":")
	if m := c.memberNamed(server); ok && m != nil {
		r, ok := m.conn().(upstream.GetResumer)
		return ok && r.ResumeGet(id)
	}
	return false
}

// ReleaseGet passes a cluster's release on to every server's connection
// (upstream.GetReleaser).
func (c *conn) ReleaseGet() {
	for _, m := range c.members {
		if r, ok := m.conn().(upstream.GetReleaser); ok {
			r.ReleaseGet()
		}
	}
}

// memberNamed is the member of server name, nil if none.
func (c *conn) memberNamed(name string) *member {
	for _, m := range c.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

// Interface guards.
var (
	_ upstream.GetResumer       = (*conn)(nil)
	_ upstream.GetReleaser      = (*conn)(nil)
	_ upstream.SessionsJoinable = (*conn)(nil)
	_ upstream.SessionsAttacher = (*Federation)(nil)
	_ upstream.Detacher         = (*conn)(nil)
)
