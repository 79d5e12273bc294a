package mcphttp

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
)

// The placeholders mcp_proxy and the mcp matcher set on a request.
const (
	PlaceholderMethod          = "http.mcp.method"
	PlaceholderTool            = "http.mcp.tool"
	PlaceholderSessionID       = "http.mcp.session_id"
	PlaceholderProtocolVersion = "http.mcp.protocol_version"
	PlaceholderRequestID       = "http.mcp.request_id"
	PlaceholderBatchSize       = "http.mcp.batch_size"
)

// PublishRequestInfo sets the {http.mcp.*} placeholders of r for the
// handlers that run after this point (and deferred ones, such as
// `header >X-Tool {http.mcp.tool}`), and the "mcp" object of the access log
// line Caddy writes when the request ends. It runs on r's goroutine, as
// ExtraLogFields requires.
func PublishRequestInfo(r *http.Request, info *front.RequestInfo) {
	ctx := r.Context()
	if repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set(PlaceholderMethod, info.Method)
		repl.Set(PlaceholderTool, info.Target)
		repl.Set(PlaceholderSessionID, info.SessionID)
		repl.Set(PlaceholderProtocolVersion, info.ProtocolVersion)
		repl.Set(PlaceholderRequestID, string(info.RequestID))
		if info.BatchSize > 0 {
			repl.Set(PlaceholderBatchSize, info.BatchSize)
		}
	}
	if extra, ok := ctx.Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.Object("mcp", logFields(*info)))
	}
}

// logFields is the access log's "mcp" object: the fields that are set.
type logFields front.RequestInfo

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (f logFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, kv := range [...]struct{ k, v string }{
		{"method", f.Method},
		{"tool", f.Target},
		{"session_id", f.SessionID},
		{"protocol_version", f.ProtocolVersion},
		{"request_id", string(f.RequestID)},
	} {
		if kv.v != "" {
			enc.AddString(kv.k, kv.v)
		}
	}
	if f.BatchSize > 0 {
		enc.AddInt("batch_size", f.BatchSize)
	}
	return nil
}
