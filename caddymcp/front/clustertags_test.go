package front

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// pagedCall is an upstream that mints a member's tag as a balance group
// does: the first page of tools/list carries nextCursor "mcpgw:a:p2",
// which it serves as page two when it comes back plain.
func pagedCall(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	var p struct {
		Cursor string `json:"cursor"`
	}
	_ = json.Unmarshal(req.Message.Params, &p)
	switch p.Cursor {
	case "":
		deliver(pipeline.NewResult(req.Message.ID, []byte(`{"tools":[{"name":"one"}],"nextCursor":"mcpgw:a:p2"}`)), http.StatusOK)
	case "mcpgw:a:p2":
		deliver(pipeline.NewResult(req.Message.ID, []byte(`{"tools":[{"name":"two"}]}`)), http.StatusOK)
	default:
		deliver(pipeline.NewError(req.Message.ID, pipeline.CodeInvalidParams, "unknown cursor"), http.StatusOK)
	}
	return nil
}

// listPage asks url for tools/list with cursor as user and returns the
// answer.
func listPage(t *testing.T, url, user, cursor string) rpcMsg {
	t.Helper()
	params := `{` + statelessMeta + `}`
	if cursor != "" {
		c, _ := json.Marshal(cursor)
		params = `{"cursor":` + string(c) + `,` + statelessMeta + `}`
	}
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":` + params + `}`
	resp, err := http.DefaultClient.Do(statelessRequest(t, url, body, map[string]string{"Mcp-Method": "tools/list", "X-Test-User": user}))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return decodeMsg(t, b)
}

// TestClusterTagsCrossInstances: with a cluster, the cursor a member
// minted reaches the client sealed, and another instance sharing the key
// opens it and sends the member its own plain tag; a forged, tampered,
// other user's, other endpoint's or other instance's process tag, or a
// session id in its place, is -32602 as an unknown cursor is, and never
// reaches the upstream. Without a cluster the plain tag passes as today.
func TestClusterTagsCrossInstances(t *testing.T) {
	ring := testRing(t)
	cfg := func(c *Cluster) Config { return Config{Clients: headerUsers, Cluster: c} }
	a, _ := newStatelessServerWith(t, cfg(&Cluster{Ring: ring, Endpoint: "api", Node: "http://a"}), pagedCall)
	b, fakeB := newStatelessServerWith(t, cfg(&Cluster{Ring: ring, Endpoint: "api", Node: "http://b"}), pagedCall)
	plain, _ := newStatelessServerWith(t, Config{Clients: headerUsers}, pagedCall)

	first := listPage(t, a.URL, "alice", "")
	var res struct {
		NextCursor string `json:"nextCursor"`
	}
	_ = json.Unmarshal(first.Result, &res)
	// The upstream's own cursor ("p2") must not show through: a sealed
	// tag is base64url, which has no ':' (a random token may well spell
	// "p2", about one run in seventy).
	if !strings.HasPrefix(res.NextCursor, "mcpgw.") || strings.Contains(res.NextCursor, ":") {
		t.Fatalf("the client got nextCursor %q, want a sealed tag", res.NextCursor)
	}
	second := listPage(t, b.URL, "alice", res.NextCursor)
	if second.Error != nil || !strings.Contains(string(second.Result), `"two"`) {
		t.Fatalf("page two through the other instance: %s", second.raw)
	}
	if p := (<-fakeB.seen).Message.Params; !strings.Contains(string(p), `"cursor":"mcpgw:a:p2"`) {
		t.Fatalf("the upstream got %s, want its own plain tag", p)
	}

	seal1 := func(c *Cluster, user, plain string, owned bool) string {
		return "mcpgw." + c.codec(user).Seal(strings.TrimPrefix(plain, "mcpgw:"), owned)
	}
	tampered := []byte(res.NextCursor)
	tampered[20] ^= 1
	sid := (&Cluster{Ring: ring, Endpoint: "api"}).mintSessionID("alice", Version20250618)
	for _, tc := range []struct{ name, user, cursor string }{
		{"forged plain tag", "alice", "mcpgw:a:p2"},
		{"tampered", "alice", string(tampered)},
		{"another user's", "bob", res.NextCursor},
		{"another endpoint's", "alice", seal1(&Cluster{Ring: ring, Endpoint: "admin"}, "alice", "mcpgw:a:p2", false)},
		{"another key's", "alice", seal1(&Cluster{Ring: testRing(t), Endpoint: "api"}, "alice", "mcpgw:a:p2", false)},
		{"a session id", "alice", "mcpgw." + sid},
		{"another instance's process", "alice", seal1(&Cluster{Ring: ring, Endpoint: "api", Node: "http://c"}, "alice", "mcpgw:@0:p2", true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := listPage(t, b.URL, tc.user, tc.cursor)
			if m.Error == nil || m.Error.Code != pipeline.CodeInvalidParams || strings.Contains(m.Error.Message, "p2") {
				t.Fatalf("answer %s %+v, want -32602 naming nothing", m.Result, m.Error)
			}
			select {
			case r := <-fakeB.seen:
				t.Fatalf("the upstream got %s", r.Message.Raw)
			default:
			}
		})
	}

	// Without a cluster: the plain tag, as today, and it comes back.
	m := listPage(t, plain.URL, "alice", "")
	if !strings.Contains(string(m.Result), `"nextCursor":"mcpgw:a:p2"`) {
		t.Fatalf("without a cluster: %s", m.Result)
	}
	if m := listPage(t, plain.URL, "alice", "mcpgw:a:p2"); !strings.Contains(string(m.Result), `"two"`) {
		t.Fatalf("without a cluster, page two: %s %+v", m.Result, m.Error)
	}
}

