package intercept

import (
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// matches reports whether every matcher of the rule holds, cheapest first.
func (r *compiledRule) matches(st *evaluation) bool {
	if st.ex.Direction == pipeline.ToServer && !r.toServer || st.ex.Direction == pipeline.ToClient && !r.toClient {
		return false
	}
	if r.users != nil {
		if _, ok := r.users[st.ex.User]; !ok {
			return false
		}
	}
	if r.methods != nil || r.tools != nil || r.prompts != nil || r.resources != nil {
		method, target := st.what()
		if r.methods != nil && !r.methods.Match(method) {
			return false
		}
		if r.tools != nil && (method != "tools/call" || !r.tools.Match(target)) {
			return false
		}
		if r.prompts != nil && (method != "prompts/get" || !r.prompts.Match(target)) {
			return false
		}
		if r.resources != nil && (!namesResource(method) || !r.resources.Match(target)) {
			return false
		}
	}
	for _, f := range r.fields {
		v, ok := f.ptr.get(st.document())
		if !ok || !f.re.MatchString(valueText(v)) {
			return false
		}
	}
	if r.expr != nil && !r.expr.eval(st) {
		return false
	}
	return true
}

// namesResource reports whether a method's target is a resource URI.
func namesResource(method string) bool {
	switch method {
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return true
	}
	return false
}

// valueText is what a field's regexp sees: a string as it reads, anything
// else as its JSON text.
func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
