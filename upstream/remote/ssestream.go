package remote

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/sse"
)

// recentIDs is how many event ids a stream remembers to drop replays of
// events it already delivered.
const recentIDs = 64

// streamState is what one logical upstream SSE stream (a POST's response
// stream, or the GET stream) remembers across reconnections.
type streamState struct {
	lastID   string        // sent as Last-Event-ID on resume ("" = none)
	retry    time.Duration // the server's last retry hint, 0 if none
	tooLarge bool          // an event was skipped for its size
	backoff  backoff
	seen     [recentIDs]string // ring of the latest event ids
	next     int
}

// seenID reports whether the event id was delivered already on this stream.
func (st *streamState) seenID(id string) bool {
	for _, s := range st.seen {
		if s == id {
			return true
		}
	}
	return false
}

func (st *streamState) remember(id string) {
	st.seen[st.next] = id
	st.next = (st.next + 1) % recentIDs
}

// readEvents reads an SSE body as it arrives and hands each message to fn,
// until the body ends (err nil), breaks (err), or done reports true after a
// message. Event ids and retry hints update st; an event whose id the stream
// already delivered is dropped, so a server that replays too much on resume
// causes no duplicates. progress reports whether anything new arrived.
func (c *httpConn) readEvents(body io.Reader, st *streamState, fn func(*pipeline.Message), done func() bool) (progress bool, err error) {
	r := eventReader(body, c.h.cfg.MaxMessageSize)
	defer releaseEventReader(r)
	for {
		ev, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return progress, err
		}
		if ev.HasRetry {
			st.retry = ev.Retry
		}
		if ev.HasID {
			if ev.ID != "" && st.seenID(ev.ID) {
				continue
			}
			st.lastID = ev.ID
			if ev.ID != "" {
				st.remember(ev.ID)
			}
			progress = true
		}
		if ev.TooLarge {
			progress, st.tooLarge = true, true
			c.logger.Warn("dropped a server message larger than max_message_size",
				zap.Int("max_message_size", c.h.cfg.MaxMessageSize))
			continue
		}
		if !ev.IsMessage() {
			continue
		}
		progress = true
		m, perr := pipeline.Parse(ev.Data)
		if perr != nil {
			c.logger.Warn("the upstream sent an SSE event that is not a JSON-RPC message",
				zap.Error(perr), zap.ByteString("data", truncate(ev.Data, 256)))
			if m = pipeline.StandIn(ev.Data, perr); m == nil {
				continue
			}
		}
		m.EventID = st.lastID // where a resume of this stream picks up after m
		fn(m)
		if done != nil && done() {
			return progress, nil
		}
	}
}

// eventReaders recycles the SSE readers of response streams: most are a
// POST's answer of one event, and a fresh reader's 4 KiB buffer was the
// largest allocation of a proxied call (issue 27). The messages read are
// copies (pipeline.Parse), so nothing refers to a reader put back.
var eventReaders sync.Pool

// eventReader returns a reader of body's events, recycled if one is free.
func eventReader(body io.Reader, max int) *sse.Reader {
	if r, ok := eventReaders.Get().(*sse.Reader); ok {
		r.Reset(body, max)
		return r
	}
	return sse.NewReader(body, max)
}

// releaseEventReader puts r back, holding on to no body.
func releaseEventReader(r *sse.Reader) {
	r.Reset(nil, 0)
	eventReaders.Put(r)
}

// mediaType returns the response's media type, lower case, without
// parameters.
func mediaType(h http.Header) string {
	v := h.Get("Content-Type")
	switch v {
	case "text/event-stream", "application/json":
		return v // as servers send them: what ParseMediaType returns, without its map
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return mt
}

// retryable reports whether a failure status to a GET is worth another try
// later: the server may be busy, restarting, or still holding the stream
// we lost (go-sdk answers 409 until it notices the old connection ended).
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// truncate shortens b to at most n bytes, for log fields.
func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
