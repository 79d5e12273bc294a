// Package record is the pipeline tap that records sessions to tapes: a
// pipeline.Tap that hears the chain's final decision about each message
// and writes the message, with what the pipeline did to it, to the tape of
// its session through a tape.Writer, which never blocks it.
package record

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// DefaultMaxSessions bounds the sessions a Recorder keeps track of; the
// least recently active one is forgotten first (its tape file is closed, a
// later message of it starts a new tape).
const DefaultMaxSessions = 16384

// Config configures a Recorder.
type Config struct {
	// Writer writes the tapes; the Recorder does not close it.
	Writer *tape.Writer
	// Endpoint and Upstream are the names the tape headers carry.
	Endpoint, Upstream string
	// Sample is the share of sessions recorded, in (0, 1]; 0 records all.
	Sample float64
	// MaxSessions bounds the sessions tracked (DefaultMaxSessions).
	MaxSessions int
	// User returns the authenticated user of the request ctx belongs to ("" if none).
	User func(ctx context.Context) string
	// Client names the client of a 2026-07-28 request (its address) when it has no user.
	Client func(ctx context.Context) string
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Recorder records the sessions whose messages it sees. Sessions of the
// 2025 revisions get one tape each; 2026-07-28 requests, which have no
// session, go to one tape per client (its user, else its address) and UTC
// day: what one agent did that day, in order, is what a replay or a
// verify wants, where a tape per request would be thousands of
// two-line files with nothing to replay in sequence.
type Recorder struct {
	cfg Config

	mu       sync.Mutex
	sessions map[string]*list.Element // key → *session in lru
	lru      *list.List               // front: most recently active
	forced   map[string]bool          // session id → record (true) or not (false), from the admin API
}

type session struct {
	key   string
	tape  *tape.Tape // nil: not sampled
	start time.Time
}

// New returns a Recorder.
func New(cfg Config) *Recorder {
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Recorder{cfg: cfg, sessions: make(map[string]*list.Element), lru: list.New(), forced: make(map[string]bool)}
}

// Decided records a message with the chain's final decision about it
// (pipeline.Tap), and the reply a stage sent back in its place, if any.
func (r *Recorder) Decided(ctx context.Context, ex *pipeline.Exchange, d pipeline.Decision) {
	m, out, reply := Outcome(ex, d)
	r.Observe(ctx, ex, m, out)
	if reply != nil {
		back := *ex
		back.Direction = pipeline.ToClient
		if ex.Direction == pipeline.ToClient {
			back.Direction = pipeline.ToServer
		}
		// The reply answers m: its server is m's.
		back.RequestMethod, back.RequestTarget = ex.Method(m), ex.Target(m)
		action := tape.Generated // a stage's refusal
		if out.Action == tape.Mocked {
			action = tape.Mocked
		}
		r.Observe(ctx, &back, reply, tape.Outcome{Action: action, Stage: out.Stage})
	}
}

// Outcome says what a tape records of a decision: the message as it went
// on (or, when it did not, as it arrived), what the pipeline did to it,
// and the reply a stage sent back instead (Respond), which the tape holds
// in the other direction, "mocked" for a result and "generated" for an
// error.
//
//   - A message the gateway made itself is "generated" (with the form the
//     gateway made as the original, should a stage change it);
//   - one that went on is "passed", "modified" (with the form it arrived
//     in as the original) or, when a stage held it, "held";
//   - one a stage answered in place of its receiver is "mocked" (a
//     result) or "blocked" (an error), one it dropped "blocked".
//
// A held message keeps the hold's end (tape.Outcome.Ended) whatever its
// fate, so a replay tells a held-then-blocked request from a passed one.
func Outcome(ex *pipeline.Exchange, d pipeline.Decision) (m *pipeline.Message, out tape.Outcome, reply *pipeline.Message) {
	v := d.Verdict
	out = tape.Outcome{Stage: v.By, Ended: string(v.Ended), Cached: d.Message.Cached}
	switch v.Action {
	case pipeline.Respond:
		out.Action = tape.Blocked
		if v.Message.Result != nil && !ex.Gateway {
			out.Action = tape.Mocked
		}
		return d.Message, out, v.Message
	case pipeline.Drop:
		out.Action = tape.Blocked
		return d.Message, out, nil
	}
	m = v.Message
	if m == nil {
		m = d.Message
	}
	if d.Changed() {
		out.Original = json.RawMessage(d.Message.Raw)
	}
	switch {
	case ex.Gateway:
		out.Action = tape.Generated
	case v.Ended != "":
		out.Action = tape.Held
	case d.Changed():
		out.Action = tape.Modified
	default:
		out.Action, out.Stage = tape.Passed, ""
	}
	return m, out, nil
}

// Observe records m with what the pipeline did with it, for a caller that
// knows the outcome without a chain.
func (r *Recorder) Observe(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message, out tape.Outcome) {
	now := r.cfg.Now()
	s := r.session(ctx, ex, m, now)
	if s == nil || s.tape == nil {
		return
	}
	rec := tape.Record{OffsetMicros: now.Sub(s.start).Microseconds(), Msg: json.RawMessage(m.Raw), Pipeline: out}
	rec.Server, _ = ex.Server(m)
	if ex.Direction == pipeline.ToServer {
		rec.Dir = tape.ClientToServer
		rec.Stream = "post"
		if ex.SessionID == "" {
			rec.Stream = "request"
		}
	} else {
		rec.Dir = tape.ServerToClient
		if ex.SessionID == "" {
			rec.Stream = "request"
		}
	}
	r.cfg.Writer.Write(s.tape, rec)
}

// SetRecording forces the recording of the session id on (true) or off
// (false), whatever the sampling decided; it applies from the session's
// next message. It reports whether the session was recording before.
func (r *Recorder) SetRecording(id string, on bool) (was bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.sessions[id]; ok {
		s := e.Value.(*session)
		was = s.tape != nil
		if !on && s.tape != nil {
			r.cfg.Writer.End(s.tape)
			s.tape = nil
		}
		if on && s.tape == nil {
			r.lru.Remove(e)
			delete(r.sessions, id) // the next message starts a tape
		}
	}
	if len(r.forced) < r.cfg.MaxSessions {
		r.forced[id] = on
	}
	return was
}

// session finds or starts the session of a message.
func (r *Recorder) session(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message, now time.Time) *session {
	key := ex.SessionID
	if key == "" {
		client := r.who(ctx, r.cfg.User)
		if client == "" {
			client = r.who(ctx, r.cfg.Client)
		}
		key = "2026-07-28|" + client + "|" + now.UTC().Format(time.DateOnly)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.sessions[key]; ok {
		r.lru.MoveToFront(e)
		return e.Value.(*session)
	}
	s := &session{key: key, start: now}
	record, forced := r.forced[key]
	if !forced {
		record = r.cfg.Sample <= 0 || r.cfg.Sample >= 1 || rand.Float64() < r.cfg.Sample
	}
	if record {
		s.tape = tape.NewTape(tape.Header{
			Endpoint:        r.cfg.Endpoint,
			Upstream:        r.cfg.Upstream,
			ProtocolVersion: protocolVersion(ex, m),
			User:            r.who(ctx, r.cfg.User),
			Session:         SessionHash(key),
			Start:           now,
		})
	}
	r.sessions[key] = r.lru.PushFront(s)
	for r.lru.Len() > r.cfg.MaxSessions {
		old := r.lru.Back()
		gone := old.Value.(*session)
		r.lru.Remove(old)
		delete(r.sessions, gone.key)
		delete(r.forced, gone.key)
		if gone.tape != nil {
			r.cfg.Writer.End(gone.tape)
		}
	}
	return s
}

// SessionHash is the hash a tape header carries for a session id, for
// matching tapes to live sessions.
func SessionHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

func (r *Recorder) who(ctx context.Context, f func(context.Context) string) string {
	if f == nil || ctx == nil {
		return ""
	}
	return f(ctx)
}

// protocolVersion is the exchange's revision, or the one an initialize asks for.
func protocolVersion(ex *pipeline.Exchange, m *pipeline.Message) string {
	if ex.ProtocolVersion != "" || m.Method != "initialize" {
		return ex.ProtocolVersion
	}
	var p struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(m.Params, &p)
	return p.ProtocolVersion
}
