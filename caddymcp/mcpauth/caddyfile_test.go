package mcpauth

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalAuthCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		input   string
		want    AuthHandler
		wantErr string
	}{
		{
			name: "all",
			input: `mcp_auth {
				resource https://mcp.example.com/mcp
				issuer https://a.example.com https://b.example.com
				issuer https://c.example.com
				jwks_url https://a.example.com/keys
				scopes_supported mcp:read mcp:write
				required_scopes mcp:read
				leeway 30s
				keep_authorization
			}`,
			want: AuthHandler{
				Resource:          "https://mcp.example.com/mcp",
				Issuers:           []string{"https://a.example.com", "https://b.example.com", "https://c.example.com"},
				JWKSURL:           "https://a.example.com/keys",
				ScopesSupported:   []string{"mcp:read", "mcp:write"},
				RequiredScopes:    []string{"mcp:read"},
				Leeway:            dur(30 * time.Second),
				KeepAuthorization: true,
			},
		},
		{
			name: "scopes, cors, introspection",
			input: `mcp_auth {
				resource https://mcp.example.com/mcp
				issuer https://a.example.com
				scope files:write {
					tool write_* delete_*
				}
				scope admin files:write {
					tool delete_*
					method tools/call
				}
				hide_unauthorized
				max_message_size 1MiB
				cors_origins https://inspector.example.com http://localhost:6274
				introspection_url https://a.example.com/introspect {
					client_id gateway
					client_secret {env.SECRET}
					cache_size 500
				}
			}`,
			want: AuthHandler{
				Resource: "https://mcp.example.com/mcp",
				Issuers:  []string{"https://a.example.com"},
				ScopeRules: []ScopeRule{
					{Scopes: []string{"files:write"}, Tools: []string{"write_*", "delete_*"}},
					{Scopes: []string{"admin", "files:write"}, Tools: []string{"delete_*"}, Methods: []string{"tools/call"}},
				},
				HideUnauthorized: true,
				MaxMessageSize:   1 << 20,
				CORSOrigins:      []string{"https://inspector.example.com", "http://localhost:6274"},
				Introspection:    &IntrospectionConfig{URL: "https://a.example.com/introspect", ClientID: "gateway", ClientSecret: "{env.SECRET}", CacheSize: 500},
			},
		},
		{name: "scope without scopes", input: "mcp_auth {\n scope {\n tool x\n }\n}", wantErr: "name the scope(s)"},
		{name: "scope for nothing", input: "mcp_auth {\n scope a\n}", wantErr: "say which operations"},
		{name: "scope unknown", input: "mcp_auth {\n scope a {\n prompt x\n }\n}", wantErr: `unrecognized scope subdirective "prompt"`},
		{name: "scope empty tool", input: "mcp_auth {\n scope a {\n tool\n }\n}", wantErr: "tool needs at least one glob"},
		{name: "introspection without client", input: "mcp_auth {\n introspection_url https://a/i\n}", wantErr: "client_id is required"},
		{name: "introspection two urls", input: "mcp_auth {\n introspection_url a b\n}", wantErr: "takes one URL"},
		{name: "introspection unknown", input: "mcp_auth {\n introspection_url https://a/i {\n secret x\n }\n}", wantErr: `unrecognized introspection_url subdirective "secret"`},
		{name: "hide_unauthorized with an argument", input: "mcp_auth {\n hide_unauthorized yes\n}", wantErr: `hide_unauthorized takes no argument, got "yes"`},
		{name: "cors without origins", input: "mcp_auth {\n cors_origins\n}", wantErr: "wrong argument count"},
		{name: "no resource", input: "mcp_auth {\n issuer https://a\n}", wantErr: "resource <uri> is required"},
		{name: "no issuer", input: "mcp_auth {\n resource https://m/mcp\n}", wantErr: "at least one issuer"},
		{name: "inline argument", input: "mcp_auth https://m/mcp", wantErr: "wrong argument count"},
		{name: "two resources", input: "mcp_auth {\n resource a b\n}", wantErr: "resource takes one argument, got 2"},
		{name: "empty issuer", input: "mcp_auth {\n issuer\n}", wantErr: "wrong argument count"},
		{name: "bad leeway", input: "mcp_auth {\n leeway soon\n}", wantErr: "leeway"},
		{name: "unknown", input: "mcp_auth {\n audience x\n}", wantErr: `unrecognized mcp_auth subdirective "audience"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got AuthHandler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// dur is d as Caddy configures a duration.
func dur(d time.Duration) caddy.Duration { return caddy.Duration(d) }
