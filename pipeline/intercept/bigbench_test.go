package intercept_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pipeline/intercept"
)

// bigCall is a tools/call of about size bytes whose path argument comes
// after the bulk. structured spreads the bulk over many small objects (what
// costs most to decode); otherwise it is one long string.
func bigCall(size int, structured bool) string {
	var b strings.Builder
	b.Grow(size + 256)
	b.WriteString(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"content":`)
	if structured {
		b.WriteByte('[')
		for i := 0; b.Len() < size; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"line":` + strconv.Itoa(i) + `,"text":"lorem ipsum dolor","tags":["a","b"]}`)
		}
		b.WriteByte(']')
	} else {
		b.WriteByte('"')
		b.WriteString(strings.Repeat("lorem ipsum ", (size-b.Len())/12))
		b.WriteByte('"')
	}
	b.WriteString(`,"path":"/etc/passwd"}}}`)
	return b.String()
}

// bigRules are the rules the big-message benchmark runs, one at a time.
var bigRules = map[string]intercept.Rule{
	// a field that matches: the case that took a gateway from 61 MB to 1 GB
	"field": {Tools: []string{"write_file"}, Fields: []intercept.Field{{Pointer: "/params/arguments/path", Regexp: "^/etc/"}},
		Actions: []intercept.Action{blockIt}},
	// an edit of a small member next to the bulk
	"set": {Tools: []string{"write_file"}, Actions: []intercept.Action{
		act(intercept.ActionSet, func(a *intercept.Action) { a.Pointer, a.Value = "/params/arguments/path", json.RawMessage(`"/tmp/x"`) })}},
	"remove": {Tools: []string{"write_file"}, Actions: []intercept.Action{
		act(intercept.ActionRemove, func(a *intercept.Action) { a.Pointer = "/params/arguments/path" })}},
	// CEL reading the message as a whole
	"cel": {Expression: `message.params.arguments.path.startsWith("/etc/")`, Actions: []intercept.Action{blockIt}},
}

// BenchmarkBigMessage is the cost of one rule on a 4 MB tools/call, by the
// rule (field, set, remove, cel) and the shape of the bulk.
func BenchmarkBigMessage(b *testing.B) {
	for _, shape := range []string{"string", "structured"} {
		call := parse(b, bigCall(4<<20, shape == "structured"))
		for _, name := range []string{"field", "set", "remove", "cel"} {
			e, err := intercept.New([]intercept.Rule{bigRules[name]}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(shape+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				ex := &pipeline.Exchange{Direction: pipeline.ToServer}
				for b.Loop() {
					if v := e.Handle(context.Background(), ex, call); v.Message == nil {
						b.Fatal("the rule did not apply")
					}
				}
			})
		}
	}
}
