package record

import (
	"context"
	"testing"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// TestOutcome: each final decision of the chain becomes the tape's
// account of it — what was recorded, the action, the stage, the original
// form, how a hold ended, and the reply recorded in its place.
func TestOutcome(t *testing.T) {
	req := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"rm"}}`
	edited := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ls"}}`
	blocked := `{"jsonrpc":"2.0","id":7,"error":{"code":-32030,"message":"no"}}`
	mocked := `{"jsonrpc":"2.0","id":7,"result":{"content":[]}}`
	timeout := `{"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"timed out"}}`
	tests := []struct {
		name      string
		gateway   bool
		msg       string
		verdict   func(m *pipeline.Message) pipeline.Verdict
		wantMsg   string
		want      tape.Outcome
		wantReply string
	}{
		{name: "passed", msg: req, wantMsg: req, want: tape.Outcome{Action: tape.Passed},
			verdict: func(m *pipeline.Message) pipeline.Verdict { return pipeline.Verdict{Message: m} }},
		{name: "delayed but unchanged is passed", msg: req, wantMsg: req, want: tape.Outcome{Action: tape.Passed},
			verdict: func(m *pipeline.Message) pipeline.Verdict { return pipeline.Verdict{Message: m, By: "slow"} }},
		{name: "modified", msg: req, wantMsg: edited, want: tape.Outcome{Action: tape.Modified, Stage: "rewrite", Original: []byte(req)},
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Message: parseOK(edited), By: "rewrite"}
			}},
		{name: "held then released", msg: req, wantMsg: req, want: tape.Outcome{Action: tape.Held, Stage: "approve", Ended: "released"},
			verdict: func(m *pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Message: m, By: "approve", Ended: pipeline.HoldReleased}
			}},
		{name: "held then edited", msg: req, wantMsg: edited,
			want: tape.Outcome{Action: tape.Held, Stage: "approve", Ended: "released", Original: []byte(req)},
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Message: parseOK(edited), By: "approve", Ended: pipeline.HoldReleased}
			}},
		{name: "blocked request", msg: req, wantMsg: req, want: tape.Outcome{Action: tape.Blocked, Stage: "deny"}, wantReply: blocked,
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Action: pipeline.Respond, Message: parseOK(blocked), By: "deny"}
			}},
		{name: "held then timed out and blocked", msg: req, wantMsg: req,
			want: tape.Outcome{Action: tape.Blocked, Stage: "approve", Ended: "timeout"}, wantReply: blocked,
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Action: pipeline.Respond, Message: parseOK(blocked), By: "approve", Ended: pipeline.HoldTimedOut}
			}},
		{name: "mocked", msg: req, wantMsg: req, want: tape.Outcome{Action: tape.Mocked, Stage: "fake"}, wantReply: mocked,
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Action: pipeline.Respond, Message: parseOK(mocked), By: "fake"}
			}},
		{name: "dropped", msg: req, wantMsg: req, want: tape.Outcome{Action: tape.Blocked, Stage: "x", Ended: "cancelled"},
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Action: pipeline.Drop, By: "x", Ended: pipeline.HoldCancelled}
			}},
		{name: "the gateway's own answer", gateway: true, msg: timeout, wantMsg: timeout, want: tape.Outcome{Action: tape.Generated},
			verdict: func(m *pipeline.Message) pipeline.Verdict { return pipeline.Verdict{Message: m} }},
		{name: "the gateway's own answer, edited by a rule", gateway: true, msg: timeout, wantMsg: blocked,
			want: tape.Outcome{Action: tape.Generated, Stage: "soften", Original: []byte(timeout)},
			verdict: func(*pipeline.Message) pipeline.Verdict {
				return pipeline.Verdict{Message: parseOK(blocked), By: "soften"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseOK(tt.msg)
			v := tt.verdict(m)
			if v.Action == pipeline.Continue && v.Message == nil {
				v.Message = m
			}
			got, out, reply := Outcome(&pipeline.Exchange{Gateway: tt.gateway}, pipeline.Decision{Message: m, Verdict: v})
			if string(got.Raw) != tt.wantMsg {
				t.Errorf("recorded %s, want %s", got.Raw, tt.wantMsg)
			}
			if out.Action != tt.want.Action || out.Stage != tt.want.Stage || out.Ended != tt.want.Ended ||
				string(out.Original) != string(tt.want.Original) {
				t.Errorf("outcome %+v, want %+v", out, tt.want)
			}
			switch {
			case tt.wantReply == "" && reply != nil:
				t.Errorf("a reply %s, want none", reply.Raw)
			case tt.wantReply != "" && (reply == nil || string(reply.Raw) != tt.wantReply):
				t.Errorf("reply %v, want %s", reply, tt.wantReply)
			}
		})
	}
}

// TestDecidedRecordsTheReply: a request a stage answered is on the tape
// with the answer after it, in the other direction: a mock's result as
// mocked, a block's error as generated by the blocking rule.
func TestDecidedRecordsTheReply(t *testing.T) {
	tests := []struct {
		name, reply          string
		wantReq, wantReplyAs string
	}{
		{"mock", `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`, tape.Mocked, tape.Mocked},
		{"block", `{"jsonrpc":"2.0","id":1,"error":{"code":-32030,"message":"no"}}`, tape.Blocked, tape.Generated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w := tape.NewWriter(tape.WriterOptions{Dir: dir})
			rec := New(Config{Writer: w})
			req := parseOK(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}`)
			reply := parseOK(tt.reply)
			rec.Decided(context.Background(), &pipeline.Exchange{Direction: pipeline.ToServer, SessionID: "s"},
				pipeline.Decision{Message: req, Verdict: pipeline.Verdict{Action: pipeline.Respond, Message: reply, By: "rule-1"}})
			w.Close()
			paths, _ := tape.List(dir)
			if len(paths) != 1 {
				t.Fatalf("tapes: %v", paths)
			}
			f, err := tape.ReadFile(paths[0])
			if err != nil || len(f.Records) != 2 {
				t.Fatalf("records %+v, %v", f, err)
			}
			if r := f.Records[0]; r.Dir != tape.ClientToServer || r.Pipeline.Action != tt.wantReq || r.Pipeline.Stage != "rule-1" {
				t.Errorf("the request: %+v", r)
			}
			if r := f.Records[1]; r.Dir != tape.ServerToClient || r.Pipeline.Action != tt.wantReplyAs ||
				r.Pipeline.Stage != "rule-1" || string(r.Msg) != string(reply.Raw) {
				t.Errorf("the reply: %+v", r)
			}
			if _, ok := f.Records[0].Upstream(); ok {
				t.Error("Upstream: the server never saw the request a stage answered")
			}
			if _, ok := f.Records[1].Upstream(); ok {
				t.Error("Upstream: the server never sent the stage's answer")
			}
		})
	}
}

func parseOK(s string) *pipeline.Message {
	m, err := pipeline.Parse([]byte(s))
	if err != nil {
		panic(err)
	}
	return m
}
