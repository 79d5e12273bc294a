package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline/hold"
)

// adminHeldPath is the admin API path of held messages.
const adminHeldPath = "/mcp_proxy/held"

// adminHeldList is the body of GET /mcp_proxy/held.
type adminHeldList struct {
	Held []hold.Entry `json:"held"`
}

// handleListHeld serves GET /mcp_proxy/held: the messages redacted as
// their endpoints' tapes are.
func handleListHeld(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, adminHeldList{Held: mcpstate.HeldRedaction.ViewAll(mcpstate.Held.List())})
}

// handleGetHeld serves GET /mcp_proxy/held/<id>: the one message an
// operator opens to decide or edit it, unredacted, as a continue would
// send it (an edit made from a redacted copy would send "[redacted]").
func handleGetHeld(w http.ResponseWriter, r *http.Request, id string) error {
	e, ok := mcpstate.Held.Get(id)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q: %v", id, hold.ErrUnknown)}
	}
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}

// maxDecisionBody bounds the body of a decision (a replacement message).
const maxDecisionBody = 4 << 20

// handleHeld serves GET /mcp_proxy/held/events, GET /mcp_proxy/held/<id>
// and POST /mcp_proxy/held/<id>/continue|block|respond.
func handleHeld(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.Path, adminHeldPath+"/")
	if rest == "events" {
		if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
			return err
		}
		return streamHeldEvents(w, r)
	}
	id, verb, ok := strings.Cut(rest, "/")
	if !ok && id != "" {
		return handleGetHeld(w, r, id)
	}
	if !ok || id == "" || strings.Contains(verb, "/") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: errors.New("no such route; use /mcp_proxy/held/<id>, /mcp_proxy/held/<id>/continue, /block or /respond, or /mcp_proxy/held/events")}
	}
	if err := mcphttp.AllowMethods(w, r, http.MethodPost); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDecisionBody))
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("reading the body: %v", err)}
	}
	d, replacement, err := parseDecision(verb, body)
	if err != nil {
		return err
	}
	switch err := mcpstate.Held.Decide(id, d, replacement); {
	case errors.Is(err, hold.ErrUnknown):
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q: %v", id, err)}
	case err != nil:
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseDecision reads the decision a POST names: continue takes an
// optional replacement JSON-RPC message, block an optional
// {"message": …}, respond the result object.
func parseDecision(verb string, body []byte) (hold.Decision, json.RawMessage, error) {
	empty := len(strings.TrimSpace(string(body))) == 0
	bad := func(format string, args ...any) error {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf(format, args...)}
	}
	switch verb {
	case "continue":
		if !empty && !json.Valid(body) {
			return hold.Decision{}, nil, bad("continue: the body must be a JSON-RPC message (or empty)")
		}
		return hold.Decision{Kind: hold.Continue}, body, nil
	case "block":
		var b struct {
			Message string `json:"message"`
		}
		if !empty {
			if err := json.Unmarshal(body, &b); err != nil {
				return hold.Decision{}, nil, bad(`block: the body must be {"message": "…"} (or empty): %v`, err)
			}
		}
		return hold.Decision{Kind: hold.Block, Reason: b.Message}, nil, nil
	case "respond":
		var obj map[string]json.RawMessage
		if empty || json.Unmarshal(body, &obj) != nil || obj == nil {
			return hold.Decision{}, nil, bad("respond: the body must be the result, a JSON object")
		}
		return hold.Decision{Kind: hold.Respond, Result: json.RawMessage(body)}, nil, nil
	}
	return hold.Decision{}, nil, caddy.APIError{HTTPStatus: http.StatusNotFound,
		Err: fmt.Errorf("unknown decision %q; use continue, block or respond", verb)}
}

// heldKeepAlive is the interval of comments on an idle events stream.
const heldKeepAlive = 15 * time.Second

// streamHeldEvents streams each new hold and each decision as SSE, until
// the client leaves, the admin server shuts down (a config load restarts
// it), or the listener falls too far behind.
func streamHeldEvents(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var shutdown <-chan struct{}
	if srv, ok := ctx.Value(http.ServerContextKey).(*http.Server); ok {
		shutdown = serverShutdown(srv)
	}
	events, stop := mcpstate.Held.Listen()
	defer stop()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, ": listening\n\n"); err != nil {
		return nil
	}
	_ = rc.Flush()
	tick := time.NewTicker(heldKeepAlive)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil // fell behind: the client lists and listens again
			}
			ev.Entry = mcpstate.HeldRedaction.View(ev.Entry) // as the list shows it
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b); err != nil {
				return nil
			}
		case <-tick.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return nil
			}
		case <-ctx.Done():
			return nil
		case <-shutdown:
			return nil
		}
		if rc.Flush() != nil {
			return nil
		}
	}
}

// shutdowns holds, per *http.Server that serves events streams, a channel
// closed when that server begins its shutdown. One RegisterOnShutdown per
// server, not per stream: the console serves the streams from Caddy's site
// server, which lives until the next config load, and a hook per
// connection would pile up there.
var shutdowns sync.Map // *http.Server → chan struct{}

// serverShutdown returns the channel closed when srv begins its shutdown.
func serverShutdown(srv *http.Server) <-chan struct{} {
	if ch, ok := shutdowns.Load(srv); ok {
		return ch.(chan struct{})
	}
	ch := make(chan struct{})
	actual, loaded := shutdowns.LoadOrStore(srv, ch)
	if !loaded {
		srv.RegisterOnShutdown(func() {
			close(ch)
			shutdowns.Delete(srv)
		})
	}
	return actual.(chan struct{})
}
