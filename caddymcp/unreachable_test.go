package caddymcp

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// TestUnreachableRuleCaddyfile: a rule after a catch-all that blocks is
// reported with both rules' names and lines; in the other order, nothing.
func TestUnreachableRuleCaddyfile(t *testing.T) {
	catchAll := "intercept all {\n\ttool *\n\tblock\n}\n"
	specific := "intercept get_env {\n\ttool get_env\n\tmock `{\"content\":[]}`\n}\n"
	parse := func(body string) []string {
		t.Helper()
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("mcp_proxy {\nstdio cmd\n" + body + "}")); err != nil {
			t.Fatal(err)
		}
		return h.unreachableRules()
	}
	got := parse(catchAll + specific)
	want := `intercept rule "get_env" (Testfile:7) can never apply: rule "all" (Testfile:3) before it blocks every message it matches`
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("catch-all first: %q, want %q", got, want)
	}
	if got := parse(specific + catchAll); len(got) != 0 {
		t.Errorf("specific first: %q, want nothing", got)
	}
}
