package mcpstate

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// Bounds of an endpoint's call log (GET /mcp_proxy/calls, the console).
const (
	// callLogSize is how many of the last tools/call answers it keeps.
	callLogSize = 200
	// callParamsCap bounds the params bytes kept per call; a call whose
	// params are larger keeps none (truncated JSON could not be redacted).
	callParamsCap = 4 << 10
	// callTextCap bounds the tool name and the error message kept.
	callTextCap = 256
	// rateBucketSeconds and rateBuckets are the rate chart's window: 60
	// buckets of 10 s, the last 10 minutes.
	rateBucketSeconds = 10
	rateBuckets       = 60
)

// CallOutcome is how a tools/call ended.
type CallOutcome uint8

// The outcomes of a tools/call: the server's (ok, error, tool_error) or
// the gateway's policy (blocked, mocked).
const (
	CallOK        CallOutcome = iota // a result
	CallError                        // a JSON-RPC error from the server or the gateway's own failure
	CallToolError                    // a result with isError true
	CallBlocked                      // a stage refused it (front.PolicyBlocked)
	CallMocked                       // a stage answered in the server's place (front.PolicyMocked)
)

// String is the outcome as GET /mcp_proxy/calls shows it.
func (o CallOutcome) String() string {
	switch o {
	case CallError:
		return "error"
	case CallToolError:
		return "tool_error"
	case CallBlocked:
		return "blocked"
	case CallMocked:
		return "mocked"
	}
	return "ok"
}

// Metric is the outcome as the tool_calls_total metric counts it: a tool
// error is an error there.
func (o CallOutcome) Metric() string {
	if o == CallToolError {
		return "error"
	}
	return o.String()
}

// recentCall is one entry of the call log: bytes copied as they came,
// redacted only when read (callsview.go), so that the request path pays
// for a copy and no JSON work.
type recentCall struct {
	seq      uint64
	start    time.Time
	duration time.Duration
	session  string
	user     string
	tool     string
	server   string // the federated server called ("" without federation, or unknown)
	outcome  CallOutcome
	errMsg   string
	params   []byte // a copy of the params, reused slot to slot; empty when over
	over     int    // the params' size when it exceeded callParamsCap, else 0
	redactor *tape.Redactor
}

// toolCount counts one tool's answers in a rate bucket.
type toolCount struct {
	tool                                       string
	calls, errors, toolErrors, blocked, mocked uint32
}

// rateBucket is rateBucketSeconds of answers, by tool.
type rateBucket struct {
	epoch int64 // unix seconds / rateBucketSeconds
	tools []toolCount
}

// CallLog is an endpoint's recent tools/call answers and its rate buckets.
// It lives in the endpoint's StoreEntry, so a reload that keeps the
// endpoint keeps it. Its size is fixed: callLogSize entries of at most
// callParamsCap bytes each, and rateBuckets buckets of at most
// maxToolLabels+1 tools.
type CallLog struct {
	mu      sync.Mutex
	seq     uint64 // entries ever added; the next entry's slot is seq % callLogSize
	ring    [callLogSize]recentCall
	buckets [rateBuckets]rateBucket
}

// Add logs the answer of a tools/call, tool being its metrics label (a
// listed tool's name, else other), counted in the rate buckets. red is the
// redaction the endpoint's tapes apply, used when the entry is read.
func (l *CallLog) Add(a front.Answered, tool string, red *tape.Redactor) {
	l.AddOutcome(a, tool, "", OutcomeOf(a), red)
}

// AddOutcome is Add with the answer's outcome (OutcomeOf) given, and on
// an endpoint of several servers the server the call went to.
func (l *CallLog) AddOutcome(a front.Answered, tool, server string, outcome CallOutcome, red *tape.Redactor) {
	l.addAt(a, tool, server, outcome, red, time.Now())
}

// addAt is AddOutcome with the time of the answer given.
func (l *CallLog) addAt(a front.Answered, tool, server string, outcome CallOutcome, red *tape.Redactor, now time.Time) {
	var errMsg string
	if a.Answer.Error != nil {
		errMsg = errorMessage(a.Answer.Error)
	}
	name := tool
	if a.Target != tool {
		// Not a listed tool: the name the client gave, copied, since it
		// may point into the request's bytes.
		name = strings.Clone(capText(a.Target))
	}
	epoch := now.Unix() / rateBucketSeconds

	l.mu.Lock()
	defer l.mu.Unlock()
	e := &l.ring[l.seq%callLogSize]
	l.seq++
	e.seq = l.seq
	e.start, e.duration = a.Started, now.Sub(a.Started)
	e.session, e.user, e.tool, e.server = a.Session, a.User, name, server
	e.outcome, e.errMsg, e.redactor = outcome, errMsg, red
	if len(a.Params) <= callParamsCap {
		e.params, e.over = append(e.params[:0], a.Params...), 0
	} else {
		e.params, e.over = e.params[:0], len(a.Params)
	}

	b := &l.buckets[epoch%rateBuckets]
	if b.epoch != epoch {
		b.epoch, b.tools = epoch, b.tools[:0]
	}
	i := 0
	for i < len(b.tools) && b.tools[i].tool != tool {
		i++
	}
	if i == len(b.tools) {
		b.tools = append(b.tools, toolCount{tool: tool})
	}
	c := &b.tools[i]
	c.calls++
	switch outcome {
	case CallError:
		c.errors++
	case CallToolError:
		c.toolErrors++
	case CallBlocked:
		c.blocked++
	case CallMocked:
		c.mocked++
	}
}

