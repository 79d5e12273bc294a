package federate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// meta2026 is the _meta every 2026-07-28 request carries.
const meta2026 = `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// modern makes a go-sdk peer serve 2026-07-28 requests (its stateless
// mode), marking its cacheable results with ttlMs and scope.
func modern(ttlMs int, scope string) func(*mcp.ServerOptions, *mcp.StreamableHTTPOptions) {
	return func(so *mcp.ServerOptions, ho *mcp.StreamableHTTPOptions) {
		ho.Stateless = true
		so.SetCacheable = func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) {
			c.TTLMs, c.CacheScope = ttlMs, scope
		}
	}
}

// grouped is up as caddymcp serves a server: a balance group of one
// member, which tells a server that speaks only the 2025 revisions apart.
func grouped(t *testing.T, name string, up upstream.Upstream) upstream.Upstream {
	t.Helper()
	m, err := balance.NewMember(name, "http", up, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := balance.New(balance.Config{Members: []*balance.Member{m}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Wait)
	return g
}

// federation2026 is a federation over servers named names, each a group
// of ups[i].
func federation2026(t *testing.T, mode Prefix, names []string, ups []upstream.Upstream) *Federation {
	t.Helper()
	cfg := Config{Prefix: mode, ServerName: "Acme tools"}
	for i, n := range names {
		cfg.Servers = append(cfg.Servers, Server{Name: n, Upstream: grouped(t, n, ups[i])})
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Wait)
	return f
}

// call2026 sends one 2026-07-28 request as the front does (its Mcp-Name
// the client-visible name) and returns the response.
func call2026(t *testing.T, f *Federation, method string, params map[string]any, name string) (*pipeline.Message, error) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = json.RawMessage(meta2026)
	p, _ := json.Marshal(params)
	msg, err := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":"q","method":"` + method + `","params":` + string(p) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("MCP-Protocol-Version", "2026-07-28")
	h.Set("Mcp-Method", method)
	if name != "" {
		h.Set("Mcp-Name", name)
	}
	var ans *pipeline.Message
	err = f.Call(context.Background(), &upstream.StatelessRequest{Message: msg, Header: h}, func(m *pipeline.Message, _ int) {
		if m.IsResponse() {
			ans = m
		}
	})
	if err == nil && ans == nil {
		t.Fatalf("%s: no answer", method)
	}
	return ans, err
}

