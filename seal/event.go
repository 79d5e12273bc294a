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
	// Request is, on a POST's stream, the request the stream answers, so
	// that another instance can go on with it; zero on the standalone
	// stream, and on a POST's of several requests (a batch).
	Request EventRequest
}

// EventRequest is what an event id says of the request its stream
// answers: what the stages and the call log read of it, and the id its
// answer goes out under.
type EventRequest struct {
	// ID is the request's JSON-RPC id as the client wrote it (raw JSON);
	// empty: the id carries no request.
	ID string
	// Method is the request's method, Target what it names (a tool or
	// prompt name, a resource URI; empty when it names none).
	Method, Target string
}

// methodCodes are the methods an event id writes as one byte (code i+1)
// rather than spelled out (code 0, then the string). Ids outlive a
// release (a rolling upgrade), so the list only grows at its end.
var methodCodes = [...]string{"tools/call", "prompts/get", "resources/read", "completion/complete",
	"tools/list", "prompts/list", "resources/list", "resources/templates/list", "tasks/get", "tasks/result"}

// SealEvent returns e sealed as an event id bound to b.
func (r *Ring) SealEvent(b Binding, e Event) string {
	q := e.Request
	pt := make([]byte, 8, 8+6*binary.MaxVarintLen64+len(e.Upstream)+len(q.ID)+len(q.Method)+len(q.Target))
	binary.BigEndian.PutUint64(pt, e.Epoch)
	pt = binary.AppendUvarint(pt, e.Stream)
	pt = binary.AppendUvarint(pt, e.Seq)
	pt = appendString(pt, e.Upstream)
	if q := e.Request; q.ID != "" {
		pt = appendString(pt, q.ID)
		pt = appendMethod(pt, q.Method)
		pt = appendString(pt, q.Target)
	}
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
	if len(d.b) > 0 { // absent from the ids of earlier releases
		e.Request.ID = d.string()
		e.Request.Method = d.method()
		e.Request.Target = d.string()
		if e.Request.ID == "" {
			d.bad = true
		}
	}
	if d.bad || len(d.b) != 0 {
		return Event{}, ErrInvalid
	}
	return e, nil
}

func eventAD(b Binding) []byte { return bindingAD(purposeEvent, b) }

// appendMethod writes method as its code, or spelled out (code 0).
func appendMethod(b []byte, method string) []byte {
	for i, m := range methodCodes {
		if m == method {
			return binary.AppendUvarint(b, uint64(i+1))
		}
	}
	return appendString(binary.AppendUvarint(b, 0), method)
}

// method reads what appendMethod wrote.
func (d *decoder) method() string {
	switch c := d.uvarint(); {
	case c == 0:
		return d.string()
	case c <= uint64(len(methodCodes)):
		return methodCodes[c-1]
	}
	d.bad = true
	return ""
}
