package caddymcp

import (
	"strings"
	"testing"
)

// TestClaimEndpoint: handlers configured alike share a session store;
// differently configured ones with the same upstreams get their own; the
// same name on two different configurations is refused.
func TestClaimEndpoint(t *testing.T) {
	type claim struct {
		name, derived, config string
		wantKey, wantErr      string
	}
	for _, tt := range []struct {
		name   string
		claims []claim
	}{
		{"one derived", []claim{{"", "stdio:a", "{1}", "derived:stdio:a", ""}}},
		{"alike derived share", []claim{
			{"", "stdio:a", "{1}", "derived:stdio:a", ""},
			{"", "stdio:a", "{1}", "derived:stdio:a", ""},
		}},
		{"different derived split", []claim{
			{"", "stdio:a", "{1}", "derived:stdio:a", ""},
			{"", "stdio:a", "{2}", "derived:stdio:a#2", ""},
			{"", "stdio:a", "{3}", "derived:stdio:a#3", ""},
			{"", "stdio:a", "{2}", "derived:stdio:a#2", ""},
			{"", "stdio:b", "{2}", "derived:stdio:b", ""},
		}},
		{"named alike share", []claim{
			{"api", "stdio:a", "{1}", "api", ""},
			{"api", "stdio:a", "{1}", "api", ""},
		}},
		{"named differently configured refused", []claim{
			{"api", "stdio:a", "{1}", "api", ""},
			{"api", "stdio:a", "{2}", "", `name "api" is used by two mcp_proxy handlers configured differently`},
		}},
		{"names and derived apart", []claim{
			{"api", "stdio:a", "{1}", "api", ""},
			{"", "stdio:a", "{2}", "derived:stdio:a", ""},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := new(App)
			for i, c := range tt.claims {
				key, err := app.claimEndpoint(c.name, c.derived, []byte(c.config))
				switch {
				case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
					t.Errorf("claim %d: %v, want an error with %q", i, err, c.wantErr)
				case c.wantErr == "" && (err != nil || key != c.wantKey):
					t.Errorf("claim %d: %q %v, want %q", i, key, err, c.wantKey)
				}
			}
		})
	}
}
