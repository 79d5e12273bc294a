package front

import (
	"cmp"
	"context"
	"encoding/json"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Progress while held: a client that gave its request a progressToken gets
// notifications/progress about every heldProgressEvery while a stage holds
// the request, so that SDK clients that reset their timeout on progress
// keep waiting. The gateway then owns that token's values: it remembers the
// last value it sent and shifts the server's later progress (and total) by
// it, so that the values the client sees keep increasing; one that would
// not is dropped (and logged). Requests never held pay nothing: the shift
// applies only while shifted is non-empty.

// DefaultHeldProgressInterval is how often a held request's client hears
// progress (Config.HeldProgressInterval).
const DefaultHeldProgressInterval = 10 * time.Second

// heldProgressMessage is what the progress of a held request says.
const heldProgressMessage = "held by the gateway, waiting for a decision"

// progressShift is the gateway's share of a held request's progress token.
type progressShift struct {
	stream *stream
	token  json.RawMessage
	sent   float64 // the last value the client saw for the token
	offset float64 // the gateway's last value: what the server's progress (and total) is shifted by
}

// heldProgress sends progress for request key until ctx ends (the hold
// ended). It does nothing for a request without a progress token.
func (s *Session) heldProgress(ctx context.Context, key string) {
	s.mu.Lock()
	c := s.inflight[key]
	if c == nil || c.token == "" {
		s.mu.Unlock()
		return
	}
	if s.shifted == nil {
		s.shifted = make(map[string]*progressShift)
	}
	shift := s.shifted[c.token]
	if shift == nil {
		shift = &progressShift{stream: c.stream, token: json.RawMessage(c.token)}
		s.shifted[c.token] = shift
	}
	s.shiftCount.Store(int32(len(s.shifted)))
	s.mu.Unlock()
	tick := time.NewTicker(heldProgressEvery(s.settings.Load()))
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		s.mu.Lock()
		if s.inflight[key] != c {
			s.mu.Unlock()
			return
		}
		n := shift.next()
		s.mu.Unlock()
		shift.stream.append(n)
	}
}

// shiftProgress rewrites a server's progress for a token the gateway sent
// progress for; nil means drop it. The caller checks hasShifts first.
func (s *Session) shiftProgress(m *pipeline.Message) *pipeline.Message {
	tok := m.NotificationProgressToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	shift := s.shifted[string(tok)]
	if shift == nil {
		return m
	}
	shifted, ok := shift.rewrite(m)
	if !ok {
		s.settings.Load().logger.Debug("dropped a server progress notification that would not increase the progress the client saw",
			zap.String("session", s.id), zap.Float64("sent", shift.sent))
		return nil
	}
	return shifted
}

// forgetShiftLocked drops the shift of a request's token when the request ends.
func (s *Session) forgetShiftLocked(c *call) {
	if s.shifted != nil && c.token != "" {
		delete(s.shifted, c.token)
		s.shiftCount.Store(int32(len(s.shifted)))
	}
}

// hasShifts reports whether any request of the session had progress from
// the gateway (cheap: most sessions never hold a request).
func (s *Session) hasShifts() bool { return s.shiftCount.Load() > 0 }

// heldProgressEvery is the interval of progress while held.
func heldProgressEvery(set *sessionSettings) time.Duration {
	return cmp.Or(set.heldProgress, DefaultHeldProgressInterval)
}

// next counts one more progress of the gateway's and returns it. The
// caller guards p (2025: the session's mu; 2026: only the request's own
// goroutine touches it).
func (p *progressShift) next() *pipeline.Message {
	p.sent++
	p.offset = p.sent
	params, _ := json.Marshal(map[string]any{"progressToken": p.token, "progress": p.sent, "message": heldProgressMessage})
	return pipeline.NewNotification("notifications/progress", params)
}

// rewrite shifts a server's progress notification for p's token by what
// the gateway sent before it; ok is false when the shifted value would not
// increase what the client saw (drop it). A notification it cannot read
// goes on unchanged. The caller guards p.
func (p *progressShift) rewrite(m *pipeline.Message) (_ *pipeline.Message, ok bool) {
	var params map[string]json.RawMessage
	var progress float64
	if json.Unmarshal(m.Params, &params) != nil || json.Unmarshal(params["progress"], &progress) != nil {
		return m, true
	}
	// One fixed offset, not the last value seen: the server's values keep
	// their distances (1/2, 2/2 become n+1/n+2, n+2/n+2).
	base := p.offset
	v := base + progress
	if v <= p.sent {
		return nil, false
	}
	p.sent = v
	params["progress"] = json.RawMessage(strconv.FormatFloat(v, 'f', -1, 64))
	var total float64
	if raw, ok := params["total"]; ok && json.Unmarshal(raw, &total) == nil {
		params["total"] = json.RawMessage(strconv.FormatFloat(base+total, 'f', -1, 64))
	}
	b, err := json.Marshal(params)
	if err != nil {
		return m, true
	}
	return pipeline.NewNotification(m.Method, b), true
}
