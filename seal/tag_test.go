package seal

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestTags: a tag opens with its binding only (round trip, forged, other
// user, other endpoint, other key), and tags and session ids cannot stand
// in for each other.
func TestTags(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "alice"}
	for _, tg := range []Tag{
		{Value: "a:cursor-42"},
		{Owner: "http://10.0.0.5:8080", Value: "@0:6f9619ff-8b86-d011-b42d-00c04fc964ff"},
		{},
	} {
		sealed := r.SealTag(b, tg)
		if got, want := len(sealed), SealedLen(len(tg.Owner)+len(tg.Value)+1); got != want {
			t.Errorf("%+v: %d characters, SealedLen says %d", tg, got, want)
		}
		t.Logf("%+v: %d characters", tg, len(sealed))
		got, err := r.OpenTag(sealed, b)
		if err != nil || got != tg {
			t.Fatalf("OpenTag = %+v, %v; sealed %+v", got, err, tg)
		}
	}
	tag := r.SealTag(b, Tag{Value: "a:c"})
	sid, _ := r.SealSession(b, oneUpstream())
	raw, _ := base64.RawURLEncoding.DecodeString(tag)
	raw[len(raw)/2] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)
	for _, c := range []struct {
		name string
		ring *Ring
		tag  string
		b    Binding
	}{
		{"another endpoint", r, tag, Binding{Endpoint: "admin", User: "alice"}},
		{"another user", r, tag, Binding{Endpoint: "api", User: "bob"}},
		{"anonymous", r, tag, Binding{Endpoint: "api"}},
		{"a session id as a tag", r, sid, b},
		{"another key", mustRing(t, mustKey(t)), tag, b},
		{"tampered", r, tampered, b},
		{"forged plain", r, "a:c", b},
		{"truncated", r, tag[:len(tag)-2], b},
		{"huge", r, strings.Repeat("A", 5000), b},
	} {
		if got, err := c.ring.OpenTag(c.tag, c.b); err != ErrInvalid || got != (Tag{}) {
			t.Errorf("%s: OpenTag = %+v, %v, want ErrInvalid", c.name, got, err)
		}
	}
	if _, err := r.OpenSession(tag, b); err != ErrInvalid {
		t.Errorf("a tag as a session id: err = %v, want ErrInvalid", err)
	}
}

// BenchmarkSealTag measures what a response carrying a tag pays with a
// cluster: sealing one (a member's 36-character task id).
func BenchmarkSealTag(b *testing.B) {
	r := mustRing(b, mustKey(b))
	bind := Binding{Endpoint: "api", User: "alice"}
	tg := Tag{Value: "a:6f9619ff-8b86-d011-b42d-00c04fc964ff"}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.SealTag(bind, tg)
	}
}

// BenchmarkOpenTag measures what a request carrying a tag pays: opening it.
func BenchmarkOpenTag(b *testing.B) {
	r := mustRing(b, mustKey(b))
	bind := Binding{Endpoint: "api", User: "alice"}
	tag := r.SealTag(bind, Tag{Value: "a:6f9619ff-8b86-d011-b42d-00c04fc964ff"})
	b.ReportMetric(float64(len(tag)), "tag-bytes")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.OpenTag(tag, bind); err != nil {
			b.Fatal(err)
		}
	}
}
