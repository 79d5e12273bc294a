package federate

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// listTimeout bounds the gateway's own reading of the servers' lists.
const listTimeout = 30 * time.Second

// errServer is the error of a server's error answer.
func errServer(ans *pipeline.Message) error {
	var e pipeline.ErrorObject
	_ = json.Unmarshal(ans.Error, &e)
	return errors.New(e.Message)
}

// list answers a client's list request: its first page reads every
// server's list afresh; a later page comes from the catalog that first
// one made (read again if this session has none that holds it, e.g. the
// cursor is from another session or instance).
func (c *conn) list(ctx context.Context, msg *pipeline.Message) {
	k := methodKind[msg.Method]
	var p struct {
		Cursor string `json:"cursor"`
	}
	_ = json.Unmarshal(msg.Params, &p)
	ctx, cancel := c.detach(ctx, listTimeout)
	defer cancel()
	server, at := 0, ""
	if p.Cursor != "" {
		name, sc, err := decodeCursor(p.Cursor)
		server = c.f.serverIndex(name)
		if err != nil || server < 0 {
			c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid cursor"))
			return
		}
		at = sc
	}
	var cat *catalog
	if p.Cursor != "" {
		cat = c.current(k)
	}
	i, j, ok := cat.find(server, at)
	if !ok {
		cat = c.refresh(ctx, k)
		if i, j, ok = cat.find(server, at); !ok && p.Cursor != "" {
			c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid cursor"))
			return
		}
	}
	c.noteShown(k, cat)
	b, _ := json.Marshal(c.f.pageResult(k, cat, i, j, ok))
	c.r.Deliver(pipeline.NewResult(msg.ID, b))
}

// pageResult is the client's page of cat at (i, j) (see pageAt), with the
// gateway's cursor of the next page.
func (f *Federation) pageResult(k kind, cat *catalog, i, j int, ok bool) map[string]any {
	items, next := cat.pageAt(i, j, ok)
	res := map[string]any{kindInfo[k].field: items}
	if next != nil {
		res["nextCursor"] = encodeCursor(f.names[next[0]], cat.pages[next[0]][next[1]].cursor)
	}
	return res
}

// serverIndex is the index of the server named name, -1 if none.
func (f *Federation) serverIndex(name string) int {
	for i, n := range f.names {
		if n == name {
			return i
		}
	}
	return -1
}

// find locates server's page fetched with cursor (nil catalogs hold none).
func (cat *catalog) find(server int, cursor string) (int, int, bool) {
	if cat == nil || server >= len(cat.pages) {
		return 0, 0, false
	}
	for j, p := range cat.pages[server] {
		if p.cursor == cursor {
			return server, j, true
		}
	}
	// A server behind tags (a stdio server's shared processes, a group's
	// members) may have answered this read from another copy than the
	// one that minted cursor: the copy's own cursor then names the same
	// page, for a server whose cursors every copy reads alike (one whose
	// cursors only the copy understands got every page of this read from
	// one copy, and its cursor is not found).
	if inner := tags.Inner(cursor); inner != cursor {
		for j, p := range cat.pages[server] {
			if tags.Inner(p.cursor) == inner {
				return server, j, true
			}
		}
	}
	return 0, 0, false
}

// pageAt returns the first page with items at or after (i, j) — from
// the start when !ok — and the position of the next one (nil at the end).
func (cat *catalog) pageAt(i, j int, ok bool) ([]json.RawMessage, []int) {
	if !ok {
		i, j = 0, 0
	}
	items := []json.RawMessage{}
	pos := cat.nextWithItems(i, j)
	if pos == nil {
		return items, nil
	}
	items = cat.pages[pos[0]][pos[1]].items
	return items, cat.nextWithItems(pos[0], pos[1]+1)
}

// nextWithItems is the position of the first page with items at or after
// (i, j), nil when there is none.
func (cat *catalog) nextWithItems(i, j int) []int {
	for ; i < len(cat.pages); i, j = i+1, 0 {
		for ; j < len(cat.pages[i]); j++ {
			if len(cat.pages[i][j].items) > 0 {
				return []int{i, j}
			}
		}
	}
	return nil
}
