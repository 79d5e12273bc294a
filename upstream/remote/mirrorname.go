package remote

import (
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// mirroredNameFor is the Mcp-Name an upstream must get with m: the name
// m's body carries (params.name of tools/call and prompts/get, params.uri
// of resources/read), which the server checks the header against. client is
// the client's Mcp-Name. When the body still names what the client named,
// the client's value passes byte for byte; when something in between
// rewrote the name (a pipeline rule's edit, or a federation that maps the
// client-visible name to the server's own), the header follows the body.
// This is the one place where a client-visible name in a header becomes
// the upstream's.
func mirroredNameFor(m *pipeline.Message, client string) string {
	name, named := bodyName(m)
	if !named {
		return client
	}
	if decoded, ok := upstream.DecodeHeaderValue(client); ok && decoded == name {
		return client
	}
	return upstream.EncodeHeaderValue(name)
}

// bodyName is what Mcp-Name mirrors in m, and whether m's method has one.
func bodyName(m *pipeline.Message) (string, bool) {
	switch m.Method {
	case "tools/call", "prompts/get", "resources/read":
		return m.Target(), true
	}
	return "", false
}
