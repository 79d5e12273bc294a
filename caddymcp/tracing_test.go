package caddymcp

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestTraceArgumentsCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        bool
		err         string
	}{
		{"off by default", "mcp_proxy {\n\tstdio server\n}", false, ""},
		{"on", "mcp_proxy {\n\tstdio server\n\ttrace_arguments\n}", true, ""},
		{"an argument", "mcp_proxy {\n\tstdio server\n\ttrace_arguments yes\n}", false, "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || h.TraceArguments != tt.want {
				t.Fatalf("TraceArguments %v (error %v), want %v", h.TraceArguments, err, tt.want)
			}
		})
	}
}
