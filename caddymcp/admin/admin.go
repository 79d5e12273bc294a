package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI is the admin API module of mcp_proxy: it holds every
// /mcp_proxy/… route of Caddy's admin endpoint (a route registered twice
// makes Caddy panic, so other parts add theirs here). Caddy loads every
// registered admin.api module by itself and makes a fresh instance at each
// config load, so the handlers read package-level state: the session
// stores and process pools, which outlive reloads (usage.go). The JSON
// schema is in schema.go.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.mcp_proxy",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Admin API paths.
const (
	adminSessionsPath  = "/mcp_proxy/sessions"
	adminUpstreamsPath = "/mcp_proxy/upstreams"
)

// Routes returns the module's admin routes.
func (AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: adminSessionsPath, Handler: caddy.AdminHandlerFunc(handleListSessions)},
		{Pattern: adminSessionsPath + "/", Handler: caddy.AdminHandlerFunc(handleSession)},
		{Pattern: adminUpstreamsPath, Handler: caddy.AdminHandlerFunc(handleUpstreams)},
		{Pattern: adminRecordingsPath, Handler: caddy.AdminHandlerFunc(handleRecordings)},      // recordings.go
		{Pattern: adminRecordingsPath + "/", Handler: caddy.AdminHandlerFunc(handleRecording)}, // transcript.go
		{Pattern: adminCallsPath, Handler: caddy.AdminHandlerFunc(handleCalls)},                // calls.go
		{Pattern: adminHeldPath, Handler: caddy.AdminHandlerFunc(handleListHeld)},              // held.go
		{Pattern: adminHeldPath + "/", Handler: caddy.AdminHandlerFunc(handleHeld)},
		{Pattern: adminPinsPath, Handler: caddy.AdminHandlerFunc(handleListPins)}, // pins.go
		{Pattern: adminPinsPath + "/", Handler: caddy.AdminHandlerFunc(handlePin)},
		{Pattern: adminInstancePath, Handler: caddy.AdminHandlerFunc(handleInstance)}, // instance.go
	}
}

// adminEndReason is what a client whose session an operator ended reads
// in the errors answering its requests in flight.
const adminEndReason = "the gateway's operator ended the session"

// handleListSessions serves GET /mcp_proxy/sessions.
func handleListSessions(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	q, err := parseSessionQuery(r.URL.Query())
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	return writeJSON(w, http.StatusOK, pageSessions(allSessions(q.endpoint), q))
}

// handleSession serves GET and DELETE /mcp_proxy/sessions/<id>.
func handleSession(w http.ResponseWriter, r *http.Request) error {
	if id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, adminSessionsPath+"/"), "/record"); ok && id != "" && !strings.Contains(id, "/") {
		return handleSessionRecord(w, r, id) // [tapes] recordings.go
	}
	if err := mcphttp.AllowMethods(w, r, http.MethodGet, http.MethodDelete); err != nil {
		return err
	}
	id := strings.TrimPrefix(r.URL.Path, adminSessionsPath+"/")
	if id == "" || strings.Contains(id, "/") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such route; use /mcp_proxy/sessions/<id>")}
	}
	info, endpoint, store := findSession(id)
	if store == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no live session %q", id)}
	}
	if r.Method == http.MethodDelete {
		if !store.End(id, adminEndReason) {
			// It ended between the look-up and now: it is gone either way,
			// but this call did not end it.
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no live session %q", id)}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return writeJSON(w, http.StatusOK, newAdminSession(endpoint, info))
}

// handleUpstreams serves GET /mcp_proxy/upstreams.
func handleUpstreams(w http.ResponseWriter, r *http.Request) error {
	if err := mcphttp.AllowMethods(w, r, http.MethodGet); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, adminUpstreams{Upstreams: listUpstreams()})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
