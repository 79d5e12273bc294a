package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const pointerDoc = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","arguments":{` +
	`"path":"/etc/passwd","n":3,"f":1.5e3,"ok":true,"nil":null,"items":["a",{"b":[10,20]},"c"],` +
	`"a/b":1,"m~n":2,"\u0070ath2":"escaped name","q\"uote":3,"\u00e9t\u00e9":"summer","\ud83d\ude00":"smile",` +
	`"Path":"other case","dup":"first","dup":"last","tricky":"}]{[\"","":"empty name","empty":{},"none":[]}}}`

// TestValueAt reads values by pointer tokens (already unescaped) and
// checks each against what encoding/json decodes at the same place.
func TestValueAt(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	bigDoc := `{"a":{"bulk":"` + big + `","list":[` + strings.Repeat(`{"k":[1,2,{"z":"}"}]},`, 20000) + `0],"after":"found"}}`
	tests := []struct {
		name string
		doc  string
		path []string
		want string // the raw value; "" = absent
	}{
		{"nested object", pointerDoc, []string{"params", "arguments", "path"}, `"/etc/passwd"`},
		{"top level", pointerDoc, []string{"method"}, `"tools/call"`},
		{"an object", pointerDoc, []string{"params", "arguments", "items", "1"}, `{"b":[10,20]}`},
		{"array element", pointerDoc, []string{"params", "arguments", "items", "0"}, `"a"`},
		{"last element", pointerDoc, []string{"params", "arguments", "items", "2"}, `"c"`},
		{"inside an array's object", pointerDoc, []string{"params", "arguments", "items", "1", "b", "1"}, `20`},
		{"number as written", pointerDoc, []string{"params", "arguments", "f"}, `1.5e3`},
		{"true", pointerDoc, []string{"params", "arguments", "ok"}, `true`},
		{"null is a value", pointerDoc, []string{"params", "arguments", "nil"}, `null`},
		{"empty object", pointerDoc, []string{"params", "arguments", "empty"}, `{}`},
		{"empty array", pointerDoc, []string{"params", "arguments", "none"}, `[]`},
		{"slash in a name (~1)", pointerDoc, []string{"params", "arguments", "a/b"}, `1`},
		{"tilde in a name (~0)", pointerDoc, []string{"params", "arguments", "m~n"}, `2`},
		{`\u escape in a name`, pointerDoc, []string{"params", "arguments", "path2"}, `"escaped name"`},
		{`\" in a name`, pointerDoc, []string{"params", "arguments", `q"uote`}, `3`},
		{"non-ASCII escaped name", pointerDoc, []string{"params", "arguments", "été"}, `"summer"`},
		{"surrogate pair name", pointerDoc, []string{"params", "arguments", "😀"}, `"smile"`},
		{"empty name", pointerDoc, []string{"params", "arguments", ""}, `"empty name"`},
		{"case-sensitive", pointerDoc, []string{"params", "arguments", "Path"}, `"other case"`},
		{"a name given twice: the last", pointerDoc, []string{"params", "arguments", "dup"}, `"last"`},
		{"brackets inside a string", pointerDoc, []string{"params", "arguments", "tricky"}, `"}]{[\""`},
		{"empty path: the document", `{"a":1}`, nil, `{"a":1}`},
		{"space everywhere", " { \"a\" :\n [ 1 ,\t{ \"b\" : \"x\" } ] } ", []string{"a", "1", "b"}, `"x"`},
		{"missing member", pointerDoc, []string{"params", "arguments", "nope"}, ""},
		{"missing on the way", pointerDoc, []string{"params", "nope", "path"}, ""},
		{"through a string", pointerDoc, []string{"params", "name", "x"}, ""},
		{"through a number", pointerDoc, []string{"params", "arguments", "n", "0"}, ""},
		{"through null", pointerDoc, []string{"params", "arguments", "nil", "x"}, ""},
		{"index past the end", pointerDoc, []string{"params", "arguments", "items", "3"}, ""},
		{"- names no element", pointerDoc, []string{"params", "arguments", "items", "-"}, ""},
		{"leading zero", pointerDoc, []string{"params", "arguments", "items", "01"}, ""},
		{"negative index", pointerDoc, []string{"params", "arguments", "items", "-1"}, ""},
		{"plus sign", pointerDoc, []string{"params", "arguments", "items", "+1"}, ""},
		{"index into an object", pointerDoc, []string{"params", "0"}, ""},
		{"name into an array", pointerDoc, []string{"params", "arguments", "items", "b"}, ""},
		{"in an empty object", pointerDoc, []string{"params", "arguments", "empty", "x"}, ""},
		{"in an empty array", pointerDoc, []string{"params", "arguments", "none", "0"}, ""},
		{"after a big string", bigDoc, []string{"a", "after"}, `"found"`},
		{"a big string", bigDoc, []string{"a", "bulk"}, `"` + big + `"`},
		{"deep in a big array", bigDoc, []string{"a", "list", "19999", "k", "2", "z"}, `"}"`},
		{"past a big array", bigDoc, []string{"a", "list", "20000"}, `0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ValueAt([]byte(tt.doc), tt.path)
			if ok != (tt.want != "") || string(got) != tt.want {
				t.Fatalf("ValueAt = %.80q, %v; want %.80q", got, ok, tt.want)
			}
			want, wantOK := decodedAt(t, tt.doc, tt.path)
			if ok != wantOK {
				t.Fatalf("found = %v, encoding/json finds %v", ok, wantOK)
			}
			if ok && !reflect.DeepEqual(decodeAny(t, got), want) {
				t.Errorf("the value differs from encoding/json's")
			}
		})
	}
}

// decodedAt is the oracle: the value at path in doc decoded whole.
func decodedAt(t testing.TB, doc string, path []string) (any, bool) {
	v := decodeAny(t, []byte(doc))
	for _, tok := range path {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[tok]; !ok {
				return nil, false
			}
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok || i >= len(c) || tok == "-" {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %.80q: %v", b, err)
	}
	return v
}

func TestSetAt(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		path  []string
		value string
		want  string // "" = an error
	}{
		{"replace", `{"a":{"b":1,"c":2}}`, []string{"a", "b"}, `"x"`, `{"a":{"b":"x","c":2}}`},
		{"replace an object", `{"a":{"b":{"deep":[1]},"c":2}}`, []string{"a", "b"}, `0`, `{"a":{"b":0,"c":2}}`},
		{"keeps the rest as written", `{ "z" : 1 ,"a" : { "b" : 1 } }`, []string{"a", "b"}, `2`, `{ "z" : 1 ,"a" : { "b" : 2 } }`},
		{"adds at the end", `{"a":{"b":1}}`, []string{"a", "c"}, `true`, `{"a":{"b":1,"c":true}}`},
		{"adds to an empty object", `{"a":{ }}`, []string{"a", "c"}, `true`, `{"a":{ "c":true}}`},
		{"creates objects", `{"a":{}}`, []string{"a", "b", "c", "d"}, `1`, `{"a":{"b":{"c":{"d":1}}}}`},
		{"creates at the root", `{"x":1}`, []string{"a", "b"}, `1`, `{"x":1,"a":{"b":1}}`},
		{"a null on the way", `{"a":null,"z":0}`, []string{"a", "b", "c"}, `1`, `{"a":{"b":{"c":1}},"z":0}`},
		{"replaces null", `{"a":null}`, []string{"a"}, `1`, `{"a":1}`},
		{"names are escaped", `{}`, []string{`a"/~`}, `1`, `{"a\"/~":1}`},
		{"an escaped name is found", `{"\u0061":0}`, []string{"a"}, `1`, `{"\u0061":1}`},
		{"the last of twice", `{"a":1,"a":2}`, []string{"a"}, `3`, `{"a":1,"a":3}`},
		{"array element", `{"l":[1,2,3]}`, []string{"l", "1"}, `"x"`, `{"l":[1,"x",3]}`},
		{"append with -", `{"l":[1,2]}`, []string{"l", "-"}, `3`, `{"l":[1,2,3]}`},
		{"append with the length", `{"l":[1,2]}`, []string{"l", "2"}, `3`, `{"l":[1,2,3]}`},
		{"append to empty", `{"l":[ ]}`, []string{"l", "-"}, `{"x":1}`, `{"l":[ {"x":1}]}`},
		{"index past the length", `{"l":[1]}`, []string{"l", "2"}, `3`, ""},
		{"not an index", `{"l":[1]}`, []string{"l", "x"}, `3`, ""},
		{"missing below an array", `{"l":[1]}`, []string{"l", "5", "x"}, `3`, ""},
		{"through a string", `{"a":"s"}`, []string{"a", "b"}, `1`, ""},
		{"a null element is not an object", `{"l":[null]}`, []string{"l", "0", "x"}, `1`, ""},
		{"empty path", `{}`, nil, `1`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			got, err := SetAt(doc, tt.path, []byte(tt.value))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("SetAt = %s, want an error", got)
				}
				return
			}
			if err != nil || string(got) != tt.want || !json.Valid(got) {
				t.Fatalf("SetAt = %s, %v; want %s", got, err, tt.want)
			}
			if string(doc) != tt.doc {
				t.Errorf("the input changed: %s", doc)
			}
		})
	}
}

func TestRemoveAt(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		path []string
		want string // "" = nothing removed
	}{
		{"first member", `{"a":{"b":1, "c":2, "d":3}}`, []string{"a", "b"}, `{"a":{"c":2, "d":3}}`},
		{"middle member", `{"a":{"b":1, "c":2, "d":3}}`, []string{"a", "c"}, `{"a":{"b":1, "d":3}}`},
		{"last member", `{"a":{"b":1, "c":2, "d":3}}`, []string{"a", "d"}, `{"a":{"b":1, "c":2}}`},
		{"only member", `{"a":{ "b" : 1 }}`, []string{"a", "b"}, `{"a":{  }}`},
		{"an object member", `{"a":{"b":{"x":[1,{"y":2}]},"c":2}}`, []string{"a", "b"}, `{"a":{"c":2}}`},
		{"every copy of a name given twice", `{"a":1,"b":2,"a":3}`, []string{"a"}, `{"b":2}`},
		{"escaped name", `{"\u0061":1,"b":2}`, []string{"a"}, `{"b":2}`},
		{"first element", `{"l":[1,2,3]}`, []string{"l", "0"}, `{"l":[2,3]}`},
		{"middle element", `{"l":[1,2,3]}`, []string{"l", "1"}, `{"l":[1,3]}`},
		{"one element only, even if the next is equal", `{"l":[1,1,1]}`, []string{"l", "1"}, `{"l":[1,1]}`},
		{"last element", `{"l":[1,2,3]}`, []string{"l", "2"}, `{"l":[1,2]}`},
		{"only element", `{"l":[[1]]}`, []string{"l", "0"}, `{"l":[]}`},
		{"missing", `{"a":1}`, []string{"b"}, ""},
		{"missing on the way", `{"a":1}`, []string{"b", "c"}, ""},
		{"- removes nothing", `{"l":[1]}`, []string{"l", "-"}, ""},
		{"empty path", `{"a":1}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			got, ok := RemoveAt(doc, tt.path)
			if tt.want == "" {
				if ok || string(got) != tt.doc {
					t.Fatalf("RemoveAt = %s, %v; want no change", got, ok)
				}
				return
			}
			if !ok || string(got) != tt.want || !json.Valid(got) {
				t.Fatalf("RemoveAt = %s, %v; want %s", got, ok, tt.want)
			}
			if string(doc) != tt.doc {
				t.Errorf("the input changed: %s", doc)
			}
		})
	}
}

