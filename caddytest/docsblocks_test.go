package caddytest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// This file reads the code blocks out of the Markdown docs and compares the
// shape of two JSON values, for docs_test.go.

// docBlock is one fenced code block of a Markdown file.
type docBlock struct {
	file string
	// line is the line of the opening fence (1-based).
	line int
	// info is the fence's info string (caddyfile, json, …).
	info string
	// marker is the HTML comment on the last non-blank line before the
	// fence, without <!-- and -->, trimmed; "" when there is none.
	marker string
	body   string
}

// where is the block's file:line, as a failing check reports it.
func (b docBlock) where() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// docMarker is an HTML comment alone on a line.
var docMarker = regexp.MustCompile(`^<!--\s*(.*?)\s*-->$`)

// readDocBlocks returns the fenced code blocks of a Markdown file, in order.
// Fences are lines that start with ``` (indented fences of list items
// included); a block ends at the next fence line with no info string.
func readDocBlocks(file string) ([]docBlock, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		blocks  []docBlock
		cur     *docBlock
		lines   []string
		lastTxt string
		n       int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if trimmed == "```" {
				cur.body = strings.Join(lines, "\n") + "\n"
				blocks = append(blocks, *cur)
				// A marker belongs to one block only.
				cur, lines, lastTxt = nil, nil, trimmed
				continue
			}
			lines = append(lines, line)
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			b := docBlock{file: file, line: n, info: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			if m := docMarker.FindStringSubmatch(lastTxt); m != nil {
				b.marker = m[1]
			}
			cur = &b
			continue
		}
		if trimmed != "" {
			lastTxt = trimmed
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a code block that is never closed", file, cur.line)
	}
	return blocks, nil
}

// jsonKind names the JSON type of a value decoded by encoding/json into any.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// shapeMismatches compares a documented JSON example with a live answer:
// every member the example shows must be in the live answer with a value
// of the same JSON type, recursively; values may differ, and the live
// answer may have members the example leaves out. Each element of an
// example array must have the shape of at least one element of the live
// array (so an example may show a stdio and an http upstream side by side);
// an empty live array cannot confirm an element and is a mismatch. It
// returns one line per mismatch, naming its JSON pointer.
func shapeMismatches(example, live any) []string {
	return shapeAt("", example, live)
}

func shapeAt(at string, example, live any) []string {
	if ek, lk := jsonKind(example), jsonKind(live); ek != lk {
		return []string{fmt.Sprintf("%s: the example has %s, the handler answers %s", pointerOrRoot(at), ek, lk)}
	}
	switch ex := example.(type) {
	case map[string]any:
		lv := live.(map[string]any)
		keys := make([]string, 0, len(ex))
		for k := range ex {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			sub := at + "/" + k
			lval, ok := lv[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s: in the example, not in the handler's answer", sub))
				continue
			}
			out = append(out, shapeAt(sub, ex[k], lval)...)
		}
		return out
	case []any:
		lv := live.([]any)
		var out []string
		for i, el := range ex {
			sub := fmt.Sprintf("%s/%d", at, i)
			if len(lv) == 0 {
				out = append(out, fmt.Sprintf("%s: the handler answered an empty array", sub))
				continue
			}
			best := shapeAt(sub, el, lv[0])
			for _, l := range lv[1:] {
				if len(best) == 0 {
					break
				}
				if m := shapeAt(sub, el, l); len(m) < len(best) {
					best = m
				}
			}
			out = append(out, best...)
		}
		return out
	}
	return nil
}

func pointerOrRoot(at string) string {
	if at == "" {
		return "(the whole answer)"
	}
	return at
}

// TestDocsShape: the shape comparison the admin examples are checked with.
func TestDocsShape(t *testing.T) {
	for _, tc := range []struct {
		name, example, live string
		mismatches          int
	}{
		{"same shape, other values", `{"a":1,"b":"x","c":[{"d":true}]}`, `{"a":2,"b":"y","c":[{"d":false}]}`, 0},
		{"live has more members", `{"a":1}`, `{"a":1,"z":null}`, 0},
		{"member missing live", `{"a":1,"b":2}`, `{"a":1}`, 1},
		{"other type", `{"a":"1"}`, `{"a":1}`, 1},
		{"nested", `{"a":{"b":{"c":1}}}`, `{"a":{"b":{}}}`, 1},
		{"element matches some live element", `[{"pid":1},{"last_check":"t"}]`, `[{"last_check":"t"},{"pid":2}]`, 0},
		{"element matches none", `[{"pid":1}]`, `[{"name":"x"}]`, 1},
		{"empty live array", `[{"a":1}]`, `[]`, 1},
		{"empty example array", `[]`, `[{"a":1}]`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ex, live any
			if err := json.Unmarshal([]byte(tc.example), &ex); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.live), &live); err != nil {
				t.Fatal(err)
			}
			if got := shapeMismatches(ex, live); len(got) != tc.mismatches {
				t.Errorf("shapeMismatches = %q, want %d", got, tc.mismatches)
			}
		})
	}
}

// TestDocsBlocks: what readDocBlocks makes of fences and markers.
func TestDocsBlocks(t *testing.T) {
	file := filepath.Join(t.TempDir(), "page.md")
	page := "# Page\n\n<!-- admin: GET /x -->\n```json\n{}\n```\n```json\n[]\n```\n\ntext\n  ```caddyfile\n  a {\n  }\n  ```\n"
	if err := os.WriteFile(file, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	blocks, err := readDocBlocks(file)
	if err != nil {
		t.Fatal(err)
	}
	want := []docBlock{
		{file: file, line: 4, info: "json", marker: "admin: GET /x", body: "{}\n"},
		{file: file, line: 7, info: "json", body: "[]\n"},
		{file: file, line: 12, info: "caddyfile", body: "  a {\n  }\n"},
	}
	if len(blocks) != len(want) {
		t.Fatalf("blocks = %+v, want %+v", blocks, want)
	}
	for i := range want {
		if blocks[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, blocks[i], want[i])
		}
	}
	if err := os.WriteFile(file, []byte("```json\n{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readDocBlocks(file); err == nil {
		t.Error("an unclosed block was not refused")
	}
}