// OutcomeOf tells a stage's refusal or mock, a result, a result with
// isError true and an error apart. A result is decoded only when it holds
// "isError": true at all.
func OutcomeOf(a front.Answered) CallOutcome {
	switch a.Policy {
	case front.PolicyBlocked:
		return CallBlocked
	case front.PolicyMocked:
		return CallMocked
	}
	if a.Answer.Error != nil {
		return CallError
	}
	if !mentionsIsErrorTrue(a.Answer.Result) {
		return CallOK
	}
	var r struct {
		IsError bool `json:"isError"`
	}
	if json.Unmarshal(a.Answer.Result, &r) == nil && r.IsError {
		return CallToolError
	}
	return CallOK
}

var isErrorKey = []byte(`"isError"`)

// mentionsIsErrorTrue reports whether result has an "isError" member whose
// value is true, at any depth: most results have none, or false.
func mentionsIsErrorTrue(result []byte) bool {
	for {
		i := bytes.Index(result, isErrorKey)
		if i < 0 {
			return false
		}
		rest := bytes.TrimLeft(result[i+len(isErrorKey):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' && bytes.HasPrefix(bytes.TrimLeft(rest[1:], " \t\r\n"), []byte("true")) {
			return true
		}
		result = result[i+len(isErrorKey):]
	}
}

// errorMessage is the message of a JSON-RPC error object, capped.
func errorMessage(raw json.RawMessage) string {
	var e struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(raw, &e)
	return capText(e.Message)
}

// capText cuts s to callTextCap bytes, at a UTF-8 boundary, marking the cut.
func capText(s string) string {
	if len(s) <= callTextCap {
		return s
	}
	cut := callTextCap
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// callSnapshot is what a read copies out of the log under its lock.
type callSnapshot struct {
	calls []recentCall // newest first; params cloned
	rates []toolRates  // by tool, the busiest first
	start time.Time    // the start of the oldest bucket
}

// toolRates are one tool's counts per bucket, oldest first.
type toolRates struct {
	tool                                       string
	calls, errors, toolErrors, blocked, mocked []uint32
}

// newToolRates are a tool's empty counts of the window.
func newToolRates(tool string) *toolRates {
	counts := make([]uint32, 5*rateBuckets)
	return &toolRates{tool: tool, calls: counts[:rateBuckets:rateBuckets],
		errors:     counts[rateBuckets : 2*rateBuckets : 2*rateBuckets],
		toolErrors: counts[2*rateBuckets : 3*rateBuckets : 3*rateBuckets],
		blocked:    counts[3*rateBuckets : 4*rateBuckets : 4*rateBuckets],
		mocked:     counts[4*rateBuckets:]}
}

// snapshot copies the newest limit entries and the buckets of the last
// rateBuckets periods up to now. A nil log has none.
func (l *CallLog) snapshot(limit int, now time.Time) callSnapshot {
	last := now.Unix() / rateBucketSeconds
	first := last - rateBuckets + 1
	snap := callSnapshot{start: time.Unix(first*rateBucketSeconds, 0).UTC()}
	if l == nil {
		return snap
	}
	byTool := map[string]*toolRates{}
	var order []string

	l.mu.Lock()
	n := int(min(l.seq, callLogSize))
	for i := range min(n, limit) {
		e := l.ring[(l.seq-1-uint64(i))%callLogSize]
		e.params = bytes.Clone(e.params)
		snap.calls = append(snap.calls, e)
	}
	for epoch := first; epoch <= last; epoch++ {
		b := &l.buckets[epoch%rateBuckets]
		if b.epoch != epoch {
			continue
		}
		for _, c := range b.tools {
			r := byTool[c.tool]
			if r == nil {
				r = newToolRates(c.tool)
				byTool[c.tool] = r
				order = append(order, c.tool)
			}
			at := epoch - first
			r.calls[at], r.errors[at], r.toolErrors[at] = c.calls, c.errors, c.toolErrors
			r.blocked[at], r.mocked[at] = c.blocked, c.mocked
		}
	}
	l.mu.Unlock()

	for _, name := range order {
		snap.rates = append(snap.rates, *byTool[name])
	}
	sortRates(snap.rates)
	return snap
}
