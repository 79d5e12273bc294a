package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// errNoProgress is ResumeStream's error when resuming stopped advancing.
var errNoProgress = errors.New("upstream: resuming the stream made no progress")

// ResumeStream reads the server's stream after eventID — the answer stream
// of a POST that another instance of a cluster sent — handing each message
// to deliver, until the stream has carried its response, ctx ends, or
// resuming stops making progress (upstream.StreamResumer). It reconnects
// as a POST's own stream is resumed: GET with Last-Event-ID.
func (c *httpConn) ResumeStream(ctx context.Context, eventID string, deliver func(*pipeline.Message)) error {
	st := &streamState{lastID: eventID}
	answered := false
	fn := func(m *pipeline.Message) {
		answered = answered || m.IsResponse()
		deliver(m)
	}
	for attempts := 0; ; {
		progress, err := c.resumeOnce(ctx, st, fn, func() bool { return answered })
		switch {
		case answered:
			return nil
		case err != nil:
			return err
		case progress:
			attempts = 0
		}
		if attempts++; attempts > maxResumeAttempts {
			return errNoProgress
		}
		if !sleep(ctx, reconnectDelay(&st.backoff, st.retry, progress)) {
			return ctx.Err()
		}
		c.h.reconnected(ReconnectResume)
	}
}

// resumeOnce makes one GET of ResumeStream; err is set only when trying
// again is of no use.
func (c *httpConn) resumeOnce(ctx context.Context, st *streamState, fn func(*pipeline.Message), done func() bool) (progress bool, err error) {
	resp, xerr := c.do(ctx, http.MethodGet, nil, st.lastID, nil)
	if xerr != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && resp.sentSession:
		resp.close()
		c.sessionEnded(fmt.Sprintf("%s to a GET resuming another instance's response stream", resp.Status))
		return false, ErrSessionEnded
	case resp.StatusCode >= 200 && resp.StatusCode <= 299 && mediaType(resp.Header) == "text/event-stream":
		progress, _ = c.readEvents(resp.Body, st, fn, done)
		if done() {
			resp.drain()
		}
		resp.close()
		return progress, nil
	}
	body, _, _ := readBounded(resp.Body, 4<<10)
	resp.close()
	if !retryable(resp.StatusCode) {
		return false, c.statusError(resp.Response, body)
	}
	return false, nil
}

// ResumeStream resumes the Streamable HTTP session's stream
// (upstream.StreamResumer); an HTTP+SSE session has none to resume.
func (c *autoConn) ResumeStream(ctx context.Context, eventID string, deliver func(*pipeline.Message)) error {
	if r, ok := c.current().(upstream.StreamResumer); ok {
		return r.ResumeStream(ctx, eventID, deliver)
	}
	return errors.New("upstream: the session's transport has no streams to resume")
}

var (
	_ upstream.StreamResumer = (*httpConn)(nil)
	_ upstream.StreamResumer = (*autoConn)(nil)
)
