package federate

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// uriScheme begins the scheme of the URI under which the client sees a
// resource whose URI an earlier server (in configuration order) already
// lists: mcp+<server>:<the server's own URI>. It is a valid URI (a scheme
// may hold '+', an opaque part ':' and '/'), names its server, and gives
// back the server's own URI without a table; the server's name keeps it
// apart from every other server's copy.
const uriScheme = "mcp+"

// WrapURI is the client-visible URI of server's own URI when another
// server lists the same one first.
func WrapURI(server, own string) string {
	return uriScheme + server + ":" + own
}

// UnwrapURI splits a URI WrapURI made into its server (an index of
// servers) and the server's own URI. A scheme is case-insensitive, so the
// server's name matches regardless of case.
func UnwrapURI(uri string, servers []string) (server int, own string, ok bool) {
	if len(uri) < len(uriScheme) || !strings.EqualFold(uri[:len(uriScheme)], uriScheme) {
		return 0, "", false
	}
	rest := uri[len(uriScheme):]
	colon := strings.IndexByte(rest, ':')
	if colon <= 0 || colon == len(rest)-1 {
		return 0, "", false
	}
	for i, n := range servers {
		if strings.EqualFold(n, rest[:colon]) {
			return i, rest[colon+1:], true
		}
	}
	return 0, "", false
}

// clientURI is the URI the client knows server i's own URI by: the one
// the merged list showed it under, else the URI itself when no other
// server listed it, else its wrapped form.
func (cat *catalog) clientURI(servers []string, i int, own string) string {
	if r, ok := cat.uris[own]; !ok || r.Server == i {
		return own
	}
	return WrapURI(servers[i], own)
}

// updatedForClient is server m's resources/updated with the URI the
// client knows the resource by: the one it subscribed with, else the one
// the session's list showed it under.
func (c *conn) updatedForClient(m *member, msg *pipeline.Message) *pipeline.Message {
	var own string
	if v, ok := pipeline.ValueAt(msg.Params, []string{"uri"}); !ok || json.Unmarshal(v, &own) != nil {
		return msg
	}
	uri, ok := c.subscribedAs(m.idx, own)
	if !ok {
		uri = c.current(kResources).clientURI(c.f.names, m.idx, own)
	}
	if uri == own {
		return msg
	}
	params, err := pipeline.SetAt(msg.Params, []string{"uri"}, []byte(strconv.Quote(uri)))
	if err != nil {
		return msg
	}
	return pipeline.NewNotification(msg.Method, params)
}
