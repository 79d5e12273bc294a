// Package replay is an upstream that answers clients from tapes, with no
// server: each client message is matched to one the recorded upstream
// received, and what the upstream sent after it on the tape is delivered,
// with the ids rewritten to the client's.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Match modes: how a client request is matched to a recorded one.
// initialize is matched on its method alone in every mode, so that a tape
// survives client upgrades.
const (
	// MatchParams matches method and params without _meta, the first
	// recorded request not used yet (repeated calls in recorded order).
	MatchParams = "params"
	// MatchSequence takes the recorded requests in order: the next one must
	// have the same method (and tool, prompt or resource name).
	MatchSequence = "sequence"
	// MatchStrict takes them in order and wants params equal, _meta included.
	MatchStrict = "strict"
)

// CodeNoMatch is the JSON-RPC error code of a request no tape answers.
const CodeNoMatch = pipeline.CodeInternalError

// queueLen bounds the client messages a connection holds before its
// deliverer took them; Send blocks beyond it.
const queueLen = 64

// Config configures a Replay.
type Config struct {
	// Tapes are answered from, in order: each request by the first that holds a match.
	Tapes []*tape.File
	// Name names the tapes in errors: the tape's file name, or the
	// directory's name (never a path).
	Name string
	// Match is MatchParams (default), MatchSequence or MatchStrict.
	Match string
	// Logger receives the requests no tape answers.
	Logger *zap.Logger
}

// Replay is an upstream.Upstream that answers from tapes.
type Replay struct {
	scripts   []*script // tapes of sessions (2025 revisions and earlier)
	stateless []*script // tapes of 2026-07-28 requests (stateless.go)
	name      string
	match     string
	logger    *zap.Logger
}

// Load reads a tape file, or every tape of a directory in name order, and
// returns them with the name errors use for them.
func Load(path string) ([]*tape.File, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !fi.IsDir() {
		f, err := tape.ReadFile(path)
		if err != nil {
			return nil, "", err
		}
		return []*tape.File{f}, f.Name, nil
	}
	paths, err := tape.List(path)
	if err != nil {
		return nil, "", err
	}
	if len(paths) == 0 {
		return nil, "", fmt.Errorf("%s: no tapes (*.jsonl) in the directory", path)
	}
	var files []*tape.File
	for _, p := range paths {
		f, err := tape.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		files = append(files, f)
	}
	return files, filepath.Base(filepath.Clean(path)), nil
}

// New compiles the tapes into a Replay.
func New(cfg Config) (*Replay, error) {
	switch cfg.Match {
	case "":
		cfg.Match = MatchParams
	case MatchParams, MatchSequence, MatchStrict:
	default:
		return nil, fmt.Errorf("replay: match must be params, sequence or strict, got %q", cfg.Match)
	}
	if len(cfg.Tapes) == 0 {
		return nil, errors.New("replay: no tapes")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	r := &Replay{name: cfg.Name, match: cfg.Match, logger: cfg.Logger}
	for _, f := range cfg.Tapes {
		s, err := compile(f)
		if err != nil {
			return nil, err
		}
		if f.Header.ProtocolVersion == Version20260728 {
			r.stateless = append(r.stateless, s)
		} else {
			r.scripts = append(r.scripts, s)
		}
	}
	return r, nil
}

// Open starts a replayed session: it has a cursor of its own in every tape.
func (r *Replay) Open(_ context.Context, rcv upstream.Receiver) (upstream.Conn, error) {
	c := &conn{
		r:       r,
		rcv:     rcv,
		cursors: make([]cursor, len(r.scripts)),
		queue:   make(chan *pipeline.Message, queueLen),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	for i, s := range r.scripts {
		c.cursors[i] = cursor{used: make([]bool, len(s.steps)), ids: map[string]json.RawMessage{}, tokens: map[string]json.RawMessage{}}
	}
	go c.run()
	return c, nil
}

// conn is one replayed session. Its goroutine takes the client's messages
// in order and delivers the answers, as a real upstream's reader would.
type conn struct {
	r       *Replay
	rcv     upstream.Receiver
	cursors []cursor // owned by the goroutine
	queue   chan *pipeline.Message
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
}

// cursor is a session's position in one tape.
type cursor struct {
	used   []bool
	next   int                        // sequence, strict: the next request step
	ids    map[string]json.RawMessage // tape request id → the client's id
	tokens map[string]json.RawMessage // tape request id → the client's progress token
}

// Send hands a client message to the replay.
func (c *conn) Send(ctx context.Context, m *pipeline.Message) error {
	select {
	case <-c.stop:
		return upstream.ErrClosed
	default:
	}
	select {
	case c.queue <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return upstream.ErrClosed
	}
}

// Close ends the session; the goroutine stops without delivering more.
func (c *conn) Close() { c.once.Do(func() { close(c.stop) }) }

func (c *conn) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case m := <-c.queue:
			c.handle(m)
		}
	}
}

func (c *conn) handle(m *pipeline.Message) {
	for i, s := range c.r.scripts {
		cur := &c.cursors[i]
		idx := c.find(s, cur, m)
		if idx < 0 {
			continue
		}
		cur.used[idx] = true
		st := s.steps[idx]
		if m.IsRequest() {
			cur.ids[st.msg.IDKey()] = m.ID
			if tok := progressToken(m.Params, true); tok != "" && st.token != "" {
				cur.tokens[st.msg.IDKey()] = json.RawMessage(tok)
			}
			if c.r.match != MatchParams || st.msg.Method == "initialize" {
				cur.next = max(cur.next, idx+1)
			}
		}
		c.deliverReplies(cur, st)
		return
	}
	switch {
	case m.IsRequest() && m.Method == "ping":
		c.deliver(pipeline.NewResult(m.ID, nil), m.ID) // the replay's own liveness
	case m.IsRequest():
		c.deliver(c.r.noMatch(m), m.ID)
	default:
		c.r.logger.Debug("replay: a client message matches nothing on the tapes; ignored",
			zap.String("tapes", c.r.name), zap.String("method", m.Method))
	}
}

