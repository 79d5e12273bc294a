// Package hold keeps the messages a pause rule holds until an operator (or
// the rule's timeout) decides: continue (optionally with a replacement),
// block, or respond with a result. It is plain Go; the admin API of the
// Caddy face lists and decides what it holds, and streams each new hold and
// each decision to whoever listens.
package hold

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Kind is how a hold ended.
type Kind string

// The ways a hold ends.
const (
	Continue  Kind = "continue"
	Block     Kind = "block"
	Respond   Kind = "respond"
	TimedOut  Kind = "timeout"
	Cancelled Kind = "cancelled" // the message's session or request ended
)

// Decision is how a hold ended and with what.
type Decision struct {
	Kind Kind
	// Message replaces the held message (Continue; nil: unchanged).
	Message *pipeline.Message
	// Reason is the block's message (Block; "" for the rule's own).
	Reason string
	// Result is the result to answer with (Respond).
	Result json.RawMessage
}

// Entry describes a held message.
type Entry struct {
	ID        string          `json:"id"`
	Endpoint  string          `json:"endpoint"`
	Rule      string          `json:"rule"`
	Session   string          `json:"session,omitempty"`
	User      string          `json:"user,omitempty"`
	Direction string          `json:"direction"`
	Method    string          `json:"method,omitempty"`
	Tool      string          `json:"tool,omitempty"`
	Message   json.RawMessage `json:"message"`
	Since     time.Time       `json:"since"`
	// Client is whose share of max the hold counts against (the
	// authenticated user, else the client's address); "" counts against
	// no client's share, only against max.
	Client string `json:"-"`
}

// Event is a new hold or a decision, for listeners.
type Event struct {
	// Type is "held" or "decided".
	Type string `json:"type"`
	// Entry is the held message.
	Entry Entry `json:"entry"`
	// Decision is how it ended ("decided" events).
	Decision Kind `json:"decision,omitempty"`
}

// Errors of Decide.
var (
	// ErrUnknown means no message is held under the id (never was, or
	// already decided).
	ErrUnknown = errors.New("no message is held under this id (unknown, or already decided)")
	// ErrBadReplacement means a continue's replacement is not a JSON-RPC
	// message of the held one's kind.
	ErrBadReplacement = errors.New("the replacement is not a JSON-RPC message of the held message's kind")
)

type held struct {
	entry    Entry
	original *pipeline.Message
	decided  chan Decision // buffered 1; the first decision wins
}

// Registry holds messages. Its zero value is not usable; use NewRegistry.
type Registry struct {
	mu        sync.Mutex
	held      map[string]*held
	listeners map[chan Event]struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{held: make(map[string]*held), listeners: make(map[chan Event]struct{})}
}

// Hold holds m until a decision, timeout (0: none) or ctx's end, and
// returns how it ended. ok is false, at once, when max (> 0) messages of
// the same endpoint are already held, or when e.Client already holds its
// share of max (ClientShare): the caller applies its timeout action then.
func (r *Registry) Hold(ctx context.Context, e Entry, m *pipeline.Message, max int, timeout time.Duration) (d Decision, ok bool) {
	if ctx.Err() != nil {
		return Decision{Kind: Cancelled}, true // over before it began: nobody needs to see it
	}
	h := &held{entry: e, original: m, decided: make(chan Decision, 1)}
	h.entry.ID = newID()
	h.entry.Message = m.Raw
	h.entry.Since = time.Now().UTC().Truncate(time.Millisecond)
	r.mu.Lock()
	if max > 0 && !r.roomLocked(e.Endpoint, e.Client, max) {
		r.mu.Unlock()
		return Decision{Kind: TimedOut}, false
	}
	r.held[h.entry.ID] = h
	r.publishLocked(Event{Type: "held", Entry: h.entry})
	r.mu.Unlock()

	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case d = <-h.decided:
		return d, true // Decide removed the entry and told the listeners
	case <-timer:
		d = Decision{Kind: TimedOut}
	case <-ctx.Done():
		d = Decision{Kind: Cancelled}
	}
	r.mu.Lock()
	if r.held[h.entry.ID] == h {
		delete(r.held, h.entry.ID)
		r.publishLocked(Event{Type: "decided", Entry: h.entry, Decision: d.Kind})
		r.mu.Unlock()
		return d, true
	}
	r.mu.Unlock()
	return <-h.decided, true // decided just before the timeout or the end
}

