// Package globtest is the table of the glob dialect's matches. The tests
// of every place that matches a tool or prompt name or a resource URI
// (filters, intercept rules, the mcp matcher, mcp_auth's scopes) run it
// against their own matching, so that they cannot diverge.
package globtest

import (
	"encoding/json"
	"strings"
)

// Case is a pattern, a name or URI, and whether it matches.
type Case struct {
	Pattern, Subject string
	Match            bool
}

// IsURI reports whether the case's subject is a resource URI (else a tool
// or prompt name).
func (c Case) IsURI() bool { return strings.Contains(c.Subject, ":") }

// Request is a JSON-RPC request that names the case's subject: a
// resources/read of a URI, a tools/call of a name.
func (c Case) Request() []byte {
	if c.IsURI() {
		return c.ReadRequest()
	}
	s, _ := json.Marshal(c.Subject)
	return []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":` + string(s) + `}}`)
}

// ReadRequest is a resources/read of the case's subject, whatever it is.
func (c Case) ReadRequest() []byte {
	s, _ := json.Marshal(c.Subject)
	return []byte(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":` + string(s) + `}}`)
}

// Cases are the dialect: `*` matches any run of characters, every other
// character (`?`, `[`, `.` included) matches itself.
var Cases = []Case{
	{"get_env", "get_env", true},
	{"get_env", "get_envx", false},
	{"get_env", "Get_env", false},
	{"get_*", "get_env", true},
	{"get_*", "get_", true},
	{"get_*", "xget_env", false},
	{"*_env", "get_env", true},
	{"*", "anything.at-all", true},
	{"a*b*c", "aXbYc", true},
	{"a*b*c", "acb", false},
	{"get?env", "get_env", false},
	{"get?env", "get?env", true},
	{"get[a-z]", "getx", false},
	{"get.env", "get_env", false},
	{"github.*", "github.create_issue", true},
	{"github.*", "github_create_issue", false},
	{"file:///a/*", "file:///a/b/c.txt", true},
	{"file:///a/*", "file:///ab", false},
	{"https://x/q?id=*", "https://x/q?id=7", true},
	{"https://x/q?id=*", "https://x/qXid=7", false},
	{"urn:x:[1]*", "urn:x:[1]/y", true},
	{"urn:x:[1]*", "urn:x:1/y", false},
}
