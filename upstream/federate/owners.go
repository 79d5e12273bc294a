package federate

import (
	"sync/atomic"
)

// owners is what the latest merged lists of any session say about who owns
// a name: for the placeholders and logs of requests, which are described
// before (and apart from) their session's routing.
type owners [numKinds]atomic.Pointer[map[string]int]

// note records the owners of cat's names.
func (f *Federation) note(k kind, cat *catalog) {
	m := make(map[string]int)
	switch k {
	case kTools, kPrompts:
		for name, ref := range cat.table.byClient {
			m[name] = ref.Server
		}
	case kResources:
		for uri, i := range cat.uris {
			m[uri] = i
		}
	default:
		return
	}
	f.owners[k].Store(&m)
}

// ServerOf names the server a request goes to, by its method and what it
// names (pipeline.Message.Target): with prefix always the name says it;
// otherwise the latest merged list of any session does. It returns "" when
// neither tells (a name no list showed yet, a URI only a template matches,
// a method that names nothing).
func (f *Federation) ServerOf(method, target string) string {
	var k kind
	switch method {
	case "tools/call":
		k = kTools
	case "prompts/get":
		k = kPrompts
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		k = kResources
	default:
		return ""
	}
	if k != kResources && f.cfg.Prefix == PrefixAlways {
		if i, _, ok := SplitPrefixed(target, f.cfg.Separator, f.names); ok {
			return f.names[i]
		}
	}
	if m := f.owners[k].Load(); m != nil {
		if i, ok := (*m)[target]; ok {
			return f.names[i]
		}
	}
	return ""
}
