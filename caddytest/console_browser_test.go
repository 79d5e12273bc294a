package caddytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestConsoleBrowser drives the console in a real headless Chromium
// against a real Caddy: the page loads with no errors; a go-sdk client's
// session appears; a tools/call paused by a rule appears without a reload,
// is continued by a click and the client receives the result; a change
// without the CSRF token is refused; a session ended by a click gets 404
// on its next request.
func TestConsoleBrowser(t *testing.T) {
	requireChromium(t)
	url := startProxy(t, consoleSite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	b := startBrowser(t)
	b.call(b.session, "Page.navigate", map[string]any{"url": proxyBaseURL + "/console/"}, nil)

	row := fmt.Sprintf(`document.querySelector('#sessions tr[data-key=%s]')`, strconv.Quote(cs.ID()))
	b.waitFor("the go-sdk session is listed", row)
	b.waitFor("the held-events stream is live", `document.getElementById('held-live').textContent.startsWith('Live')`)

	// Held, shown live, continued by a click.
	pending := callAsync(ctx, cs, "test_simple_text")
	card := `document.querySelector('#held-list li')`
	b.waitFor("the held call appears without a reload", card+` && `+card+`.querySelector('.held-title').textContent.includes('test_simple_text')`)
	b.screenshot("console-held")
	b.eval(card+`.querySelector('.act-continue').click()`, nil)
	select {
	case o := <-pending:
		if o.err != nil || firstText(o.res) != "This is a simple text response for testing." {
			t.Errorf("the call continued by a click = %v %+v", o.err, o.res)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the call continued by a click got no result")
	}
	b.waitFor("the decided call leaves the list", `document.querySelectorAll('#held-list li').length === 0`)

	// The page's own origin, but no token: refused.
	var status int
	b.eval(fmt.Sprintf(`fetch('api/sessions/' + %s, {method: 'DELETE'}).then(r => r.status)`, strconv.Quote(cs.ID())), &status)
	if status != http.StatusForbidden {
		t.Errorf("a DELETE from the page without the token: %d, want 403", status)
	}
	if err := callSimpleTextHeld(ctx, t, cs); err != nil {
		t.Fatalf("the session after the refused DELETE: %v", err)
	}

	// Ended by a click (and an OK in the confirmation).
	b.eval(`setTimeout(() => `+row+`.querySelector('button').click(), 0)`, nil)
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	if !b.acceptDialog(dctx) {
		t.Fatal("clicking End asked for no confirmation")
	}
	b.waitFor("the ended session leaves the list", `!`+row)
	if _, err := cs.ListTools(ctx, nil); !errors.Is(err, mcp.ErrSessionMissing) {
		t.Errorf("the session ended by a click: next request = %v, want mcp.ErrSessionMissing (a 404)", err)
	}
	var shown string
	b.eval(`document.getElementById('status').textContent`, &shown)
	if shown != "Ended session "+cs.ID()+"." {
		t.Errorf("status line %q after ending the session", shown)
	}
	// The refused fetch above logs its 403 as a failed load; nothing else may.
	problems := b.pageProblems()
	var unexpected []string
	for _, p := range problems {
		if !containsAll(p, "403", "api/sessions/"+cs.ID()) {
			unexpected = append(unexpected, p)
		}
	}
	if len(unexpected) > 0 {
		t.Errorf("the page logged errors:\n%v", unexpected)
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
