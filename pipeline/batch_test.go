package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func TestParseBodyValid(t *testing.T) {
	const (
		req   = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
		note  = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
		resp  = `{"jsonrpc":"2.0","id":"s","result":{}}`
		reqS  = `{"jsonrpc":"2.0","id":"1","method":"ping"}`
		spacy = `{ "jsonrpc" : "2.0", "id" : 2, "method" : "ping" }`
	)
	tests := []struct {
		name      string
		body      string
		wantBatch bool
		wantRaw   []string
		wantKinds []pipeline.Kind
	}{
		{"single request", req, false, []string{req}, []pipeline.Kind{pipeline.KindRequest}},
		{"single notification padded", "\n  " + note + "\r\n", false, []string{note}, []pipeline.Kind{pipeline.KindNotification}},
		{"single response", resp, false, []string{resp}, []pipeline.Kind{pipeline.KindResponse}},
		{"batch of one", "[" + req + "]", true, []string{req}, []pipeline.Kind{pipeline.KindRequest}},
		{
			"batch of three, order kept",
			"[" + req + "," + note + "," + resp + "]", true,
			[]string{req, note, resp},
			[]pipeline.Kind{pipeline.KindRequest, pipeline.KindNotification, pipeline.KindResponse},
		},
		{
			"batch with whitespace",
			" [\n  " + spacy + " ,\n\t" + reqS + "\n] ", true,
			[]string{spacy, reqS},
			[]pipeline.Kind{pipeline.KindRequest, pipeline.KindRequest},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, batch, err := pipeline.ParseBody([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseBody: %v", err)
			}
			if batch != tt.wantBatch {
				t.Errorf("batch = %v, want %v", batch, tt.wantBatch)
			}
			if len(msgs) != len(tt.wantRaw) {
				t.Fatalf("got %d messages, want %d", len(msgs), len(tt.wantRaw))
			}
			for i, m := range msgs {
				if string(m.Raw) != tt.wantRaw[i] {
					t.Errorf("msgs[%d].Raw = %q, want %q", i, m.Raw, tt.wantRaw[i])
				}
				if m.Kind != tt.wantKinds[i] {
					t.Errorf("msgs[%d].Kind = %v, want %v", i, m.Kind, tt.wantKinds[i])
				}
			}
		})
	}
}

func TestParseBodyIDTypesInBatch(t *testing.T) {
	msgs, _, err := pipeline.ParseBody([]byte(`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":"1","method":"b"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].IDKey() == msgs[1].IDKey() {
		t.Errorf("ids 1 and \"1\" share key %q", msgs[0].IDKey())
	}
}

func TestParseBodyInvalid(t *testing.T) {
	const good = `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	tests := []struct {
		name      string
		body      string
		want      error
		wantBatch bool
		wantText  string // substring the error must contain
	}{
		{"empty body", ``, pipeline.ErrParse, false, "empty body"},
		{"whitespace body", " \r\n\t", pipeline.ErrParse, false, "empty body"},
		{"not JSON", `hello world`, pipeline.ErrParse, false, ""},
		{"single invalid message", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, pipeline.ErrInvalid, false, "jsonrpc"},
		{"single top-level number", `7`, pipeline.ErrInvalid, false, ""},
		{"empty array", `[]`, pipeline.ErrInvalid, true, "empty batch"},
		{"empty array with spaces", "[ \n ]", pipeline.ErrInvalid, true, "empty batch"},
		{"truncated array", `[` + good, pipeline.ErrParse, true, ""},
		{"array not JSON", `[hello]`, pipeline.ErrParse, true, ""},
		{"array with trailing garbage", `[` + good + `]x`, pipeline.ErrParse, true, ""},
		{"bad element at 0", `[{"jsonrpc":"2.0","id":1}]`, pipeline.ErrInvalid, true, "batch element 0"},
		{"bad element at 1", `[` + good + `,{"jsonrpc":"2.0","id":null,"method":"x"}]`, pipeline.ErrInvalid, true, "batch element 1"},
		{"number element at 2", `[` + good + `,` + good + `,3]`, pipeline.ErrInvalid, true, "batch element 2"},
		{"nested array element", `[` + good + `,[]]`, pipeline.ErrInvalid, true, "batch element 1"},
		{"null element", `[null]`, pipeline.ErrInvalid, true, "batch element 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, batch, err := pipeline.ParseBody([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseBody(%q) succeeded with %d messages", tt.body, len(msgs))
			}
			if msgs != nil {
				t.Errorf("messages returned with error: %v", msgs)
			}
			if batch != tt.wantBatch {
				t.Errorf("batch = %v, want %v", batch, tt.wantBatch)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q does not wrap %v", err, tt.want)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
}

func TestParseBodyCopiesInput(t *testing.T) {
	const a, b = `{"jsonrpc":"2.0","id":1,"method":"a"}`, `{"jsonrpc":"2.0","id":2,"method":"b"}`
	for _, body := range []string{a, "[" + a + "," + b + "]"} {
		in := []byte(body)
		msgs, _, err := pipeline.ParseBody(in)
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			in[i] = 'X'
		}
		if string(msgs[0].Raw) != a {
			t.Errorf("Raw changed after body was overwritten: %q", msgs[0].Raw)
		}
		if msgs[0].Method != "a" {
			t.Errorf("Method = %q", msgs[0].Method)
		}
	}
}
