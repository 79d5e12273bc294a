package intercept

import (
	"bytes"
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// judgement is what a rule's matchers say about a message.
type judgement uint8

const (
	noMatch judgement = iota
	match
	// tooLarge: no matcher said no, but one could not tell, because what
	// it reads is larger than the engine's MaxDecode.
	tooLarge
)

func judge(ok bool) judgement {
	if ok {
		return match
	}
	return noMatch
}

// matches reports whether every matcher of the rule holds, cheapest first.
// A matcher that cannot tell makes the rule tooLarge unless another says no.
func (r *compiledRule) matches(st *evaluation) judgement {
	if st.ex.Direction == pipeline.ToServer && !r.toServer || st.ex.Direction == pipeline.ToClient && !r.toClient {
		return noMatch
	}
	if r.users != nil {
		if _, ok := r.users[st.ex.User]; !ok {
			return noMatch
		}
	}
	if r.methods != nil || r.tools != nil || r.prompts != nil || r.resources != nil {
		method, target := st.what()
		if r.methods != nil && !r.methods.Match(method) {
			return noMatch
		}
		if r.tools != nil && (method != "tools/call" || !r.tools.Match(target)) {
			return noMatch
		}
		if r.prompts != nil && (method != "prompts/get" || !r.prompts.Match(target)) {
			return noMatch
		}
		if r.resources != nil && (!namesResource(method) || !r.resources.Match(target)) {
			return noMatch
		}
	}
	undecided := false
	for _, f := range r.fields {
		switch f.judge(st) {
		case noMatch:
			return noMatch
		case tooLarge:
			undecided = true
		}
	}
	if r.expr != nil {
		switch r.expr.eval(st) {
		case noMatch:
			return noMatch
		case tooLarge:
			undecided = true
		}
	}
	if undecided {
		return tooLarge
	}
	return match
}

// judge matches the field's value in the message's bytes: a string (the
// bulk of a large message, usually) is matched where it is, or decoded
// alone when it has escapes; an object or array is decoded only up to the
// bound.
func (f compiledField) judge(st *evaluation) judgement {
	v, ok := pipeline.ValueAt(st.raw, f.ptr)
	if !ok {
		return noMatch
	}
	switch v[0] {
	case '"':
		if inner := v[1 : len(v)-1]; bytes.IndexByte(inner, '\\') < 0 {
			return judge(f.re.Match(inner)) // invalid UTF-8 reads as U+FFFD, as decoded
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return noMatch
		}
		return judge(f.re.MatchString(s))
	case '{', '[':
		if int64(len(v)) > st.maxDecode {
			return tooLarge
		}
		return judge(f.re.MatchString(valueText(decode(v))))
	}
	return judge(f.re.Match(v)) // a number as written, true, false, null
}

// namesResource reports whether a method's target is a resource URI.
func namesResource(method string) bool {
	switch method {
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		return true
	}
	return false
}

// valueText is what a field's regexp sees of a decoded object or array:
// its JSON text encoded anew (members sorted, each string in one
// spelling), so that no escaping of the same value reads differently.
func valueText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
