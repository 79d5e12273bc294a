package federate

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// A server writes its own URIs in what it answers: the contents of a
// resources/read, the resource links and embedded resources of a tool's
// result and of a prompt's messages. When the client knows one of them
// by another URI (an earlier server lists the same one, so the merged
// list shows this server's as mcp+<server>:<uri>), the client must get
// the URI it can read back: otherwise reading it would reach the other
// server's resource.

// uriMapper is the URI the client knows a URI of the answering server by.
type uriMapper func(own string) string

// sessionURIs maps member m's own URIs to the client's form by the
// session's resources list; asked is the URI the client read by, which
// stands for the server's own own (both "" when the request is no read).
func (c *conn) sessionURIs(m *member, asked, own string) uriMapper {
	return clientURIs(asked, own, func(u string) string { return c.current(kResources).clientURI(c.f.names, m.idx, u) })
}

// clientURIs maps own to asked, the URI the client read it by, and any
// other URI by listed (the resources list the client was shown).
func clientURIs(asked, own string, listed uriMapper) uriMapper {
	return func(u string) string {
		if u == own && asked != "" {
			return asked
		}
		return listed(u)
	}
}

// readURIs is the URI a resources/read msg names as the client knows it,
// and the server's own of it (params: as the server gets them, nil when
// unchanged); "" for any other request.
func readURIs(msg *pipeline.Message, params json.RawMessage) (asked, own string) {
	if msg.Method != "resources/read" {
		return "", ""
	}
	asked, own = msg.Target(), msg.Target()
	if v, ok := pipeline.ValueAt(params, []string{"uri"}); ok {
		_ = json.Unmarshal(v, &own)
	}
	return asked, own
}

// statelessURIs is sessionURIs for a 2026-07-28 request msg of user
// (params: as server i got them, see readURIs), by the user's latest
// resources list.
func (f *Federation) statelessURIs(user string, i int, msg *pipeline.Message, params json.RawMessage) uriMapper {
	asked, own := readURIs(msg, params)
	return clientURIs(asked, own, func(u string) string { return f.knownCatalog(user, kResources).clientURI(f.names, i, u) })
}

// uriFields says where the URIs of each routed method's result are: the
// result member that holds the list, and, for prompts, the member of each
// item that holds the content.
var uriFields = map[string]struct{ list, content string }{
	"resources/read": {"contents", ""},
	"tools/call":     {"content", ""},
	"prompts/get":    {"messages", "content"},
}

// mayHoldURIs reports whether resp, a server's answer to a request of
// method, may hold URIs to map (urisForClient), cheaply: most answers do
// not, and need no mapper made.
func mayHoldURIs(resp *pipeline.Message, method string) bool {
	_, ok := uriFields[method]
	return ok && resp.Result != nil && bytes.Contains(resp.Result, []byte(`"uri"`))
}

// urisForClient is resp (a server's answer to a request of method) with
// the URIs it wrote mapped by to; resp itself when none changes. The
// caller asked mayHoldURIs first (scanning a large result once).
func urisForClient(resp *pipeline.Message, method string, to uriMapper) *pipeline.Message {
	f, ok := uriFields[method]
	if !ok || resp.Result == nil {
		return resp
	}
	raw, ok := pipeline.ValueAt(resp.Result, []string{f.list})
	var items []json.RawMessage
	if !ok || json.Unmarshal(raw, &items) != nil {
		return resp
	}
	changed := false
	for n, it := range items {
		var path []string
		if f.content != "" {
			path = []string{f.content}
		}
		if out, ok := itemURIs(it, path, method == "resources/read", to); ok {
			items[n], changed = out, true
		}
	}
	if !changed {
		return resp
	}
	list, _ := json.Marshal(items)
	result, err := pipeline.SetAt(resp.Result, []string{f.list}, list)
	if err != nil {
		return resp
	}
	return pipeline.NewResult(resp.ID, result)
}

// itemURIs maps the URI of one item (at path inside it): a read's
// contents carry it at uri, a content block at uri (resource_link) or at
// resource.uri (an embedded resource).
func itemURIs(it json.RawMessage, path []string, contents bool, to uriMapper) (json.RawMessage, bool) {
	at := slices.Concat(path, []string{"uri"})
	if !contents {
		var typ string
		if v, ok := pipeline.ValueAt(it, slices.Concat(path, []string{"type"})); !ok || json.Unmarshal(v, &typ) != nil {
			return nil, false
		}
		switch typ {
		case "resource_link":
		case "resource":
			at = slices.Concat(path, []string{"resource", "uri"})
		default:
			return nil, false
		}
	}
	var own string
	if v, ok := pipeline.ValueAt(it, at); !ok || json.Unmarshal(v, &own) != nil {
		return nil, false
	}
	uri := to(own)
	if uri == own {
		return nil, false
	}
	out, err := pipeline.SetAt(it, at, []byte(strconv.Quote(uri)))
	return out, err == nil
}
