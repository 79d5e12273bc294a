package front

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// TestAllowedHostsOnEveryListener: allowed_hosts, once set, guards a
// non-loopback listener too (a container's port mapped to the host's
// loopback); unset, only loopback listeners check the Host.
func TestAllowedHostsOnEveryListener(t *testing.T) {
	t.Parallel()
	containerAddr := &net.TCPAddr{IP: net.ParseIP("172.17.0.2"), Port: 8080}
	loopbackAddr := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8080}
	tests := []struct {
		name  string
		hosts []string
		local net.Addr
		host  string
		want  int
	}{
		{name: "set, non-loopback listener, foreign Host", hosts: []string{"mcp.example"}, local: containerAddr, host: "evil.example", want: http.StatusForbidden},
		{name: "set, non-loopback listener, foreign Host with port", hosts: []string{"mcp.example"}, local: containerAddr, host: "evil.example:8080", want: http.StatusForbidden},
		{name: "set, non-loopback listener, allowed Host", hosts: []string{"mcp.example"}, local: containerAddr, host: "mcp.example:8080", want: http.StatusOK},
		{name: "set, non-loopback listener, localhost", hosts: []string{"mcp.example"}, local: containerAddr, host: "localhost:8080", want: http.StatusOK},
		{name: "set, loopback listener, foreign Host", hosts: []string{"mcp.example"}, local: loopbackAddr, host: "evil.example", want: http.StatusForbidden},
		{name: "unset, non-loopback listener, any Host", local: containerAddr, host: "mcp.example", want: http.StatusOK},
		{name: "unset, loopback listener, foreign Host", local: loopbackAddr, host: "evil.example", want: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(s *setup) { s.cfg.AllowedHosts = tc.hosts })
			ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, tc.local)
			hr, err := h.build(ctx, req{host: tc.host, body: initBody(Version20250618)})
			if err != nil {
				t.Fatal(err)
			}
			rp := serveRecorded(h.server, hr)
			if tc.want == http.StatusOK {
				wantStatus(t, rp, http.StatusOK)
				return
			}
			wantError(t, rp, tc.want, pipeline.CodeInvalidRequest, "Host")
			if h.up.opened() != 0 {
				t.Errorf("a forbidden Host opened %d upstream connections", h.up.opened())
			}
		})
	}
}
