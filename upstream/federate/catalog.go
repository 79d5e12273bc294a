package federate

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// catalog is one kind's merged list in a session: each server's pages,
// its items already as the client sees them, and how to find a name's
// owner.
type catalog struct {
	pages     [][]page       // by server, in order
	table     *Table         // tools and prompts
	uris      map[string]Ref // client URI → server and its own URI
	templates []template
	hint      cacheHint // the strictest of the pages' (2026-07-28)
	sum       uint64    // of the items as the client sees them (sumOf)
	partial   bool      // a server of the session failed to list (refresh)
}

// page is one page of a server's list.
type page struct {
	cursor string // the server's cursor that fetched it ("" for its first)
	items  []json.RawMessage
}

// template is a resource template and the server that listed it: text
// as the client sees it, own as the server wrote it (they differ when an
// earlier server lists the same template, see wrapShared).
type template struct {
	server    int
	text, own string
	re        *regexp.Regexp // matches the URIs of own
}

// rawPage is a page as the server sent it, after its filter.
type rawPage struct {
	cursor string
	items  []json.RawMessage
	keys   []string
	hint   cacheHint
}

// fetcher makes one list request of the gateway's own to one server.
type fetcher func(ctx context.Context, method string, params map[string]any) (*pipeline.Message, error)

// emptyCatalog is the catalog of a session that has listed nothing yet:
// with PrefixAlways its table still resolves prefixed names.
func (f *Federation) emptyCatalog() *catalog {
	t, _ := NewTable(f.cfg.Prefix, f.cfg.Separator, f.names, make([][]string, len(f.names)))
	return &catalog{pages: make([][]page, len(f.names)), table: t, uris: map[string]Ref{}}
}

// current is the session's catalog of k (an empty one until it listed).
func (c *conn) current(k kind) *catalog {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cats[k] == nil {
		c.cats[k] = c.f.emptyCatalog()
	}
	return c.cats[k]
}

// refresh reads every page of k from every server in the session,
// concurrently, and makes the merged catalog the session's.
func (c *conn) refresh(ctx context.Context, k kind) *catalog {
	raws := make([][]rawPage, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		if !m.ready() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			raws[i] = c.f.fetchAll(ctx, i, k, func(ctx context.Context, method string, params map[string]any) (*pipeline.Message, error) {
				return c.call(ctx, m, method, params)
			})
		}()
	}
	wg.Wait()
	cat := c.f.build(k, raws)
	for i, m := range c.members {
		cat.partial = cat.partial || raws[i] == nil && m.ready() // fetchAll returns a page when the server answers
	}
	c.f.note(k, cat)
	c.mu.Lock()
	c.cats[k] = cat
	c.mu.Unlock()
	return cat
}

// fetchAll reads every page of k of server i with fetch. A server that
// fails midway keeps what it listed so far.
func (f *Federation) fetchAll(ctx context.Context, i int, k kind, fetch fetcher) []rawPage {
	info := kindInfo[k]
	var pages []rawPage
	cursor := ""
	for range maxPages {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		ans, err := fetch(ctx, info.method, params)
		if err != nil || ans.Error != nil {
			if err == nil {
				err = errServer(ans)
			}
			f.log.Debug("a federated server's list failed", zap.String("server", f.names[i]), zap.String("method", info.method), zap.Error(err))
			return pages
		}
		var res map[string]json.RawMessage
		if json.Unmarshal(ans.Result, &res) != nil {
			return pages
		}
		var items []json.RawMessage
		_ = json.Unmarshal(res[info.field], &items)
		p := rawPage{cursor: cursor, hint: hintOf(res)}
		for _, it := range items {
			key := itemKey(it, info.key)
			if key != "" && f.filters[i][info.filter].visible(key) {
				p.items = append(p.items, it)
				p.keys = append(p.keys, key)
			}
		}
		pages = append(pages, p)
		var next string
		_ = json.Unmarshal(res["nextCursor"], &next)
		if next == "" || next == cursor {
			return pages
		}
		cursor = next
	}
	return pages
}

