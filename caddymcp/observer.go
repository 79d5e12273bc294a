package caddymcp

import (
	"fmt"
	"net/http"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// observer is front.Observer for an endpoint that observes its requests:
// the {http.mcp.*} placeholders and log fields, its metrics, and its call
// log.
type observer struct {
	metrics  *endpointMetrics
	calls    *mcpstate.CallLog                  // the endpoint's recent tool calls (mcpstate/calls.go)
	redactor *tape.Redactor                     // what its tapes redact, applied when the calls are read
	server   func(method, target string) string // a federated endpoint's server of a request (federation.go)
}

var _ front.Observer = (*observer)(nil)

// OnRequest sets the request's placeholders and log fields, and tells the
// Handler's statusRecorder the method its metrics count the POST under.
func (o *observer) OnRequest(w http.ResponseWriter, r *http.Request, info *front.RequestInfo) {
	mcphttp.PublishRequestInfo(r, info)
	if rec, ok := w.(*statusRecorder); ok {
		rec.described, rec.method = true, info.Method
	}
	server := "" // {http.mcp.server} is empty, not left as written, without server blocks
	switch {
	case o.server == nil:
	case info.Completes.Method != "":
		server = o.server(info.Completes.Method, info.Completes.Target)
	default:
		server = o.server(info.Method, info.Target)
	}
	publishServer(r, server)
}

// OnAnswer counts the answer, and logs it when it ends a tools/call.
func (o *observer) OnAnswer(a front.Answered) {
	var outcome mcpstate.CallOutcome
	var server string
	if a.Method == "tools/call" {
		outcome = mcpstate.OutcomeOf(a)
		if o.server != nil {
			server = o.server(a.Method, a.Target)
		}
	}
	if tool := o.metrics.onAnswer(a.Post, a.Method, a.Target, server, a.Answer, a.Policy, outcome); tool != "" {
		o.calls.AddOutcome(a, tool, server, outcome, o.redactor)
	}
}

// OnStream counts the client streams open.
func (o *observer) OnStream(kind front.ClientStream, delta int) {
	o.metrics.onStream(kind, delta)
}

// callRedactor is what the endpoint's tapes redact (its record block's
// redact pointers, and credential-like members always), for its call log.
func callRedactor(rec *RecordConfig) (*tape.Redactor, error) {
	if rec == nil {
		return nil, nil // the zero Redactor: credential-like members only
	}
	r, err := tape.NewRedactor(rec.Redact)
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: record: %v", err)
	}
	return r, nil
}

// registerHeldRedaction makes the endpoint's held messages listed with
// what its tapes redact.
func (h *Handler) registerHeldRedaction() error {
	red, err := callRedactor(h.Record)
	if err != nil {
		return err
	}
	mcpstate.HeldRedaction.Set(h.storeKey, h, red)
	return nil
}