// result2026 is the result of a request that must succeed.
func result2026(t *testing.T, f *Federation, method string, params map[string]any, name string) map[string]json.RawMessage {
	t.Helper()
	ans, err := call2026(t, f, method, params, name)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if ans.Error != nil {
		t.Fatalf("%s: error %s", method, ans.Error)
	}
	var res map[string]json.RawMessage
	if err := json.Unmarshal(ans.Result, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// names2026 lists every page of a list method, checking each page's
// cache hint, and returns the items' keys.
func names2026(t *testing.T, f *Federation, method, field, key string, ttl int, scope string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 100 {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		res := result2026(t, f, method, params, "")
		checkHint(t, method, res, ttl, scope)
		var items []map[string]any
		_ = json.Unmarshal(res[field], &items)
		for _, it := range items {
			out = append(out, it[key].(string))
		}
		cursor = ""
		_ = json.Unmarshal(res["nextCursor"], &cursor)
		if cursor == "" {
			return out
		}
	}
	t.Fatal("the pages never end")
	return nil
}

func checkHint(t *testing.T, what string, res map[string]json.RawMessage, ttl int, scope string) {
	t.Helper()
	var gotTTL int
	var gotScope string
	_ = json.Unmarshal(res["ttlMs"], &gotTTL)
	_ = json.Unmarshal(res["cacheScope"], &gotScope)
	if gotTTL != ttl || gotScope != scope {
		t.Errorf("%s: ttlMs %d cacheScope %q, want the strictest part's: %d %q", what, gotTTL, gotScope, ttl, scope)
	}
}

func TestStatelessDiscoverMerged(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ttlA, ttlB int
		scA, scB   string
		ttl        int
		scope      string
	}{
		{"both public", 60000, 5000, "public", "public", 5000, "public"},
		{"one private", 1000, 60000, "public", "private", 1000, "private"},
		{"one stale", 0, 60000, "public", "public", 0, "public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPeer(t, "a", 0, modern(tc.ttlA, tc.scA)), newPeer(t, "b", 0, modern(tc.ttlB, tc.scB))
			f := federation2026(t, PrefixAlways, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
			res := result2026(t, f, "server/discover", nil, "")
			checkHint(t, "server/discover", res, tc.ttl, tc.scope)
			var r struct {
				SupportedVersions []string                   `json:"supportedVersions"`
				Capabilities      map[string]json.RawMessage `json:"capabilities"`
				Instructions      string                     `json:"instructions"`
				Meta              map[string]struct {
					Name string `json:"name"`
				} `json:"_meta"`
			}
			raw, _ := json.Marshal(res)
			_ = json.Unmarshal(raw, &r)
			if got := r.Meta[metaServerInfo].Name; got != "Acme tools" {
				t.Errorf("serverInfo.name %q, want the federation's", got)
			}
			if !slices.Contains(r.SupportedVersions, "2026-07-28") {
				t.Errorf("supportedVersions %v lack 2026-07-28", r.SupportedVersions)
			}
			for _, c := range []string{"tools", "prompts", "resources"} {
				if r.Capabilities[c] == nil {
					t.Errorf("capability %s missing: %v", c, r.Capabilities)
				}
			}
			if r.Instructions != "## a\n\nuse a\n\n## b\n\nuse b" {
				t.Errorf("instructions %q", r.Instructions)
			}
		})
	}
}

// TestStatelessListsAndCalls: a 2026-07-28 client lists the servers'
// tools, prompts and resources as one (pages of one item, the gateway's
// cursor) and calls each server's under the client-visible name; the
// go-sdk servers check that Mcp-Name matches the body's name, so a call
// that succeeds got its header rewritten to the server's own name.
func TestStatelessListsAndCalls(t *testing.T) {
	a, b := newPeer(t, "a", 1, modern(30000, "public")), newPeer(t, "b", 1, modern(20000, "public"))
	f := federation2026(t, PrefixAlways, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
	tools := names2026(t, f, "tools/list", "tools", "name", 20000, "public")
	slices.Sort(tools)
	if want := []string{"a_ask", "a_echo", "a_own_a", "b_ask", "b_echo", "b_own_b"}; !slices.Equal(tools, want) {
		t.Errorf("tools %v, want %v", tools, want)
	}
	if got := names2026(t, f, "prompts/list", "prompts", "name", 20000, "public"); !slices.Equal(got, []string{"a_greet", "b_greet"}) {
		t.Errorf("prompts %v", got)
	}
	if got := names2026(t, f, "resources/list", "resources", "uri", 20000, "public"); !slices.Equal(got, []string{"a://readme", "b://readme"}) {
		t.Errorf("resources %v", got)
	}
	for _, srv := range []string{"a", "b"} {
		ans, err := call2026(t, f, "tools/call", map[string]any{"name": srv + "_echo", "arguments": map[string]string{"text": "hi"}}, srv+"_echo")
		if err != nil {
			t.Fatal(err)
		}
		if got := text(t, ans); got != srv+":echo:hi" {
			t.Errorf("tools/call %s_echo: %q", srv, got)
		}
		ans, _ = call2026(t, f, "prompts/get", map[string]any{"name": srv + "_greet"}, srv+"_greet")
		if got := text(t, ans); got != "greet from "+srv {
			t.Errorf("prompts/get %s_greet: %q", srv, got)
		}
		uri := srv + "://items/7" // only a template matches it
		ans, _ = call2026(t, f, "resources/read", map[string]any{"uri": uri}, uri)
		if got := text(t, ans); got != srv+" has "+uri {
			t.Errorf("resources/read %s: %q", uri, got)
		}
	}
	for _, tc := range []struct{ method, name string }{{"tools/call", "c_echo"}, {"prompts/get", "nope"}} {
		ans, err := call2026(t, f, tc.method, map[string]any{"name": tc.name}, tc.name)
		if err != nil || ans.Error == nil || !strings.Contains(string(ans.Error), `-32602`) {
			t.Errorf("%s %s: %v %v, want -32602", tc.method, tc.name, ans, err)
		}
	}
	ans, _ := call2026(t, f, "resources/read", map[string]any{"uri": "c://x"}, "c://x")
	if ans.Error == nil || !strings.Contains(string(ans.Error), `-32002`) {
		t.Errorf("resources/read of a URI no server has: %s", ans.Raw)
	}
	ans, _ = call2026(t, f, "ping", nil, "")
	if ans.Error != nil {
		t.Errorf("ping: %s", ans.Raw)
	}
}

// TestStatelessConditionalNames: without a prefix on names only one server
// has, a call needs the lists to know the owner; the lists are read once
// and the names it learned route the next calls.
func TestStatelessConditionalNames(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(0, "public")), newPeer(t, "b", 0, modern(0, "public"))
	f := federation2026(t, PrefixConditional, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
	for _, name := range []string{"own_b", "own_a", "b_echo"} { // no list first
		ans, err := call2026(t, f, "tools/call", map[string]any{"name": name, "arguments": map[string]string{"text": "x"}}, name)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(name, "_echo", ":echo", 1)
		if !strings.HasPrefix(name, "b_") {
			want = name[len(name)-1:] + ":" + name
		}
		if got := text(t, ans); got != want+":x" {
			t.Errorf("%s: %q, want %q", name, got, want+":x")
		}
	}
}

// TestStatelessSessionsOnlyServer: a server that speaks only the 2025
// revisions makes the whole endpoint one of those to 2026-07-28 clients
// (they fall back to a session, which holds every server).
func TestStatelessSessionsOnlyServer(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(0, "public")), newPeer(t, "b", 0)
	f := federation2026(t, PrefixAlways, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
	for _, method := range []string{"server/discover", "tools/list"} {
		if _, err := call2026(t, f, method, nil, ""); !errors.Is(err, upstream.ErrSessionfulOnly) {
			t.Errorf("%s: %v, want ErrSessionfulOnly", method, err)
		}
	}
}

// TestStatelessFailedServerLeftOut: a server that cannot be reached is
// left out of the merge; the others answer.
func TestStatelessFailedServerLeftOut(t *testing.T) {
	a, b := newPeer(t, "a", 0, modern(0, "public")), newPeer(t, "b", 0, modern(0, "public"))
	b.ts.Close()
	f := federation2026(t, PrefixAlways, []string{"a", "b"}, []upstream.Upstream{a.up, b.up})
	res := result2026(t, f, "server/discover", nil, "")
	if !strings.Contains(string(res["instructions"]), "use a") || strings.Contains(string(res["instructions"]), "use b") {
		t.Errorf("instructions %s", res["instructions"])
	}
	tools := names2026(t, f, "tools/list", "tools", "name", 0, "public")
	if want := []string{"a_echo", "a_own_a", "a_ask"}; len(tools) != 3 || !strings.HasPrefix(tools[0], "a_") {
		t.Errorf("tools %v, want %v in some order", tools, want)
	}
}

// failingCall is a 2026-07-28 upstream whose every call fails as a stdio
// upstream's does when its process cannot run (fault injection).
type failingCall struct{ upstream.Upstream }

func (failingCall) Call(context.Context, *upstream.StatelessRequest, func(*pipeline.Message, int)) error {
	return errors.New("exec: /opt/secret/server: no such file")
}

// TestStatelessCallOfFailedServer: a call routed to a server that fails
// gets the error naming the server as configured, not its command.
func TestStatelessCallOfFailedServer(t *testing.T) {
	a := newPeer(t, "a", 0, modern(0, "public"))
	f, err := New(Config{Servers: []Server{{Name: "a", Upstream: grouped(t, "a", a.up)}, {Name: "b", Upstream: failingCall{a.up}}}})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := call2026(t, f, "tools/call", map[string]any{"name": "b_echo"}, "b_echo")
	if err != nil || ans.Error == nil || !strings.Contains(string(ans.Error), `the MCP server \"b\" of this endpoint is unavailable`) ||
		strings.Contains(string(ans.Raw), "secret") {
		t.Errorf("call of a failed server: %v %v", ans, err)
	}
	if got := text(t, mustCall(t, f, "a_echo")); got != "a:echo:x" {
		t.Errorf("a_echo: %q", got)
	}
}

func mustCall(t *testing.T, f *Federation, tool string) *pipeline.Message {
	t.Helper()
	ans, err := call2026(t, f, "tools/call", map[string]any{"name": tool, "arguments": map[string]string{"text": "x"}}, tool)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}
