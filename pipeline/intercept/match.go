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
	// unresolved: no matcher said no, but the rule names servers and the
	// endpoint cannot tell which server the message's name belongs to.
	unresolved
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
	unknown := false
	if r.methods != nil || r.tools != nil || r.prompts != nil || r.resources != nil || r.servers != nil {
		method, name := st.what()
		if r.methods != nil && !r.methods.Match(method) {
			return noMatch
		}
		if r.servers != nil {
			var j judgement
			if j, name = r.server(st, method); j == noMatch {
				return noMatch
			}
			unknown = j == unresolved
		}
		if r.tools != nil && (!st.names("tool") || !unknown && !r.tools.Match(name)) {
			return noMatch
		}
		if r.prompts != nil && (!st.names("prompt") || !unknown && !r.prompts.Match(name)) {
			return noMatch
		}
		if r.resources != nil && (!st.names("resource") || !unknown && !r.resources.Match(name)) {
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
	switch {
	case undecided:
		return tooLarge
	case unknown:
		return unresolved
	}
	return match
}

// server judges the rule's servers matcher: the message's server must match
// it, and the name the rule's tool, prompt and resource globs see is that
// server's own. A message that names a tool, prompt or resource of a
// server the endpoint cannot tell (a name no list showed yet) is
// unresolved: the rule applies, so that no rule on a server is passed
// by calling its tool before the lists are read.
func (r *compiledRule) server(st *evaluation, method string) (judgement, string) {
	server, own := st.server()
	switch {
	case server != "":
		return judge(r.servers.Match(server)), own
	case st.ex.Servers != nil && (st.names("tool") || st.names("prompt") || st.names("resource")):
		return unresolved, ""
	}
	return noMatch, ""
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
