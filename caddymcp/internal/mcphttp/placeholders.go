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
//
// The description is kept once per request, in the replacer, and the
// placeholders read it when asked: a request published again (the mcp
// matcher, then mcp_proxy, which learns the session of an initialize)
// only updates it. Setting each placeholder boxed five strings and grew the
// replacer's map on every POST (issue 27).
func PublishRequestInfo(r *http.Request, info *front.RequestInfo) {
	ctx := r.Context()
	repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	v, ok := published(repl)
	if ok {
		v.RequestInfo = *info
	} else {
		v = &requestVars{RequestInfo: *info}
		repl.Set(varsKey, v)
		repl.Map(v.placeholder)
	}
	if extra, ok := ctx.Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields); ok {
		extra.Set(zap.Object("mcp", (*logFields)(&v.RequestInfo)))
	}
}

// PublishedInfo returns what PublishRequestInfo last published for r.
func PublishedInfo(r *http.Request) (front.RequestInfo, bool) {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if v, ok := published(repl); ok {
			return v.RequestInfo, true
		}
	}
	return front.RequestInfo{}, false
}

// varsKey is where a request's requestVars are in its replacer: a name no
// placeholder in a configuration can spell.
const varsKey = "\x00mcp.request"

// requestVars is a request's description, as its placeholders read it.
type requestVars struct{ front.RequestInfo }

func published(repl *caddy.Replacer) (*requestVars, bool) {
	v, ok := repl.Get(varsKey)
	if !ok {
		return nil, false
	}
	vars, ok := v.(*requestVars)
	return vars, ok
}

// placeholder is the replacer's provider of the {http.mcp.*} placeholders
// of the request (all but batch_size known, possibly empty, once published).
func (v *requestVars) placeholder(key string) (any, bool) {
	switch key {
	case PlaceholderMethod:
		return v.Method, true
	case PlaceholderTool:
		return v.Target, true
	case PlaceholderSessionID:
		return v.SessionID, true
	case PlaceholderProtocolVersion:
		return v.ProtocolVersion, true
	case PlaceholderRequestID:
		return string(v.RequestID), true
	case PlaceholderBatchSize:
		if v.BatchSize > 0 {
			return v.BatchSize, true
		}
	}
	return nil, false
}

// logFields is the access log's "mcp" object: the fields that are set.
type logFields front.RequestInfo

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (f *logFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
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
