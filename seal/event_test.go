package seal

import (
	"testing"
)

// TestEventRoundTrip: an event id opens to what was sealed for the same
// endpoint and user, and to nothing (ErrInvalid) when it is forged,
// tampered with, moved to another endpoint or user, or is another kind of
// token.
func TestEventRoundTrip(t *testing.T) {
	r := mustRing(t, mustKey(t))
	other := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "alice"}
	e := Event{Epoch: 0xfeedface01020304, Stream: 7, Seq: 42, Upstream: "_12"}
	id := r.SealEvent(b, e)
	t.Logf("event id: %d characters", len(id))
	got, err := r.OpenEvent(id, b)
	if err != nil || got != e {
		t.Fatalf("OpenEvent = %+v, %v; sealed %+v", got, err, e)
	}
	flip := []byte(id)
	flip[len(flip)/2] ^= 1
	sess, _ := r.SealSession(b, oneUpstream())
	for _, c := range []struct {
		name string
		r    *Ring
		id   string
		b    Binding
	}{
		{"another endpoint", r, id, Binding{Endpoint: "admin", User: "alice"}},
		{"another user", r, id, Binding{Endpoint: "api", User: "bob"}},
		{"another key", other, id, b},
		{"tampered", r, string(flip), b},
		{"truncated", r, id[:len(id)-2], b},
		{"a plain event id", r, "0_5", b},
		{"empty", r, "", b},
		{"a session id", r, sess, b},
		{"a tag", r, r.SealTag(b, Tag{Value: "12345678xx"}), b},
	} {
		if got, err := c.r.OpenEvent(c.id, c.b); err != ErrInvalid {
			t.Errorf("%s: OpenEvent = %+v, %v; want ErrInvalid", c.name, got, err)
		}
	}
}

// TestEventRequest: a POST stream's event id carries the request it
// answers — a known method as one byte, another spelled out — and opens
// to it; an id without one (the standalone stream, or an earlier
// release's) opens to none.
func TestEventRequest(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "alice"}
	plain := Event{Epoch: 0xfeedface01020304, Stream: 3, Seq: 2, Upstream: "abcdefgh_12"}
	for _, c := range []struct {
		name string
		req  EventRequest
	}{
		{"none", EventRequest{}},
		{"a tool call", EventRequest{ID: "7", Method: "tools/call", Target: "search_docs"}},
		{"a string id", EventRequest{ID: `"req-1"`, Method: "resources/read", Target: "file:///a/b.txt"}},
		{"a method spelled out", EventRequest{ID: "12", Method: "x/custom"}},
	} {
		e := plain
		e.Request = c.req
		id := r.SealEvent(b, e)
		t.Logf("%s: %d characters", c.name, len(id))
		if got, err := r.OpenEvent(id, b); err != nil || got != e {
			t.Errorf("%s: OpenEvent = %+v, %v; sealed %+v", c.name, got, err, e)
		}
	}
}

// BenchmarkSealEvent is what a cluster adds to each event it writes.
func BenchmarkSealEvent(b *testing.B) {
	r := mustRing(b, mustKey(b))
	bind := Binding{Endpoint: "api", User: "https://issuer.example|alice"}
	e := Event{Epoch: 1, Stream: 3, Seq: 1000, Upstream: "0_1000"}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.SealEvent(bind, e)
	}
}
