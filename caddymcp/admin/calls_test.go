package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// TestHandleCalls: GET /mcp_proxy/calls lists each endpoint's calls
// (newest first, arguments redacted) and rates; ?endpoint= picks one,
// ?limit= bounds the calls; bad input is a clear error.
func TestHandleCalls(t *testing.T) {
	red, _ := tape.NewRedactor([]string{"/params/arguments/password"})
	for _, name := range []string{"calls-a", "calls-b"} {
		key := name
		v, _, err := mcpstate.SessionStores.LoadOrNew(key, func() (caddy.Destructor, error) {
			return &mcpstate.StoreEntry{Store: front.NewStore(front.Limits{}, nil), Calls: new(mcpstate.CallLog)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = mcpstate.SessionStores.Delete(key) })
		l := v.(*mcpstate.StoreEntry).Calls
		for _, c := range []struct{ tool, params, answer string }{
			{"login", `{"name":"login","arguments":{"user":"u","password":"hunter2"}}`, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`},
			{"fail", `{"name":"fail"}`, `{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"bad"}}`},
		} {
			answer, err := pipeline.Parse([]byte(c.answer))
			if err != nil {
				t.Fatal(err)
			}
			l.Add(front.Answered{Method: "tools/call", Target: c.tool, Params: json.RawMessage(c.params), Session: "s1", User: "alice",
				Started: time.Unix(1800000000, 0), Answer: answer}, c.tool, red)
		}
	}
	type answer struct {
		Endpoints []mcpstate.EndpointCalls `json:"endpoints"`
	}
	get := func(target string) (answer, error) {
		w, err := serveAdmin(t, adminCallsPath, http.MethodGet, target)
		var a answer
		if err == nil {
			if jerr := json.Unmarshal(w.Body.Bytes(), &a); jerr != nil {
				t.Fatalf("%s: %v in %s", target, jerr, w.Body)
			}
			if bytes.Contains(w.Body.Bytes(), []byte("hunter2")) {
				t.Errorf("%s: the redacted password is in %s", target, w.Body)
			}
		}
		return a, err
	}

	a, err := get(adminCallsPath + "?endpoint=calls-b")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Endpoints) != 1 || a.Endpoints[0].Endpoint != "calls-b" || len(a.Endpoints[0].Calls) != 2 {
		t.Fatalf("?endpoint=calls-b: %+v", a)
	}
	calls := a.Endpoints[0].Calls
	if c := calls[0]; c.Tool != "fail" || c.Outcome != "error" || c.Error != "bad" || c.ID != 2 || c.Endpoint != "calls-b" || c.Arguments != nil {
		t.Errorf("newest call %+v", c)
	}
	if c := calls[1]; c.Tool != "login" || c.Outcome != "ok" || c.Session != "s1" || c.User != "alice" ||
		string(c.Arguments) != `{"password":"[redacted]","user":"u"}` || !c.Time.Equal(time.Unix(1800000000, 0)) {
		t.Errorf("oldest call %+v (arguments %s)", c, c.Arguments)
	}
	rates := a.Endpoints[0].Rates
	if rates.BucketSeconds != 10 || len(rates.Tools) != 2 || len(rates.Tools[0].Calls) != 60 {
		t.Errorf("rates %+v", rates)
	}

	if a, err = get(adminCallsPath + "?limit=1"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range a.Endpoints {
		names = append(names, e.Endpoint)
		if e.Endpoint == "calls-a" && len(e.Calls) != 1 {
			t.Errorf("?limit=1: %d calls", len(e.Calls))
		}
	}
	if !strings.Contains(strings.Join(names, ","), "calls-a,calls-b") {
		t.Errorf("endpoints %v, want calls-a and calls-b in order", names)
	}

	for _, tc := range []struct {
		method, target string
		status         int
		says           string
	}{
		{http.MethodGet, adminCallsPath + "?endpoint=nope", http.StatusNotFound, `no endpoint "nope"`},
		{http.MethodGet, adminCallsPath + "?endpoint=calls-a&endpoint=calls-b", http.StatusNotFound, "no endpoint"},
		{http.MethodGet, adminCallsPath + "?limit=0", http.StatusBadRequest, "limit must be a number from 1 to 200"},
		{http.MethodGet, adminCallsPath + "?limit=201", http.StatusBadRequest, "limit must be"},
		{http.MethodGet, adminCallsPath + "?limit=x", http.StatusBadRequest, "limit must be"},
		{http.MethodDelete, adminCallsPath, http.StatusMethodNotAllowed, "use GET"},
	} {
		_, err := serveAdmin(t, adminCallsPath, tc.method, tc.target)
		wantAPIError(t, err, tc.status, tc.says)
	}
}
