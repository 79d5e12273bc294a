package remote

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Existing returns the upstream's session behind c (upstream.Joinable).
func (c *httpConn) Existing() (upstream.Existing, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessionID == "" || c.gone {
		return upstream.Existing{}, false
	}
	return upstream.Existing{SessionID: c.sessionID, Version: c.version}, true
}

// Detach closes c as Close does but sends no DELETE: the upstream session
// stays for another instance of the cluster (upstream.Detacher).
func (c *httpConn) Detach() { c.close(false) }

var (
	_ upstream.Joinable = (*httpConn)(nil)
	_ upstream.Detacher = (*httpConn)(nil)
)

// Existing returns the upstream's session behind c when it speaks
// Streamable HTTP (upstream.Joinable); an HTTP+SSE session has none to
// share.
func (c *autoConn) Existing() (upstream.Existing, bool) {
	if j, ok := c.current().(upstream.Joinable); ok {
		return j.Existing()
	}
	return upstream.Existing{}, false
}

// Detach closes c without ending the upstream session (upstream.Detacher).
func (c *autoConn) Detach() {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	if d, ok := conn.(upstream.Detacher); ok {
		d.Detach()
		return
	}
	conn.Close()
}

// Attach joins e, a session some instance opened on this upstream over
// Streamable HTTP (only such a session has an id to join), as HTTP.Attach
// does (upstream.Attacher).
func (a *Auto) Attach(ctx context.Context, r upstream.Receiver, e upstream.Existing) (upstream.Conn, error) {
	return a.h.Attach(ctx, r, e)
}

// ResumeGet passes a cluster's resume on to the Streamable HTTP session
// (upstream.GetResumer); an HTTP+SSE session has no event ids to resume by.
func (c *autoConn) ResumeGet(eventID string) bool {
	if r, ok := c.current().(upstream.GetResumer); ok {
		return r.ResumeGet(eventID)
	}
	return false
}

// ReleaseGet passes a cluster's release on to the Streamable HTTP session
// (upstream.GetReleaser).
func (c *autoConn) ReleaseGet() {
	if r, ok := c.current().(upstream.GetReleaser); ok {
		r.ReleaseGet()
	}
}

var (
	_ upstream.GetResumer  = (*autoConn)(nil)
	_ upstream.GetReleaser = (*autoConn)(nil)
	_ upstream.Joinable    = (*autoConn)(nil)
	_ upstream.Detacher    = (*autoConn)(nil)
	_ upstream.Attacher    = (*Auto)(nil)
)

// ErrSessionEnded is Attach's error for a session the server no longer has.
var ErrSessionEnded = errors.New("upstream: the server session ended")

// pingBody is the ping Attach checks a session with; its id cannot be one
// a client's request has, since the conn sends nothing else yet.
var pingBody = []byte(`{"jsonrpc":"2.0","id":"mcpgw-attach","method":"ping"}`)

// checkSession pings the server on c's session: a 404 says it ended.
func (c *httpConn) checkSession(ctx context.Context) error {
	resp, xerr := c.do(ctx, http.MethodPost, pingBody, "", nil)
	if xerr != nil {
		return xerr
	}
	defer resp.close()
	if resp.StatusCode == http.StatusNotFound {
		return ErrSessionEnded
	}
	resp.drain()
	return nil
}
