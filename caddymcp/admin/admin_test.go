package admin

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

func TestPageSessions(t *testing.T) {
	all := func() []endpointSession {
		var s []endpointSession
		for _, c := range []struct{ id, user string }{{"d", "bob"}, {"b", "alice"}, {"e", ""}, {"a", "alice"}, {"c", "bob"}} {
			s = append(s, endpointSession{endpoint: "ep", info: front.SessionInfo{ID: c.id, User: c.user}})
		}
		return s
	}
	for _, c := range []struct {
		name     string
		q        sessionQuery
		wantIDs  []string
		wantNext string
	}{
		{"everything in id order", sessionQuery{limit: 100}, []string{"a", "b", "c", "d", "e"}, ""},
		{"first page", sessionQuery{limit: 2}, []string{"a", "b"}, "b"},
		{"middle page", sessionQuery{limit: 2, cursor: "b"}, []string{"c", "d"}, "d"},
		{"last page", sessionQuery{limit: 2, cursor: "d"}, []string{"e"}, ""},
		{"exactly the rest", sessionQuery{limit: 3, cursor: "b"}, []string{"c", "d", "e"}, ""},
		{"cursor of an ended session", sessionQuery{limit: 2, cursor: "bb"}, []string{"c", "d"}, "d"},
		{"past the end", sessionQuery{limit: 2, cursor: "z"}, []string{}, ""},
		{"one user", sessionQuery{limit: 1, user: "alice"}, []string{"a"}, "a"},
		{"one user, next page", sessionQuery{limit: 1, user: "alice", cursor: "a"}, []string{"b"}, ""},
		{"nobody", sessionQuery{limit: 10, user: "carol"}, []string{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := pageSessions(all(), c.q)
			ids := []string{}
			for _, s := range got.Sessions {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, c.wantIDs) || got.NextCursor != c.wantNext {
				t.Errorf("page = %v next %q, want %v next %q", ids, got.NextCursor, c.wantIDs, c.wantNext)
			}
			// An empty page is an empty list, not null.
			b, _ := json.Marshal(got)
			if !strings.HasPrefix(string(b), `{"sessions":[`) {
				t.Errorf("JSON %s", b)
			}
		})
	}
}

func TestParseSessionQuery(t *testing.T) {
	for _, c := range []struct {
		query   string
		limit   int
		wantErr bool
	}{
		{"", defaultSessionPage, false},
		{"limit=7", 7, false},
		{"limit=1000", 1000, false},
		{"limit=5000", maxSessionPage, false},
		{"limit=0", 0, true},
		{"limit=-3", 0, true},
		{"limit=ten", 0, true},
	} {
		v, _ := url.ParseQuery(c.query + "&endpoint=ep&user=u&cursor=k")
		q, err := parseSessionQuery(v)
		switch {
		case c.wantErr && (err == nil || !strings.Contains(err.Error(), "limit must be a positive integer")):
			t.Errorf("%q: err = %v, want the limit's error", c.query, err)
		case !c.wantErr && (err != nil || q.limit != c.limit):
			t.Errorf("%q: limit %d, err %v; want %d", c.query, q.limit, err, c.limit)
		case !c.wantErr && (q.endpoint != "ep" || q.user != "u" || q.cursor != "k"):
			t.Errorf("%q: %+v", c.query, q)
		}
	}
}

// adminRoute returns the handler of the module's route with pattern.
func adminRoute(t *testing.T, pattern string) caddy.AdminHandler {
	t.Helper()
	for _, r := range (AdminAPI{}).Routes() {
		if r.Pattern == pattern {
			return r.Handler
		}
	}
	t.Fatalf("no admin route %s", pattern)
	return nil
}

// serveAdmin runs one admin request and returns the recorder and the error
// the handler returned (Caddy's admin server writes it as JSON).
func serveAdmin(t *testing.T, pattern, method, target string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	err := adminRoute(t, pattern).ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w, err
}

func wantAPIError(t *testing.T, err error, status int, says string) {
	t.Helper()
	var apiErr caddy.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != status || !strings.Contains(apiErr.Err.Error(), says) {
		t.Errorf("error = %#v, want an APIError %d saying %q", err, status, says)
	}
}

