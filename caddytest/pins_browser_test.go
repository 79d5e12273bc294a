package caddytest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// pinConsoleSite is pinSite with the console at /console/.
func pinConsoleSite(t *testing.T, variant string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name pinned
		stdio %s %s
		pin_tools
	}
	handle_path /console/* {
		mcp_console
	}
}
`, caddyfileQuote(pinServer.get(t)), variant)
}

// TestConsolePinsBrowser: in a real headless Chromium, the console shows
// a drifted tool definition with a line diff of the pinned and the new
// description, and approving it by a click brings the tool back to a
// connected go-sdk client, which hears list_changed.
func TestConsolePinsBrowser(t *testing.T) {
	requireChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	globals := withGlobals(pinGlobals(t.TempDir()))
	url := startProxy(t, pinConsoleSite(t, "v1"), globals) + "/mcp"
	sortedToolNames(ctx, t, connectGo(ctx, t, url, "2025-11-25", nil))
	startProxy(t, pinConsoleSite(t, "v2"), globals)
	cs, changed := listChangedClient(ctx, t, url)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after the change the client lists %v", got)
	}

	b := startBrowser(t)
	b.call(b.session, "Page.navigate", map[string]any{"url": proxyBaseURL + "/console/"}, nil)
	card := `document.querySelector('#pins-list li')`
	b.waitFor("the drift is shown", card+` && `+card+`.querySelector('h3').textContent.startsWith('fetch')`)
	var del, add string
	b.eval(`[...`+card+`.querySelectorAll('.diff .del')].map(s => s.textContent).join('')`, &del)
	b.eval(`[...`+card+`.querySelectorAll('.diff .add')].map(s => s.textContent).join('')`, &add)
	if !strings.Contains(del, `"description": "Fetches a URL (v1)"`) || !strings.Contains(add, `"description": "Fetches a URL (v2)"`) ||
		strings.Contains(del+add, `"name"`) {
		t.Errorf("the diff: removed %q, added %q (only the description differs)", del, add)
	}
	var count string
	b.eval(`document.getElementById('pins-count').textContent`, &count)
	if count != "1" {
		t.Errorf("the panel counts %q awaiting review", count)
	}
	b.screenshotOf("console-pins", `#pins`)
	b.eval(card+`.querySelector('.act-approve').click()`, nil)
	b.waitFor("the approved drift leaves the panel", `document.querySelectorAll('#pins-list li').length === 0 && `+
		`document.getElementById('status').textContent === 'Approved fetch (pinned).'`)
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("the client heard no list_changed after the approval by a click")
	}
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo", "fetch"}) {
		t.Errorf("after the approval the client lists %v", got)
	}
	if problems := b.pageProblems(); len(problems) > 0 {
		t.Errorf("the page logged errors:\n%v", problems)
	}
}
