package mcphttp

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
)

// TestPublishRequestInfoAgain: a request published twice (the mcp matcher,
// then mcp_proxy once the session is known) reads the second description
// in its placeholders, its access log's mcp object and PublishedInfo.
func TestPublishRequestInfoAgain(t *testing.T) {
	repl := caddy.NewReplacer()
	extra := new(caddyhttp.ExtraLogFields)
	ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, extra)
	r := httptest.NewRequest("POST", "http://localhost/mcp", nil).WithContext(ctx)

	if _, ok := PublishedInfo(r); ok {
		t.Fatal("published before anything was")
	}
	PublishRequestInfo(r, &front.RequestInfo{Method: "initialize", RequestID: []byte("1"), ProtocolVersion: "2025-06-18", BatchSize: 2})
	PublishRequestInfo(r, &front.RequestInfo{Method: "initialize", RequestID: []byte("1"), ProtocolVersion: "2025-06-18", SessionID: "s-1"})

	for _, c := range []struct {
		key   string
		want  any
		known bool
	}{
		{PlaceholderMethod, "initialize", true},
		{PlaceholderTool, "", true},
		{PlaceholderSessionID, "s-1", true},
		{PlaceholderProtocolVersion, "2025-06-18", true},
		{PlaceholderRequestID, "1", true},
		{PlaceholderBatchSize, nil, false}, // no batch the second time
		{"http.mcp.nonesuch", nil, false},
	} {
		got, ok := repl.Get(c.key)
		if ok != c.known || got != c.want {
			t.Errorf("{%s} = %v (known %v), want %v (known %v)", c.key, got, ok, c.want, c.known)
		}
	}
	if info, ok := PublishedInfo(r); !ok || info.SessionID != "s-1" {
		t.Errorf("PublishedInfo: %+v, %v", info, ok)
	}
	// The access log's object (caddytest's TestAccessLogCarriesMCPFields
	// reads it in a log line).
	v, _ := published(repl)
	enc := zapcore.NewMapObjectEncoder()
	if err := (*logFields)(&v.RequestInfo).MarshalLogObject(enc); err != nil {
		t.Fatal(err)
	}
	if enc.Fields["session_id"] != "s-1" || enc.Fields["method"] != "initialize" || enc.Fields["batch_size"] != nil {
		t.Errorf("log fields %v", enc.Fields)
	}
}
