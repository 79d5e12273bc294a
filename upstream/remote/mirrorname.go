package remote

import (
	"encoding/base64"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
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
	if decoded, ok := decodeHeaderValue(client); ok && decoded == name {
		return client
	}
	return encodeHeaderValue(name)
}

// bodyName is what Mcp-Name mirrors in m, and whether m's method has one.
func bodyName(m *pipeline.Message) (string, bool) {
	switch m.Method {
	case "tools/call", "prompts/get", "resources/read":
		return m.Target(), true
	}
	return "", false
}

// decodeHeaderValue undoes the =?base64?…?= form of a header value that
// is not header-safe (2026-07-28, streamable HTTP).
func decodeHeaderValue(v string) (string, bool) {
	if enc, ok := strings.CutPrefix(v, "=?base64?"); ok {
		if enc, ok = strings.CutSuffix(enc, "?="); ok {
			b, err := base64.StdEncoding.DecodeString(enc)
			return string(b), err == nil
		}
	}
	return v, true
}

// encodeHeaderValue is v as a header value: itself when it is printable
// ASCII without surrounding spaces (and does not look like the encoded
// form), else =?base64?…?=.
func encodeHeaderValue(v string) string {
	safe := v == strings.TrimSpace(v) && !strings.HasPrefix(v, "=?")
	for i := 0; safe && i < len(v); i++ {
		safe = v[i] >= 0x20 && v[i] <= 0x7e
	}
	if safe {
		return v
	}
	return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
}
