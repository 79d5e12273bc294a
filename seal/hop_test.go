package seal

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// TestHopGuard: a hop token is accepted once, fresh, for exactly the
// endpoint, user, session and method it was made for; everything else is
// ErrInvalid, the same answer whatever the reason.
func TestHopGuard(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "alice"}
	now := time.Unix(1_780_000_000, 0)
	const sid, method = "sealed-session-id", "POST"
	good := func() string { return r.SealHop(b, sid, method, now) }
	replayed := good()
	cases := []struct {
		name   string
		token  string
		ring   *Ring
		b      Binding
		sid    string
		method string
		at     time.Time
		prior  []string // checked before, each accepted
		want   error
	}{
		{name: "fresh", token: good(), want: nil},
		{name: "fresh, within the window", token: r.SealHop(b, sid, method, now.Add(-29*time.Second)), want: nil},
		{name: "a clock a little ahead", token: r.SealHop(b, sid, method, now.Add(29*time.Second)), want: nil},
		{name: "replayed", token: replayed, prior: []string{replayed}, want: ErrInvalid},
		{name: "expired", token: r.SealHop(b, sid, method, now.Add(-31*time.Second)), want: ErrInvalid},
		{name: "from the future", token: r.SealHop(b, sid, method, now.Add(31*time.Second)), want: ErrInvalid},
		{name: "another endpoint", token: good(), b: Binding{Endpoint: "admin", User: "alice"}, want: ErrInvalid},
		{name: "another user", token: good(), b: Binding{Endpoint: "api", User: "bob"}, want: ErrInvalid},
		{name: "anonymous", token: good(), b: Binding{Endpoint: "api"}, want: ErrInvalid},
		{name: "another session", token: good(), sid: "another-session", want: ErrInvalid},
		{name: "another method", token: good(), method: "DELETE", want: ErrInvalid},
		{name: "another key", token: good(), ring: mustRing(t, mustKey(t)), want: ErrInvalid},
		{name: "a session id", token: func() string { id, _ := r.SealSession(b, oneUpstream()); return id }(), want: ErrInvalid},
		{name: "a tag", token: r.SealTag(b, Tag{Value: strings.Repeat("x", hopPlain-1)}), want: ErrInvalid},
		{name: "tampered", token: flipLast(good()), want: ErrInvalid},
		{name: "empty", token: "", want: ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGuard(30*time.Second, 100)
			ring, bind, s, m, at := r, b, sid, method, now
			if c.ring != nil {
				ring = c.ring
			}
			if c.b != (Binding{}) {
				bind = c.b
			}
			if c.sid != "" {
				s = c.sid
			}
			if c.method != "" {
				m = c.method
			}
			for _, p := range c.prior {
				if err := g.Check(r, p, b, sid, method, now); err != nil {
					t.Fatalf("the first use: %v", err)
				}
			}
			if err := g.Check(ring, c.token, bind, s, m, at); err != c.want {
				t.Fatalf("Check = %v, want %v", err, c.want)
			}
		})
	}
}

func flipLast(tok string) string {
	b := []byte(tok)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

// TestHopGuardBound: a full guard says ErrBusy rather than forget a fresh
// nonce, and makes room as tokens go stale.
func TestHopGuardBound(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api"}
	now := time.Unix(1_780_000_000, 0)
	g := NewGuard(30*time.Second, 2)
	for i := range 2 {
		if err := g.Check(r, r.SealHop(b, "s", "GET", now), b, "s", "GET", now); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	if err := g.Check(r, r.SealHop(b, "s", "GET", now), b, "s", "GET", now); err != ErrBusy {
		t.Fatalf("a third token: %v, want ErrBusy", err)
	}
	later := now.Add(32 * time.Second)
	if err := g.Check(r, r.SealHop(b, "s", "GET", later), b, "s", "GET", later); err != nil {
		t.Fatalf("after the first tokens went stale: %v", err)
	}
	if g.n != 1 {
		t.Errorf("the guard holds %d nonces, want 1", g.n)
	}
}

// BenchmarkHop measures what a forwarded request costs in tokens: sealing
// one on the forwarding instance and checking it on the owner.
func BenchmarkHop(b *testing.B) {
	r := mustRing(b, mustKey(b))
	bind := Binding{Endpoint: "api", User: "https://issuer.example|alice"}
	g := NewGuard(30*time.Second, 1<<20)
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		tok := r.SealHop(bind, "sealed-session-id", "POST", now)
		if err := g.Check(r, tok, bind, "sealed-session-id", "POST", now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRequestSubject: a hop token made for one request body opens for that
// body only, and the subject of a body is never a session id's.
func TestRequestSubject(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "alice"}
	get, cancel := []byte(`{"jsonrpc":"2.0","id":1,"method":"tasks/get"}`), []byte(`{"jsonrpc":"2.0","id":1,"method":"tasks/cancel"}`)
	tok := r.SealHop(b, RequestSubject(get), "POST", time.Now())
	if _, err := r.OpenHop(tok, b, RequestSubject(get), "POST"); err != nil {
		t.Fatalf("the token for its body: %v", err)
	}
	if _, err := r.OpenHop(tok, b, RequestSubject(cancel), "POST"); err != ErrInvalid {
		t.Errorf("the token for another body: %v, want ErrInvalid", err)
	}
	if s := RequestSubject(get); !strings.HasPrefix(s, "body:") || RequestSubject(get) != s || RequestSubject(cancel) == s {
		t.Errorf("RequestSubject = %q: want a stable digest with a ':' no session id has", s)
	}
}

// TestHopTokenFormat: SealHop and OpenHop make and open what Ring.Seal and
// Ring.Open make of the same plaintext and binding, so instances of
// different versions in one cluster (a rolling upgrade) accept each
// other's tokens; and a binding longer than the pooled memory keeps still
// seals and opens.
func TestHopTokenFormat(t *testing.T) {
	r := mustRing(t, mustKey(t))
	now := time.UnixMilli(1_800_000_000_123)
	for _, c := range []struct {
		name string
		b    Binding
	}{
		{"short", Binding{Endpoint: "api", User: "alice"}},
		{"long user", Binding{Endpoint: "api", User: strings.Repeat("u", 5000)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := r.SealHop(c.b, "sid", "POST", now)
			pt, err := r.Open(tok, hopAD(c.b, "sid", "POST"))
			if err != nil || len(pt) != hopPlain || int64(binary.BigEndian.Uint64(pt[:8])) != now.UnixMilli() {
				t.Fatalf("Ring.Open of SealHop's token: %x, %v", pt, err)
			}
			var want [hopPlain]byte
			binary.BigEndian.PutUint64(want[:8], uint64(now.UnixMilli()))
			copy(want[8:], "0123456789abcdef")
			h, err := r.OpenHop(r.Seal(want[:], hopAD(c.b, "sid", "POST")), c.b, "sid", "POST")
			if err != nil || !h.Issued.Equal(now) || string(h.Nonce[:]) != "0123456789abcdef" {
				t.Fatalf("OpenHop of Ring.Seal's token: %+v, %v", h, err)
			}
			if _, err := r.OpenHop(tok, c.b, "sid", "GET"); err == nil {
				t.Fatal("a token opened for another method")
			}
		})
	}
}
