package remote

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// getStream is the state of a session's upstream GET stream, which carries
// the server's messages unrelated to any request. It is held only while the
// client listens (plus a grace period), so idle sessions cost the upstream
// no open stream.
type getStream struct {
	mu          sync.Mutex
	listeners   int
	cancel      context.CancelFunc // of the running loop; nil if none
	done        chan struct{}      // closed when the latest loop returned
	gen         uint64             // counts loops, to ignore stale grace timers
	grace       *time.Timer
	unsupported bool   // the server answered 405: it offers no GET stream
	stopped     bool   // the conn ended
	from        string // Last-Event-ID of the next loop's first request (ResumeGet)

	// state is the stream's cursor across loops; only the running loop
	// touches it (a new loop waits for the previous one to return).
	state streamState
}

// Listen implements Listener: the upstream GET stream is opened when the
// first client stream opens, and closed GetStreamGrace after the last one
// closed.
func (c *httpConn) Listen(on bool) {
	g := &c.get
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	if on {
		g.listeners++
		if g.grace != nil {
			g.grace.Stop()
			g.grace = nil
		}
		if g.cancel == nil && !g.unsupported {
			c.startGetLocked()
		}
		return
	}
	if g.listeners == 0 {
		return
	}
	g.listeners--
	if g.listeners == 0 && g.cancel != nil {
		gen := g.gen
		g.grace = time.AfterFunc(c.h.cfg.GetStreamGrace, func() { c.endGrace(gen) })
	}
}

// startGetLocked starts the GET loop; g.mu is held.
func (c *httpConn) startGetLocked() {
	g := &c.get
	ctx, cancel := context.WithCancel(c.ctx)
	g.gen++
	g.cancel = cancel
	gen, prev, done := g.gen, g.done, make(chan struct{})
	g.done = done
	from := g.from
	g.from = ""
	c.h.goTracked(func() {
		defer close(done)
		defer cancel()
		if prev != nil {
			<-prev
		}
		if from != "" {
			g.state.lastID = from
		}
		c.getLoop(ctx, &g.state)
		g.mu.Lock()
		if g.gen == gen {
			g.cancel = nil
		}
		g.mu.Unlock()
	})
}

// endGrace closes the GET stream when nobody listened again in time.
func (c *httpConn) endGrace(gen uint64) {
	g := &c.get
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gen != gen || g.listeners > 0 || g.cancel == nil {
		return
	}
	c.logger.Debug("closing the upstream GET stream: no client listened within the grace period")
	g.endLocked()
}

// ReleaseGet closes the GET stream at once, without the grace period, if
// nobody listens (upstream.GetReleaser): in a cluster the client's next
// GET may land on another instance, which needs the server's one
// standalone stream of the session.
func (c *httpConn) ReleaseGet() {
	g := &c.get
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.listeners > 0 || g.cancel == nil {
		return
	}
	c.logger.Debug("closing the upstream GET stream: the client's GET ended, and may go on through another instance")
	g.endLocked()
}

// endLocked ends the running loop and its grace timer; g.mu is held.
func (g *getStream) endLocked() {
	if g.grace != nil {
		g.grace.Stop()
		g.grace = nil
	}
	g.cancel()
	g.cancel = nil
}

// stop ends the GET stream for good, with the conn.
func (g *getStream) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	if g.grace != nil {
		g.grace.Stop()
		g.grace = nil
	}
	if g.cancel != nil {
		g.cancel()
		g.cancel = nil
	}
}

