package pins

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"
)

// maxDefs and maxDefBytes bound the definitions whose canonical form a
// Book keeps, by the bytes they were listed in; maxMemos and maxMemoBytes
// the list pages it remembers the outcome of, per server. At a bound the
// cache starts over.
const (
	maxDefs      = 4096
	maxDefBytes  = 8 << 20
	maxMemos     = 64
	maxMemoBytes = 16 << 20
)

// defCache keeps the canonical form of each distinct entry bytes, so that
// a definition is canonicalized and hashed once, not at every list.
type defCache struct {
	mu    sync.Mutex
	defs  map[string]Definition
	bytes int // of the keys and canonical forms held
}

func (c *defCache) init() { c.defs = make(map[string]Definition) }

// of returns entry's definition.
func (c *defCache) of(entry []byte) (Definition, error) {
	c.mu.Lock()
	d, ok := c.defs[string(entry)]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := Canonicalize(entry)
	if err != nil {
		return d, err
	}
	c.mu.Lock()
	if len(c.defs) >= maxDefs || c.bytes+len(entry)+len(d.Canonical) > maxDefBytes {
		clear(c.defs)
		c.bytes = 0
	}
	c.defs[string(entry)] = d
	c.bytes += len(entry) + len(d.Canonical)
	c.mu.Unlock()
	return d, nil
}

// ListOutcome is what a Book makes of one page of a tools/list result.
type ListOutcome struct {
	// Result replaces the result; nil when it goes on unchanged.
	Result json.RawMessage
	// HiddenDrift and HiddenNew count the tools hidden for a drift and as
	// new tools awaiting approval.
	HiddenDrift, HiddenNew int
}

// listMemo is a page's outcome while no record changed.
type listMemo struct {
	gen uint64
	out ListOutcome
}

// judged is one entry of a page with its definition.
type judged struct {
	raw json.RawMessage
	def Definition
	ok  bool
}

// FilterList judges one page of a tools/list result of the server: it pins
// new definitions (under on_new allow), records drifts and new tools for
// review, and removes the tools to hide. A page seen before while no
// record changed costs a map lookup.
func (b *Book) FilterList(ctx context.Context, server string, result json.RawMessage) ListOutcome {
	b.mu.Lock()
	if memo, ok := b.lists[server][string(result)]; ok && memo.gen == b.gen {
		b.mu.Unlock()
		return memo.out
	}
	b.mu.Unlock()
	var members map[string]json.RawMessage
	var entries []json.RawMessage
	if json.Unmarshal(result, &members) != nil || json.Unmarshal(members["tools"], &entries) != nil {
		return ListOutcome{}
	}
	page := make([]judged, len(entries))
	for i, e := range entries {
		d, err := b.defs.of(e)
		page[i] = judged{raw: e, def: d, ok: err == nil}
	}
	clean := b.record(ctx, server, page)
	b.mu.Lock()
	out, changed := b.outcomeLocked(server, page, members)
	if clean && !changed {
		b.memoLocked(server, result, out)
	}
	b.mu.Unlock()
	b.changed(changed)
	return out
}

// memoLocked remembers a page's outcome while no record changes.
func (b *Book) memoLocked(server string, result json.RawMessage, out ListOutcome) {
	size := len(result) + len(out.Result)
	if size > maxMemoBytes/maxMemos {
		return // a page this large is judged each time rather than held
	}
	memos := b.lists[server]
	if memos == nil || len(memos) >= maxMemos {
		memos = make(map[string]listMemo)
		b.lists[server] = memos
	}
	memos[string(result)] = listMemo{gen: b.gen, out: out}
}

// record writes what the page changes to the storage (and the memory),
// outside the lock; false when a write failed.
func (b *Book) record(ctx context.Context, server string, page []judged) bool {
	cfg := *b.cfg.Load()
	now := time.Now().UTC()
	clean := true
	for _, j := range page {
		if !j.ok {
			continue
		}
		k := toolKey{server, j.def.Name}
		b.mu.Lock()
		first := decide(cfg, b.records[k], b.endpoint, server, j.def, now)
		b.mu.Unlock()
		if first.next == nil {
			continue
		}
		var event Event
		wctx, cancel := context.WithTimeout(ctx, storageTimeout)
		stored, err := update(wctx, b.storage, recordKey(b.endpoint, server, j.def.Name), func(cur *Record) *Record {
			jj := decide(cfg, cur, b.endpoint, server, j.def, now)
			if jj.event != "" {
				event = Event{Endpoint: b.endpoint, Server: server, Tool: j.def.Name, Kind: jj.event, Action: jj.act, Seen: j.def.Digest}
				if cur != nil && cur.Pinned != nil {
					event.Pinned = cur.Pinned.Digest
				}
			}
			return jj.next
		})
		cancel()
		if err != nil {
			b.fail(err)
			clean = false
			stored = first.next // the decision stands in memory
		}
		b.changed(b.setRecord(k, stored))
		if h := b.hooks.Load(); event.Kind != "" && h.Event != nil {
			h.Event(event)
		}
	}
	return clean
}

// outcomeLocked decides the page from the records and notes each tool as
// seen; changed reports that a tool listed before is hidden now, or no
// longer (a server that changed a definition while running).
func (b *Book) outcomeLocked(server string, page []judged, members map[string]json.RawMessage) (out ListOutcome, changed bool) {
	cfg := *b.cfg.Load()
	kept := make([]json.RawMessage, 0, len(page))
	for _, j := range page {
		if !j.ok {
			kept = append(kept, j.raw) // not a definition we can judge; the client's SDK will
			continue
		}
		k := toolKey{server, j.def.Name}
		b.seen[k] = j.def.Digest
		rec := b.records[k]
		act := actionNow(cfg, rec, j.def.Digest)
		if was, ok := b.hidden[k]; ok && was != (act == Hide) {
			changed = true
		}
		b.hidden[k] = act == Hide
		if act != Hide {
			kept = append(kept, j.raw)
			continue
		}
		if rec != nil && rec.Pinned != nil {
			out.HiddenDrift++
		} else {
			out.HiddenNew++
		}
	}
	if changed {
		b.gen++
	}
	if len(kept) == len(page) {
		return out, changed
	}
	var list bytes.Buffer
	list.WriteByte('[')
	for i, e := range kept {
		if i > 0 {
			list.WriteByte(',')
		}
		list.Write(e)
	}
	list.WriteByte(']')
	members["tools"] = list.Bytes()
	if raw, err := json.Marshal(members); err == nil {
		out.Result = raw
	}
	return out, changed
}
