package pins

import (
	"encoding/json"
	"slices"
	"time"
)

// Action is what happens to a tool whose definition is judged.
type Action uint8

// The actions, in the order of how much they withhold.
const (
	// Pass lets the tool through.
	Pass Action = iota
	// Warn lets the tool through, and its drift is logged, counted and
	// flagged for review.
	Warn
	// Block keeps the tool in lists but refuses calls to it.
	Block
	// Hide removes the tool from lists and refuses calls to it as to an
	// unknown tool.
	Hide
)

// String names the action as the configuration and the metric do.
func (a Action) String() string {
	switch a {
	case Warn:
		return "warn"
	case Block:
		return "block"
	case Hide:
		return "hide"
	}
	return "allow"
}

// Config says what a Book does with drifts and new tools.
type Config struct {
	// OnChange applies to a definition that differs from its pin: Warn,
	// Hide or Block.
	OnChange Action
	// OnNew applies to a tool never pinned: Pass pins it at once, Hide
	// holds it for approval.
	OnNew Action
}

// Pin is one definition a Record holds.
type Pin struct {
	// Digest is the definition's Digest.
	Digest string `json:"digest"`
	// Definition is the canonical definition.
	Definition json.RawMessage `json:"definition"`
	// At is when it was pinned (Pinned) or first seen (Pending).
	At time.Time `json:"at"`
}

// maxRejected bounds the rejected digests a record remembers (oldest go).
const maxRejected = 16

// Record is what the storage holds of one tool of one server of one
// endpoint.
type Record struct {
	// Endpoint is the endpoint's name.
	Endpoint string `json:"endpoint"`
	// Server is the server's name among the endpoint's ("" before
	// federation: the endpoint's one server).
	Server string `json:"server,omitempty"`
	// Tool is the server's own name of the tool.
	Tool string `json:"tool"`
	// Pinned is the approved definition; nil for a new tool awaiting
	// approval.
	Pinned *Pin `json:"pinned,omitempty"`
	// Pending is the last definition seen that differs from Pinned,
	// awaiting review; nil when there is none.
	Pending *Pin `json:"pending,omitempty"`
	// Rejected lists the digests an operator rejected, so that a rejected
	// definition is not offered again.
	Rejected []string `json:"rejected,omitempty"`
}

// The states of a record, as the admin API names them.
const (
	StatePinned   = "pinned"
	StateDrift    = "drift"
	StateNew      = "new"
	StateRejected = "rejected"
)

// State tells whether the record awaits review.
func (r *Record) State() string {
	switch {
	case r.Pending == nil:
		return StatePinned
	case slices.Contains(r.Rejected, r.Pending.Digest):
		return StateRejected
	case r.Pinned == nil:
		return StateNew
	}
	return StateDrift
}

// clone copies the record deeply enough to be changed.
func (r *Record) clone() *Record {
	c := *r
	c.Rejected = slices.Clone(r.Rejected)
	return &c
}

// judgement is what decide makes of one definition.
type judgement struct {
	act Action
	// next is the record to store, nil when it does not change.
	next *Record
	// event is "drift" or "new" when next records a definition newly
	// awaiting review (the log line and the metric), else "".
	event string
}

// decide judges the definition with digest d (canonical def) of the tool
// whose record is rec (nil: never seen).
func decide(cfg Config, rec *Record, endpoint, server string, def Definition, now time.Time) judgement {
	seen := &Pin{Digest: def.Digest, Definition: def.Canonical, At: now}
	if rec == nil {
		rec = &Record{Endpoint: endpoint, Server: server, Tool: def.Name}
	}
	if rec.Pinned == nil {
		if cfg.OnNew == Pass && !rejected(rec, def.Digest) {
			next := rec.clone()
			next.Pinned, next.Pending = seen, nil
			return judgement{act: Pass, next: next}
		}
		return pending(rec, seen, Hide, "new")
	}
	if rec.Pinned.Digest == def.Digest {
		return judgement{act: Pass}
	}
	act := cfg.OnChange
	if act == Warn && rejected(rec, def.Digest) {
		act = Hide // the operator said no: warn no more, withhold
	}
	return pending(rec, seen, act, "drift")
}

// pending records seen as awaiting review unless it already is.
func pending(rec *Record, seen *Pin, act Action, event string) judgement {
	if rec.Pending != nil && rec.Pending.Digest == seen.Digest {
		return judgement{act: act}
	}
	next := rec.clone()
	next.Pending = seen
	if rejected(rec, seen.Digest) {
		event = "" // offered before and rejected: nothing new to review
	}
	return judgement{act: act, next: next, event: event}
}

// rejected reports whether an operator rejected digest for rec's tool.
func rejected(rec *Record, digest string) bool {
	return rec != nil && slices.Contains(rec.Rejected, digest)
}

// actionNow is what applies to the tool of rec when its server lists the
// definition with digest (the pending one when "", as a server that was
// seen to change is taken to serve the change): a call judged before any
// list since a restart is judged as the list would be.
func actionNow(cfg Config, rec *Record, digest string) Action {
	if rec == nil {
		return cfg.OnNew
	}
	if digest == "" && rec.Pending != nil {
		digest = rec.Pending.Digest
	}
	switch {
	case rec.Pinned == nil:
		if cfg.OnNew == Pass && !rejected(rec, digest) && digest != "" {
			return Pass
		}
		return Hide
	case digest == "" || digest == rec.Pinned.Digest:
		return Pass
	case cfg.OnChange == Warn && rejected(rec, digest):
		return Hide
	}
	return cfg.OnChange
}

// approve pins the pending definition whose digest is digest.
func approve(rec *Record, digest string) (*Record, bool) {
	if rec.Pending == nil || rec.Pending.Digest != digest {
		return nil, false
	}
	next := rec.clone()
	next.Pinned, next.Pending = rec.Pending, nil
	next.Rejected = slices.DeleteFunc(next.Rejected, func(d string) bool { return d == digest })
	return next, true
}

// reject remembers the pending definition whose digest is digest as
// rejected; the pin stays, and the definition stays withheld.
func reject(rec *Record, digest string) (*Record, bool) {
	if rec.Pending == nil || rec.Pending.Digest != digest {
		return nil, false
	}
	if slices.Contains(rec.Rejected, digest) {
		return rec, true
	}
	next := rec.clone()
	next.Rejected = append(next.Rejected, digest)
	if len(next.Rejected) > maxRejected {
		next.Rejected = next.Rejected[len(next.Rejected)-maxRejected:]
	}
	return next, true
}
