package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// A hop token goes with a request that one instance forwards to another
// (the instance that owns a stdio session): it says that an instance
// holding the key sent it, for this endpoint, session, user and method,
// at a time, with a nonce the receiver remembers (Guard) so that a token
// seen once is refused again. The endpoint, user, session id and method are
// the AEAD's additional data, not carried: the receiver gives what it reads
// from the request itself, so a token moved to another session, user,
// method or endpoint fails like a forged one.

// purposeHop separates hop tokens from session ids and tags.
const purposeHop = 'h'

// NonceSize is the size of a hop token's replay nonce.
const NonceSize = 16

// Hop is what a hop token carries.
type Hop struct {
	// Issued is when the forwarding instance made the token, to the
	// millisecond.
	Issued time.Time
	// Nonce is random: the receiver refuses a nonce it has seen.
	Nonce [NonceSize]byte
}

// hopPlain is the size of a hop token's plaintext: the time in
// milliseconds (8 bytes) and the nonce.
const hopPlain = 8 + NonceSize

// SealHop returns a fresh hop token for a request of method naming
// session sessionID (for a request that names none, the RequestSubject
// of its body), made at now and bound to b.
func (r *Ring) SealHop(b Binding, sessionID, method string, now time.Time) string {
	var pt [hopPlain]byte
	binary.BigEndian.PutUint64(pt[:8], uint64(max(now.UnixMilli(), 0)))
	_, _ = rand.Read(pt[8:]) // crypto/rand.Read never fails (Go 1.24+)
	return r.Seal(pt[:], hopAD(b, sessionID, method))
}

// OpenHop returns what a hop token carries if the ring sealed it for b,
// sessionID and method, else ErrInvalid whatever the reason. It does not
// judge freshness or replay: Guard.Check does.
func (r *Ring) OpenHop(token string, b Binding, sessionID, method string) (Hop, error) {
	if len(token) != SealedLen(hopPlain) {
		return Hop{}, ErrInvalid
	}
	pt, err := r.Open(token, hopAD(b, sessionID, method))
	if err != nil || len(pt) != hopPlain {
		return Hop{}, ErrInvalid
	}
	h := Hop{Issued: time.UnixMilli(int64(binary.BigEndian.Uint64(pt[:8])))}
	copy(h.Nonce[:], pt[8:])
	return h, nil
}

// RequestSubject is what the hop token of a request that names no session
// (a 2026-07-28 request, forwarded for the tags it carries) binds in a
// session id's place: a digest of the request's body, so that the token
// serves that one request and no other of the same user. It never equals a
// session id: ':' is in none.
func RequestSubject(body []byte) string {
	sum := sha256.Sum256(body)
	return "body:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// hopAD is a hop token's binding: each part with its length, so that no
// two bindings encode alike.
func hopAD(b Binding, sessionID, method string) []byte {
	ad := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(b.Endpoint)+len(b.User)+len(sessionID)+len(method))
	ad = append(ad, purposeHop)
	for _, s := range []string{b.Endpoint, b.User, sessionID, method} {
		ad = appendString(ad, s)
	}
	return ad
}
