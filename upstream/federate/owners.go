package federate

import (
	"sync/atomic"
)

// owners is what the latest merged lists of any session say about who owns
// a name: for the placeholders and logs of requests, which are described
// before (and apart from) their session's routing.
type owners [numKinds]atomic.Pointer[map[string]Ref]

// note records the owners of cat's names.
func (f *Federation) note(k kind, cat *catalog) {
	m := make(map[string]Ref)
	switch k {
	case kTools, kPrompts:
		for name, ref := range cat.table.byClient {
			m[name] = ref
		}
	case kResources:
		for uri, r := range cat.uris {
			m[uri] = r
		}
	case kTemplates:
		for _, t := range cat.templates {
			m[t.text] = Ref{Server: t.server, Own: t.own}
		}
	}
	f.owners[k].Store(&m)
}

// ServerOf names the server a request goes to, by its method and what it
// names (pipeline.Message.Target); Resolve tells how, and the server's own
// name too.
func (f *Federation) ServerOf(method, target string) string {
	server, _ := f.Resolve(method, target)
	return server
}
