package federate

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// CodeResourceNotFound is MCP's error code for a resource no server has.
const CodeResourceNotFound = -32002

// routeNow routes a request by what it names when the session already
// knows the owner, without waiting; it reports false when the owner must
// be looked up first (route).
func (c *conn) routeNow(ctx context.Context, msg *pipeline.Message) (bool, error) {
	m, params, ans := c.target(ctx, msg, false)
	switch {
	case ans != nil:
		c.r.Deliver(ans)
		return true, nil
	case m == nil:
		return false, nil
	}
	c.noteSubscription(m, msg)
	return true, c.forward(ctx, m, msg, params)
}

// route routes a request by what it names, reading the servers' lists
// when the session does not know the owner yet.
func (c *conn) route(ctx context.Context, msg *pipeline.Message) {
	ctx, cancel := c.detach(ctx, listTimeout)
	defer cancel()
	m, params, ans := c.target(ctx, msg, true)
	if ans != nil {
		c.r.Deliver(ans)
		return
	}
	c.noteSubscription(m, msg)
	_ = c.forward(ctx, m, msg, params)
}

// target is the member a request goes to and its params as that server
// reads them (nil: unchanged), or the answer it gets instead. With lookup
// it reads the servers' lists (bounded by ctx) for a name the session does
// not know; without, it answers nothing for such a name (m and ans nil).
func (c *conn) target(ctx context.Context, msg *pipeline.Message, lookup bool) (*member, json.RawMessage, *pipeline.Message) {
	switch msg.Method {
	case "tools/call", "prompts/get":
		k, what := kTools, "tool"
		if msg.Method == "prompts/get" {
			k, what = kPrompts, "prompt"
		}
		return c.byName(msg, k, what, msg.Target(), []string{"name"}, ctx, lookup)
	case "completion/complete":
		// read as the rules read it (ServerQuery): a ref member spelled in
		// another case must not route where no rule looked
		kind, name := msg.CompletionRef()
		if kind == "prompt" {
			return c.byName(msg, kPrompts, "prompt", name, []string{"ref", "name"}, ctx, lookup)
		}
		return c.byURI(msg, name, true, ctx, lookup)
	}
	return c.byURI(msg, msg.Target(), false, ctx, lookup)
}

// byName finds the owner of a tool or prompt name; the server's own name
// goes at path of the params.
func (c *conn) byName(msg *pipeline.Message, k kind, what, name string, path []string, ctx context.Context, lookup bool) (*member, json.RawMessage, *pipeline.Message) {
	ref, ok := c.current(k).table.Resolve(name)
	if !ok && lookup {
		ref, ok = c.refresh(ctx, k).table.Resolve(name)
	}
	if !ok {
		if ans := c.goneAnswer(msg, name); ans != nil || !lookup {
			return nil, nil, ans
		}
		return nil, nil, pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "unknown "+what+" "+strconv.Quote(name))
	}
	m := c.members[ref.Server]
	if !m.ready() {
		return nil, nil, unavailable(msg.ID, m.name)
	}
	if ref.Own == name {
		return m, nil, nil // the server's own name: the params go as they are
	}
	params, err := pipeline.SetAt(msg.Params, path, []byte(strconv.Quote(ref.Own)))
	if err != nil {
		return nil, nil, pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid params")
	}
	return m, params, nil
}

// byURI finds the server of a resource URI: the one that listed it, else
// the first whose template matches it (template: uri is a template's own
// text, as completion/complete names one).
func (c *conn) byURI(msg *pipeline.Message, uri string, template bool, ctx context.Context, lookup bool) (*member, json.RawMessage, *pipeline.Message) {
	ref, ok := c.uriOwner(uri, template)
	if !ok && lookup {
		var wg sync.WaitGroup
		for _, k := range []kind{kResources, kTemplates} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.refresh(ctx, k)
			}()
		}
		wg.Wait()
		ref, ok = c.uriOwner(uri, template)
	}
	if !ok {
		if ans := c.goneAnswer(msg, uri); ans != nil || !lookup {
			return nil, nil, ans
		}
		return nil, nil, pipeline.NewError(msg.ID, CodeResourceNotFound, "Resource not found")
	}
	m := c.members[ref.Server]
	if !m.ready() {
		return nil, nil, unavailable(msg.ID, m.name)
	}
	params, ans := ownURIParams(msg, ref, uri)
	if ans != nil {
		return nil, nil, ans
	}
	return m, params, nil
}

// ownURIParams is msg's params with the server's own URI of ref where the
// client gave uri (nil: unchanged), or the error the client gets instead.
func ownURIParams(msg *pipeline.Message, ref Ref, uri string) (json.RawMessage, *pipeline.Message) {
	if ref.Own == uri {
		return nil, nil
	}
	path := []string{"uri"}
	if msg.Method == "completion/complete" {
		path = []string{"ref", "uri"}
	}
	params, err := pipeline.SetAt(msg.Params, path, []byte(strconv.Quote(ref.Own)))
	if err != nil {
		return nil, pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid params")
	}
	return params, nil
}

// uriOwner is the server that listed uri (or whose template matches it).
func (c *conn) uriOwner(uri string, template bool) (Ref, bool) {
	return uriOwner(c.current(kResources), c.current(kTemplates), c.f.names, uri, template)
}

// uriOwner is the server that listed uri in resources, or the server
// WrapURI names in it, or the one whose template in templates matches it;
// and the server's own URI.
func uriOwner(resources, templates *catalog, servers []string, uri string, template bool) (Ref, bool) {
	if uri == "" {
		return Ref{}, false
	}
	if r, ok := resources.uris[uri]; ok && !template {
		return r, true
	}
	for _, t := range templates.templates {
		if template && t.text == uri {
			return Ref{Server: t.server, Own: t.own}, true
		}
	}
	if i, own, ok := UnwrapURI(uri, servers); ok {
		return Ref{Server: i, Own: own}, true
	}
	for _, t := range templates.templates {
		if !template && t.re.MatchString(uri) {
			return Ref{Server: t.server, Own: uri}, true
		}
	}
	return Ref{}, false
}

// goneAnswer is the unavailable error for a name of a server that failed.
func (c *conn) goneAnswer(msg *pipeline.Message, name string) *pipeline.Message {
	c.mu.Lock()
	i, ok := c.gone[name]
	c.mu.Unlock()
	if !ok {
		return nil
	}
	return unavailable(msg.ID, c.members[i].name)
}
