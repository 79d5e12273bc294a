package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of a cluster key in bytes.
const KeySize = chacha20poly1305.KeySize

// version is the first byte of every token: a token of another layout fails
// to open rather than being misread.
const version = 1

// header is the version and key id bytes before the nonce.
const header = 2

// Overhead is what sealing adds to a plaintext, before base64: the header,
// the nonce and the tag.
const Overhead = header + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// ErrInvalid is the one error Open returns: a token that is malformed,
// tampered with, sealed under a key the ring does not hold, or bound to
// another endpoint or user all look the same to the caller, and so to the
// client.
var ErrInvalid = errors.New("invalid token")

// ParseKey decodes a cluster key written as base64 (standard or URL
// alphabet, padded or not) of exactly KeySize bytes. The error names neither
// the key nor any part of it.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("a cluster key must be %d bytes, base64-encoded; this one decodes to %d bytes", KeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("a cluster key must be %d bytes, base64-encoded; this one is not valid base64", KeySize)
}

// NewKey returns a fresh random key, base64-encoded as ParseKey reads it.
func NewKey() string {
	var k [KeySize]byte
	_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(k[:])
}

// Ring is a cluster's keys: the first seals, every one opens. It is safe for
// concurrent use and immutable once made.
type Ring struct {
	keys []ringKey
}

type ringKey struct {
	id   byte
	aead cipher.AEAD
}

// NewRing returns a ring of keys (each KeySize bytes), the first used to
// seal. Two equal keys are an error, since that is a configuration mistake
// (a rotation that did not change the key).
func NewRing(keys ...[]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("a cluster needs at least one key")
	}
	r := &Ring{keys: make([]ringKey, 0, len(keys))}
	seen := make(map[[sha256.Size]byte]bool, len(keys))
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("cluster key %d: must be %d bytes, is %d", i+1, KeySize, len(k))
		}
		sum := sha256.Sum256(append([]byte("caddy-mcp seal key id\x00"), k...))
		if seen[sum] {
			return nil, fmt.Errorf("cluster key %d: the same key is listed twice", i+1)
		}
		seen[sum] = true
		aead, err := chacha20poly1305.NewX(k)
		if err != nil {
			return nil, fmt.Errorf("cluster key %d: %v", i+1, err)
		}
		r.keys = append(r.keys, ringKey{id: sum[0], aead: aead})
	}
	return r, nil
}

// SealedLen returns the length of the token Seal makes of n plaintext bytes.
func SealedLen(n int) int { return base64.RawURLEncoding.EncodedLen(Overhead + n) }

// Seal returns plaintext sealed under the ring's first key and bound to ad,
// as base64url without padding (visible ASCII, safe in a header and a URL).
func (r *Ring) Seal(plaintext, ad []byte) string {
	k := r.keys[0]
	raw := make([]byte, header+chacha20poly1305.NonceSizeX, Overhead+len(plaintext))
	raw[0], raw[1] = version, k.id
	nonce := raw[header:]
	_, _ = rand.Read(nonce)
	raw = k.aead.Seal(raw, nonce, plaintext, adWith(raw[:header], ad))
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Open returns the plaintext of token if one of the ring's keys sealed it
// bound to ad, else ErrInvalid whatever the reason.
func (r *Ring) Open(token string, ad []byte) ([]byte, error) {
	if len(token) < SealedLen(0) || len(token) > maxToken {
		return nil, ErrInvalid
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(token)))
	n, err := base64.RawURLEncoding.Decode(raw, []byte(token))
	if err != nil || n < Overhead || raw[0] != version {
		return nil, ErrInvalid
	}
	raw = raw[:n]
	nonce := raw[header : header+chacha20poly1305.NonceSizeX]
	box := raw[header+chacha20poly1305.NonceSizeX:]
	full := adWith(raw[:header], ad)
	// Not in place: a failed Open zeroes its output, and two keys of a ring
	// may share a key id.
	pt := make([]byte, 0, len(box))
	for _, k := range r.keys {
		if k.id != raw[1] {
			continue
		}
		if out, err := k.aead.Open(pt, nonce, box, full); err == nil {
			return out, nil
		}
	}
	return nil, ErrInvalid
}

// maxToken bounds the token Open decodes, so a client cannot make an
// instance decode and authenticate megabytes per request.
const maxToken = 4096

// adWith returns the additional data the AEAD authenticates: the token's
// header (so version and key id cannot be changed) and the caller's binding.
func adWith(h, ad []byte) []byte {
	out := make([]byte, 0, len(h)+len(ad))
	return append(append(out, h...), ad...)
}
