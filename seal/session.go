package seal

import (
	"encoding/binary"
	"errors"
	"time"
)

// Session is what a sealed session id carries: enough for any instance of
// the cluster to serve the session without having seen it.
type Session struct {
	// Upstreams are the sessions behind this one: one for an endpoint with
	// one upstream, one per server for a federated endpoint.
	Upstreams []Upstream
	// Revision is the protocol revision the client and the gateway
	// negotiated, a date such as "2025-06-18" (or empty).
	Revision string
	// Owner names the instance that owns the session's process (stdio
	// upstreams); empty when any instance can serve it.
	Owner string
	// Issued is when the session was made, to the second.
	Issued time.Time
}

// Upstream is one upstream session behind a gateway session.
type Upstream struct {
	// Server names the federated server the session is on, as the operator
	// wrote it (empty for an endpoint that is not federated).
	Server string
	// Member names the replica of a load-balancing group that holds the
	// session, as the operator wrote it (empty for one upstream).
	Member string
	// SessionID is the upstream's own Mcp-Session-Id (empty if it gave none).
	SessionID string
}

// Binding is what a token is accepted for without carrying it: the AEAD
// authenticates it, so the same token presented on another endpoint or by
// another user does not open.
type Binding struct {
	// Endpoint is the endpoint's name, the same on every instance.
	Endpoint string
	// User is who the session belongs to (empty: anonymous). The caller
	// chooses the form — Caddy's user id, or issuer and subject of a token —
	// and must give the same form when opening.
	User string
}

// purposeSession separates session ids from other tokens sealed under the
// same key (cursor tags, task ids): one cannot be passed off as another.
const purposeSession = 's'

// maxUpstreams bounds the upstream sessions one id may carry when opened.
const maxUpstreams = 64

var errRevision = errors.New("seal: a revision must be a date written YYYY-MM-DD")

// SealSession returns s sealed as a session id bound to b. It fails only
// for a revision that is not a YYYY-MM-DD date.
func (r *Ring) SealSession(b Binding, s Session) (string, error) {
	rev, ok := packRevision(s.Revision)
	if !ok {
		return "", errRevision
	}
	size := 3*binary.MaxVarintLen64 + len(s.Owner)
	for _, u := range s.Upstreams {
		size += 3*binary.MaxVarintLen64 + len(u.Server) + len(u.Member) + len(u.SessionID)
	}
	pt := make([]byte, 0, size)
	pt = binary.AppendUvarint(pt, uint64(max(s.Issued.Unix(), 0)))
	pt = binary.AppendUvarint(pt, rev)
	pt = appendString(pt, s.Owner)
	pt = binary.AppendUvarint(pt, uint64(len(s.Upstreams)))
	for _, u := range s.Upstreams {
		pt = appendString(appendString(appendString(pt, u.Server), u.Member), u.SessionID)
	}
	return r.Seal(pt, sessionAD(b)), nil
}

// OpenSession returns what id carries if the ring sealed it as a session id
// bound to b, else ErrInvalid whatever the reason.
func (r *Ring) OpenSession(id string, b Binding) (Session, error) {
	pt, err := r.Open(id, sessionAD(b))
	if err != nil {
		return Session{}, ErrInvalid
	}
	d := decoder{b: pt}
	var s Session
	issued, rev := d.uvarint(), d.uvarint()
	s.Revision = unpackRevision(rev)
	s.Owner = d.string()
	n := d.uvarint()
	if n > maxUpstreams {
		return Session{}, ErrInvalid
	}
	if n > 0 {
		s.Upstreams = make([]Upstream, n)
		for i := range s.Upstreams {
			s.Upstreams[i] = Upstream{Server: d.string(), Member: d.string(), SessionID: d.string()}
		}
	}
	if d.bad || len(d.b) != 0 || issued > 1<<40 || (rev != 0 && s.Revision == "") {
		return Session{}, ErrInvalid
	}
	s.Issued = time.Unix(int64(issued), 0)
	return s, nil
}

// sessionAD is a session id's binding as additional data.
func sessionAD(b Binding) []byte { return bindingAD(purposeSession, b) }

// bindingAD is a token's purpose and binding as additional data: the
// purpose, the endpoint with its length (so endpoint "a" and user "bc"
// differ from "ab" and "c"), then the user.
func bindingAD(purpose byte, b Binding) []byte {
	ad := make([]byte, 0, 1+binary.MaxVarintLen64+len(b.Endpoint)+len(b.User))
	ad = append(ad, purpose)
	return append(appendString(ad, b.Endpoint), b.User...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads what SealSession wrote; a short or malformed payload sets
// bad (only a key holder could make one, but opening must not panic).
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// packRevision writes "YYYY-MM-DD" as the number YYYYMMDD (four bytes as a
// varint instead of eleven as a string); "" is 0.
func packRevision(rev string) (uint64, bool) {
	if rev == "" {
		return 0, true
	}
	if len(rev) != 10 || rev[4] != '-' || rev[7] != '-' {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(rev); i++ {
		if i == 4 || i == 7 {
			continue
		}
		c := rev[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, v != 0
}

// unpackRevision is the inverse of packRevision.
func unpackRevision(v uint64) string {
	if v == 0 || v > 99991231 {
		return ""
	}
	var b [10]byte
	for i := 9; i >= 0; i-- {
		if i == 4 || i == 7 {
			b[i] = '-'
			continue
		}
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[:])
}