// ClientShare is how many of max held messages one client may have while
// clients (itself included) have some: max/(clients+1), at least 1. One
// share always stays free for a client that holds nothing yet, so one
// client's holds never fill the bound for everyone; alone, a client may
// have half of it.
func ClientShare(max, clients int) int {
	if n := max / (clients + 1); n > 1 {
		return n
	}
	return 1
}

// ClientOf is the Entry.Client of a message of user (the authenticated
// user, "" if none) from address ip: the user when there is one, as the
// gateway's per-client session bound counts, else the address.
func ClientOf(user, ip string) string {
	switch {
	case user != "":
		return "user:" + user
	case ip != "":
		return "addr:" + ip
	}
	return ""
}

// roomLocked reports whether endpoint has room under max for another hold
// of client.
func (r *Registry) roomLocked(endpoint, client string, max int) bool {
	total, mine := 0, 0
	clients := map[string]struct{}{}
	for _, h := range r.held {
		if h.entry.Endpoint != endpoint {
			continue
		}
		total++
		if c := h.entry.Client; c != "" {
			clients[c] = struct{}{}
			if c == client {
				mine++
			}
		}
	}
	if total >= max {
		return false
	}
	if client == "" {
		return true
	}
	clients[client] = struct{}{}
	return mine < ClientShare(max, len(clients))
}

// List returns the held messages, oldest first.
func (r *Registry) List() []Entry {
	r.mu.Lock()
	out := make([]Entry, 0, len(r.held))
	for _, h := range r.held {
		out = append(out, h.entry)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Get returns the held message id, as it was held (what a continue
// without a replacement sends).
func (r *Registry) Get(id string) (Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.held[id]
	if !ok {
		return Entry{}, false
	}
	return h.entry, true
}

// Decide ends the hold id with d. For Continue with a replacement, raw is
// the replacement message: its id is forced back to the held one's.
func (r *Registry) Decide(id string, d Decision, replacement json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.held[id]
	if h == nil {
		return ErrUnknown
	}
	if d.Kind == Continue && len(bytes.TrimSpace(replacement)) > 0 {
		m, err := withID(replacement, h.original)
		if err != nil {
			return err
		}
		d.Message = m
	}
	if d.Kind == Respond && !h.original.IsRequest() {
		return fmt.Errorf("only a held request can be answered; this is a %s", h.original.Kind)
	}
	delete(r.held, id)
	h.decided <- d
	r.publishLocked(Event{Type: "decided", Entry: h.entry, Decision: d.Kind})
	return nil
}

// withID parses a replacement and gives it the original's id.
func withID(raw json.RawMessage, original *pipeline.Message) (*pipeline.Message, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadReplacement)
	}
	if original.ID != nil {
		doc["id"] = original.ID
	} else {
		delete(doc, "id")
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReplacement, err)
	}
	m, err := pipeline.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReplacement, err)
	}
	if m.Kind != original.Kind {
		return nil, fmt.Errorf("%w: a %s replaces a %s", ErrBadReplacement, m.Kind, original.Kind)
	}
	return m, nil
}

// listenerBuffer is how many events a listener may fall behind by before
// it is dropped (its stream ends; it can list and listen again).
const listenerBuffer = 64

// Listen returns a channel of events from now on and a stop function. The
// channel closes when the listener falls too far behind, or after stop.
func (r *Registry) Listen() (<-chan Event, func()) {
	ch := make(chan Event, listenerBuffer)
	r.mu.Lock()
	r.listeners[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.listeners[ch]; ok {
			delete(r.listeners, ch)
			close(ch)
		}
	}
}

func (r *Registry) publishLocked(ev Event) {
	for ch := range r.listeners {
		select {
		case ch <- ev:
		default: // too far behind: it ends rather than blocking holds
			delete(r.listeners, ch)
			close(ch)
		}
	}
}

func newID() string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return "h" + hex.EncodeToString(b[:])
}
