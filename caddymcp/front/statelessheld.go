package front

import (
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// A 2026-07-28 request that a stage holds (a pause, a delay) is answered as
// an SSE stream, decided when it is held, as a 2025 one is: keep-alive
// comments flow while it waits, and a client that gave a progressToken
// hears the gateway's progress (heldprogress.go) every heldProgressEvery,
// with the server's later progress shifted so that its values keep
// increasing. The hold runs on its own goroutine while the request's own
// goroutine writes the stream, so only this request waits. The hold's
// context is the request's (until the gateway exits): the client's
// disconnect releases it as cancelled and nothing reaches the server.

// statelessHold is the answer of a held 2026 request, once the hold is over.
type statelessHold struct {
	sw    *sseWriter     // the answer's stream, started when it was held
	shift *progressShift // the gateway's share of the request's progress token; nil without one
}

// holdStateless waits for a held request's pending decision while streaming
// keep-alives and progress, and returns the chain's final verdict. gone
// is true when the client left or the gateway exits meanwhile (nothing
// more is to be written or sent).
func (s *Server) holdStateless(w http.ResponseWriter, r *http.Request, m *pipeline.Message, p *pipeline.Pending) (v pipeline.Verdict, h *statelessHold, gone bool) {
	ctx, stop := s.untilExit(r.Context())
	defer stop()
	h = &statelessHold{sw: startSSE(w, http.StatusOK)}
	var progress <-chan time.Time
	if tok := m.ProgressToken(); len(tok) > 0 {
		h.shift = &progressShift{token: tok}
		t := time.NewTicker(heldProgressEvery(s.settings))
		defer t.Stop()
		progress = t.C
	}
	keepAlive := time.NewTicker(s.cfg.KeepAlive)
	defer keepAlive.Stop()

	decided := make(chan pipeline.Verdict, 1)
	go func() { decided <- p.Resume(ctx) }() // waited for below, whatever happens
	writable := h.sw.flushHeaders() == nil
	for {
		select {
		case v = <-decided:
			return v, h, ctx.Err() != nil
		case <-progress:
			if writable {
				h.sw.event("", h.shift.next().Raw)
			}
		case <-keepAlive.C:
			if writable {
				h.sw.comment("keepalive")
			}
		}
		// A failed write means the client is gone: its context ends, and
		// with it the hold, which the loop still waits for.
		writable = writable && h.sw.flush() == nil
	}
}

// answer writes a message to a held request's stream, the last of it.
func (h *statelessHold) answer(m *pipeline.Message) {
	h.sw.event("", m.Raw)
	_ = h.sw.flush()
}

// outbound wraps what the pipeline makes of a held call's deliveries with
// the shift of its progress: the gateway owns the token's values now.
func (h *statelessHold) outbound(out func(*delivery) *delivery, logger *zap.Logger) func(*delivery) *delivery {
	if h == nil || h.shift == nil {
		return out
	}
	token := string(h.shift.token)
	return func(d *delivery) *delivery {
		if d = out(d); d == nil || d.m == nil || d.m.Method != "notifications/progress" || string(d.m.NotificationProgressToken()) != token {
			return d
		}
		m, ok := h.shift.rewrite(d.m)
		if !ok {
			logger.Debug("dropped a server progress notification that would not increase the progress the client saw",
				zap.Float64("sent", h.shift.sent))
			return nil
		}
		return &delivery{m: m, status: d.status, retryAfter: d.retryAfter}
	}
}
