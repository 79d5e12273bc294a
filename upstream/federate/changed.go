package federate

import (
	"context"
	"hash/maphash"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// listChanged notes that member m's lists of kinds changed: the session
// reads them afresh when next asked, and the client gets one
// list_changed per kind for all the changes of a short window — only
// when what it sees changed (see announce).
func (c *conn) listChanged(m *member, kinds ...kind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, k := range kinds {
		if k == kTemplates {
			continue // announced with resources
		}
		if c.changed[k] {
			continue
		}
		c.changed[k] = true
		c.timers[k] = time.AfterFunc(coalesceWindow, func() {
			c.mu.Lock()
			send := c.changed[k] && !c.closed
			c.changed[k] = false
			c.mu.Unlock()
			if send {
				c.f.goTracked(func() { c.announce(k) })
			}
		})
	}
}

// announced are the kinds one list_changed of k announces.
func announced(k kind) []kind {
	if k == kResources {
		return []kind{kResources, kTemplates}
	}
	return []kind{k}
}

// announce sends the client list_changed of k unless the lists it was
// shown are still what it would be shown: a server's change that its
// filter hides, or a name another server's shadows, is not the client's.
// A list the client has not read since it was last told of a change (or
// ever), or one a server failed to answer, is not compared: the client
// gets the notification.
func (c *conn) announce(k kind) {
	var shown []kind
	c.mu.Lock()
	for _, a := range announced(k) {
		if c.shownSet[a] {
			shown = append(shown, a)
		}
	}
	c.mu.Unlock()
	if len(shown) > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, listTimeout)
		defer cancel()
		same := true
		for _, a := range shown {
			cat := c.refresh(ctx, a)
			c.mu.Lock()
			same = same && !cat.partial && cat.sum == c.shown[a]
			c.mu.Unlock()
		}
		if same || ctx.Err() != nil {
			return
		}
	}
	c.mu.Lock()
	closed := c.closed
	for _, a := range announced(k) {
		c.shownSet[a] = false // told its list changed, the client has not read the new one yet
	}
	c.mu.Unlock()
	if !closed {
		c.r.Deliver(pipeline.NewNotification(kindInfo[k].changed, nil))
	}
}

// noteShown records that the client was shown a page of cat, k's list.
func (c *conn) noteShown(k kind, cat *catalog) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shown[k], c.shownSet[k] = cat.sum, true
}

// sumSeed keys the sums of catalogs, which are only compared within the
// process.
var sumSeed = maphash.MakeSeed()

// sumOf is a sum of what the client sees of a merged list: its items, in
// order.
func sumOf(pages [][]page) uint64 {
	var h maphash.Hash
	h.SetSeed(sumSeed)
	for _, ps := range pages {
		for _, p := range ps {
			for _, it := range p.items {
				_, _ = h.Write(it)
				_ = h.WriteByte(0)
			}
		}
	}
	return h.Sum64()
}
