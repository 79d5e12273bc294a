package federate

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// copies is a server served by several copies that each tag what they
// mint, as a stdio upstream's shared processes do: a first page goes to
// the next copy (as to the least loaded process), the pages after it to
// the copy their cursor names. Every copy reads the server's cursors
// alike (one go-sdk peer behind them).
type copies struct {
	*remote.HTTP
	mu   sync.Mutex
	next int
}

func (c *copies) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	name, msg, err := tags.Untag(req.Message, tags.All)
	if err != nil {
		return err
	}
	if name == "" {
		c.mu.Lock()
		c.next++
		name = strconv.Itoa(c.next)
		c.mu.Unlock()
	}
	r := *req
	r.Message = msg
	return c.HTTP.Call(ctx, &r, func(m *pipeline.Message, status int) {
		if m.IsResponse() {
			m = tags.Tag(m, msg.Method, name, tags.All)
		}
		deliver(m, status)
	})
}

// TestStatelessCursorOfAnotherCopy: each page a 2026-07-28 client asks
// reads the server's list afresh, from another copy than the one that
// minted the client's cursor (its tag differs, its own cursor is the
// same): the page is found by the server's own cursor, and every page
// comes. Failed before: the second page was "invalid cursor", its tagged
// cursor found in no page of the new read.
func TestStatelessCursorOfAnotherCopy(t *testing.T) {
	a := newPeer(t, "a", 1, modern(30000, "public"))
	f := federation2026(t, PrefixAlways, []string{"a"}, []upstream.Upstream{&copies{HTTP: a.up}})
	tools := names2026(t, f, "tools/list", "tools", "name", 30000, "public")
	slices.Sort(tools)
	if want := []string{"a_ask", "a_echo", "a_own_a"}; !slices.Equal(tools, want) {
		t.Errorf("tools %v, want %v", tools, want)
	}
	// A cursor whose own part no page has is still refused.
	ans, err := call2026(t, f, "tools/list", map[string]any{"cursor": "mcpgw:a:mcpgw:9:nope"}, "")
	var e struct {
		Code int `json:"code"`
	}
	if err != nil || ans.Error == nil || json.Unmarshal(ans.Error, &e) != nil || e.Code != pipeline.CodeInvalidParams {
		t.Errorf("an unknown cursor: %v %v", ans, err)
	}
}
