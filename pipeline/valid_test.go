package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `{}`, `[]`, `{ }`, `[ ]`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `.5`, `+1`,
	`true`, `tru`, `false`, `null`, `nul`, `nullx`, `"a"`, `"a`, `"\u00e9"`, `"\u00g9"`, `"\x"`, "\"\t\"", `"\/"`,
	"\"\xff\xfe\"", `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`, `[1,2,3]`, `[1,]`, `[,1]`, `[1 2]`,
	`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`,
	` {"a":[{"b":[true,false,null]},-1.25e-3]} `, `{"a":1}}`, `[[]`, `]`, `}`, `{"a":}`, `{"a"}`, `{,}`, `"\u12"`,
	"[1]\n", `{"`, `{"a`, `{"a":`, `["`, "\r\n[1]\t", `{"":""}`, `[{}]`, `[-]`, `[0.e1]`, `[1.0e+]`,
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
	strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1),
}

// TestValidJSONAgreesWithEncodingJSON: validJSON gives json.Valid's answer
// on the edge cases of every token and the nesting limit.
func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// FuzzValidJSON holds validJSON to json.Valid's answer on any input.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validSeeds {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on a tools/call
// answer.
func BenchmarkValidJSON(b *testing.B) {
	msg := []byte(`{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"hello through the gateway, a short answer"}],"structuredContent":{"n":1.5e3,"ok":true,"none":null}}}`)
	for _, c := range []struct {
		name  string
		valid func([]byte) bool
	}{{"validJSON", validJSON}, {"json.Valid", json.Valid}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if !c.valid(msg) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
