package caddymcp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalRecordAndReplay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
		want  string // the handler as JSON
	}{
		{"record with every option", `mcp_proxy {
				stdio cmd
				record /var/lib/tapes {
					redact /params/arguments/api_key /result/token
					redact /params/x
					max_size 10MB
					sample 0.25
				}
			}`, `{"upstreams":[{"stdio":{"command":"cmd"}}],"record":{"dir":"/var/lib/tapes","redact":["/params/arguments/api_key","/result/token","/params/x"],"max_size":10000000,"sample":0.25}}`},
		{"record alone", `mcp_proxy {
				http https://example.com/mcp
				record tapes
			}`, `{"upstreams":[{"http":{"url":"https://example.com/mcp"}}],"record":{"dir":"tapes"}}`},
		{"replay a directory", `mcp_proxy {
				replay tapes/ {
					match sequence
				}
			}`, `{"upstreams":[{"replay":{"path":"tapes/","match":"sequence"}}]}`},
		{"replay a tape", `mcp_proxy {
				replay a.jsonl
			}`, `{"upstreams":[{"replay":{"path":"a.jsonl"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input)); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(h)
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestUnmarshalRecordAndReplayErrors(t *testing.T) {
	for _, tc := range []struct {
		name, input, want string
	}{
		{"record without a directory", "mcp_proxy {\nstdio cmd\nrecord\n}", "record takes one argument"},
		{"record twice", "mcp_proxy {\nstdio cmd\nrecord a\nrecord b\n}", "record is set twice"},
		{"a bad pointer", "mcp_proxy {\nstdio cmd\nrecord a {\nredact params/x\n}\n}", `"params/x" is not a JSON pointer`},
		{"a bad sample", "mcp_proxy {\nstdio cmd\nrecord a {\nsample 2\n}\n}", "sample must be a fraction in (0, 1]"},
		{"a bad size", "mcp_proxy {\nstdio cmd\nrecord a {\nmax_size lots\n}\n}", "max_size: invalid size"},
		{"an unknown record option", "mcp_proxy {\nstdio cmd\nrecord a {\nfsync always\n}\n}", `unrecognized record subdirective "fsync"`},
		{"a bad replay name", "mcp_proxy {\nreplay a.jsonl {\nname a:b\n}\n}", "must be 1 to 64 letters"},
		{"a bad match", "mcp_proxy {\nreplay a.jsonl {\nmatch fuzzy\n}\n}", "match must be params, sequence or strict"},
		{"replay without a tape", "mcp_proxy {\nreplay\n}", "replay takes one argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("the error names no file and line: %v", err)
			}
		})
	}
}
