package admin

import (
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/replay"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// The admin API's JSON schema: snake_case names, times in RFC 3339 (UTC,
// with fractional seconds). Nothing in it is secret: no upstream URL path,
// query or user info, no command arguments, no environment.

// adminSessionList is the answer of GET /mcp_proxy/sessions.
type adminSessionList struct {
	// Sessions are ordered by id.
	Sessions []adminSession `json:"sessions"`
	// NextCursor, when set, is the cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// adminSession is one session (also the answer of GET /mcp_proxy/sessions/<id>).
type adminSession struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	// User is the authenticated user ("" when none).
	User string `json:"user"`
	// Client is what max_sessions_per_client counts the session under:
	// the user when authenticated, else the client's IP.
	Client   string               `json:"client"`
	Upstream adminSessionUpstream `json:"upstream"`
	// Servers are, on an endpoint of several MCP servers (federation),
	// the session's servers, each with the replica serving it there;
	// Upstream's kind is then "federation".
	Servers         []adminSessionServer `json:"servers,omitempty"`
	ProtocolVersion string               `json:"protocol_version"`
	// Transport is "streamable_http", or "http_sse" for the 2024-11-05 transport.
	Transport   string    `json:"transport"`
	Created     time.Time `json:"created"`
	LastActive  time.Time `json:"last_active"`
	InFlight    int       `json:"in_flight"`
	OpenStreams int       `json:"open_streams"`
}

// adminSessionUpstream is the upstream a session is served by.
type adminSessionUpstream struct {
	// Name is the upstream's name in the endpoint.
	Name string `json:"name,omitempty"`
	// Kind is "stdio", "http" or "replay" ("federation" for a session on
	// several servers, whose servers say the rest).
	Kind string `json:"kind"`
	// PID is the stdio process of the session (absent for http, and while
	// the process is being acquired).
	PID int `json:"pid,omitempty"`
}

// adminSessionServer is one server of a federated session.
type adminSessionServer struct {
	// Name is the server's configured name.
	Name string `json:"name"`
	// Upstream is the replica serving the session there: named
	// <server>/<replica> when the server has several.
	Upstream adminSessionUpstream `json:"upstream"`
	// Down says the server is not in the session now (it failed, or has
	// not answered yet).
	Down bool `json:"down,omitempty"`
}

// adminUpstreams is the answer of GET /mcp_proxy/upstreams.
type adminUpstreams struct {
	// Upstreams are ordered by endpoint, then name.
	Upstreams []adminUpstream `json:"upstreams"`
}

// adminUpstream is one upstream of an endpoint. An endpoint whose stdio
// command changed on a reload shows its old pool too while sessions still
// run on it.
type adminUpstream struct {
	Endpoint string `json:"endpoint"`
	// Name is the upstream's name: the same in metrics labels and logs;
	// <server>/<replica> on a federated endpoint.
	Name string `json:"name"`
	// Server is the federated server it is a replica of (absent without
	// federation).
	Server string `json:"server,omitempty"`
	// Kind is "stdio", "http" or "replay".
	Kind string `json:"kind"`
	// Address is scheme://host:port for http, the executable's base name for stdio.
	Address string `json:"address"`
	// Sessions are the live sessions this upstream serves (for an
	// endpoint of one upstream, all of the endpoint's). Evicted is the
	// endpoint's: the idle sessions ended to make room for new ones since
	// it was made.
	Sessions int   `json:"sessions"`
	Evicted  int64 `json:"evicted"`
	// Health is whether the upstream takes new work, and why not.
	Health adminHealth `json:"health"`
	// Processes is the stdio pool's (absent for http).
	Processes *adminProcesses `json:"processes,omitempty"`
}

// adminHealth is an upstream's health.
type adminHealth struct {
	// Healthy reports whether it takes new sessions and requests now.
	Healthy bool `json:"healthy"`
	// Breaker is its circuit breaker: closed, open or half_open.
	Breaker string `json:"breaker"`
	// Fails counts passive failures within fail_duration; TotalFails all
	// since the upstream was configured.
	Fails      int   `json:"fails"`
	TotalFails int64 `json:"total_fails"`
	// LastCheck is when the last active health check ran (absent: none
	// configured), and LastCheckPassed its outcome; the log has the cause.
	LastCheck       *time.Time `json:"last_check,omitempty"`
	LastCheckPassed bool       `json:"last_check_passed,omitempty"`
}

// adminProcesses are a stdio pool's processes by state and its counters
// since the pool was made.
type adminProcesses struct {
	// Live counts every process holding a slot (the states below but waiting).
	Live     int `json:"live"`
	Spares   int `json:"spares"`
	Warming  int `json:"warming"`
	Assigned int `json:"assigned"`
	Stopping int `json:"stopping"`
	// Waiting counts the new sessions waiting for a process.
	Waiting       int `json:"waiting"`
	Spawned       int `json:"spawned"`
	SpawnFailures int `json:"spawn_failures"`
	ReadyFailures int `json:"ready_failures"`
	Crashed       int `json:"crashed"`
	// Exits counts the processes reaped, by cause (pool.ExitCause names).
	Exits map[string]int `json:"exits"`
}

func newAdminSession(endpoint string, info front.SessionInfo) adminSession {
	s := adminSession{
		ID:              info.ID,
		Endpoint:        endpoint,
		User:            info.User,
		Client:          info.Client,
		Upstream:        adminSessionUpstream{Name: info.UpstreamName, Kind: upstreamKind(info), PID: info.PID},
		ProtocolVersion: info.ProtocolVersion,
		Transport:       "streamable_http",
		Created:         info.Created.UTC(),
		LastActive:      info.LastActive.UTC(),
		InFlight:        info.InFlight,
		OpenStreams:     info.OpenStreams,
	}
	if info.SSE2024 {
		s.Transport = "http_sse"
	}
	if info.Servers != nil {
		s.Upstream.Kind = kindFederation
	}
	s.Servers = newAdminSessionServers(endpoint, info.Servers)
	return s
}

// newAdminSessionServers describes a federated session's servers; a
// server of one replica is shown under that replica's name too.
func newAdminSessionServers(endpoint string, servers []upstream.ServedServer) []adminSessionServer {
	if servers == nil {
		return nil
	}
	var descs []mcpstate.UpstreamDescription
	if e, ok := mcpstate.StoreEntries()[endpoint]; ok {
		if d := e.Upstreams.Load(); d != nil {
			descs = *d
		}
	}
	out := make([]adminSessionServer, len(servers))
	for i, srv := range servers {
		name := srv.Replica
		if name == "" {
			name = soleReplica(descs, srv.Name)
		}
		out[i] = adminSessionServer{Name: srv.Name, Down: srv.Down,
			Upstream: adminSessionUpstream{Name: name, Kind: kindOf(srv.Upstream), PID: srv.PID}}
	}
	return out
}

// soleReplica is the name of server's replica when it has exactly one.
func soleReplica(descs []mcpstate.UpstreamDescription, server string) string {
	name, n := "", 0
	for _, d := range descs {
		if d.Server == server {
			name, n = d.Name, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return name
}

// kindFederation is the upstream kind of a session on several servers.
const kindFederation = "federation"

func upstreamKind(info front.SessionInfo) string { return kindOf(info.Upstream) }

func kindOf(up upstream.Upstream) string {
	switch up.(type) {
	case nil:
		return ""
	case *stdio.Upstream:
		return mcpstate.KindStdio
	case *replay.Replay:
		return mcpstate.KindReplay
	default:
		return mcpstate.KindHTTP
	}
}
