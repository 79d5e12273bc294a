package federate

// Resolve names the server a request goes to and the name that server
// knows it by, from the request's method and what it names
// (pipeline.Message.Target): with prefix always the name says it;
// otherwise the latest merged list of any session does. It returns ""
// for both when neither tells (a name no list showed yet, a URI only a
// template matches) and for a method that names nothing. A resource's own
// name is its URI, unwrapped when the client's is WrapURI's form; for a
// completion/complete, target is the resource template it completes (a
// prompt's completion is asked as its prompts/get).
//
// Rules, placeholders, tapes and metrics all ask this one function, so
// that they agree on a request's server.
func (f *Federation) Resolve(method, target string) (server, own string) {
	var k kind
	switch method {
	case "tools/call":
		k = kTools
	case "prompts/get":
		k = kPrompts
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		k = kResources
	case "completion/complete":
		k = kTemplates // a prompt's completion is resolved as its prompts/get
	default:
		return "", ""
	}
	if (k == kTools || k == kPrompts) && f.cfg.Prefix == PrefixAlways {
		if i, name, ok := SplitPrefixed(target, f.cfg.Separator, f.names); ok {
			return f.names[i], name
		}
	}
	if m := f.owners[k].Load(); m != nil {
		if ref, ok := (*m)[target]; ok {
			return f.names[ref.Server], ref.Own
		}
	}
	if k == kResources || k == kTemplates {
		if i, own, ok := UnwrapURI(target, f.names); ok {
			return f.names[i], own
		}
	}
	return "", ""
}