func TestAdminRoutesRefuseWrongRequests(t *testing.T) {
	for _, c := range []struct {
		pattern, method, target string
		status                  int
		says, allow             string
	}{
		{adminSessionsPath, http.MethodPost, "/mcp_proxy/sessions", http.StatusMethodNotAllowed, "method POST not allowed", "GET"},
		{adminSessionsPath + "/", http.MethodPatch, "/mcp_proxy/sessions/x", http.StatusMethodNotAllowed, "use GET or DELETE", "GET, DELETE"},
		{adminUpstreamsPath, http.MethodDelete, "/mcp_proxy/upstreams", http.StatusMethodNotAllowed, "use GET", "GET"},
		{adminSessionsPath + "/", http.MethodGet, "/mcp_proxy/sessions/", http.StatusNotFound, "no such route", ""},
		{adminSessionsPath + "/", http.MethodGet, "/mcp_proxy/sessions/a/b", http.StatusNotFound, "no such route", ""},
		{adminSessionsPath + "/", http.MethodGet, "/mcp_proxy/sessions/unknown", http.StatusNotFound, `no live session "unknown"`, ""},
		{adminSessionsPath + "/", http.MethodDelete, "/mcp_proxy/sessions/unknown", http.StatusNotFound, `no live session "unknown"`, ""},
		{adminSessionsPath, http.MethodGet, "/mcp_proxy/sessions?limit=0", http.StatusBadRequest, "limit must be a positive integer", ""},
		{adminInstancePath, http.MethodPost, "/mcp_proxy/instance", http.StatusMethodNotAllowed, "use GET", "GET"},
	} {
		w, err := serveAdmin(t, c.pattern, c.method, c.target)
		wantAPIError(t, err, c.status, c.says)
		if got := w.Header().Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.target, got, c.allow)
		}
	}
}

// TestAdminUpstreams: an HTTP endpoint and a stdio endpoint registered as
// Provision registers them show with their secret-free addresses; the
// stdio pool, not started, has no process.
func TestAdminUpstreams(t *testing.T) {
	httpName, stdioName := "unit-admin-http", "unit-admin-stdio"
	// What mcp_proxy's Provision describes (caddymcp's describe, whose
	// addresses TestAddressesHoldNoSecrets checks) for an http upstream at
	// https://user:pw@mcp.example.com/v1/rpc?token=tok.
	for name, address := range map[string]string{httpName: "https://mcp.example.com:443", stdioName: ""} {
		val, _, err := mcpstate.SessionStores.LoadOrNew(name, func() (caddy.Destructor, error) {
			return &mcpstate.StoreEntry{Store: front.NewStore(front.Limits{}, nil)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		descs := []mcpstate.UpstreamDescription{}
		if address != "" {
			descs = []mcpstate.UpstreamDescription{{Name: "mcp.example.com", Kind: mcpstate.KindHTTP, Address: address}}
		}
		val.(*mcpstate.StoreEntry).Upstreams.Store(&descs)
		t.Cleanup(func() { _, _ = mcpstate.SessionStores.Delete(name) })
	}
	p, err := pool.New(pool.Config{Command: "/opt/servers/mcp-server", Args: []string{"--api-key", "secret"}, Env: map[string]string{"KEY": "secret"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mcpstate.StdioPools.LoadOrNew(stdioName+"|unit", func() (caddy.Destructor, error) {
		return &mcpstate.StdioEntry{Pool: p, Upstream: stdio.New(p, 1<<20, nil), Endpoint: stdioName, Name: "mcp-server", Command: "mcp-server"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = mcpstate.StdioPools.Delete(stdioName + "|unit") })

	w, err := serveAdmin(t, adminUpstreamsPath, http.MethodGet, "/mcp_proxy/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	body := w.Body.String()
	for _, secret := range []string{"user", "pw", "token", "tok", "/v1", "rpc", "secret", "api-key", "/opt"} {
		if strings.Contains(body, secret) {
			t.Errorf("the answer holds %q: %s", secret, body)
		}
	}
	var got adminUpstreams
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]adminUpstream{
		httpName: {Endpoint: httpName, Name: "mcp.example.com", Kind: "http", Address: "https://mcp.example.com:443"},
		stdioName: {Endpoint: stdioName, Name: "mcp-server", Kind: "stdio", Address: "mcp-server", Processes: &adminProcesses{
			Exits: map[string]int{"released": 0, "surplus": 0, "unready": 0, "closed": 0, "crashed": 0},
		}},
	}
	for _, u := range got.Upstreams {
		w, ok := want[u.Endpoint]
		if !ok {
			continue // another test's endpoint
		}
		delete(want, u.Endpoint)
		if u.Name != w.Name || u.Kind != w.Kind || u.Address != w.Address || u.Sessions != 0 || u.Evicted != 0 ||
			(w.Processes == nil) != (u.Processes == nil) || (u.Processes != nil && !reflect.DeepEqual(*u.Processes, *w.Processes)) {
			t.Errorf("upstream %+v (processes %+v), want %+v", u, u.Processes, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing from the answer: %v in %s", want, body)
	}
}
