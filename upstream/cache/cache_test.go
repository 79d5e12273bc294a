package cache

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// serverModeEnv makes the test binary a go-sdk stdio MCP server whose list
// results are public for a minute (the benchmark's upstream).
const serverModeEnv = "CADDY_MCP_CACHE_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverModeEnv) != "" {
		s := mcp.NewServer(&mcp.Implementation{Name: "cache-test", Version: "1"}, &mcp.ServerOptions{
			SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) { c.CacheScope, c.TTLMs = "public", 60000 },
		})
		for i := range 20 {
			mcp.AddTool(s, &mcp.Tool{Name: fmt.Sprintf("tool-%d", i), Description: "a tool"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{}, nil, nil
			})
		}
		_ = s.Run(context.Background(), &mcp.StdioTransport{})
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(pool.SpawnerFunction))
}

// scripted is an upstream for the cache's logic: it answers each request
// with the first of its results, which it drops while more follow (a result
// that starts with a notification's method is that notification, then the
// result after a "|", else an empty one), and counts the requests it got.
type scripted struct {
	mu      sync.Mutex
	results []string
	got     int
}

func (s *scripted) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	s.mu.Lock()
	r := s.results[0]
	if len(s.results) > 1 {
		s.results = s.results[1:]
	}
	s.got++
	s.mu.Unlock()
	if strings.HasPrefix(r, "notifications/") {
		note, result, _ := strings.Cut(r, "|")
		method, params, _ := strings.Cut(note, " ")
		deliver(pipeline.NewNotification(method, json.RawMessage(params)), 200)
		r = cmp.Or(result, `{}`)
	}
	deliver(pipeline.NewResult(req.Message.ID, json.RawMessage(r)), 200)
	return nil
}

func (s *scripted) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.got }

func req(t testing.TB, raw string) *upstream.StatelessRequest {
	t.Helper()
	m, err := pipeline.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &upstream.StatelessRequest{Message: m}
}

