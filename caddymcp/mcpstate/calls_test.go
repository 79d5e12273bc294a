package mcpstate

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// toolCall is the Answered of a tools/call of tool with params, answered
// by answer (a JSON-RPC response).
func toolCall(t testing.TB, tool, params, answer string) front.Answered {
	t.Helper()
	m, err := pipeline.Parse([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	return front.Answered{Method: "tools/call", Target: tool, Params: json.RawMessage(params), Session: "s1", User: "alice",
		Started: time.Unix(1800000000, 0), Answer: m}
}

const okAnswer = `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`

// TestCallLogKeepsTheLast: the log keeps the last callLogSize calls,
// newest first, and a read asks for fewer.
func TestCallLogKeepsTheLast(t *testing.T) {
	l := new(CallLog)
	for i := range callLogSize + 50 {
		l.Add(toolCall(t, "echo", fmt.Sprintf(`{"name":"echo","arguments":{"i":%d}}`, i), okAnswer), "echo", nil)
	}
	for _, tc := range []struct {
		limit, want int
	}{{callLogSize, callLogSize}, {10, 10}, {1, 1}} {
		snap := l.snapshot(tc.limit, time.Now())
		if len(snap.calls) != tc.want {
			t.Fatalf("limit %d: %d calls, want %d", tc.limit, len(snap.calls), tc.want)
		}
		for i, c := range snap.calls {
			want := fmt.Sprintf(`{"name":"echo","arguments":{"i":%d}}`, callLogSize+50-1-i)
			if c.seq != uint64(callLogSize+50-i) || string(c.params) != want {
				t.Fatalf("limit %d: call %d is #%d %s, want #%d %s", tc.limit, i, c.seq, c.params, callLogSize+50-i, want)
			}
		}
	}
	if snap := new(CallLog).snapshot(callLogSize, time.Now()); len(snap.calls) != 0 {
		t.Fatalf("an empty log has %d calls", len(snap.calls))
	}
	var none *CallLog
	if snap := none.snapshot(callLogSize, time.Now()); len(snap.calls) != 0 || len(snap.rates) != 0 {
		t.Fatal("a nil log has calls")
	}
}

// TestCallOutcomes: a result, a JSON-RPC error (with its message, capped)
// and a result with isError true are told apart; a nested or false
// isError is not a tool error. What a stage decided is its own outcome,
// blocked or mocked, whatever the answer looks like; the metric counts a
// tool error as an error.
func TestCallOutcomes(t *testing.T) {
	long := strings.Repeat("é", callTextCap)
	blockedAnswer := `{"jsonrpc":"2.0","id":1,"error":{"code":-32030,"message":"no deleting"}}`
	for _, tc := range []struct {
		name, answer            string
		policy                  front.Policy
		outcome, metric, errMsg string
	}{
		{"result", okAnswer, front.PolicyNone, "ok", "ok", ""},
		{"error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"no such tool"}}`, front.PolicyNone, "error", "error", "no such tool"},
		{"long error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"` + long + `"}}`, front.PolicyNone, "error", "error", long[:callTextCap] + "…"},
		{"tool error", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"boom"}],"isError":true}}`, front.PolicyNone, "tool_error", "error", ""},
		{"tool error, spaced", `{"jsonrpc":"2.0","id":1,"result":{"isError" :  true,"content":[]}}`, front.PolicyNone, "tool_error", "error", ""},
		{"isError false", `{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false}}`, front.PolicyNone, "ok", "ok", ""},
		{"isError in the text", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"\"isError\": true"}]}}`, front.PolicyNone, "ok", "ok", ""},
		{"isError nested", `{"jsonrpc":"2.0","id":1,"result":{"content":[],"structuredContent":{"isError":true}}}`, front.PolicyNone, "ok", "ok", ""},
		{"blocked", blockedAnswer, front.PolicyBlocked, "blocked", "blocked", "no deleting"},
		{"blocked by the gateway's code only", blockedAnswer, front.PolicyNone, "error", "error", "no deleting"},
		{"mocked", okAnswer, front.PolicyMocked, "mocked", "mocked", ""},
		{"mocked with isError", `{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}`, front.PolicyMocked, "mocked", "mocked", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := new(CallLog)
			a := toolCall(t, "echo", `{"name":"echo"}`, tc.answer)
			a.Policy = tc.policy
			l.Add(a, "echo", nil)
			c := l.snapshot(1, time.Now()).calls[0]
			if c.outcome.String() != tc.outcome || c.errMsg != tc.errMsg || c.outcome.Metric() != tc.metric {
				t.Fatalf("outcome %s (metric %s) %q, want %s (%s) %q", c.outcome, c.outcome.Metric(), c.errMsg, tc.outcome, tc.metric, tc.errMsg)
			}
		})
	}
}

