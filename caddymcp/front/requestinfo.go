package front

import (
	"encoding/json"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// RequestInfo describes an MCP POST for logs, placeholders and request
// matching: what its (first) message asks and which session it belongs to.
type RequestInfo struct {
	// Method is the JSON-RPC method ("" for a response the client sends).
	Method string
	// Target is the tool, prompt or resource the request names
	// (pipeline.Message.Target).
	Target string
	// SessionID is the session the request names (Mcp-Session-Id, or the
	// 2024-11-05 sessionId query parameter); for an initialize, the
	// session it started once it has started.
	SessionID string
	// ProtocolVersion is the revision the request is served at: its
	// MCP-Protocol-Version header, else the one an initialize asks for or
	// a 2026-07-28 request's _meta names, else (once the session is known)
	// the session's negotiated one.
	ProtocolVersion string
	// RequestID is the raw JSON id (so 7 and "7" differ); nil for a notification.
	RequestID json.RawMessage
	// BatchSize is the number of messages of a 2025-03-26 batch, 0 for a
	// single message.
	BatchSize int
	// Completes is, for a completion/complete, what a federated endpoint
	// resolves its server by (pipeline.Message.ServerQuery); empty for
	// other requests, which are resolved by Method and Target.
	Completes struct{ Method, Target string }
}

// DescribeRequest describes a parsed POST body. A batch is described by
// its first request (else its first message). It decodes nothing but the
// name of what a call names: the rest comes from the parsed envelope and
// the request's headers.
func DescribeRequest(r *http.Request, msgs []*pipeline.Message, batch bool) RequestInfo {
	var info RequestInfo
	if len(msgs) == 0 {
		return info
	}
	first := msgs[0]
	for _, m := range msgs {
		if m.IsRequest() {
			first = m
			break
		}
	}
	info.Method = first.Method
	info.Target = first.Target()
	if first.Method == "completion/complete" {
		info.Completes.Method, info.Completes.Target = first.ServerQuery()
	}
	info.RequestID = first.ID
	if batch {
		info.BatchSize = len(msgs)
	}
	info.SessionID = r.Header.Get("Mcp-Session-Id")
	if info.SessionID == "" {
		info.SessionID, _ = sse2024SessionID(r)
	}
	info.ProtocolVersion = r.Header.Get("Mcp-Protocol-Version")
	if info.ProtocolVersion == "" {
		if first.Method == "initialize" {
			info.ProtocolVersion = first.ParamsProtocolVersion()
		} else {
			info.ProtocolVersion = first.MetaProtocolVersion()
		}
	}
	return info
}
