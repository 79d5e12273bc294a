package caddymcp

import (
	"fmt"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// onAnswer is front.Config.OnAnswer for the endpoint: its metrics, and
// its call log for a tools/call.
func (h *Handler) onAnswer(a front.Answered) {
	if tool := h.metrics.onAnswer(a.Post, a.Method, a.Target, a.Answer); tool != "" {
		h.calls.Add(a, tool, h.callRedactor)
	}
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
