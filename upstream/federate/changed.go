package federate

import (
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// listChanged notes that member m's lists of kinds changed: the session
// reads them afresh when next asked, and the client gets one
// list_changed per kind for all the changes of a short window.
func (c *conn) listChanged(m *member, kinds ...kind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	for _, k := range kinds {
		info := kindInfo[k]
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
				c.r.Deliver(pipeline.NewNotification(info.changed, nil))
			}
		})
	}
}
