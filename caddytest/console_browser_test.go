package caddytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
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
// without the CSRF token is refused; the client's tool calls show in the
// recent calls and the rate chart without a reload; its tape is listed
// and shown as a transcript; a session ended by a click gets 404 on its
// next request.
func TestConsoleBrowser(t *testing.T) {
	requireChromium(t)
	// The endpoint has no name: the Caddyfile adapter names it after the
	// site's first address and the path, as the console shows it.
	endpoint := fmt.Sprintf("localhost:%d/mcp", testPorts.http)
	url := startProxy(t, consoleSiteAt(fmt.Sprintf("localhost:%d, %s", testPorts.http, siteAddr), buildEverythingServer(t),
		"\t\trecord "+caddyfileQuote(t.TempDir())+"\n"+
			"\t\tintercept no-sampling {\n\t\t\ttool test_sampling\n\t\t\tblock \"no sampling here\"\n\t\t}\n")) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	if _, err := cs.ListTools(ctx, nil); err != nil { // the tools' names label the rate chart
		t.Fatal(err)
	}
	b := startBrowser(t)
	b.call(b.session, "Page.navigate", map[string]any{"url": proxyBaseURL + "/console/"}, nil)

	row := fmt.Sprintf(`document.querySelector('#sessions tr[data-key=%s]')`, strconv.Quote(cs.ID()))
	b.waitFor("the go-sdk session is listed", row)
	b.waitFor("the held-events stream is live", `document.getElementById('held-live').textContent.startsWith('Live')`)
	host, _ := os.Hostname()
	b.waitFor("the console says which instance it is", `document.getElementById('instance').textContent === `+strconv.Quote("Instance: "+host))

	// Held, shown live, continued by a click.
	pending := callAsync(ctx, cs, "test_simple_text")
	card := `document.querySelector('#held-list li')`
	b.waitFor("the held call appears without a reload", card+` && `+card+`.querySelector('.held-title').textContent.includes('test_simple_text')`)
	b.waitFor("the held call names its endpoint as the Caddyfile wrote it", card+`.textContent.includes(`+strconv.Quote(endpoint)+`)`)
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

	// Held again, opened (the list shows it redacted, so an edit is off
	// until the message as it will be sent is loaded) and continued as
	// edited.
	pending = callAsync(ctx, cs, "test_simple_text")
	b.waitFor("the second held call appears", card)
	var editOff bool
	b.eval(card+`.querySelector('.act-edit').disabled && `+card+`.querySelector('.held-message').readOnly`, &editOff)
	if !editOff {
		t.Error("a held message can be edited before it is opened")
	}
	b.eval(card+`.querySelector('.act-open').click()`, nil)
	b.waitFor("the opened message can be edited", `!`+card+`.querySelector('.act-edit').disabled && !`+card+`.querySelector('.held-message').readOnly`)
	b.eval(`(() => { const m = `+card+`.querySelector('.held-message'); const v = JSON.parse(m.value); `+
		`v.params._meta = {edited: "in the console"}; m.value = JSON.stringify(v); `+card+`.querySelector('.act-edit').click(); })()`, nil)
	select {
	case o := <-pending:
		if o.err != nil || firstText(o.res) != "This is a simple text response for testing." {
			t.Errorf("the call continued as edited = %v %+v", o.err, o.res)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the call continued as edited got no result")
	}
	b.waitFor("the call continued as edited leaves the list", `document.querySelectorAll('#held-list li').length === 0`)

	// The page's own origin, but no token: refused.
	var status int
	b.eval(fmt.Sprintf(`fetch('api/sessions/' + %s, {method: 'DELETE'}).then(r => r.status)`, strconv.Quote(cs.ID())), &status)
	if status != http.StatusForbidden {
		t.Errorf("a DELETE from the page without the token: %d, want 403", status)
	}
	if err := callSimpleTextHeld(ctx, t, cs); err != nil {
		t.Fatalf("the session after the refused DELETE: %v", err)
	}

	consoleCallsInBrowser(ctx, t, b, cs, endpoint)

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

// consoleCallsInBrowser: the tool calls of session cs (the held ones
// before, a tool error, a JSON-RPC error and a call a rule blocks now)
// show in the recent calls
// and the rate chart of the endpoint named endpoint without a reload, and
// the session's tape is listed and shown as a transcript.
func consoleCallsInBrowser(ctx context.Context, t *testing.T, b *browser, cs *mcp.ClientSession, endpoint string) {
	t.Helper()
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_error_handling",
		Arguments: map[string]any{"city": "Oslo", "authorization": "Bearer not-shown"}}); err != nil || !res.IsError {
		t.Fatalf("test_error_handling: %v %+v, want a result with isError", err, res)
	}
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"})
	wantRPCError(t, err, "no_such_tool")
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_sampling", Arguments: map[string]any{"prompt": "x"}})
	wantRPCError(t, err, "test_sampling")

	row := func(texts ...string) string {
		return fmt.Sprintf(`[...document.querySelectorAll('#calls tr')].some(tr => %s.every(s => tr.textContent.includes(s)))`, jsStrings(texts))
	}
	b.waitFor("the tool error is listed", row("test_error_handling", "tool error", `"authorization":"[redacted]"`, `"city":"Oslo"`))
	b.waitFor("the JSON-RPC error is listed", row("no_such_tool", `error: unknown tool "no_such_tool"`))
	b.waitFor("the held calls are listed", row("test_simple_text", "ok"))
	b.waitFor("the blocked call is listed as blocked, not as an error", row("test_sampling", "blocked: no sampling here"))
	chart := fmt.Sprintf(`document.querySelector('#rates figure[data-key=%s]')`, strconv.Quote(endpoint))
	spark := func(label string) string {
		return fmt.Sprintf(`[...%s.querySelectorAll('svg.spark')].find(s => s.getAttribute('aria-label').startsWith(%s))`, chart, strconv.Quote(label))
	}
	b.waitFor("the chart draws the tool error", chart+` && `+spark("test_error_handling: 1 call in the last 10 minutes")+`?.querySelector('rect.errors')`)
	b.waitFor("the chart counts the blocked call apart", spark("test_sampling: 1 call")+`?.getAttribute('aria-label').includes('0 errors, 0 tool errors, 1 blocked')`)
	const calls = 6 // the session's tools/calls so far, the two held ones among them
	b.waitFor("the chart counts the calls in all", spark(fmt.Sprintf("all tools: %d calls", calls)))
	b.waitFor("the chart counts the unlisted tool as other", spark("other: 1 call")+`?.getAttribute('aria-label').includes('1 error,')`)
	if os.Getenv(screenshotDirEnv) != "" {
		n := screenshotTraffic(ctx, t, cs)
		b.waitFor("the chart counts the screenshot's traffic", spark(fmt.Sprintf("all tools: %d calls", calls+n)))
		b.screenshotOf("console-calls", `section[aria-labelledby="calls-title"]`)
	}
	var shown string
	b.eval(`document.querySelector('#calls').textContent`, &shown)
	if strings.Contains(shown, "not-shown") {
		t.Errorf("the recent calls show a redacted value: %s", shown)
	}

	file := awaitRecording(t, cs.ID())
	b.eval(`document.getElementById('recordings-refresh').click()`, nil)
	recRow := fmt.Sprintf(`document.querySelector('#recordings tr[data-key=%s]')`, strconv.Quote(file))
	b.waitFor("the session's tape is listed", recRow)
	var href string
	b.eval(recRow+`.querySelector('a').getAttribute('href')`, &href)
	if href != "api/recordings/"+file+"/download" {
		t.Errorf("the download link is %q", href)
	}
	b.eval(recRow+`.querySelector('button').click()`, nil)
	b.waitFor("the transcript is shown", `!document.getElementById('transcript').hidden && `+
		`document.getElementById('transcript-text').textContent.includes('tools/call test_error_handling') && `+
		`document.getElementById('transcript-title').textContent === 'Transcript of ' + `+strconv.Quote(file))
	b.screenshotOf("console-recording", `section[aria-labelledby="recordings-title"]`)
}

