package upstream

import (
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

// TestStdioSetLive: SetLive changes what a reload may change, and refuses
// bad values and a change of protocol, keeping the settings in force.
func TestStdioSetLive(t *testing.T) {
	p, err := pool.New(pool.Config{Command: "cat", Warm: pool.NoWarm})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := NewStdioWithOptions(p, 1000, nil, StdioOptions{Protocol: ProtocolModern})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	tests := []struct {
		name    string
		opts    StdioOptions
		size    int
		wantErr string
	}{
		{"tuned", StdioOptions{Protocol: ProtocolModern, ProbeTimeout: time.Second, Shared: 5, MaxInFlight: 7}, 2000, ""},
		{"protocol", StdioOptions{Protocol: ProtocolLegacy, Shared: 1}, 3000, "protocol of a running stdio upstream cannot change"},
		{"negative shared", StdioOptions{Protocol: ProtocolModern, Shared: -1}, 3000, "shared must be positive"},
		{"no message size", StdioOptions{Protocol: ProtocolModern, Shared: 1}, 0, "message size bound must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.current()
			err := s.SetLive(tt.opts, tt.size)
			got := s.current()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("SetLive: %v", err)
				}
				if got.opts != tt.opts || got.maxMessageSize != tt.size {
					t.Fatalf("in force after SetLive: %+v, want %+v and %d", got, tt.opts, tt.size)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("SetLive = %v, want an error with %q", err, tt.wantErr)
			}
			if got != before {
				t.Fatalf("a refused SetLive changed the settings: %+v, was %+v", got, before)
			}
		})
	}
}