// FuzzValueAt: for any JSON object and path, ValueAt finds what
// encoding/json's decode finds at the same place, and SetAt and RemoveAt
// leave valid JSON that has (or lacks) the value there.
func FuzzValueAt(f *testing.F) {
	f.Add(pointerDoc, "params/arguments/items/1/b")
	f.Add(`{"a":[{"b":1},{"\u0062":2}]}`, "a/1/b")
	f.Add(`{"a":null}`, "a/b")
	f.Fuzz(func(t *testing.T, doc, p string) {
		// Pointers come from configuration, which is valid UTF-8.
		if !json.Valid([]byte(doc)) || !utf8.ValidString(doc) || !utf8.ValidString(p) || len(doc) == 0 || strings.TrimSpace(doc)[0] != '{' {
			t.Skip()
		}
		path := strings.Split(p, "/")
		got, ok := ValueAt([]byte(doc), path)
		want, wantOK := decodedAt(t, doc, path)
		if ok != wantOK || ok && !reflect.DeepEqual(decodeAny(t, got), want) {
			t.Fatalf("ValueAt = %q, %v; encoding/json: %v, %v", got, ok, want, wantOK)
		}
		if set, err := SetAt([]byte(doc), path, []byte(`"set"`)); err == nil && path[len(path)-1] != "-" {
			if v, ok := decodedAt(t, string(set), path); !ok || v != "set" {
				t.Fatalf("after SetAt: %s", set)
			}
		}
		if removed, ok := RemoveAt([]byte(doc), path); ok {
			if !json.Valid(removed) {
				t.Fatalf("RemoveAt made invalid JSON: %s", removed)
			}
		}
	})
}

// TestParseEdited: an edited message parses without a copy of its bytes,
// and bad ones are refused as Parse refuses them.
func TestParseEdited(t *testing.T) {
	raw, err := SetAt([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}`), []string{"params", "name"}, []byte(`"b"`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseEdited(raw)
	if err != nil || m.Target() != "b" || &m.Raw[0] != &raw[0] {
		t.Fatalf("ParseEdited = %+v, %v (the same bytes: %v)", m, err, err == nil && &m.Raw[0] == &raw[0])
	}
	bad, _ := SetAt([]byte(`{"jsonrpc":"2.0","id":1,"method":"x"}`), []string{"result"}, []byte(`1`))
	if _, err := ParseEdited(bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("a request with a result: %v, want ErrInvalid", err)
	}
	if _, err := ParseEdited(nil); !errors.Is(err, ErrParse) {
		t.Errorf("nothing: %v, want ErrParse", err)
	}
}
