package caddymcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/filter"
)

// TestHideStage: the stage applies the claim of the exchange: lists lose
// what it hides, a call of it gets the filter's -32602; without the
// claim (or without claims at all) everything passes.
func TestHideStage(t *testing.T) {
	raw, _ := json.Marshal(filter.Config{Tools: &filter.Rules{Deny: []string{"write_*"}}})
	withClaim := func(name string) (string, bool) {
		if name == mcpstate.HiddenClaim {
			return string(raw), true
		}
		return "", false
	}
	without := func(string) (string, bool) { return "", false }
	s := newHideStage()
	parse := func(text string) *pipeline.Message {
		m, err := pipeline.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	list := `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"write_file"},{"name":"echo"}],"nextCursor":"n"}}`
	tests := []struct {
		name  string
		claim func(string) (string, bool)
		dir   pipeline.Direction
		msg   string
		want  string // the message after the stage; "" unchanged; "-32602" refused
	}{
		{"list page filtered", withClaim, pipeline.ToClient, list, `{"nextCursor":"n","tools":[{"name":"echo"}]}`},
		{"hidden call refused", withClaim, pipeline.ToServer, call("write_file"), "-32602"},
		{"visible call passes", withClaim, pipeline.ToServer, call("echo"), ""},
		{"no claim: list unchanged", without, pipeline.ToClient, list, ""},
		{"no claims at all", nil, pipeline.ToServer, call("write_file"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := &pipeline.Exchange{Direction: tc.dir, Claim: tc.claim, RequestMethod: "tools/list"}
			v := s.Handle(context.Background(), ex, parse(tc.msg))
			switch tc.want {
			case "":
				if v.Action != pipeline.Continue || v.Message != nil {
					t.Fatalf("changed: %+v", v)
				}
			case "-32602":
				if v.Action != pipeline.Respond || !strings.Contains(string(v.Message.Error), `-32602`) || !strings.Contains(string(v.Message.Error), `unknown tool \"write_file\"`) {
					t.Fatalf("not refused as unknown: %+v", v)
				}
			default:
				if v.Action != pipeline.Continue || v.Message == nil || string(v.Message.Result) != tc.want {
					t.Fatalf("got %+v", v)
				}
			}
		})
	}
}

// TestRefuseUnhidden: an mcp_proxy without the hide stage refuses a
// request an mcp_auth with hide_unauthorized let through (a hidden call
// would reach the upstream without its scopes), and serves the others.
func TestRefuseUnhidden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claim   bool
		stage   *hideStage
		refused bool
	}{
		{"claim, no stage", true, nil, true},
		{"claim and stage", true, newHideStage(), false},
		{"no claim", false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{hide: tc.stage, logger: zap.NewNop()}
			repl := caddy.NewReplacer()
			if tc.claim {
				repl.Set("http.auth.user."+mcpstate.HiddenClaim, `{"tools":{"deny":["x"]}}`)
			}
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
			w := httptest.NewRecorder()
			if got := h.refuseUnhidden(w, r); got != tc.refused {
				t.Fatalf("refused = %v, want %v", got, tc.refused)
			}
			if tc.refused && (w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "hide_unauthorized cannot be applied here")) {
				t.Fatalf("answer %d %s", w.Code, w.Body)
			}
		})
	}
}

// call is a tools/call of tool.
func call(tool string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`
}