// jsStrings is strs as a JavaScript array literal.
func jsStrings(strs []string) string {
	quoted := make([]string, len(strs))
	for i, s := range strs {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// screenshotTraffic makes about 40 s of varied tool calls on cs for the
// README's picture of the chart, when screenshots are taken: a rate that
// rises and falls, with tool errors, JSON-RPC errors and calls a rule
// blocks among them (one blocked near the end, so that the recent calls
// in the picture show one).
// It returns the number of calls.
func screenshotTraffic(ctx context.Context, t *testing.T, cs *mcp.ClientSession) int {
	t.Helper()
	n := 0
	call := func(name string, args map[string]any) {
		n++
		_, _ = cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args}) // outcomes of every kind are wanted
	}
	for s := range 40 {
		for i := range 1 + (s*7)%9 {
			if i%4 == 3 {
				call("test_image_content", nil)
			} else {
				call("test_multiple_content_types", map[string]any{"second": s, "i": i})
			}
		}
		if s%6 == 2 {
			call("test_error_handling", map[string]any{"second": s})
		}
		if s%9 == 5 {
			call("no_such_tool", nil)
		}
		if s%11 == 3 || s == 38 {
			call("test_sampling", map[string]any{"prompt": "x"})
		}
		time.Sleep(time.Second) // a sleep: spreads the calls over the chart's one-second buckets
	}
	return n
}