// TestCallArgumentsRedactedAtRead: the log keeps the bytes as sent; what
// is read is redacted as the endpoint's tapes are (its pointers, and
// credential-like members always), a preview when long, nothing when the
// params were over the cap.
func TestCallArgumentsRedactedAtRead(t *testing.T) {
	red, err := tape.NewRedactor([]string{"/params/arguments/api_key", "/params/arguments/items/*/token"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", callArgumentsShown)
	for _, tc := range []struct {
		name      string
		redactor  *tape.Redactor
		params    string
		arguments string // the arguments read, "" for none
		preview   string // a prefix of the preview, "" for none
		omitted   string // a part of why there are none, "" when there are
	}{
		{"pointer", red, `{"name":"t","arguments":{"api_key":"sk-1","q":"x"}}`, `{"api_key":"[redacted]","q":"x"}`, "", ""},
		{"wildcard pointer", red, `{"name":"t","arguments":{"items":[{"token":"a"},{"token":"b","n":1}]}}`,
			`{"items":[{"token":"[redacted]"},{"n":1,"token":"[redacted]"}]}`, "", ""},
		{"authorization always", nil, `{"name":"t","arguments":{"headers":{"Authorization":"Bearer abc"},"q":1}}`,
			`{"headers":{"Authorization":"[redacted]"},"q":1}`, "", ""},
		{"cookie with a pointer set", red, `{"name":"t","arguments":{"Cookie":"sid=1"}}`, `{"Cookie":"[redacted]"}`, "", ""},
		{"escaped authorization", nil, `{"name":"t","arguments":{"h":{"\u0041uthorization":"Bearer abc"}}}`,
			`{"h":{"Authorization":"[redacted]"}}`, "", ""},
		{"escaped pointer name", red, `{"name":"t","arguments":{"api\u005Fkey":"sk-1"}}`, `{"api_key":"[redacted]"}`, "", ""},
		{"nothing to redact, kept as sent", nil, `{"name":"t","arguments":{"b":1,"a":[1, 2]}}`, `{"b":1,"a":[1, 2]}`, "", ""},
		{"no arguments", nil, `{"name":"t"}`, "", "", ""},
		{"null arguments", nil, `{"name":"t","arguments":null}`, "", "", ""},
		{"long", nil, `{"name":"t","arguments":{"api_key":"sk-1","s":"` + long + `"}}`, "", `{"api_key":"sk-1","s":"xxx`, ""},
		{"long, redacted", red, `{"name":"t","arguments":{"api_key":"sk-1","s":"` + long + `"}}`, "", `{"api_key":"[redacted]","s":"xxx`, ""},
		{"over the cap", red, `{"name":"t","arguments":{"s":"` + strings.Repeat("y", callParamsCap) + `"}}`, "", "", "exceed the 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := new(CallLog)
			l.Add(toolCall(t, "t", tc.params, okAnswer), "t", tc.redactor)
			e := l.snapshot(1, time.Now()).calls[0]
			if e.over == 0 && string(e.params) != tc.params {
				t.Fatalf("the log keeps %s, want the bytes as sent", e.params)
			}
			whole, preview, omitted := showArguments(e)
			if string(whole) != tc.arguments {
				t.Errorf("arguments %s, want %s", whole, tc.arguments)
			}
			if (tc.preview == "") != (preview == "") || !strings.HasPrefix(preview, tc.preview) ||
				(preview != "" && (!strings.HasSuffix(preview, "…") || len(preview) > callArgumentsShown+len("…"))) {
				t.Errorf("preview %q, want one starting %q", preview, tc.preview)
			}
			if (tc.omitted == "") != (omitted == "") || !strings.Contains(omitted, tc.omitted) {
				t.Errorf("omitted %q, want %q", omitted, tc.omitted)
			}
		})
	}
}

// TestCallRates: answers count in 10 s buckets by tool over the last 10
// minutes, errors and tool errors apart; older buckets, and a slot reused
// a window later, count nothing of before.
func TestCallRates(t *testing.T) {
	now := time.Unix(1800000605, 0) // bucket 180000060, the last of the window
	l := new(CallLog)
	call := func(tool, answer string, at time.Time, policy ...front.Policy) {
		a := toolCall(t, tool, `{"name":"`+tool+`"}`, answer)
		if len(policy) > 0 {
			a.Policy = policy[0]
		}
		l.addAt(a, tool, "", OutcomeOf(a), nil, at)
	}
	errAnswer := `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}`
	toolErr := `{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}`
	call("old", okAnswer, now.Add(-11*time.Minute)) // before the window, in the slot of a bucket inside it
	call("a", okAnswer, now.Add(-10*time.Minute+10*time.Second))
	call("a", okAnswer, now)
	call("a", errAnswer, now)
	call("a", toolErr, now)
	call("a", errAnswer, now, front.PolicyBlocked)
	call("a", okAnswer, now.Add(-10*time.Second), front.PolicyMocked)
	call("b", okAnswer, now.Add(-10*time.Second))
	call("b", okAnswer, now.Add(-10*time.Second))

	snap := l.snapshot(callLogSize, now)
	if !snap.start.Equal(time.Unix(1800000010, 0)) {
		t.Errorf("window start %v", snap.start)
	}
	want := map[string]struct {
		calls, errors, toolErrors, blocked, mocked map[int]uint32
	}{
		"a": {map[int]uint32{0: 1, 58: 1, 59: 4}, map[int]uint32{59: 1}, map[int]uint32{59: 1}, map[int]uint32{59: 1}, map[int]uint32{58: 1}},
		"b": {map[int]uint32{58: 2}, nil, nil, nil, nil},
	}
	if len(snap.rates) != 2 || snap.rates[0].tool != "a" || snap.rates[1].tool != "b" {
		t.Fatalf("rates for %+v, want a then b (busiest first)", snap.rates)
	}
	for _, r := range snap.rates {
		w := want[r.tool]
		for _, series := range []struct {
			name string
			got  []uint32
			want map[int]uint32
		}{{"calls", r.calls, w.calls}, {"errors", r.errors, w.errors}, {"tool_errors", r.toolErrors, w.toolErrors},
			{"blocked", r.blocked, w.blocked}, {"mocked", r.mocked, w.mocked}} {
			if len(series.got) != rateBuckets {
				t.Fatalf("%s %s: %d buckets", r.tool, series.name, len(series.got))
			}
			for i, n := range series.got {
				if n != series.want[i] {
					t.Errorf("%s %s bucket %d = %d, want %d", r.tool, series.name, i, n, series.want[i])
				}
			}
		}
	}
	// A window later, every slot has been reused or is stale.
	later := now.Add(10 * time.Minute)
	call("c", okAnswer, later)
	snap = l.snapshot(callLogSize, later)
	if len(snap.rates) != 1 || snap.rates[0].tool != "c" || snap.rates[0].calls[59] != 1 {
		t.Fatalf("a window later: %+v, want c alone", snap.rates)
	}
}

// BenchmarkCallLogAdd is what a tools/call answer costs the call log on
// the request path: a copy of its params and a bucket's count.
func BenchmarkCallLogAdd(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("params=%dB", size), func(b *testing.B) {
			params := `{"name":"echo","arguments":{"text":"` + strings.Repeat("x", size-39) + `"}}`
			a := toolCall(b, "echo", params, okAnswer)
			l := new(CallLog)
			b.ReportAllocs()
			for b.Loop() {
				l.Add(a, "echo", nil)
			}
		})
	}
}