// find returns the step of script s that matches m, or -1.
func (c *conn) find(s *script, cur *cursor, m *pipeline.Message) int {
	switch {
	case m.IsResponse():
		// The client answering a server request the tape made: by id.
		for i, st := range s.steps {
			if !cur.used[i] && st.msg.IsResponse() && st.msg.IDKey() == m.IDKey() {
				return i
			}
		}
		return -1
	case m.IsNotification():
		for i, st := range s.steps {
			if !cur.used[i] && st.msg.IsNotification() && st.msg.Method == m.Method {
				return i
			}
		}
		return -1
	}
	mode := c.r.match
	if m.Method == "initialize" {
		for i, st := range s.steps {
			if !cur.used[i] && st.msg.IsRequest() && st.msg.Method == "initialize" {
				return i
			}
		}
		return -1
	}
	if mode == MatchParams {
		want := canonical(m.Params, true)
		for i, st := range s.steps {
			if !cur.used[i] && st.msg.IsRequest() && st.msg.Method == m.Method && st.params == want {
				return i
			}
		}
		return -1
	}
	// sequence, strict: the next recorded request.
	for i := cur.next; i < len(s.steps); i++ {
		st := s.steps[i]
		if cur.used[i] || !st.msg.IsRequest() {
			continue
		}
		if st.msg.Method != m.Method {
			return -1
		}
		if mode == MatchStrict && st.strict != canonical(m.Params, false) {
			return -1
		}
		if mode == MatchSequence && st.name != newStep(m).name {
			return -1
		}
		return i
	}
	return -1
}

// deliverReplies hands over what the upstream sent after the step.
func (c *conn) deliverReplies(cur *cursor, st *step) {
	for _, r := range st.replies {
		switch {
		case r.respondsTo != "":
			id, ok := cur.ids[r.respondsTo]
			if !ok {
				continue
			}
			c.deliver(withID(r.msg, id), id)
		case r.relatedTo != "":
			id := cur.ids[r.relatedTo]
			m := r.msg
			if tok, ok := cur.tokens[r.relatedTo]; ok {
				m = withProgressToken(m, tok)
			}
			c.deliver(m, id)
		default:
			c.deliver(r.msg, nil)
		}
	}
}

// deliver hands one message to the client side, on the stream of the
// client request related (if the receiver routes by request).
func (c *conn) deliver(m *pipeline.Message, related json.RawMessage) {
	select {
	case <-c.stop:
		return
	default:
	}
	if rr, ok := c.rcv.(upstream.RelatedReceiver); ok && related != nil {
		rr.DeliverRelated(m, related)
		return
	}
	c.rcv.Deliver(m)
}

// noMatch is the error for a request no tape answers. It names the tape
// (by file name), the method and the tool, and nothing the tape recorded.
func (r *Replay) noMatch(m *pipeline.Message) *pipeline.Message {
	name := newStep(m).name
	what := m.Method
	if name != "" && m.Method == "tools/call" {
		what += " of tool " + fmt.Sprintf("%q", name)
	}
	r.logger.Info("replay: no recorded answer", zap.String("tapes", r.name), zap.String("method", m.Method),
		zap.String("name", name), zap.String("match", r.match))
	data := map[string]string{"tape": r.name, "method": m.Method, "match": r.match}
	if m.Method == "tools/call" && name != "" {
		data["tool"] = name
	}
	d, _ := json.Marshal(data)
	obj, _ := json.Marshal(pipeline.ErrorObject{
		Code:    CodeNoMatch,
		Message: fmt.Sprintf("replay: no recorded answer on tape %q for %s (match %s)", r.name, what, r.match),
		Data:    d,
	})
	return withError(m.ID, obj)
}

// withID returns the response m with the client's id.
func withID(m *pipeline.Message, id json.RawMessage) *pipeline.Message {
	if m.Error != nil {
		return withError(id, m.Error)
	}
	return pipeline.NewResult(id, m.Result)
}

func withError(id, obj json.RawMessage) *pipeline.Message {
	raw := make([]byte, 0, 32+len(id)+len(obj))
	raw = append(raw, `{"jsonrpc":"2.0","id":`...)
	raw = append(raw, id...)
	raw = append(raw, `,"error":`...)
	raw = append(raw, obj...)
	raw = append(raw, '}')
	return &pipeline.Message{Raw: raw, Kind: pipeline.KindResponse, ID: id, Error: obj}
}

// withProgressToken rewrites a progress notification's token to the client's.
func withProgressToken(m *pipeline.Message, tok json.RawMessage) *pipeline.Message {
	if m.Method != "notifications/progress" {
		return m
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(m.Params, &p) != nil {
		return m
	}
	p["progressToken"] = tok
	b, err := json.Marshal(p)
	if err != nil {
		return m
	}
	return pipeline.NewNotification(m.Method, b)
}

// Interface guards.
var (
	_ upstream.Upstream  = (*Replay)(nil)
	_ upstream.Stateless = (*Replay)(nil)
)