// getLoop holds the GET stream until ctx ends, reconnecting with backoff
// and Last-Event-ID whenever the server drops it.
func (c *httpConn) getLoop(ctx context.Context, st *streamState) {
	select {
	case <-c.ready: // the session exists once initialize was answered
	case <-ctx.Done():
		return
	}
	failures := 0
	for first, progress := true, false; ; first = false {
		if !first && !sleep(ctx, reconnectDelay(&st.backoff, st.retry, progress)) {
			return
		}
		progress = false
		if !first {
			c.h.reconnected(ReconnectGet)
		}
		resp, xerr := c.do(ctx, http.MethodGet, nil, st.lastID, nil)
		if xerr != nil {
			if ctx.Err() != nil {
				return
			}
			c.logGetFailure(&failures, xerr.Error())
			continue
		}
		status := resp.StatusCode
		switch {
		case status == http.StatusMethodNotAllowed:
			resp.close()
			c.logger.Debug("the upstream offers no GET stream (405); not trying again in this session")
			c.get.mu.Lock()
			c.get.unsupported = true
			c.get.mu.Unlock()
			return
		case status == http.StatusNotFound && resp.sentSession:
			resp.close()
			c.sessionEnded(fmt.Sprintf("%s to the GET stream", resp.Status))
			return
		case status == http.StatusConflict:
			resp.close()
			c.logGetConflict(&failures)
			continue
		case status < 200 || status > 299 || mediaType(resp.Header) != "text/event-stream":
			body, _, _ := readBounded(resp.Body, 4<<10)
			resp.close()
			if status == http.StatusBadRequest && st.lastID != "" {
				// The server cannot replay from our cursor (its event store
				// may have dropped it): start over without one.
				st.lastID = ""
			}
			c.logGetFailure(&failures, c.statusError(resp.Response, body).Error())
			continue
		}
		failures = 0
		var err error
		progress, err = c.readEvents(resp.Body, st, func(m *pipeline.Message) {
			m.OnGetStream = true
			c.deliver(m, nil)
		}, nil)
		cause := context.Cause(resp.ctx)
		resp.close()
		if ctx.Err() != nil {
			return
		}
		if ce := c.logger.Check(zap.DebugLevel, "the upstream GET stream ended; reconnecting"); ce != nil {
			ce.Write(zap.Error(err), zap.NamedError("cause", cause), zap.String("last_event_id", st.lastID))
		}
	}
}

// logGetFailure logs the first failure of a streak as a warning and the
// rest at debug level, so a server that is down does not flood the log.
func (c *httpConn) logGetFailure(failures *int, msg string) {
	*failures++
	lvl := zap.DebugLevel
	if *failures == 1 {
		lvl = zap.WarnLevel
	}
	if ce := c.logger.Check(lvl, "opening the upstream GET stream failed; retrying with backoff"); ce != nil {
		ce.Write(zap.String("error", msg), zap.Int("attempt", *failures))
	}
}

// conflictWarnAfter is how many refusals in a row (409) the GET stream
// meets before one is logged as a warning.
const conflictWarnAfter = 4

// logGetConflict logs a 409 to the GET stream: the server holds the
// session's one standalone stream for another connection. In a cluster
// that is another instance, which lets go of it as its client's GET ends
// (ReleaseGet): a reconnect may race that, so the first few are expected
// and logged at debug level; a streak that lasts is a warning.
func (c *httpConn) logGetConflict(failures *int) {
	*failures++
	lvl := zap.DebugLevel
	if *failures == conflictWarnAfter {
		lvl = zap.WarnLevel
	}
	msg := "the upstream holds this session's standalone stream for another connection (409; in a cluster, another instance that still holds it); retrying with backoff"
	if ce := c.logger.Check(lvl, msg); ce != nil {
		ce.Write(zap.Int("attempt", *failures))
	}
}

// ResumeGet makes the next GET loop start after eventID, an event id this
// server gave on the session's GET stream to another instance of a
// cluster (upstream.GetResumer).
func (c *httpConn) ResumeGet(eventID string) bool {
	g := &c.get
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped || g.unsupported || g.cancel != nil {
		return false
	}
	g.from = eventID
	return true
}

var (
	_ upstream.GetResumer  = (*httpConn)(nil)
	_ upstream.GetReleaser = (*httpConn)(nil)
)
