// Package seal makes the tokens a cluster of gateways hands to clients —
// session ids (SealSession) and tags such as cursors and task ids (SealTag) —
// that any instance
// holding the cluster key can open, and that nobody without the key can read,
// forge or move to another endpoint or user.
//
// A token is an XChaCha20-Poly1305 box under a key of the cluster's key ring
// (the first key seals, every key opens, so keys rotate without ending live
// sessions). The key is used directly: there is no per-token key derivation,
// so opening costs one AEAD pass over a few dozen bytes. The 24-byte nonce is
// random, which instances sharing a key need since they cannot share a
// counter. What a token is bound to but need not carry — the endpoint, the
// user — is the AEAD's additional data: a token presented on another endpoint
// or by another user fails the tag check exactly as a tampered one does.
//
// Layout of a token before base64url (no padding):
//
//	version (1 byte) | key id (1 byte) | nonce (24) | ciphertext | tag (16)
//
// The key id (a byte of a digest of the key) only saves trying every key; a
// token whose key id matches no key fails like any other bad token.
package seal
