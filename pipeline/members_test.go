package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// call wraps params in a tools/call request.
func call(params string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + params + `}`
}

// manyMembers is an object of n distinct members, then extra.
func manyMembers(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + strings.Repeat("x", i) + `":` + "1")
	}
	b.WriteString(extra + "}")
	return b.String()
}

func TestParseRefusesAmbiguousMembers(t *testing.T) {
	tests := []struct {
		name, msg string
		want      string // in the error; "" means the message is accepted
	}{
		// Every measured bypass of issue 20.
		{"name twice in two cases", call(`{"name":"safe","Name":"danger"}`), `duplicate member "name" (also "Name") in /params`},
		{"name in capitals only", call(`{"NAME":"danger"}`), `member "NAME" in /params must be spelled "name"`},
		{"arguments twice in two cases", call(`{"name":"t","arguments":{"path":"/tmp"},"ARGUMENTS":{"path":"/etc/passwd"}}`), `duplicate member "arguments" (also "ARGUMENTS") in /params`},
		// Exact duplicates, at any depth.
		{"name twice", call(`{"name":"a","name":"b"}`), `duplicate member "name" in /params`},
		{"argument twice", call(`{"name":"t","arguments":{"path":"/tmp","path":"/etc"}}`), `duplicate member "path" in /params/arguments`},
		{"top-level member twice", `{"jsonrpc":"2.0","id":1,"method":"ping","x":1,"x":2}`, `duplicate member "x"`},
		{"envelope member twice", `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}`, `duplicate member "method"`},
		// ASCII case.
		{"argument in two cases", call(`{"name":"t","arguments":{"path":"/tmp","Path":"/etc"}}`), `duplicate member "path" (also "Path") in /params/arguments`},
		{"deep object", call(`{"name":"t","arguments":{"a":{"b":{"c":{"Key":1,"kEY":2}}}}}`), `duplicate member "Key" (also "kEY") in /params/arguments/a/b/c`},
		// Unicode folding, as strings.EqualFold and encoding/json do it.
		{"long s", call(`{"name":"t","arguments":{},"argumentſ":{}}`), "duplicate member \"arguments\" (also \"argumentſ\") in /params"},
		{"long s alone", call(`{"name":"t","argumentſ":{"path":"/etc"}}`), `member "argumentſ" in /params must be spelled "arguments"`},
		{"Kelvin sign", call(`{"name":"t","arguments":{"k":1,"\u212a":2}}`), "duplicate member \"k\" (also \"\u212a\") in /params/arguments"},
		{"Kelvin sign raw", call("{\"name\":\"t\",\"arguments\":{\"\u212aey\":1,\"key\":2}}"), "duplicate member \"\u212aey\" (also \"key\") in /params/arguments"},
		{"Greek sigma forms", call(`{"name":"t","arguments":{"σ":1,"ς":2}}`), `duplicate member "σ" (also "ς")`},
		{"jsonrpc in long s", `{"jsonrpc":"2.0","id":1,"method":"ping","jſonrpc":"x"}`, `duplicate member "jsonrpc" (also "jſonrpc")`},
		// Escaped names are compared decoded.
		{"escaped capital", call(`{"name":"safe","\u004eame":"danger"}`), `duplicate member "name" (also "Name") in /params`},
		{"escaped exact copy", call(`{"name":"safe","n\u0061me":"danger"}`), `duplicate member "name" in /params`},
		{"escaped alone", call(`{"\u004eAME":"danger"}`), `member "NAME" in /params must be spelled "name"`},
		{"escaped path", `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a/b":{"q":1,"Q":2}}}`, `in /params/a~1b`},
		{"invalid UTF-8 reads as U+FFFD", call("{\"name\":\"t\",\"arguments\":{\"\xff\":1,\"\xfe\":2}}"), `duplicate member`},
		// Arrays of objects: each element is its own object.
		{"in an array element", call(`{"name":"t","arguments":{"files":[{"path":"a"},{"path":"b","PATH":"c"}]}}`), `duplicate member "path" (also "PATH") in /params/arguments/files/1`},
		{"in a nested array", `{"jsonrpc":"2.0","id":1,"result":{"content":[[{"t":1}],[{"t":1,"T":2}]]}}`, `in /result/content/1/0`},
		// Server messages are read by to_client rules: the same holds.
		{"result twice in two cases", `{"jsonrpc":"2.0","id":1,"result":{"content":[],"Content":[{"type":"text","text":"x"}]}}`, `duplicate member "content" (also "Content") in /result`},
		{"protocolVersion spelled otherwise", `{"jsonrpc":"2.0","id":1,"result":{"ProtocolVersion":"2025-06-18"}}`, `member "ProtocolVersion" in /result must be spelled "protocolVersion"`},
		{"progress token spelled otherwise", call(`{"name":"t","_meta":{"ProgressToken":1}}`), `member "ProgressToken" in /params/_meta must be spelled "progressToken"`},
		// Big objects switch to a map of folded names.
		{"big object, duplicate past the pairwise bound", call(`{"name":"t","arguments":` + manyMembers(40, `,"MXXXX":2`) + `}`), `duplicate member "mxxxx" (also "MXXXX") in /params/arguments`},
		{"big object, exact duplicate at the end", call(`{"name":"t","arguments":` + manyMembers(200, `,"m":2`) + `}`), `duplicate member "m" in /params/arguments`},
		{"big object, Kelvin sign past the bound", call(`{"name":"t","arguments":` + manyMembers(20, `,"k":1,"\u212a":2`) + `}`), "duplicate member \"k\" (also \"\u212a\")"},

		// Accepted: the same name in different objects, other names.
		{"same name in sibling objects", call(`{"name":"t","arguments":{"a":{"name":1},"b":{"name":2},"name":3}}`), ""},
		{"same name at each depth", call(`{"name":"t","arguments":{"name":{"name":{"name":1}}}}`), ""},
		{"same names in array elements", call(`{"name":"t","arguments":{"files":[{"path":"a"},{"path":"b"},{"Path":"c"}]}}`), ""},
		{"case-variant name in arguments alone", call(`{"name":"t","arguments":{"Name":"x","ID":1}}`), ""},
		{"names that differ in one letter", call(`{"name":"t","arguments":{"ab":1,"ac":2,"abc":3,"b":4}}`), ""},
		{"names that look alike but do not fold", call(`{"name":"t","arguments":{"i":1,"ı":2,"k":3,"ĸ":4}}`), ""},
		{"strings that look like members", call(`{"name":"t","arguments":{"s":"\"name\":\"x\",\"Name\":\"y\"","v":["name","Name"]}}`), ""},
		{"big object, all distinct", call(`{"name":"t","arguments":` + manyMembers(300, "") + `}`), ""},
		{"deep nesting", call(`{"name":"t","arguments":` + strings.Repeat(`{"a":[`, 500) + `1` + strings.Repeat(`]}`, 500) + `}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pipeline.Parse([]byte(tt.msg))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted %s", tt.msg)
			}
			if !errors.Is(err, pipeline.ErrAmbiguous) || !errors.Is(err, pipeline.ErrInvalid) {
				t.Errorf("error %v is not ErrAmbiguous and ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestWatchRefusesOtherSpellingsOfRulePointers(t *testing.T) {
	w, err := pipeline.NewWatch("/params/arguments/path", "/params/arguments/files/0/mode", "/result/content/0/text")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, msg string
		want      string // "" means accepted
	}{
		{"pointer spelled otherwise", call(`{"name":"t","arguments":{"Path":"/etc/passwd"}}`), `member "Path" in /params/arguments must be spelled "path"`},
		{"pointer in capitals", call(`{"name":"t","arguments":{"PATH":"/etc/passwd"}}`), `must be spelled "path"`},
		{"array index on the way", call(`{"name":"t","arguments":{"files":[{"Mode":1}]}}`), `member "Mode" in /params/arguments/files/0 must be spelled "mode"`},
		{"to_client pointer", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"Text":"x"}]}}`, `must be spelled "text"`},
		{"protocol members still watched", call(`{"Name":"t"}`), `must be spelled "name"`},
		{"pointer spelled right", call(`{"name":"t","arguments":{"path":"/etc/passwd"}}`), ""},
		{"another element is not read", call(`{"name":"t","arguments":{"files":[{"mode":1},{"Mode":2}]}}`), ""},
		{"other members in another case", call(`{"name":"t","arguments":{"Other":1,"pathX":2}}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.Parse([]byte(tt.msg))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tt.want != "" && (err == nil || !errors.Is(err, pipeline.ErrAmbiguous) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Parse error = %v, want ErrAmbiguous saying %q", err, tt.want)
			}
		})
	}
	// The package's Parse does not know the rules.
	if _, err := pipeline.Parse([]byte(call(`{"name":"t","arguments":{"Path":"/etc/passwd"}}`))); err != nil {
		t.Errorf("Parse without the watch: %v", err)
	}
	if _, err := pipeline.NewWatch("params/x"); err == nil {
		t.Error("NewWatch accepted a pointer without a leading /")
	}
}

func TestParseBodyRefusesAmbiguousBatchElement(t *testing.T) {
	body := `[{"jsonrpc":"2.0","id":1,"method":"ping"},` + call(`{"name":"a","NAME":"b"}`) + `]`
	_, _, err := pipeline.ParseBody([]byte(body))
	if !errors.Is(err, pipeline.ErrAmbiguous) || !strings.Contains(err.Error(), "batch element 1") {
		t.Fatalf("ParseBody error = %v, want batch element 1's ErrAmbiguous", err)
	}
}
