package front

import (
	"net"
	"net/http"
	"testing"
)

// TestEventIDs: the ids eventID and handoffEventID write parse back to
// their stream and sequence (a handoff's counter ignored); anything else,
// including the header values a client or an attacker could make up, is an
// error, never a panic.
func TestEventIDs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ stream, seq uint64 }{{0, 0}, {0, 1}, {12, 0}, {1<<64 - 1, 1<<64 - 1}} {
		for _, id := range []string{eventID(c.stream, c.seq), handoffEventID(c.stream, c.seq)} {
			s, q, err := parseEventID(id)
			if err != nil || s != c.stream || q != c.seq {
				t.Errorf("parseEventID(%q) = %d, %d, %v", id, s, q, err)
			}
		}
	}
	if a, b := handoffEventID(3, 4), handoffEventID(3, 4); a == b {
		t.Errorf("two handoff ids for the same place are both %q", a)
	}
	for _, c := range []struct {
		id          string
		stream, seq uint64
		ok          bool
	}{
		{"0_0", 0, 0, true},
		{"7_12", 7, 12, true},
		{"0_5_1", 0, 5, true},
		{"0_5_18446744073709551615", 0, 5, true},
		{"007_01", 7, 1, true},
		{"", 0, 0, false},
		{"_", 0, 0, false},
		{"1", 0, 0, false},
		{"1_", 0, 0, false},
		{"_1", 0, 0, false},
		{"a_1", 0, 0, false},
		{"1_b", 0, 0, false},
		{"1_2_", 0, 0, false},
		{"1_2_x", 0, 0, false},
		{"1_2_3_4", 0, 0, false},
		{"1__2", 0, 0, false},
		{" 1_2", 0, 0, false},
		{"1_2 ", 0, 0, false},
		{"+1_2", 0, 0, false},
		{"1_-2", 0, 0, false},
		{"1_2_-3", 0, 0, false},
		{"0x1_2", 0, 0, false},
		{"1_2e3", 0, 0, false},
		{"١_٢", 0, 0, false}, // Arabic-Indic digits
		{"18446744073709551616_0", 0, 0, false},
		{"0_18446744073709551616", 0, 0, false},
		{"0_1_18446744073709551616", 0, 0, false},
		{"0_99999999999999999999999999999999999999", 0, 0, false},
	} {
		s, q, err := parseEventID(c.id)
		if c.ok != (err == nil) || s != c.stream || q != c.seq {
			t.Errorf("parseEventID(%q) = %d, %d, %v; want %d, %d, ok %v", c.id, s, q, err, c.stream, c.seq, c.ok)
		}
	}
}

func TestSessionIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		id := newSessionID()
		if !sessionIDPattern.MatchString(id) {
			t.Fatalf("session id %q", id)
		}
		if seen[id] {
			t.Fatalf("session id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "localhost.": true, "app.localhost": true,
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"example.com": false, "localhost.example.com": false, "10.0.0.1": false, "": false, "0.0.0.0": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
	for addr, want := range map[net.Addr]bool{
		&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 1}: true,
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}:       true,
		&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}: false,
		&net.UnixAddr{Name: "/run/mcp.sock", Net: "unix"}:   false,
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%v) = %v, want %v", addr, got, want)
		}
	}
	for in, want := range map[string]string{"a.example:80": "a.example", "[::1]:80": "::1", "a.example": "a.example", "[::1]": "::1"} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAccepts(t *testing.T) {
	t.Parallel()
	both := []string{"application/json", "text/event-stream"}
	for _, tc := range []struct {
		accept []string
		want   bool
	}{
		{[]string{"application/json, text/event-stream"}, true},
		{[]string{"text/event-stream,application/json;q=0.9"}, true},
		{[]string{"application/json", "text/event-stream"}, true},
		{[]string{"*/*"}, true},
		{[]string{"application/*, text/*"}, true},
		{[]string{"application/json"}, false},
		{[]string{"text/event-stream"}, false},
		{nil, false},
		{[]string{"garbage;;;, text/event-stream"}, false},
	} {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		for _, v := range tc.accept {
			r.Header.Add("Accept", v)
		}
		if got := accepts(r, both...); got != tc.want {
			t.Errorf("accepts(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"text/plain": false, "": false, "application/json-seq": false,
	} {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Content-Type", ct)
		if got := isJSONContent(r); got != want {
			t.Errorf("isJSONContent(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestVersions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v                          string
		session, modern, batch, pr bool
	}{
		{Version20241105, true, false, true, false},
		{Version20250326, true, false, true, false},
		{Version20250618, true, false, false, false},
		{Version20251125, true, false, false, true},
		{Version20260728, false, true, false, true},
		{"1999-01-01", false, false, true, false},
	} {
		if got := supportedSessionVersion(c.v); got != c.session {
			t.Errorf("supportedSessionVersion(%s) = %v", c.v, got)
		}
		if got := isStatelessVersion(c.v); got != c.modern {
			t.Errorf("isStatelessVersion(%s) = %v", c.v, got)
		}
		if got := batchesAllowed(c.v); got != c.batch {
			t.Errorf("batchesAllowed(%s) = %v", c.v, got)
		}
		if got := primesStreams(c.v); got != c.pr {
			t.Errorf("primesStreams(%s) = %v", c.v, got)
		}
	}
}
