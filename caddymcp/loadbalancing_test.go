package caddymcp

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// TestKeyedPolicies: client_ip_hash keys on Caddy's client_ip var and
// header on the request header the replacer reads, so the same client or
// tenant lands on the same upstream and different ones spread.
func TestKeyedPolicies(t *testing.T) {
	names := []string{"a", "b", "c"}
	members := make([]*balance.Member, len(names))
	for i, n := range names {
		m, err := balance.NewMember(n, mcpstate.KindHTTP, &balance.Group{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		members[i] = m
	}
	header, err := HeaderHashSelection{Field: "x-tenant"}.bind(names)
	if err != nil {
		t.Fatal(err)
	}
	byIP, _ := ClientIPHashSelection{}.bind(names)
	reqCtx := func(tenant, ip string) context.Context {
		r := httptest.NewRequest("POST", "/mcp", nil)
		if tenant != "" {
			r.Header.Set("X-Tenant", tenant)
		}
		ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddyhttp.NewTestReplacer(r))
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: ip})
		return ctx
	}
	for _, tc := range []struct {
		name   string
		policy balance.Policy
		key    func(i int) context.Context
	}{
		{"header", header, func(i int) context.Context { return reqCtx("tenant-"+string(rune('a'+i)), "") }},
		{"client_ip_hash", byIP, func(i int) context.Context { return reqCtx("", "10.0.0."+string(rune('1'+i))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spread := map[string]bool{}
			for i := range 8 {
				first := tc.policy.Select(tc.key(i), members).Name()
				for range 3 {
					if again := tc.policy.Select(tc.key(i), members).Name(); again != first {
						t.Fatalf("key %d went to %s, then %s", i, first, again)
					}
				}
				spread[first] = true
			}
			if len(spread) < 2 {
				t.Errorf("8 keys all went to %v", spread)
			}
		})
	}
	if _, err := (HeaderHashSelection{}).bind(names); err == nil {
		t.Error("header without a field bound")
	}
	if _, err := (WeightedRoundRobinSelection{Weights: []int{1, 2, 3, 4}}).bind(names); err == nil {
		t.Error("four weights for three upstreams bound")
	}
}
