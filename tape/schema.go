// Package tape is the recording format of MCP sessions: a versioned JSONL
// schema, a Writer that never blocks the session it records, redaction of
// JSON pointers, rotation into numbered files, and a Reader that takes the
// numbered files of one tape as one and ignores an unterminated last line.
//
// A tape is a header line and then one line per message:
//
//	{"tape":1,"endpoint":"docs","upstream":"everything","protocol_version":"2025-11-25","user":"alice","session":"3f9a…","start":"2026-12-02T01:54:34.123Z"}
//	{"t_us":1250,"dir":"c2s","stream":"post","msg":{"jsonrpc":"2.0","id":1,"method":"initialize",…},"pipeline":{"action":"passed"}}
//	{"t_us":9800,"dir":"s2c","server":"github","msg":{"jsonrpc":"2.0","id":1,"result":{…}},"pipeline":{"action":"passed"}}
//
// It is plain Go: it imports nothing of this project.
package tape

import (
	"encoding/json"
	"time"
)

// FormatVersion is the version of the schema this package writes. A reader
// refuses a tape of a later version, whose fields it cannot know.
const FormatVersion = 1

// Header is the first line of a tape, and of each of its continuation
// files (with Part set).
type Header struct {
	// Tape is the format version (FormatVersion); its presence marks a header line.
	Tape int `json:"tape"`
	// Endpoint is the name of the endpoint that recorded the session.
	Endpoint string `json:"endpoint,omitempty"`
	// Upstream names the upstream by its configured, secret-free name, never its URL or command line.
	Upstream string `json:"upstream,omitempty"`
	// ProtocolVersion is the MCP revision of the session's first message.
	ProtocolVersion string `json:"protocol_version,omitempty"`
	// User is the authenticated user of the session ("" if none).
	User string `json:"user,omitempty"`
	// Session is a hash of the session id (never the id itself, which a
	// client presents as its credential), or of the client key and day for
	// 2026-07-28 requests.
	Session string `json:"session,omitempty"`
	// Start is when the tape began.
	Start time.Time `json:"start"`
	// Part numbers a continuation file (1, 2, …); 0 on the first file.
	Part int `json:"part,omitempty"`
}

// Directions of a record.
const (
	// ClientToServer is a message from the client toward the upstream.
	ClientToServer = "c2s"
	// ServerToClient is a message from the upstream (or the gateway) toward the client.
	ServerToClient = "s2c"
)

// Actions say what the pipeline did with a message (Outcome.Action).
const (
	// Passed: the message went on unchanged.
	Passed = "passed"
	// Modified: a stage changed it; Outcome.Original holds the form it arrived in.
	Modified = "modified"
	// Blocked: a stage stopped it: dropped it, or answered a request with
	// an error in place of its receiver (that error follows as Generated).
	Blocked = "blocked"
	// Mocked: a stage answered a request with a result in place of its
	// receiver; the answer follows, in the other direction, Mocked too.
	Mocked = "mocked"
	// Held: a stage held it and then let it go on; Outcome.Ended says how
	// the hold ended, Outcome.Original holds the form it arrived in if it
	// was edited. A held message that was then blocked or answered is
	// Blocked or Mocked, with Ended set.
	Held = "held"
	// Generated: the gateway made the message itself — its own error
	// answers (a request_timeout, a failed upstream, a session's end, a
	// stage's refusal) and the cancels it sends; Outcome.Original holds the
	// form the gateway made if a stage changed it.
	Generated = "generated"
)

// Outcome is what the pipeline did with a message.
type Outcome struct {
	// Action is one of Passed, Modified, Blocked, Mocked, Held, Generated.
	Action string `json:"action"`
	// Stage names the stage that acted, if any.
	Stage string `json:"stage,omitempty"`
	// Original is the message as it arrived, for Modified (redacted like Msg).
	Original json.RawMessage `json:"original,omitempty"`
	// Ended says how a hold ended: "released", "timeout", "cancelled", "session_end".
	Ended string `json:"ended,omitempty"`
	// Cached says the gateway's cache answered in place of the upstream,
	// with what the upstream had answered an earlier request (a server's
	// public result): the upstream did not see this request.
	Cached bool `json:"cached,omitempty"`
}

// Record is one message line of a tape.
type Record struct {
	// OffsetMicros is the time since the header's Start, in microseconds.
	OffsetMicros int64 `json:"t_us"`
	// Dir is ClientToServer or ServerToClient.
	Dir string `json:"dir"`
	// Stream names the stream the message travelled on where known: "post"
	// (a client's POST), "get" (the standalone GET stream), "request" (a
	// 2026-07-28 request's own answer); "" when the recorder cannot tell.
	Stream string `json:"stream,omitempty"`
	// Server is, on an endpoint of several MCP servers, the server the
	// message concerns (for a response: the server of the request it
	// answers), where the endpoint could tell; "" otherwise. Tapes written
	// before it have none, and read as they did.
	Server string `json:"server,omitempty"`
	// Msg is the JSON-RPC message, compacted and redacted.
	Msg json.RawMessage `json:"msg"`
	// Pipeline is what the pipeline did with it.
	Pipeline Outcome `json:"pipeline"`
}

// Upstream returns the message as the upstream server side of the session
// had it — the form a client message reached the server in, the form the
// server sent a message in (before a stage changed it) — and false for a
// message the server never saw or never sent: a client message a stage
// blocked or answered, and whatever the gateway or a stage made itself.
// Replay and verify read tapes through it.
func (r *Record) Upstream() (json.RawMessage, bool) {
	switch r.Pipeline.Action {
	case Generated, Mocked:
		return nil, false
	case Blocked:
		if r.Dir == ClientToServer {
			return nil, false
		}
	}
	if r.Dir == ServerToClient && r.Pipeline.Original != nil {
		return r.Pipeline.Original, true
	}
	return r.Msg, true
}

// Offset returns the record's time since the start of the tape.
func (r *Record) Offset() time.Duration { return time.Duration(r.OffsetMicros) * time.Microsecond }
