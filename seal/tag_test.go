package seal

import (
	"bytes"
	"testing"
)

// TestTags: a tag opens with its binding only, and tags and session ids
// cannot stand in for each other.
func TestTags(t *testing.T) {
	r := mustRing(t, mustKey(t))
	b := Binding{Endpoint: "api", User: "alice"}
	value := []byte("github\x00cursor-42")
	tag := r.SealTag(b, value)
	got, err := r.OpenTag(tag, b)
	if err != nil || !bytes.Equal(got, value) {
		t.Fatalf("OpenTag = %q, %v", got, err)
	}
	sid, _ := r.SealSession(b, oneUpstream())
	for _, c := range []struct {
		name string
		open func() error
	}{
		{"another endpoint", func() error { _, err := r.OpenTag(tag, Binding{Endpoint: "admin", User: "alice"}); return err }},
		{"another user", func() error { _, err := r.OpenTag(tag, Binding{Endpoint: "api", User: "bob"}); return err }},
		{"a tag as a session id", func() error { _, err := r.OpenSession(tag, b); return err }},
		{"a session id as a tag", func() error { _, err := r.OpenTag(sid, b); return err }},
		{"another key", func() error { _, err := mustRing(t, mustKey(t)).OpenTag(tag, b); return err }},
	} {
		if err := c.open(); err != ErrInvalid {
			t.Errorf("%s: err = %v, want ErrInvalid", c.name, err)
		}
	}
}