func call(t testing.TB, up upstream.Stateless, raw string) []*pipeline.Message {
	t.Helper()
	var got []*pipeline.Message
	if err := up.Call(context.Background(), req(t, raw), func(m *pipeline.Message, _ int) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestWhatIsKept: only a complete result marked public with a positive
// ttl is kept; private, absent, 0 and interim results reach the upstream
// every time.
func TestWhatIsKept(t *testing.T) {
	for _, tc := range []struct {
		result string
		kept   bool
	}{
		{`{"tools":[],"ttlMs":60000,"cacheScope":"public"}`, true},
		{`{"tools":[],"ttlMs":60000,"cacheScope":"public","resultType":"complete"}`, true},
		{`{"tools":[],"ttlMs":60000,"cacheScope":"private"}`, false},
		{`{"tools":[],"ttlMs":60000}`, false},
		{`{"tools":[],"ttlMs":0,"cacheScope":"public"}`, false},
		{`{"tools":[],"ttlMs":-5,"cacheScope":"public"}`, false},
		{`{"tools":[],"cacheScope":"public"}`, false},
		{`{"tools":[],"ttlMs":"60000","cacheScope":"public"}`, false},
		{`{"resultType":"input_required","ttlMs":60000,"cacheScope":"public"}`, false},
	} {
		up := &scripted{results: []string{tc.result}}
		var counted []Outcome
		c := New(Config{Count: func(o Outcome) { counted = append(counted, o) }})
		u := c.Upstream(up, "s")
		for i := range 3 {
			got := call(t, u, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list","params":{"_meta":{"k":%d}}}`, i, i))
			if len(got) != 1 || string(got[0].ID) != fmt.Sprint(i) || string(got[0].Result) != tc.result || got[0].Cached != (tc.kept && i > 0) {
				t.Errorf("%s call %d: %s cached=%v", tc.result, i, got[0].Raw, got[0].Cached)
			}
		}
		if want := map[bool]int{true: 1, false: 3}[tc.kept]; up.count() != want {
			t.Errorf("%s: the upstream got %d requests, want %d (outcomes %v)", tc.result, up.count(), want, counted)
		}
	}
}

// TestRetriesNotCached: the retry of a multi-round-trip request (with
// inputResponses or requestState) is never answered from the cache nor
// kept, though its result is public.
func TestRetriesNotCached(t *testing.T) {
	up := &scripted{results: []string{`{"contents":[],"ttlMs":60000,"cacheScope":"public"}`}}
	c := New(Config{})
	u := c.Upstream(up, "")
	for _, params := range []string{`{"uri":"r","inputResponses":{"k":{}}}`, `{"uri":"r","requestState":"s"}`} {
		for range 2 {
			call(t, u, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":`+params+`}`)
		}
	}
	if n, _ := c.Len(); n != 0 || up.count() != 4 {
		t.Errorf("%d entries, %d requests upstream; want 0 and 4", n, up.count())
	}
}

// TestKey: the key ignores _meta and the order and spacing of params, and
// keeps apart servers, methods and params that differ.
func TestKey(t *testing.T) {
	k := func(server, raw string) string {
		key, _, ok := Key(server, req(t, raw).Message)
		if !ok {
			t.Fatalf("no key for %s", raw)
		}
		return key
	}
	same := k("a", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x","b":[1,2],"_meta":{"p":1}}}`)
	for _, raw := range []string{
		`{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{ "b" : [1, 2], "uri":"x"}}`,
		`{"jsonrpc":"2.0","id":"s","method":"resources/read","params":{"_meta":{"q":2},"uri":"x","b":[1,2]}}`,
	} {
		if got := k("a", raw); got != same {
			t.Errorf("%s: key %q, want %q", raw, got, same)
		}
	}
	for _, tc := range []struct{ server, raw string }{
		{"b", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x","b":[1,2]}}`},
		{"a", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"y","b":[1,2]}}`},
		{"a", `{"jsonrpc":"2.0","id":1,"method":"resources/list","params":{"uri":"x","b":[1,2]}}`},
	} {
		if k(tc.server, tc.raw) == same {
			t.Errorf("%s %s shares the key", tc.server, tc.raw)
		}
	}
	if _, _, ok := Key("a", req(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}`).Message); ok {
		t.Error("params that are not an object got a key")
	}
}

// TestInvalidation: a list_changed the upstream delivers drops that list's
// entries (of its server only), a resources/updated the read of its uri,
// and an answer to a request sent before an invalidation is not kept.
func TestInvalidation(t *testing.T) {
	const public = `{"ttlMs":60000,"cacheScope":"public"}`
	up := &scripted{results: []string{public}}
	c := New(Config{})
	a, b := c.Upstream(up, "a"), c.Upstream(up, "b")
	for _, u := range []upstream.Stateless{a, b} {
		call(t, u, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		call(t, u, `{"jsonrpc":"2.0","id":1,"method":"prompts/list"}`)
		call(t, u, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"r1"}}`)
		call(t, u, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"r2"}}`)
	}
	if n, _ := c.Len(); n != 8 {
		t.Fatalf("%d entries, want 8", n)
	}
	up.results = []string{`notifications/tools/list_changed {}`, public}
	call(t, a, `{"jsonrpc":"2.0","id":9,"method":"subscriptions/listen"}`)
	up.results = []string{`notifications/resources/updated {"uri":"r1"}`, public}
	call(t, a, `{"jsonrpc":"2.0","id":9,"method":"subscriptions/listen"}`)
	if n, _ := c.Len(); n != 6 {
		t.Fatalf("%d entries after two invalidations of a's, want 6", n)
	}
	before := up.count()
	call(t, a, `{"jsonrpc":"2.0","id":2,"method":"prompts/list"}`)
	call(t, a, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"r2"}}`)
	call(t, b, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if up.count() != before {
		t.Errorf("entries that no notification named reached the upstream")
	}
	call(t, a, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	call(t, a, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"r1"}}`)
	if up.count() != before+2 {
		t.Errorf("invalidated entries were served from the cache")
	}

	// A miss whose answer comes after an invalidation: not kept.
	c = New(Config{})
	racing := &scripted{results: []string{`notifications/prompts/list_changed {}|` + public}}
	call(t, c.Upstream(racing, "a"), `{"jsonrpc":"2.0","id":1,"method":"prompts/list"}`)
	if n, _ := c.Len(); n != 0 {
		t.Errorf("an answer that followed a list_changed was kept")
	}
}

// TestBounds: entries and bytes stay under their bounds, the least
// recently used going first, and an entry past its ttl is not served.
func TestBounds(t *testing.T) {
	now := time.Unix(0, 0)
	up := &scripted{results: []string{`{"ttlMs":1000,"cacheScope":"public","pad":"` + strings.Repeat("x", 100) + `"}`}}
	c := New(Config{MaxEntries: 3, MaxBytes: 1 << 20, Now: func() time.Time { return now }})
	u := c.Upstream(up, "")
	for i := range 5 {
		call(t, u, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"r%d"}}`, i))
	}
	if n, _ := c.Len(); n != 3 {
		t.Errorf("%d entries, want the bound 3", n)
	}
	c = New(Config{MaxBytes: 8 * 200, Now: func() time.Time { return now }}) // entries of ~170 bytes: an eighth fits, nine don't
	u = c.Upstream(up, "")
	for i := range 20 {
		call(t, u, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"r%d"}}`, i))
	}
	if n, b := c.Len(); b > 8*200 || n == 0 {
		t.Errorf("%d entries of %d bytes, bound %d", n, b, 8*200)
	}
	before := up.count()
	call(t, u, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"r19"}}`)
	now = now.Add(time.Second)
	call(t, u, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"r19"}}`)
	if up.count() != before+1 {
		t.Errorf("the upstream got %d requests, want 1 (the one after the ttl)", up.count()-before)
	}
}
