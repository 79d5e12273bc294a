package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// adminCallsPath serves each endpoint's recent tool calls and their rates.
const adminCallsPath = "/mcp_proxy/calls"

// handleCalls serves GET /mcp_proxy/calls[?endpoint=<name>][&limit=<n>].
func handleCalls(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := mcpstate.CallLogSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > mcpstate.CallLogSize {
			return caddy.APIError{HTTPStatus: http.StatusBadRequest,
				Err: fmt.Errorf("limit must be a number from 1 to %d, got %q", mcpstate.CallLogSize, s)}
		}
		limit = n
	}
	stores := mcpstate.StoreEntries()
	names := make([]string, 0, len(stores))
	for name := range stores {
		names = append(names, name)
	}
	if want, ok := q["endpoint"]; ok {
		if len(want) != 1 || stores[want[0]] == nil {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no endpoint %q", strings.Join(want, ","))}
		}
		names = want
	}
	slices.Sort(names)
	now := time.Now()
	out := struct {
		Endpoints []mcpstate.EndpointCalls `json:"endpoints"`
	}{Endpoints: []mcpstate.EndpointCalls{}}
	for _, name := range names {
		out.Endpoints = append(out.Endpoints, stores[name].Calls.View(name, limit, now))
	}
	return writeJSON(w, http.StatusOK, out)
}
