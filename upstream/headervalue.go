package upstream

import (
	"encoding/base64"
	"strings"
)

// DecodeHeaderValue undoes the =?base64?…?= form in which a 2026-07-28
// client sends an Mcp-Name or Mcp-Param-* value that is not header-safe
// (streamable HTTP, "Server Validation"); ok is false when the form is
// there and its base64 is not valid. Any other value is returned as is.
func DecodeHeaderValue(v string) (decoded string, ok bool) {
	if enc, ok := strings.CutPrefix(v, "=?base64?"); ok {
		if enc, ok = strings.CutSuffix(enc, "?="); ok {
			b, err := base64.StdEncoding.DecodeString(enc)
			return string(b), err == nil
		}
	}
	return v, true
}

// EncodeHeaderValue is v as such a header value: itself when it is
// printable ASCII without surrounding spaces and does not start as the
// encoded form does, else =?base64?…?=.
func EncodeHeaderValue(v string) string {
	safe := v == strings.TrimSpace(v) && !strings.HasPrefix(v, "=?")
	for i := 0; safe && i < len(v); i++ {
		safe = v[i] >= 0x20 && v[i] <= 0x7e
	}
	if safe {
		return v
	}
	return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
}
