package mcpstate

import (
	"encoding/json"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// HeldRedaction is, per endpoint name (what its held entries carry), the
// redaction of each handler serving it: what the endpoint's tapes and call
// log redact. Listing held messages applies it, as those do: an operator
// watching the list or the console sees no credential a tape would not
// keep. Only the one held message an operator opens (GET
// /mcp_proxy/held/<id>, to edit it) is shown as it will be sent.
var HeldRedaction = &HeldRedactors{m: map[string]map[any]*tape.Redactor{}}

// HeldRedactors maps endpoints to their handlers' redactors. Two handlers
// may serve one endpoint (a reload overlaps the old and the new; two
// blocks may share a name): all their redactions apply.
type HeldRedactors struct {
	mu sync.Mutex
	m  map[string]map[any]*tape.Redactor
}

// Set records the redaction of handler h for endpoint (nil:
// credential-like members only).
func (r *HeldRedactors) Set(endpoint string, h any, red *tape.Redactor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[endpoint] == nil {
		r.m[endpoint] = map[any]*tape.Redactor{}
	}
	r.m[endpoint][h] = red
}

// Remove forgets h's redaction for endpoint.
func (r *HeldRedactors) Remove(endpoint string, h any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m[endpoint], h)
	if len(r.m[endpoint]) == 0 {
		delete(r.m, endpoint)
	}
}

// View returns e with its message redacted as its endpoint's tapes are;
// an endpoint no handler serves any more still gets the credential-like
// members removed.
func (r *HeldRedactors) View(e hold.Entry) hold.Entry {
	r.mu.Lock()
	reds := make([]*tape.Redactor, 0, len(r.m[e.Endpoint])+1)
	for _, red := range r.m[e.Endpoint] {
		reds = append(reds, red)
	}
	r.mu.Unlock()
	if len(reds) == 0 {
		reds = append(reds, nil)
	}
	msg := []byte(e.Message)
	for _, red := range reds {
		out, err := red.Apply(msg)
		if err != nil {
			// Not JSON, so not redactable: show none of it.
			msg, _ = json.Marshal(tape.Redacted)
			break
		}
		msg = out
	}
	e.Message = msg
	return e
}

// ViewAll is View of every entry.
func (r *HeldRedactors) ViewAll(entries []hold.Entry) []hold.Entry {
	for i, e := range entries {
		entries[i] = r.View(e)
	}
	return entries
}
