package pipeline

import (
	"bytes"
	"encoding/json"
)

// Target returns what a request names: params.name of tools/call and
// prompts/get, params.uri of resources/read, resources/subscribe and
// resources/unsubscribe; "" for other methods or when the member is absent
// or not a string. It walks the top-level members of params without
// decoding the rest (arguments can be large), as the envelope scan does.
func (m *Message) Target() string {
	var key string
	switch m.Method {
	case "tools/call", "prompts/get":
		key = "name"
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		key = "uri"
	default:
		return ""
	}
	return stringMember(m.Params, key)
}

// topLevelMember returns the raw value of the member name of obj, a valid
// JSON value (params are a span of a message validJSON accepted), or nil
// when obj is not an object or has no such member. A name given twice
// yields the last copy, as encoding/json (and so most servers) reads it.
func topLevelMember(obj []byte, name string) []byte {
	if len(obj) == 0 || obj[0] != '{' {
		return nil
	}
	var found []byte
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		nameEnd := skipString(obj, i)
		raw := obj[i+1 : nameEnd-1]
		i = skipSpace(obj, nameEnd)
		i = skipSpace(obj, i+1) // past ':'
		valueEnd := skipValue(obj, i)
		if memberNameIs(raw, name) {
			found = obj[i:valueEnd]
		}
		i = skipSpace(obj, valueEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return found
}

// memberNameIs compares a still-escaped member name with name.
func memberNameIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	return json.Unmarshal(quoted, &s) == nil && s == name
}

// CompletionRef returns what a completion/complete request completes: the
// prompt (kind "prompt", its name) or the resource template (kind
// "resource", its URI template) its params.ref names; "" for both for
// other methods or a ref of another type.
func (m *Message) CompletionRef() (kind, name string) {
	if m.Method != "completion/complete" {
		return "", ""
	}
	ref := topLevelMember(m.Params, "ref")
	typ, key := stringMember(ref, "type"), "name"
	switch typ {
	case "ref/prompt":
		kind = "prompt"
	case "ref/resource":
		kind, key = "resource", "uri"
	default:
		return "", ""
	}
	if name = stringMember(ref, key); name == "" {
		return "", ""
	}
	return kind, name
}

// stringMember is the string member key of the object obj, "" when
// absent or not a string.
func stringMember(obj []byte, key string) string {
	v := topLevelMember(obj, key)
	if v == nil || v[0] != '"' {
		return ""
	}
	s, err := stringValue(key, v)
	if err != nil {
		return ""
	}
	return s
}

// ServerQuery returns the method and target a federated endpoint resolves
// the server of request m by (Exchange.Servers): a completion/complete
// is asked as the prompts/get of the prompt it completes, or by the
// resource template it completes; any other request by its own method
// and Target.
func (m *Message) ServerQuery() (method, target string) {
	switch kind, name := m.CompletionRef(); kind {
	case "prompt":
		return "prompts/get", name
	case "resource":
		return m.Method, name
	}
	return m.Method, m.Target()
}
