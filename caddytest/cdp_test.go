package caddytest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// requireChromium fails in CI and skips elsewhere when there is no chromium.
func requireChromium(t *testing.T) {
	t.Helper()
	requireIntegration(t)
	if _, err := os.Stat(chromiumPath); err != nil {
		if inCI() {
			t.Fatalf("CI needs %s for the browser tests (.ci/run installs Debian's chromium): %v", chromiumPath, err)
		}
		t.Skipf("SKIPPED: no %s (apt-get install chromium) for the browser test", chromiumPath)
	}
}

// browser is a headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), with
// one page attached.
type browser struct {
	t        *testing.T
	cmd      *exec.Cmd
	toChrome io.WriteCloser
	session  string // the page's flat session id

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	events  chan cdpMessage // every event, for the test to read
	done    chan struct{}   // closed when the reader ends
	kept    []cdpMessage    // events acceptDialog read, for pageProblems
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// startBrowser starts Chromium with an empty page attached; the cleanup
// closes it and waits for it and the reader.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	requireChromium(t)
	chromeIn, toChrome, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, chromeOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, toChrome: toChrome, waiting: make(map[int]chan cdpMessage),
		events: make(chan cdpMessage, 1024), done: make(chan struct{})}
	b.cmd = exec.Command(chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage",
		"--remote-debugging-pipe",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,1000", "about:blank")
	b.cmd.ExtraFiles = []*os.File{chromeIn, chromeOut}
	stderr := &syncBuffer{}
	b.cmd.Stderr = stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	chromeIn.Close()
	chromeOut.Close()
	go b.read(fromChrome)
	t.Cleanup(func() {
		b.send("", "Browser.close", nil) // it answers, then exits
		toChrome.Close()
		exited := make(chan error, 1)
		go func() { exited <- b.cmd.Wait() }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = b.cmd.Process.Kill()
			<-exited
		}
		<-b.done
		if t.Failed() {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	var target struct{ TargetID string }
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct{ SessionID string }
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	for _, domain := range []string{"Runtime.enable", "Page.enable", "Log.enable"} {
		b.call(b.session, domain, nil, nil)
	}
	return b
}

func (b *browser) read(r io.ReadCloser) {
	defer close(b.done)
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		if m.ID != 0 {
			b.mu.Lock()
			ch := b.waiting[m.ID]
			delete(b.waiting, m.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default: // the test reads what it needs; a full buffer drops the rest
		}
	}
}

// send writes a command and returns the channel of its answer.
func (b *browser) send(session, method string, params any) chan cdpMessage {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg, _ := json.Marshal(struct {
		ID        int    `json:"id"`
		Method    string `json:"method"`
		SessionID string `json:"sessionId,omitempty"`
		Params    any    `json:"params,omitempty"`
	}{id, method, session, params})
	_, _ = b.toChrome.Write(append(msg, 0))
	return ch
}

// call sends a command and waits (bounded) for its result.
func (b *browser) call(session, method string, params, result any) {
	b.t.Helper()
	select {
	case m := <-b.send(session, method, params):
		if m.Error != nil {
			b.t.Fatalf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				b.t.Fatalf("%s: %v in %s", method, err, m.Result)
			}
		}
	case <-b.done:
		b.t.Fatalf("%s: chromium went away", method)
	case <-time.After(15 * time.Second):
		b.t.Fatalf("%s: no answer from chromium", method)
	}
}

// eval evaluates expr in the page (awaiting a promise) and decodes its value.
func (b *browser) eval(expr string, v any) {
	b.t.Helper()
	var res struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails *struct {
			Text      string
			Exception struct{ Description string }
		}
	}
	b.call(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if res.ExceptionDetails != nil {
		b.t.Fatalf("evaluating %s: %s %s", expr, res.ExceptionDetails.Text, res.ExceptionDetails.Exception.Description)
	}
	if v != nil {
		if err := json.Unmarshal(res.Result.Value, v); err != nil {
			b.t.Fatalf("evaluating %s: %v in %s", expr, err, res.Result.Value)
		}
	}
}

// waitFor evaluates cond (a boolean expression) until it is true, bounded;
// the page changes by itself (live events, refreshes), so there is no
// single event to await.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	if !poll(15*time.Second, func() bool {
		var ok bool
		b.eval("Boolean("+cond+")", &ok)
		return ok
	}) {
		var text string
		b.eval("document.body.innerText", &text)
		b.t.Fatalf("%s: %s never held; the page shows:\n%s", what, cond, text)
	}
}

