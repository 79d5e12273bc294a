package tags

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/seal"
)

func testCodec(t testing.TB, ring *seal.Ring, endpoint, user string) *seal.Codec {
	t.Helper()
	if ring == nil {
		k, err := seal.ParseKey(seal.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		if ring, err = seal.NewRing(k); err != nil {
			t.Fatal(err)
		}
	}
	return &seal.Codec{Ring: ring, Binding: seal.Binding{Endpoint: endpoint, User: user}, Node: "http://10.0.0.5:8080"}
}

func mustParse(t testing.TB, s string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// member returns the string at path of obj.
func member(t *testing.T, obj json.RawMessage, path ...string) string {
	t.Helper()
	raw, ok := pipeline.ValueAt(obj, path)
	var s string
	if !ok || json.Unmarshal(raw, &s) != nil {
		t.Fatalf("%s has no string at %v", obj, path)
	}
	return s
}

// TestSealRoundTrip: every plain tag of a result or notification leaves
// sealed (visible ASCII, no plain name in it), comes back in a request
// as the plain tag the layers read, and names its owner only when a
// process of this instance minted it.
func TestSealRoundTrip(t *testing.T) {
	c := testCodec(t, nil, "api", "alice")
	for _, tc := range []struct {
		name, out string
		path      []string
		param     string // the request member it comes back in
		owner     string
	}{
		{"cursor", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"x"}],"nextCursor":"mcpgw:a:c1"}}`, []string{"nextCursor"}, "cursor", ""},
		{"requestState", `{"jsonrpc":"2.0","id":1,"result":{"requestState":"mcpgw:b:s"}}`, []string{"requestState"}, "requestState", ""},
		{"created task", `{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"mcpgw:a:t","status":"working"}}}`, []string{"task", "taskId"}, "taskId", ""},
		{"listed task", `{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"mcpgw:a:t"}]}}`, []string{"tasks", "0", "taskId"}, "taskId", ""},
		{"process task", `{"jsonrpc":"2.0","id":1,"result":{"taskId":"mcpgw:@0:t"}}`, []string{"taskId"}, "taskId", "http://10.0.0.5:8080"},
		{"nested process task", `{"jsonrpc":"2.0","id":1,"result":{"taskId":"mcpgw:m1:mcpgw:@2:t"}}`, []string{"taskId"}, "taskId", "http://10.0.0.5:8080"},
		{"task notification", `{"jsonrpc":"2.0","method":"notifications/tasks","params":{"taskId":"mcpgw:a:t","status":"done"}}`, []string{"taskId"}, "taskId", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, tc.out)
			sealed := SealOut(m, c)
			body := sealed.Result
			if m.IsNotification() {
				body = sealed.Params
			}
			tag := member(t, body, tc.path...)
			plain := member(t, m.Raw, append([]string{map[bool]string{true: "params", false: "result"}[m.IsNotification()]}, tc.path...)...)
			if !strings.HasPrefix(tag, sealedPrefix) || strings.Contains(tag, ":") || strings.Trim(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
				t.Fatalf("sealed tag %q is not mcpgw.<base64url>", tag)
			}
			t.Logf("%s: %d characters for %q", tc.name, len(tag), plain)
			back, _ := json.Marshal(map[string]string{tc.param: tag})
			req := mustParse(t, `{"jsonrpc":"2.0","id":2,"method":"m","params":`+string(back)+`}`)
			in, owner, err := OpenIn(req, c)
			if err != nil || owner != tc.owner || member(t, in.Params, tc.param) != plain {
				t.Fatalf("OpenIn = %s, owner %q, %v; want %q, owner %q", in.Params, owner, err, plain, tc.owner)
			}
			if owner, err := OwnerIn(req, c); err != nil || owner != tc.owner {
				t.Fatalf("OwnerIn = %q, %v; want %q", owner, err, tc.owner)
			}
		})
	}
}

// TestOpenInRefuses (and OwnerIn, which reads the same): with a cluster, a request's tag that is plain,
// tampered, sealed for another endpoint or user or under another key, a
// session id, or two tags of different owners are all ErrForged; what
// carries no tag passes byte for byte.
func TestOpenInRefuses(t *testing.T) {
	c := testCodec(t, nil, "api", "alice")
	sealOne := func(c *seal.Codec, plain string) string {
		m := SealOut(mustParse(t, `{"jsonrpc":"2.0","id":1,"result":{"nextCursor":"`+plain+`"}}`), c)
		return member(t, m.Result, "nextCursor")
	}
	good := sealOne(c, "mcpgw:a:c")
	tampered := []byte(good)
	tampered[len(tampered)-3] ^= 1
	sid, _ := c.Ring.SealSession(c.Binding, seal.Session{})
	owned := sealOne(c, "mcpgw:@0:t")
	elsewhere := &seal.Codec{Ring: c.Ring, Binding: c.Binding, Node: "http://10.0.0.6:8080"}
	for _, tc := range []struct{ name, params string }{
		{"plain tag", `{"cursor":"mcpgw:b:c"}`},
		{"plain owned tag", `{"taskId":"mcpgw:@1:t"}`},
		{"tampered", `{"cursor":"` + string(tampered) + `"}`},
		{"another user", `{"cursor":"` + sealOne(testCodec(t, c.Ring, "api", "bob"), "mcpgw:a:c") + `"}`},
		{"another endpoint", `{"cursor":"` + sealOne(testCodec(t, c.Ring, "admin", "alice"), "mcpgw:a:c") + `"}`},
		{"another key", `{"cursor":"` + sealOne(testCodec(t, nil, "api", "alice"), "mcpgw:a:c") + `"}`},
		{"a session id as a tag", `{"cursor":"mcpgw.` + sid + `"}`},
		{"empty token", `{"cursor":"mcpgw."}`},
		{"two owners", `{"notifications":{"taskIds":["` + owned + `","` + sealOne(elsewhere, "mcpgw:@0:u") + `"]}}`},
		{"owned and not", `{"notifications":{"taskIds":["` + owned + `","` + good + `"]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":`+tc.params+`}`)
			if _, _, err := OpenIn(m, c); !errors.Is(err, ErrForged) {
				t.Fatalf("OpenIn(%s) = %v, want ErrForged", tc.params, err)
			}
			if _, err := OwnerIn(m, c); !errors.Is(err, ErrForged) {
				t.Fatalf("OwnerIn(%s) = %v, want ErrForged", tc.params, err)
			}
		})
	}
	for _, params := range []string{`{"cursor":"c2"}`, `{"name":"mcpgw:a:c","arguments":{"cursor":"mcpgw:a:c"}}`, `{}`} {
		m := mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":`+params+`}`)
		if out, _, err := OpenIn(m, c); err != nil || out != m {
			t.Errorf("OpenIn(%s) = %v, %v; want it unchanged", params, out, err)
		}
	}
	// What a server says that is not at a tag's place passes unsealed.
	m := mustParse(t, `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"mcpgw:a:c"}]}}`)
	if out := SealOut(m, c); out != m {
		t.Errorf("SealOut changed %s into %s", m.Raw, out.Raw)
	}
}

// BenchmarkEdgeTags measures what the edge adds with a cluster to a list
// answer of 50 tools carrying a member's cursor (SealOut) and to the
// request that brings it back (OpenIn). Without a cluster neither runs.
func BenchmarkEdgeTags(b *testing.B) {
	items := strings.Repeat(`{"name":"tool","description":"does a thing","inputSchema":{"type":"object"}},`, 49)
	resp := mustParse(b, `{"jsonrpc":"2.0","id":1,"result":{"tools":[`+items+`{"name":"last"}],"nextCursor":"mcpgw:a:6f9619ff-8b86-d011-b42d-00c04fc964ff"}}`)
	c := testCodec(b, nil, "api", "alice")
	sealed := SealOut(resp, c)
	raw, _ := pipeline.ValueAt(sealed.Raw, []string{"result", "nextCursor"})
	req := mustParse(b, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":`+string(raw)+`}}`)
	b.Run("SealOut", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = SealOut(resp, c)
		}
	})
	b.Run("OpenIn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := OpenIn(req, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
