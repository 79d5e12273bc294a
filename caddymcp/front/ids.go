package front

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
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
	b := make([]byte, 0, 24)
	b = strconv.AppendUint(b, stream, 10)
	b = append(b, '_')
	return string(strconv.AppendUint(b, seq, 10))
}

var errBadEventID = errors.New("malformed Last-Event-ID")

// parseEventID is the inverse of eventID.
func parseEventID(s string) (stream, seq uint64, err error) {
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return 0, 0, errBadEventID
	}
	if stream, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, errBadEventID
	}
	if seq, err = strconv.ParseUint(b, 10, 64); err != nil {
		return 0, 0, errBadEventID
	}
	return stream, seq, nil
}