// TestClusterTagsSession: in a session too (a federation's task ids and
// cursors), a tag reaches the client sealed and comes back plain, and a
// plain or other user's tag is -32602 without reaching the upstream.
func TestClusterTagsSession(t *testing.T) {
	t.Parallel()
	cl := &Cluster{Ring: testRing(t), Endpoint: "api"}
	var mu sync.Mutex
	var cursors []string
	h := newHarness(t, testUser, withCluster(cl), func(s *setup) {
		s.up.script = func(c *fakeConn, m *pipeline.Message) bool {
			if m.Method != "tools/list" {
				return false
			}
			var p struct {
				Cursor string `json:"cursor"`
			}
			_ = json.Unmarshal(m.Params, &p)
			mu.Lock()
			cursors = append(cursors, p.Cursor)
			mu.Unlock()
			c.emit(pipeline.NewResult(m.ID, []byte(`{"tools":[],"nextCursor":"mcpgw:docs:p2"}`)))
			return true
		}
	})
	sid := h.initializeAs(t, "alice")
	list := func(user, cursor string) rpcMsg {
		c, _ := json.Marshal(cursor)
		rp := h.do(t, req{sid: sid, user: user, version: Version20250618, body: rpcRequest(5, "tools/list", `{"cursor":`+string(c)+`}`)})
		wantStatus(t, rp, http.StatusOK)
		return rp.only(t)
	}
	m := list("alice", "")
	var res struct {
		NextCursor string `json:"nextCursor"`
	}
	_ = json.Unmarshal(m.Result, &res)
	if !strings.HasPrefix(res.NextCursor, "mcpgw.") {
		t.Fatalf("nextCursor %q, want sealed", res.NextCursor)
	}
	list("alice", res.NextCursor)
	other := "mcpgw." + cl.codec("bob").Seal("docs:p2", false)
	for _, c := range []string{"mcpgw:docs:p2", other} {
		if m := list("alice", c); m.Error == nil || m.Error.Code != pipeline.CodeInvalidParams {
			t.Errorf("cursor %q: %s, want -32602", c, m.raw)
		}
	}
	// A tag is no session id, with or without its prefix.
	for _, id := range []string{res.NextCursor, strings.TrimPrefix(res.NextCursor, "mcpgw.")} {
		rp := h.do(t, req{sid: id, user: "alice", version: Version20250618, body: rpcRequest(6, "ping", "")})
		wantStatus(t, rp, http.StatusNotFound)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"", "mcpgw:docs:p2"}; !slices.Equal(cursors, want) {
		t.Errorf("the upstream got cursors %q, want %q", cursors, want)
	}
}

// TestTagOwner: the seam for forwarding a 2026-07-28 request to the
// instance that owns what its tags name.
func TestTagOwner(t *testing.T) {
	ring := testRing(t)
	owner := &Cluster{Ring: ring, Endpoint: "api", Node: "http://10.0.0.5:8080"}
	other := &Cluster{Ring: ring, Endpoint: "api", Node: "http://10.0.0.6:8080"}
	request := func(taskID string) *pipeline.Message {
		return mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"`+taskID+`"}}`)
	}
	for _, tc := range []struct {
		name, taskID, owner string
		ok                  bool
	}{
		{"a process's task", "mcpgw." + owner.codec("alice").Seal("@1:t", true), owner.Node, true},
		{"an HTTP member's task", "mcpgw." + owner.codec("alice").Seal("a:t", false), "", true},
		{"no tag", "t-1", "", true},
		{"another user's", "mcpgw." + owner.codec("bob").Seal("@1:t", true), "", false},
	} {
		got, ok := other.TagOwner(request(tc.taskID), "alice")
		if got != tc.owner || ok != tc.ok {
			t.Errorf("%s: TagOwner = %q, %v; want %q, %v", tc.name, got, ok, tc.owner, tc.ok)
		}
	}
}
