package caddymcp

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestCacheCaddyfile: `cache off` and a cache block parse; anything else
// is a clear error naming the line.
func TestCacheCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input string
		want  *CacheConfig
		err   string
	}{
		{"cache off", &CacheConfig{Off: true}, ""},
		{"cache {\n\t\t\t\tmax_entries 10\n\t\t\t\tmax_size 1MiB\n\t\t\t\tmax_ttl 5m\n\t\t\t}", &CacheConfig{MaxEntries: 10, MaxSize: 1 << 20, MaxTTL: caddy.Duration(5 * time.Minute)}, ""},
		{"cache on", nil, "cache takes `off` or a block"},
		{"cache {\n\t\t\t\tmax_age 1m\n\t\t\t}", nil, `unrecognized cache option "max_age"`},
		{"cache {\n\t\t\t\tmax_entries 0\n\t\t\t}", nil, "max_entries"},
		{"cache off {\n\t\t\t\tmax_entries 1\n\t\t\t}", nil, "cache off takes no block"},
		{"cache off\n\t\t\tcache off", nil, "cache is set twice"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\n\t\t\tstdio cmd\n\t\t\t" + tc.input + "\n\t\t}"))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("%q: error %v, want one with %q and the line", tc.input, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(h.Cache, tc.want) {
			t.Errorf("%q: %+v, %v; want %+v", tc.input, h.Cache, err, tc.want)
		}
	}
}