// pageProblems drains the events so far and returns what the page logged
// as errors: exceptions, console.error, CSP violations and failed loads.
func (b *browser) pageProblems() []string {
	var out []string
	kept := b.kept
	b.kept = nil
	for {
		var m cdpMessage
		if len(kept) > 0 {
			m, kept = kept[0], kept[1:]
		} else {
			select {
			case m = <-b.events:
			default:
				return out
			}
		}
		{
			switch m.Method {
			case "Runtime.exceptionThrown":
				out = append(out, "exception: "+string(m.Params))
			case "Runtime.consoleAPICalled":
				var p struct{ Type string }
				if json.Unmarshal(m.Params, &p) == nil && (p.Type == "error" || p.Type == "warning") {
					out = append(out, "console."+p.Type+": "+string(m.Params))
				}
			case "Log.entryAdded":
				var p struct {
					Entry struct{ Level, Text, URL string }
				}
				if json.Unmarshal(m.Params, &p) == nil && (p.Entry.Level == "error" || p.Entry.Level == "warning") {
					out = append(out, fmt.Sprintf("log %s: %s %s", p.Entry.Level, p.Entry.Text, p.Entry.URL))
				}
			case "Page.javascriptDialogOpening":
				out = append(out, "unexpected dialog: "+string(m.Params))
			}
		}
	}
}

// acceptDialog waits (bounded by ctx) for a dialog (confirm()) and
// accepts it; the events read meanwhile are kept for pageProblems.
func (b *browser) acceptDialog(ctx context.Context) bool {
	for {
		select {
		case m := <-b.events:
			if m.Method == "Page.javascriptDialogOpening" {
				b.send(b.session, "Page.handleJavaScriptDialog", map[string]any{"accept": true})
				return true
			}
			b.kept = append(b.kept, m)
		case <-ctx.Done():
			return false
		}
	}
}

// screenshotDirEnv names a directory where the browser tests save
// screenshots of the page (for the README); unset, they save none.
const screenshotDirEnv = "CADDY_MCP_SCREENSHOTS"

// screenshot saves the page as <name>.png in $CADDY_MCP_SCREENSHOTS, if set.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.capture(name, map[string]any{"format": "png"})
}

// screenshotOf saves the element selector matches (scrolled into view;
// its first 1000 px) as <name>.png in $CADDY_MCP_SCREENSHOTS, if set.
func (b *browser) screenshotOf(name, selector string) {
	b.t.Helper()
	if os.Getenv(screenshotDirEnv) == "" {
		return
	}
	var clip struct {
		X      float64 `json:"x"`
		Y      float64 `json:"y"`
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
		Scale  float64 `json:"scale"`
	}
	b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.scrollIntoView(); const r = e.getBoundingClientRect();
		return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: Math.min(r.height, 1000), scale: 1}; })()`, strconv.Quote(selector)), &clip)
	b.capture(name, map[string]any{"format": "png", "clip": clip, "captureBeyondViewport": true})
}

// capture saves Page.captureScreenshot with params as <name>.png in
// $CADDY_MCP_SCREENSHOTS, if set.
func (b *browser) capture(name string, params map[string]any) {
	b.t.Helper()
	dir := os.Getenv(screenshotDirEnv)
	if dir == "" {
		return
	}
	var shot struct{ Data []byte }
	b.call(b.session, "Page.captureScreenshot", params, &shot)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shot.Data, 0o644); err != nil {
		b.t.Fatalf("saving the screenshot: %v", err)
	}
}
