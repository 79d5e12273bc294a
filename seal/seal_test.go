package seal

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustKey(t testing.TB) []byte {
	t.Helper()
	k, err := ParseKey(NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t testing.TB, keys ...[]byte) *Ring {
	t.Helper()
	r, err := NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func oneUpstream() Session {
	return Session{
		Upstreams: []Upstream{{SessionID: "6f9619ff-8b86-d011-b42d-00c04fc964ff"}},
		Revision:  "2025-06-18",
		Issued:    time.Unix(1_780_000_000, 0),
	}
}

func TestSessionRoundTrip(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "https://issuer.example|alice"}
	fed := oneUpstream()
	fed.Upstreams = nil
	for _, m := range []string{"github", "jira", "search", "files"} {
		fed.Upstreams = append(fed.Upstreams, Upstream{Server: m, SessionID: "6f9619ff-8b86-d011-b42d-00c04fc964ff"})
	}
	stdio := Session{Upstreams: []Upstream{{Member: "0"}}, Owner: "node-3", Revision: "2024-11-05", Issued: time.Unix(5, 0)}
	for name, s := range map[string]Session{"one upstream": oneUpstream(), "four federated": fed, "stdio": stdio, "empty": {Issued: time.Unix(0, 0)}} {
		id, err := r.SealSession(b, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d characters", name, len(id))
		if strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("%s: id %q is not base64url", name, id)
		}
		got, err := r.OpenSession(id, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: opened %+v, sealed %+v", name, got, s)
		}
	}
}

// TestOpenRefuses: every way a token can be wrong fails with the same
// error, so nothing tells a client why.
func TestOpenRefuses(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	r := mustRing(t, k1)
	b := Binding{Endpoint: "api", User: "alice"}
	id, err := r.SealSession(b, oneUpstream())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(id)
	flip := func(i int) string {
		c := append([]byte(nil), raw...)
		c[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(c)
	}
	other, _ := mustRing(t, k2).SealSession(b, oneUpstream())
	plain := r.Seal([]byte("x"), []byte("api"))
	cases := []struct {
		name string
		ring *Ring
		id   string
		b    Binding
	}{
		{"wrong endpoint", r, id, Binding{Endpoint: "admin", User: "alice"}},
		{"wrong user", r, id, Binding{Endpoint: "api", User: "bob"}},
		{"anonymous for a user's id", r, id, Binding{Endpoint: "api"}},
		{"endpoint and user split differently", r, id, Binding{Endpoint: "apia", User: "lice"}},
		{"unknown key", mustRing(t, k2), id, b},
		{"sealed by another cluster", r, other, b},
		{"version byte", r, flip(0), b},
		{"key id byte", r, flip(1), b},
		{"nonce", r, flip(5), b},
		{"ciphertext", r, flip(header + 24 + 1), b},
		{"tag", r, flip(len(raw) - 1), b},
		{"truncated", r, id[:len(id)-1], b},
		{"extended", r, id + "A", b},
		{"not base64url", r, strings.Replace(id, id[10:11], "+", 1), b},
		{"padded", r, id + "=", b},
		{"empty", r, "", b},
		{"hex id of today", r, "0123456789abcdef0123456789abcdef", b},
		{"another kind of token", r, plain, b},
		{"huge", r, strings.Repeat("A", 1<<20), b},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.ring.OpenSession(c.id, c.b)
			if err != ErrInvalid {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !reflect.DeepEqual(s, Session{}) {
				t.Errorf("a refused id yielded %+v", s)
			}
		})
	}
}

// TestRotation: with "key NEW OLD" ids sealed under OLD still open and new
// ones are sealed under NEW; with "key NEW" only NEW's ids open.
func TestRotation(t *testing.T) {
	oldK, newK := mustKey(t), mustKey(t)
	b := Binding{Endpoint: "api"}
	before, _ := mustRing(t, oldK).SealSession(b, oneUpstream())
	during := mustRing(t, newK, oldK)
	if _, err := during.OpenSession(before, b); err != nil {
		t.Fatalf("an id sealed under the old key did not open during rotation: %v", err)
	}
	minted, _ := during.SealSession(b, oneUpstream())
	after := mustRing(t, newK)
	if _, err := after.OpenSession(minted, b); err != nil {
		t.Fatalf("an id minted during rotation did not open after it: %v", err)
	}
	if _, err := after.OpenSession(before, b); err != ErrInvalid {
		t.Fatalf("an id under a retired key: err = %v, want ErrInvalid", err)
	}
}

func TestSealSessionRevision(t *testing.T) {
	r := mustRing(t, mustKey(t))
	for _, rev := range []string{"2025-6-18", "draft", "2025-06-1x", "0000-00-00", "2025_06_18"} {
		s := oneUpstream()
		s.Revision = rev
		if _, err := r.SealSession(Binding{}, s); err == nil {
			t.Errorf("revision %q was sealed", rev)
		}
	}
}

func TestKeys(t *testing.T) {
	k := mustKey(t)
	std := base64.StdEncoding.EncodeToString(k)
	for _, c := range []struct {
		in, err string
	}{
		{std, ""},
		{" " + std + "\n", ""},
		{strings.TrimRight(std, "="), ""},
		{base64.URLEncoding.EncodeToString(k), ""},
		{base64.StdEncoding.EncodeToString(k[:16]), "decodes to 16 bytes"},
		{"not a key!", "not valid base64"},
		{"", "decodes to 0 bytes"},
	} {
		_, err := ParseKey(c.in)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseKey(%q) = %v, want %q", c.in, err, c.err)
		}
		if err != nil && len(c.in) > 8 && strings.Contains(err.Error(), c.in[:8]) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
	if _, err := NewRing(); err == nil {
		t.Error("an empty ring was made")
	}
	if _, err := NewRing(k, k); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a ring with a key twice: %v", err)
	}
	if _, err := NewRing(k[:31]); err == nil {
		t.Error("a short key made a ring")
	}
}

// BenchmarkOpenSession measures what every request of a clustered session
// pays: opening its id (one upstream, a two-key ring mid-rotation, the id
// sealed under the first).
func BenchmarkOpenSession(b *testing.B) {
	r := mustRing(b, mustKey(b), mustKey(b))
	bind := Binding{Endpoint: "api", User: "https://issuer.example|alice"}
	id, _ := r.SealSession(bind, oneUpstream())
	b.ReportMetric(float64(len(id)), "id-bytes")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.OpenSession(id, bind); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealSession measures minting an id (once per session).
func BenchmarkSealSession(b *testing.B) {
	r := mustRing(b, mustKey(b))
	bind := Binding{Endpoint: "api", User: "alice"}
	s := oneUpstream()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.SealSession(bind, s); err != nil {
			b.Fatal(err)
		}
	}
}
