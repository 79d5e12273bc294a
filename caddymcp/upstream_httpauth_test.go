package caddymcp

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestParseUpstreamAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		input   string
		want    *ClientCredentialsAuth
		wantErr string
	}{
		{name: "all", input: `auth client_credentials {
				token_url https://sso.example.com/realms/mcp/protocol/openid-connect/token
				client_id gateway
				client_secret {env.GATEWAY_SECRET}
				scopes up:read up:write
				audience https://api.example.com
				resource https://up.example.com/mcp
				auth_method client_secret_post
			}`, want: &ClientCredentialsAuth{TokenURL: "https://sso.example.com/realms/mcp/protocol/openid-connect/token",
			ClientID: "gateway", ClientSecret: "{env.GATEWAY_SECRET}", Scopes: []string{"up:read", "up:write"},
			Audience: "https://api.example.com", Resource: "https://up.example.com/mcp", AuthMethod: "client_secret_post"}},
		{name: "no method", input: "auth {\n token_url https://a/t\n}", wantErr: "auth takes the method"},
		{name: "other method", input: "auth private_key_jwt", wantErr: "auth takes the method"},
		{name: "no token_url", input: "auth client_credentials {\n client_id x\n}", wantErr: "token_url and client_id are required"},
		{name: "bad auth_method", input: "auth client_credentials {\n auth_method basic\n}", wantErr: "auth_method must be"},
		{name: "unknown", input: "auth client_credentials {\n secret x\n}", wantErr: `unrecognized auth client_credentials subdirective "secret"`},
		{name: "two ids", input: "auth client_credentials {\n client_id a b\n}", wantErr: "client_id takes one argument, got 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.input)
			d.Next()
			got, err := parseUpstreamAuth(d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got.ClientCredentials, tc.want) {
				t.Fatalf("got %+v (%v)\nwant %+v", got.ClientCredentials, err, tc.want)
			}
		})
	}
}

// TestUpstreamAuthConflicts: the gateway's own token and another source
// of the upstream's Authorization cannot both be configured.
func TestUpstreamAuthConflicts(t *testing.T) {
	a := &UpstreamAuth{ClientCredentials: &ClientCredentialsAuth{TokenURL: "https://a/token", ClientID: "x"}}
	for _, tc := range []struct {
		name    string
		u       HTTPUpstream
		wantErr string
	}{
		{"alone", HTTPUpstream{URL: "https://up/mcp"}, ""},
		{"with pass_authorization", HTTPUpstream{URL: "https://up/mcp", PassAuthorization: true}, "pass_authorization"},
		{"with header_up Authorization", HTTPUpstream{URL: "https://up/mcp", HeaderUp: http.Header{"Authorization": {"Bearer x"}}}, "header_up Authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.wrap(&tc.u, http.DefaultTransport)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
	if rt, err := (*UpstreamAuth)(nil).wrap(&HTTPUpstream{}, http.DefaultTransport); err != nil || rt != http.DefaultTransport {
		t.Fatal("without auth the transport is not the base one")
	}
}
