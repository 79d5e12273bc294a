package seal

import (
	"encoding/binary"
)

// purposeEvent separates SSE event ids from session ids and tags sealed
// under the same key.
const purposeEvent = 'e'

// Event is what a sealed SSE event id carries: where the gateway instance
// that minted it is in the session's stream, and where the upstream
// server's own stream is, so that an instance that did not mint it resumes
// from the upstream.
type Event struct {
	// Epoch names the instance's copy of the session that minted the id (a
	// random number per copy): the minting copy resumes from its own
	// buffer, any other from the upstream.
	Epoch uint64
	// Stream and Seq are the gateway's stream index and event number in
	// the minting copy.
	Stream, Seq uint64
	// Upstream is the upstream's event id to resume its stream after, as
	// the upstream (for a federation: its server) will read it; empty when
	// the upstream gave none.
	Upstream string
}

// SealEvent returns e sealed as an event id bound to b.
func (r *Ring) SealEvent(b Binding, e Event) string {
	pt := make([]byte, 8, 8+2*binary.MaxVarintLen64+binary.MaxVarintLen64+len(e.Upstream))
	binary.BigEndian.PutUint64(pt, e.Epoch)
	pt = binary.AppendUvarint(pt, e.Stream)
	pt = binary.AppendUvarint(pt, e.Seq)
	pt = appendString(pt, e.Upstream)
	return r.Seal(pt, eventAD(b))
}

// OpenEvent returns what id carries if the ring sealed it as an event id
// bound to b, else ErrInvalid whatever the reason.
func (r *Ring) OpenEvent(id string, b Binding) (Event, error) {
	pt, err := r.Open(id, eventAD(b))
	if err != nil || len(pt) < 8 {
		return Event{}, ErrInvalid
	}
	d := decoder{b: pt[8:]}
	e := Event{Epoch: binary.BigEndian.Uint64(pt)}
	e.Stream, e.Seq = d.uvarint(), d.uvarint()
	e.Upstream = d.string()
	if d.bad || len(d.b) != 0 {
		return Event{}, ErrInvalid
	}
	return e, nil
}

func eventAD(b Binding) []byte { return bindingAD(purposeEvent, b) }
