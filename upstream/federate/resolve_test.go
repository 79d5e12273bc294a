package federate

import (
	"testing"

	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// TestResolve: the session's Resolve (rules, tapes) and the federation's
// (placeholders) name a request's server and its own name; with prefix
// conditional a name is known only once listed, and the session's answer
// is the owner its router uses.
func TestResolve(t *testing.T) {
	for _, mode := range []Prefix{PrefixAlways, PrefixConditional} {
		t.Run(string(mode), func(t *testing.T) {
			_, _, ups := twoPeers(t, 0)
			c := open(t, mode, []string{"alpha", "beta"}, ups)
			c.initialize()
			fc := c.conn.(upstream.FederatedConn)
			type q struct{ method, target string }
			// Before any list: prefix always tells by the name itself;
			// conditional cannot tell yet.
			wantBefore := "alpha/echo"
			if mode == PrefixConditional {
				wantBefore = "/"
			}
			if s, o := fc.Resolve("tools/call", "alpha_echo"); s+"/"+o != wantBefore {
				t.Errorf("before listing, Resolve(alpha_echo) = %s/%s, want %s", s, o, wantBefore)
			}
			c.names("tools/list", "tools", "name")
			c.names("prompts/list", "prompts", "name")
			c.names("resources/list", "resources", "uri")
			c.names("resources/templates/list", "resourceTemplates", "uriTemplate")
			want := map[q]string{
				{"tools/call", "beta_echo"}:           "beta/echo",
				{"prompts/get", "alpha_greet"}:        "alpha/greet",
				{"resources/read", "beta://readme"}:   "beta/beta://readme",
				{"resources/read", "alpha://items/7"}: "alpha/alpha://items/7",
				{"tools/call", "nobody"}:              "/",
				{"tools/list", ""}:                    "/",
			}
			if mode == PrefixAlways {
				want[q{"tools/call", "beta_own_beta"}] = "beta/own_beta"
			} else {
				want[q{"tools/call", "own_beta"}] = "beta/own_beta"
			}
			for in, w := range want {
				if s, o := fc.Resolve(in.method, in.target); s+"/"+o != w {
					t.Errorf("session Resolve%v = %s/%s, want %s", in, s, o, w)
				}
			}
			// The federation's, from the latest lists of any session: the
			// same, except a URI only a template matches.
			if s, o := c.f.Resolve("tools/call", "beta_echo"); s != "beta" || o != "echo" {
				t.Errorf("federation Resolve(beta_echo) = %s/%s", s, o)
			}
			if s := c.f.ServerOf("resources/read", "alpha://items/7"); s != "" {
				t.Errorf("federation ServerOf(a template's URI) = %q, want none", s)
			}
		})
	}
}
