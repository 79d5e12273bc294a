package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline/pins"
)

// adminPinsPath is the admin API path of pinned tool definitions.
const adminPinsPath = "/mcp_proxy/pins"

// adminPinList is the answer of GET /mcp_proxy/pins.
type adminPinList struct {
	// Pins are the records of every endpoint with pin_tools, by endpoint,
	// member and tool. Each has an id, its state (pinned, drift, new,
	// rejected), the pinned definition and, for a drift, a new or a
	// rejected tool, the pending one (canonical JSON, with its SHA-256
	// digest and the time it was pinned or first seen).
	Pins []pins.Entry `json:"pins"`
}

// handleListPins serves GET /mcp_proxy/pins[?endpoint=<name>][&state=<state>].
func handleListPins(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	endpoint, state := q.Get("endpoint"), q.Get("state")
	switch state {
	case "", pins.StatePinned, pins.StateDrift, pins.StateNew, pins.StateRejected:
	default:
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("state is pinned, drift, new or rejected, not %q", state)}
	}
	list := adminPinList{Pins: []pins.Entry{}}
	for _, b := range mcpstate.PinBookList() {
		if endpoint != "" && b.Endpoint() != endpoint {
			continue
		}
		for _, e := range b.Entries() {
			if state == "" || e.State == state {
				list.Pins = append(list.Pins, e)
			}
		}
	}
	return writeJSON(w, http.StatusOK, list)
}

// handlePin serves POST /mcp_proxy/pins/<id>/approve and …/reject.
// Approve pins the definition under review; reject keeps the pin, keeps
// the definition withheld, and remembers it so it is not offered again.
// The answer is the entry as it is now (with a new id).
func handlePin(w http.ResponseWriter, r *http.Request) error {
	id, verb, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, adminPinsPath+"/"), "/")
	if !ok || id == "" || (verb != "approve" && verb != "reject") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: errors.New("no such route; use POST /mcp_proxy/pins/<id>/approve or /reject")}
	}
	if err := mcphttp.AllowMethods(w, r, http.MethodPost); err != nil {
		return err
	}
	for _, b := range mcpstate.PinBookList() {
		if !b.Has(id) {
			continue
		}
		e, err := b.Decide(r.Context(), id, verb == "approve")
		switch {
		case errors.Is(err, pins.ErrUnknown):
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q: %v", id, err)}
		case errors.Is(err, pins.ErrNothingPending):
			return caddy.APIError{HTTPStatus: http.StatusConflict, Err: fmt.Errorf("%q: %v", id, err)}
		case err != nil:
			return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("%s %q: the storage: %v", verb, id, err)}
		}
		return writeJSON(w, http.StatusOK, e)
	}
	return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("%q: %v", id, pins.ErrUnknown)}
}
