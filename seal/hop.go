package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
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

// hopRaw is the size of a sealed hop token before base64.
const hopRaw = Overhead + hopPlain

// hopScratch is the working memory of sealing or opening one hop token,
// reused: a token is made and checked for every forwarded request, and
// Ring.Seal and Ring.Open would allocate the binding, the bytes and the
// plaintext each time.
type hopScratch struct {
	ad  []byte
	src []byte // the token's text, for base64 decoding
	raw [hopRaw]byte
	pt  [hopPlain]byte
}

var hopScratches = sync.Pool{New: func() any { return new(hopScratch) }}

// putHopScratch returns sc to the pool unless a long binding grew it.
func putHopScratch(sc *hopScratch) {
	if cap(sc.ad) <= maxToken {
		hopScratches.Put(sc)
	}
}

// SealHop returns a fresh hop token for a request of method naming
// session sessionID (for a request that names none, the RequestSubject
// of its body), made at now and bound to b. The token is what Ring.Seal
// makes of the plaintext and hopAD, without its allocations.
func (r *Ring) SealHop(b Binding, sessionID, method string, now time.Time) string {
	sc := hopScratches.Get().(*hopScratch)
	defer putHopScratch(sc)
	binary.BigEndian.PutUint64(sc.pt[:8], uint64(max(now.UnixMilli(), 0)))
	_, _ = rand.Read(sc.pt[8:]) // crypto/rand.Read never fails (Go 1.24+)
	k := r.keys[0]
	raw := sc.raw[:header+chacha20poly1305.NonceSizeX]
	raw[0], raw[1] = version, k.id
	_, _ = rand.Read(raw[header:])
	sc.ad = appendHopAD(append(sc.ad[:0], raw[:header]...), b, sessionID, method)
	raw = k.aead.Seal(raw, raw[header:], sc.pt[:], sc.ad)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// OpenHop returns what a hop token carries if the ring sealed it for b,
// sessionID and method, else ErrInvalid whatever the reason. It does not
// judge freshness or replay: Guard.Check does. It opens what Ring.Open
// would, without its allocations.
func (r *Ring) OpenHop(token string, b Binding, sessionID, method string) (Hop, error) {
	if len(token) != SealedLen(hopPlain) {
		return Hop{}, ErrInvalid
	}
	sc := hopScratches.Get().(*hopScratch)
	defer putHopScratch(sc)
	sc.src = append(sc.src[:0], token...)
	n, err := base64.RawURLEncoding.Decode(sc.raw[:], sc.src)
	if err != nil || n != hopRaw || sc.raw[0] != version {
		return Hop{}, ErrInvalid
	}
	nonce := sc.raw[header : header+chacha20poly1305.NonceSizeX]
	box := sc.raw[header+chacha20poly1305.NonceSizeX:]
	sc.ad = appendHopAD(append(sc.ad[:0], sc.raw[:header]...), b, sessionID, method)
	for _, k := range r.keys {
		if k.id != sc.raw[1] {
			continue
		}
		// Into pt, not in place: a failed Open zeroes its output, and
		// two keys of a ring may share a key id.
		if pt, err := k.aead.Open(sc.pt[:0], nonce, box, sc.ad); err == nil && len(pt) == hopPlain {
			h := Hop{Issued: time.UnixMilli(int64(binary.BigEndian.Uint64(pt[:8])))}
			copy(h.Nonce[:], pt[8:])
			return h, nil
		}
	}
	return Hop{}, ErrInvalid
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
	return appendHopAD(make([]byte, 0, 1+4*binary.MaxVarintLen64+len(b.Endpoint)+len(b.User)+len(sessionID)+len(method)),
		b, sessionID, method)
}

// appendHopAD appends hopAD(b, sessionID, method) to dst.
func appendHopAD(dst []byte, b Binding, sessionID, method string) []byte {
	dst = append(dst, purposeHop)
	for _, s := range [...]string{b.Endpoint, b.User, sessionID, method} {
		dst = appendString(dst, s)
	}
	return dst
}
