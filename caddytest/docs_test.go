package caddytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// The docs cannot rot: every ```caddyfile block of README.md and docs/*.md
// adapts, and every JSON example of docs/admin-api.md has the shape of what
// the admin API answers.
//
// Markers, each an HTML comment on the last non-blank line before a block:
//
//   - A ```caddyfile block whose first line is `# fragment` is a part of a
//     site block (directives such as mcp_proxy, mcp_auth, a named matcher):
//     the test wraps it in a site block before adapting it, the marker line
//     becoming `:8080 {` (so line numbers hold) and a `}` added at the end.
//   - `<!-- docs-test: no-adapt: <why> -->` before a ```caddyfile block: the
//     block shows what fails (an error the page explains). The test requires
//     that it does fail (an error, or a warning), and counts such blocks.
//   - `<!-- admin: GET <path> -->` before a ```json block of
//     docs/admin-api.md: the block is the answer of that route. {session},
//     {held} and {tape} in the path stand for a live session id, a held
//     message's id and a tape's file name. `<!-- docs-test: not-an-answer:
//     <why> -->` marks a JSON block of that page that is no answer (a
//     request body); any other JSON block there fails the test.
//
// Syntax blocks (`mcp_proxy [<matcher>] { … }`) are fenced as ```caddy-d,
// as on Caddy's own site, and are not adapted.

// docsFiles are the Markdown files whose blocks the tests check: the
// README and every page of docs/, so that pages added later are covered.
func docsFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join("..", "README.md")}, pages...)
}

// formatWarning is the one adapter warning a docs block may cause: aligned
// columns are easier to read than what `caddy fmt` makes of them.
const formatWarning = "Caddyfile input is not formatted"

// noAdaptMarker starts the marker of a block that must fail to adapt.
const noAdaptMarker = "docs-test: no-adapt:"

// TestDocsCaddyfiles adapts every ```caddyfile block of the docs with the
// caddyfile adapter, in process, as `caddy adapt` does.
func TestDocsCaddyfiles(t *testing.T) {
	adapted, failing := 0, 0
	for _, file := range docsFiles(t) {
		blocks, err := readDocBlocks(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if b.info != "caddyfile" {
				continue
			}
			body := b.body
			if first, rest, _ := strings.Cut(body, "\n"); strings.TrimSpace(first) == "# fragment" {
				body = ":8080 {\n" + rest + "}\n"
			}
			// Blank lines for the lines above the block, so that the
			// adapter's errors name the line of the Markdown file.
			body = strings.Repeat("\n", b.line) + body
			_, warnings, err := adaptCaddyfile(b.file, body)
			var problems []string
			if err != nil {
				problems = append(problems, err.Error())
			}
			for _, w := range warnings {
				if !strings.Contains(w.Message, formatWarning) {
					problems = append(problems, fmt.Sprintf("warning: %s:%d: %s", b.file, w.Line, w.Message))
				}
			}
			if strings.HasPrefix(b.marker, noAdaptMarker) {
				failing++
				if len(problems) == 0 {
					t.Errorf("%s: marked %q, but the block adapts without error or warning", b.where(), b.marker)
				}
				continue
			}
			adapted++
			for _, p := range problems {
				if !strings.Contains(p, b.where()) {
					p = b.where() + ": " + p
				}
				t.Error(p)
			}
		}
	}
	if adapted == 0 {
		t.Fatal("no ```caddyfile block found in README.md and docs/*.md")
	}
	t.Logf("%d caddyfile blocks adapted; %d marked %q failed as they should", adapted, failing, noAdaptMarker)
}

// adminMarker is the marker of a documented admin API answer.
var adminMarker = regexp.MustCompile(`^admin:\s+GET\s+(\S+)$`)

// docsAdminSite is the endpoint the admin examples are checked against: a
// stdio server, recorded, with a pause rule that holds one tool's calls;
// and a cluster endpoint named api with the node_url of the instance
// example (its http upstream is never reached).
func docsAdminSite(command, tapes string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		stdio %s
		record %s
		intercept approve {
			tool test_image_content
			pause 1m
		}
	}
	mcp_proxy /api {
		name api
		cluster {
			key %s
			node_url http://10.0.0.5:8080
		}
		http http://127.0.0.1:9/mcp
	}
}
`, caddyfileQuote(command), caddyfileQuote(tapes), seal.NewKey())
}

// TestDocsAdminExamples checks every JSON example of docs/admin-api.md
// against the answer of the route its marker names, from a real Caddy with
// a live session, a recorded tape, tool calls in the log (one ok, one
// error) and a held call.
func TestDocsAdminExamples(t *testing.T) {
	requireIntegration(t)
	page := filepath.Join("..", "docs", "admin-api.md")
	blocks, err := readDocBlocks(page)
	if err != nil {
		t.Fatal(err)
	}
	url := startProxy(t, docsAdminSite(buildEverythingServer(t), t.TempDir())) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := connectAbandonable(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := callSimpleText(ctx, cs); err != nil {
		t.Fatal(err)
	}
	// A call the server refuses, for the log's error outcome.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool", Arguments: map[string]any{"q": "x"}}); err == nil {
		t.Fatal("a call of no_such_tool succeeded")
	}
	pending := callAsync(ctx, cs, "test_image_content")
	held := awaitHeld(t, "test_image_content")
	defer func() {
		decideHeld(t, held.ID, "continue", "")
		<-pending
	}()
	vars := map[string]string{"{session}": cs.ID(), "{held}": held.ID, "{tape}": docsLiveTape(t)}

	checked := 0
	for _, b := range blocks {
		if b.info != "json" {
			continue
		}
		if strings.HasPrefix(b.marker, "docs-test: not-an-answer:") {
			continue
		}
		m := adminMarker.FindStringSubmatch(b.marker)
		if m == nil {
			t.Errorf("%s: a JSON block without <!-- admin: GET <path> --> (or <!-- docs-test: not-an-answer: … -->)", b.where())
			continue
		}
		checked++
		path := m[1]
		for k, v := range vars {
			path = strings.ReplaceAll(path, k, v)
		}
		var example, live any
		if err := json.Unmarshal([]byte(b.body), &example); err != nil {
			t.Errorf("%s: the example is not JSON: %v", b.where(), err)
			continue
		}
		status, body := adminDo(t, http.MethodGet, path)
		if status != http.StatusOK {
			t.Errorf("%s: GET %s: status %d: %s", b.where(), m[1], status, body)
			continue
		}
		if err := json.Unmarshal(body, &live); err != nil {
			t.Errorf("%s: GET %s: %v", b.where(), m[1], err)
			continue
		}
		for _, mismatch := range shapeMismatches(example, live) {
			t.Errorf("%s: GET %s: %s\nthe handler answered: %s", b.where(), m[1], mismatch, body)
		}
	}
	if checked == 0 {
		t.Fatalf("%s: no JSON example marked <!-- admin: GET <path> -->", page)
	}
	t.Logf("%d admin API examples checked", checked)
}

// docsLiveTape returns the file name of a tape the recording endpoint
// lists (bounded wait: the writer creates it after the first message).
func docsLiveTape(t *testing.T) string {
	t.Helper()
	var list struct {
		Recordings []struct{ File string } `json:"recordings"`
	}
	if !poll(10*time.Second, func() bool {
		adminGet(t, "/mcp_proxy/recordings", &list)
		return len(list.Recordings) > 0
	}) {
		t.Fatal("no tape listed at /mcp_proxy/recordings")
	}
	return list.Recordings[0].File
}
