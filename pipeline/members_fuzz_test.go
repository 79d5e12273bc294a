package pipeline

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fuzzPointers are what the gateway reads in FuzzParseView: protocol
// members, and rule pointers (those of fuzzRules).
var fuzzPointers = []string{
	"/method", "/id", "/params/name", "/params/uri", "/params/cursor", "/params/arguments",
	"/params/_meta/progressToken",
	"/params/arguments/path", "/params/arguments/files/0/mode",
}

var fuzzRules = []string{"/params/arguments/path", "/params/arguments/files/0/mode"}

// FuzzParseView: for any message, either the gateway refuses it, or what
// it reads — the method, the tool, prompt or resource, the values at the
// rule pointers — is what both a Go server (encoding/json into a struct:
// names matched by case folding, the last copy winning) and a
// case-sensitive, last-wins reader see.
func FuzzParseView(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","arguments":{"path":"/tmp","files":[{"mode":1}]}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"safe","Name":"danger"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"danger"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"Path":"/etc/passwd"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"path":"/tmp"},"ARGUMENTS":{"path":"/etc"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","argumentſ":{"path":"/etc"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"k":1,"\u212a":2}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"\u004eame":"x","n\u0061me":"y"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a","_meta":{"progressToken":"p"}}}`,
		`{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{"cursor":"c","Cursor":"d"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"files":[{"mode":1},{"Mode":2}]}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"x"}]}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":2}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"\xff\":1,\"\xfe\":2}}",
	} {
		f.Add([]byte(seed))
	}
	watch, err := NewWatch(fuzzRules...)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := watch.Parse(data)
		if err != nil {
			return // refused: no reader acts on it behind the gateway
		}
		for _, p := range fuzzPointers {
			gw, gwOK := gatewayRead(m.Raw, p)
			fold, foldOK := foldRead(m.Raw, p)
			exact, exactOK := exactRead(m.Raw, p)
			if gwOK != foldOK || gwOK != exactOK || !bytes.Equal(gw, fold) || !bytes.Equal(gw, exact) {
				t.Fatalf("%s in %s: the gateway reads %s (%v), a Go struct %s (%v), a case-sensitive reader %s (%v)",
					p, data, gw, gwOK, fold, foldOK, exact, exactOK)
			}
		}
		var method string
		if v, ok := foldRead(m.Raw, "/method"); ok {
			_ = json.Unmarshal(v, &method)
		}
		if m.Method != method {
			t.Fatalf("%s: the gateway reads method %q, a Go struct %q", data, m.Method, method)
		}
		if target := m.Target(); target != "" {
			var name string
			key := "/params/name"
			if strings.HasPrefix(m.Method, "resources/") {
				key = "/params/uri"
			}
			v, _ := foldRead(m.Raw, key)
			if json.Unmarshal(v, &name) != nil || name != target {
				t.Fatalf("%s: the gateway reads target %q, a Go struct %s", data, target, v)
			}
		}
	})
}

// segments splits a JSON pointer (these have no escapes).
func segments(pointer string) []string { return strings.Split(pointer[1:], "/") }

// gatewayRead reads pointer as the gateway does: member by member over
// the raw bytes (topLevelMember, as Target does).
func gatewayRead(raw []byte, pointer string) ([]byte, bool) {
	v := raw
	for _, seg := range segments(pointer) {
		if len(v) > 0 && v[0] == '[' {
			v = arrayElement(v, seg)
		} else {
			v = topLevelMember(v, seg)
		}
		if v == nil {
			return nil, false
		}
	}
	return v, true
}

// arrayElement returns element seg (a decimal index) of the array v.
func arrayElement(v []byte, seg string) []byte {
	k, err := strconv.Atoi(seg)
	if err != nil {
		return nil
	}
	i := skipSpace(v, 1)
	for n := 0; i < len(v) && v[i] != ']'; n++ {
		end := skipValue(v, i)
		if n == k {
			return v[i:end]
		}
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil
}

// foldRead reads pointer as a Go server does: each object decoded into a
// struct with one field tagged with the member's name.
func foldRead(raw []byte, pointer string) ([]byte, bool) {
	v := json.RawMessage(raw)
	for _, seg := range segments(pointer) {
		if k, err := strconv.Atoi(seg); err == nil && bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			var elems []json.RawMessage
			if json.Unmarshal(v, &elems) != nil || k >= len(elems) {
				return nil, false
			}
			v = elems[k]
			continue
		}
		typ := reflect.StructOf([]reflect.StructField{{
			Name: "X", Type: reflect.TypeFor[json.RawMessage](), Tag: reflect.StructTag(`json:"` + seg + `"`),
		}})
		holder := reflect.New(typ)
		if !bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) || json.Unmarshal(v, holder.Interface()) != nil {
			return nil, false
		}
		v = holder.Elem().Field(0).Interface().(json.RawMessage)
		if v == nil {
			return nil, false
		}
	}
	return v, true
}

// exactRead reads pointer case-sensitively, the last copy of a member
// winning (a map decode).
func exactRead(raw []byte, pointer string) ([]byte, bool) {
	v := json.RawMessage(raw)
	for _, seg := range segments(pointer) {
		if k, err := strconv.Atoi(seg); err == nil && bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) {
			var elems []json.RawMessage
			if json.Unmarshal(v, &elems) != nil || k >= len(elems) {
				return nil, false
			}
			v = elems[k]
			continue
		}
		var obj map[string]json.RawMessage
		if !bytes.HasPrefix(bytes.TrimSpace(v), []byte("{")) || json.Unmarshal(v, &obj) != nil {
			return nil, false
		}
		var ok bool
		if v, ok = obj[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}
