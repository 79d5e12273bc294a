package front

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
)

// newSessionID returns 128 random bits as 32 hex characters: visible ASCII,
// as the transport requires, and unguessable.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// eventID formats the SSE event id of event seq on stream index: the id
// names its stream, so a resume finds the right one.
func eventID(stream, seq uint64) string {
	return string(appendEventID(make([]byte, 0, 24), stream, seq))
}

// appendEventID appends eventID(stream, seq) to b.
func appendEventID(b []byte, stream, seq uint64) []byte {
	b = strconv.AppendUint(b, stream, 10)
	b = append(b, '_')
	return strconv.AppendUint(b, seq, 10)
}

// handoffs numbers the events that end a stream for a reload or an exit,
// process-wide (see handoffEventID).
var handoffs atomic.Uint64

// handoffEventID returns an event id that resumes stream at seq, like
// eventID(stream, seq), and that no event has carried before:
// <stream>_<seq>_<n> with n counted process-wide. A stream the gateway ends
// for a reload or an exit sends it last, so that the client's resume counts
// as progress: clients (the go-sdk's among them) give up a stream after a
// few reconnects without a new event id, and without it every reload would
// use up one of those retries.
func handoffEventID(stream, seq uint64) string {
	b := make([]byte, 0, 32)
	b = strconv.AppendUint(b, stream, 10)
	b = append(b, '_')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '_')
	return string(strconv.AppendUint(b, handoffs.Add(1), 10))
}

var errBadEventID = errors.New("malformed Last-Event-ID")

// parseEventID is the inverse of eventID and handoffEventID: it accepts
// <stream>_<seq> and <stream>_<seq>_<n>, and ignores n.
func parseEventID(s string) (stream, seq uint64, err error) {
	a, rest, ok := strings.Cut(s, "_")
	if !ok {
		return 0, 0, errBadEventID
	}
	b, n, handoff := strings.Cut(rest, "_")
	if stream, err = parseDecimal(a); err != nil {
		return 0, 0, err
	}
	if seq, err = parseDecimal(b); err != nil {
		return 0, 0, err
	}
	if handoff {
		if _, err = parseDecimal(n); err != nil {
			return 0, 0, err
		}
	}
	return stream, seq, nil
}

// parseDecimal parses a uint64 written in plain decimal digits, as eventID
// writes them (no sign, no underscores, no other base).
func parseDecimal(s string) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, errBadEventID
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errBadEventID
	}
	return v, nil
}
