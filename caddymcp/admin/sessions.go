package admin

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// Page sizes of GET /mcp_proxy/sessions.
const (
	defaultSessionPage = 100
	maxSessionPage     = 1000
)

// sessionQuery is the query of GET /mcp_proxy/sessions.
type sessionQuery struct {
	endpoint string // "" for every endpoint
	user     string // "" for every user
	cursor   string // sessions after this one; "" from the first
	limit    int
}

// parseSessionQuery reads endpoint, user, cursor and limit. A limit above
// maxSessionPage is lowered to it; one that is not a positive integer is
// an error.
func parseSessionQuery(v url.Values) (sessionQuery, error) {
	q := sessionQuery{endpoint: v.Get("endpoint"), user: v.Get("user"), cursor: v.Get("cursor"), limit: defaultSessionPage}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit must be a positive integer (at most %d), got %q", maxSessionPage, s)
		}
		q.limit = min(n, maxSessionPage)
	}
	return q, nil
}

// endpointSession is a session with the name of its endpoint.
type endpointSession struct {
	endpoint string
	info     front.SessionInfo
}

// allSessions snapshots the sessions of every endpoint, or of the one
// named.
func allSessions(endpoint string) []endpointSession {
	var all []endpointSession
	for name, e := range mcpstate.StoreEntries() {
		if endpoint != "" && name != endpoint {
			continue
		}
		for _, info := range e.Store.Sessions() {
			all = append(all, endpointSession{endpoint: name, info: info})
		}
	}
	return all
}

// pageSessions filters all by user, orders it by id and returns the page
// after q.cursor. The cursor is the last id of the previous page: sessions
// created or ended between pages shift nothing, as ids are ordered, not
// counted.
func pageSessions(all []endpointSession, q sessionQuery) adminSessionList {
	all = slices.DeleteFunc(all, func(s endpointSession) bool {
		return (q.user != "" && s.info.User != q.user) || (q.cursor != "" && s.info.ID <= q.cursor)
	})
	slices.SortFunc(all, func(a, b endpointSession) int { return strings.Compare(a.info.ID, b.info.ID) })
	out := adminSessionList{Sessions: make([]adminSession, 0, min(len(all), q.limit))}
	for _, s := range all[:min(len(all), q.limit)] {
		out.Sessions = append(out.Sessions, newAdminSession(s.endpoint, s.info))
	}
	if len(all) > q.limit {
		out.NextCursor = out.Sessions[len(out.Sessions)-1].ID
	}
	return out
}

// findSession looks the live session id up in every store; store is nil
// if there is none.
func findSession(id string) (info front.SessionInfo, endpoint string, store *front.Store) {
	for name, e := range mcpstate.StoreEntries() {
		if info, ok := e.Store.Session(id); ok {
			return info, name, e.Store
		}
	}
	return front.SessionInfo{}, "", nil
}
