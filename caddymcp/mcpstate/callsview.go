package mcpstate

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// viewCalls renders a snapshot, redacting each entry's arguments.
func viewCalls(endpoint string, snap callSnapshot) EndpointCalls {
	v := EndpointCalls{Endpoint: endpoint, Calls: make([]CallView, 0, len(snap.calls)),
		Rates: RatesView{BucketSeconds: rateBucketSeconds, Start: snap.start, Tools: []ToolRatesView{}}}
	for _, e := range snap.calls {
		c := CallView{ID: e.seq, Time: e.start.UTC(), Endpoint: endpoint, Session: e.session, User: e.user, Tool: e.tool, Server: e.server,
			DurationMS: float64(e.duration.Microseconds()) / 1000, Outcome: e.outcome.String(), Error: e.errMsg}
		c.Arguments, c.ArgumentsPreview, c.ArgumentsOmitted = showArguments(e)
		v.Calls = append(v.Calls, c)
	}
	for _, r := range snap.rates {
		v.Rates.Tools = append(v.Rates.Tools, ToolRatesView{Tool: r.tool, Calls: r.calls, Errors: r.errors, ToolErrors: r.toolErrors,
			Blocked: r.blocked, Mocked: r.mocked})
	}
	return v
}

// showArguments redacts an entry's arguments as a tape would: the
// endpoint's record redact pointers (relative to the message, e.g.
// /params/arguments/api_key) and credential-like members. It returns them
// whole, as a preview when long, or why there are none to show.
func showArguments(e recentCall) (whole json.RawMessage, preview, omitted string) {
	if e.over > 0 {
		return nil, "", fmt.Sprintf("the params (%d bytes) exceed the %d bytes the call log keeps", e.over, callParamsCap)
	}
	if len(e.params) == 0 {
		return nil, "", ""
	}
	msg := make([]byte, 0, len(e.params)+48)
	msg = append(msg, `{"jsonrpc":"2.0","method":"tools/call","params":`...)
	msg = append(append(msg, e.params...), '}')
	redacted, err := e.redactor.Apply(msg)
	if err != nil {
		return nil, "", "the params are not JSON"
	}
	var m struct {
		Params struct {
			Arguments json.RawMessage `json:"arguments"`
		} `json:"params"`
	}
	if err := json.Unmarshal(redacted, &m); err != nil {
		return nil, "", "the params are not an object"
	}
	args := m.Params.Arguments
	if string(args) == "null" {
		return nil, "", "" // as good as none
	}
	if len(args) <= callArgumentsShown {
		return args, "", ""
	}
	cut := callArgumentsShown
	for cut > 0 && args[cut]&0xC0 == 0x80 {
		cut--
	}
	return nil, string(args[:cut]) + "…", ""
}

// sortRates orders tools by their calls in the window, the busiest first,
// then by name.
func sortRates(rates []toolRates) {
	total := func(r toolRates) (n uint64) {
		for _, c := range r.calls {
			n += uint64(c)
		}
		return n
	}
	slices.SortFunc(rates, func(a, b toolRates) int {
		return cmp.Or(cmp.Compare(total(b), total(a)), strings.Compare(a.tool, b.tool))
	})
}

// callArgumentsShown bounds the redacted arguments an entry shows whole;
// longer ones are shown as a preview of this many bytes.
const callArgumentsShown = 1 << 10

// CallView is one tools/call in GET /mcp_proxy/calls.
type CallView struct {
	// ID orders the endpoint's calls (1, 2, …, since the endpoint was made).
	ID uint64 `json:"id"`
	// Time is when the gateway took the request.
	Time time.Time `json:"time"`
	// Endpoint is the endpoint's name.
	Endpoint string `json:"endpoint"`
	// Session is the client's session id; absent for a 2026-07-28
	// (stateless) request.
	Session string `json:"session,omitempty"`
	// User is the authenticated user, if any.
	User string `json:"user,omitempty"`
	// Tool is the tool called.
	Tool string `json:"tool"`
	// Server is, on an endpoint of several MCP servers, the server the
	// call went to (absent otherwise, or when the gateway could not tell).
	Server string `json:"server,omitempty"`
	// DurationMS is how long the answer took, held time included.
	DurationMS float64 `json:"duration_ms"`
	// Outcome is ok, error (a JSON-RPC error: the server's, or the
	// gateway's own failure), tool_error (a result with isError true),
	// blocked (the gateway's policy refused it: an interception rule's
	// block, a hidden tool, an operator's block) or mocked (a rule or an
	// operator answered in the server's place).
	Outcome string `json:"outcome"`
	// Error is the JSON-RPC error's message, when the answer is an error
	// (outcome error or blocked).
	Error string `json:"error,omitempty"`
	// Arguments are the call's arguments, redacted as the endpoint's tapes
	// are, when they fit callArgumentsShown bytes.
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// ArgumentsPreview is the start of longer redacted arguments.
	ArgumentsPreview string `json:"arguments_preview,omitempty"`
	// ArgumentsOmitted says why no arguments are shown at all.
	ArgumentsOmitted string `json:"arguments_omitted,omitempty"`
}

// RatesView are an endpoint's tools/call answers per bucket.
type RatesView struct {
	// BucketSeconds is each bucket's length.
	BucketSeconds int `json:"bucket_seconds"`
	// Start is when the oldest bucket began; the last one is still filling.
	Start time.Time `json:"start"`
	// Tools are the counts by tool (its name if the server listed it,
	// else other, as in the tool_calls_total metric), the busiest first.
	Tools []ToolRatesView `json:"tools"`
}

// ToolRatesView are one tool's counts, one number per bucket, oldest first:
// all its calls, and those of them that ended in an error, a tool error,
// the policy's refusal (blocked) or a mock.
type ToolRatesView struct {
	Tool       string   `json:"tool"`
	Calls      []uint32 `json:"calls"`
	Errors     []uint32 `json:"errors"`
	ToolErrors []uint32 `json:"tool_errors"`
	Blocked    []uint32 `json:"blocked"`
	Mocked     []uint32 `json:"mocked"`
}

// EndpointCalls is one endpoint in GET /mcp_proxy/calls.
type EndpointCalls struct {
	Endpoint string     `json:"endpoint"`
	Calls    []CallView `json:"calls"`
	Rates    RatesView  `json:"rates"`
}

// CallLogSize is how many of the last tools/call answers an endpoint's
// call log keeps: the most GET /mcp_proxy/calls shows.
const CallLogSize = callLogSize

// View renders the last limit calls of the endpoint's log and its rates,
// redacting each entry's arguments.
func (l *CallLog) View(endpoint string, limit int, now time.Time) EndpointCalls {
	return viewCalls(endpoint, l.snapshot(limit, now))
}