// itemKey is the string member key of a list item ("" if none).
func itemKey(item json.RawMessage, key string) string {
	v, ok := pipeline.ValueAt(item, []string{key})
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// build merges the servers' pages of k into a catalog.
func (f *Federation) build(k kind, raws [][]rawPage) *catalog {
	cat := &catalog{pages: make([][]page, len(raws)), uris: map[string]Ref{}, hint: publicForever}
	switch k {
	case kTools, kPrompts:
		lists := make([][]string, len(raws))
		for i, ps := range raws {
			for _, p := range ps {
				lists[i] = append(lists[i], p.keys...)
			}
		}
		var hidden []Hidden
		cat.table, hidden = NewTable(f.cfg.Prefix, f.cfg.Separator, f.names, lists)
		f.warnHidden(kindInfo[k].field, hidden)
	}
	seen := map[string]int{}
	for i, ps := range raws {
		for _, p := range ps {
			cat.hint = cat.hint.and(p.hint)
			out := page{cursor: p.cursor}
			for j, it := range p.items {
				if it = f.itemFor(k, cat, seen, i, p.keys[j], it); it != nil {
					out.items = append(out.items, it)
				}
			}
			cat.pages[i] = append(cat.pages[i], out)
		}
	}
	cat.sum = sumOf(cat.pages)
	return cat
}

// itemFor is the client's form of server i's item named key, nil when the
// client does not see it; it records where the name leads.
func (f *Federation) itemFor(k kind, cat *catalog, seen map[string]int, i int, key string, it json.RawMessage) json.RawMessage {
	switch k {
	case kTools, kPrompts:
		name, ok := cat.table.Name(i, key)
		if !ok {
			return nil
		}
		if name == key {
			return it
		}
		out, err := pipeline.SetAt(it, []string{"name"}, []byte(strconv.Quote(name)))
		if err != nil {
			return nil
		}
		return out
	}
	it, uri := f.wrapShared(k, seen, i, key, it)
	switch {
	case it == nil:
	case k == kResources:
		cat.uris[uri] = Ref{Server: i, Own: key}
	default:
		cat.templates = append(cat.templates, template{server: i, text: uri, own: key, re: templateRegexp(key)})
	}
	return it
}

// wrapShared is the client's form of server i's resource (or resource
// template) own, and its URI as the client sees it: as it is, or under
// WrapURI when an earlier server lists the same one, so that the client
// reads (or completes) both; a nil item when even that is taken.
func (f *Federation) wrapShared(k kind, seen map[string]int, i int, own string, it json.RawMessage) (json.RawMessage, string) {
	info := kindInfo[k]
	uri := own
	if _, dup := seen[own]; dup {
		uri = WrapURI(f.names[i], own)
		out, err := pipeline.SetAt(it, []string{info.key}, []byte(strconv.Quote(uri)))
		if err != nil {
			return nil, ""
		}
		it = out
	}
	if w, dup := seen[uri]; dup {
		f.warnHidden(info.field, []Hidden{{Name: uri, Server: f.names[i], Winner: f.names[w]}})
		return nil, ""
	}
	seen[uri] = i
	return it, uri
}

// warnHidden logs (and counts) each hidden name once per federation.
func (f *Federation) warnHidden(what string, hidden []Hidden) {
	for _, h := range hidden {
		if _, dup := f.warned.LoadOrStore(what+"\x00"+h.Name, struct{}{}); dup {
			continue
		}
		f.log.Warn("two federated servers list the same name; the first in configuration order serves it",
			zap.String("list", what), zap.String("name", h.Name), zap.String("served_by", h.Winner), zap.String("hidden_from", h.Server))
		if f.cfg.Hidden != nil {
			f.cfg.Hidden(what)
		}
	}
}

// forget takes server i's items out of the catalog, noting the names it
// showed in gone, so that a call of one is told the server is unavailable.
func (cat *catalog) forget(i int, gone map[string]int) {
	if cat.table != nil {
		for _, name := range cat.table.byOwn[i] {
			gone[name] = i
		}
	}
	for uri, r := range cat.uris {
		if r.Server == i {
			gone[uri] = i
			delete(cat.uris, uri)
		}
	}
	kept := cat.templates[:0]
	for _, t := range cat.templates {
		if t.server != i {
			kept = append(kept, t)
		}
	}
	cat.templates = kept
	cat.pages[i] = nil
}

// templateRegexp matches the URIs of an RFC 6570 URI template: a simple
// expression matches one path segment, a reserved one ({+x}, {#x}) or a
// query ({?x}, {&x}) anything.
func templateRegexp(t string) *regexp.Regexp {
	var b strings.Builder
	b.WriteByte('^')
	for t != "" {
		open := strings.IndexByte(t, '{')
		if open < 0 {
			b.WriteString(regexp.QuoteMeta(t))
			break
		}
		b.WriteString(regexp.QuoteMeta(t[:open]))
		end := strings.IndexByte(t[open:], '}')
		if end < 0 {
			b.WriteString(regexp.QuoteMeta(t[open:]))
			break
		}
		expr := t[open+1 : open+end]
		if expr != "" && strings.ContainsRune("+#?&/;.", rune(expr[0])) {
			b.WriteString(".*")
		} else {
			b.WriteString("[^/?#]*")
		}
		t = t[open+end+1:]
	}
	b.WriteByte('$')
	return regexp.MustCompile(b.String())
}
