package caddytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// adminSession and adminUpstream are the fields of the admin API's answers
// these tests read (the schema is caddymcp/admin/schema.go).
type adminSession struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	User     string `json:"user"`
	Client   string `json:"client"`
	Upstream struct {
		Kind string `json:"kind"`
		PID  int    `json:"pid"`
	} `json:"upstream"`
	ProtocolVersion string    `json:"protocol_version"`
	Transport       string    `json:"transport"`
	Created         time.Time `json:"created"`
	LastActive      time.Time `json:"last_active"`
	InFlight        int       `json:"in_flight"`
	OpenStreams     int       `json:"open_streams"`
}

type adminSessionList struct {
	Sessions   []adminSession `json:"sessions"`
	NextCursor string         `json:"next_cursor"`
}

type adminUpstream struct {
	Endpoint  string `json:"endpoint"`
	Kind      string `json:"kind"`
	Address   string `json:"address"`
	Sessions  int    `json:"sessions"`
	Evicted   int64  `json:"evicted"`
	Processes *struct {
		Live          int            `json:"live"`
		Spares        int            `json:"spares"`
		Warming       int            `json:"warming"`
		Assigned      int            `json:"assigned"`
		Stopping      int            `json:"stopping"`
		Waiting       int            `json:"waiting"`
		Spawned       int            `json:"spawned"`
		SpawnFailures int            `json:"spawn_failures"`
		Crashed       int            `json:"crashed"`
		Exits         map[string]int `json:"exits"`
	} `json:"processes"`
}

// adminEndpointSite serves the everything-server over stdio at /mcp under
// the endpoint name "admin-test".
func adminEndpointSite(command string) string {
	return fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		name admin-test
		stdio %s
	}
}
`, caddyfileQuote(command))
}

// adminStdioUpstream returns the admin-test endpoint's stdio upstream.
func adminStdioUpstream(t *testing.T) adminUpstream {
	t.Helper()
	var got struct {
		Upstreams []adminUpstream `json:"upstreams"`
	}
	adminGet(t, "/mcp_proxy/upstreams", &got)
	for _, u := range got.Upstreams {
		if u.Endpoint == "admin-test" && u.Processes != nil {
			return u
		}
	}
	t.Fatalf("no stdio upstream of endpoint admin-test in %+v", got.Upstreams)
	return adminUpstream{}
}

// TestAdminSessions: two go-sdk sessions over stdio, one listening on its
// GET stream, show in the admin API with the ids their clients know and
// the processes that serve them; the pool figures match the processes the
// test sees; DELETE ends one — its client's next call gets
// mcp.ErrSessionMissing and its process exits — while the other goes on.
func TestAdminSessions(t *testing.T) {
	requireIntegration(t)
	server := buildEverythingServer(t)
	url := startProxy(t, adminEndpointSite(server)) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	quiet, err := connectAbandonable(ctx, url) // DisableStandaloneSSE
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	streamOpen := &getWatcher{base: http.DefaultTransport.(*http.Transport).Clone(), open: make(chan struct{})}
	listening, err := mcp.NewClient(&mcp.Implementation{Name: "caddytest-admin", Version: "0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: streamOpen}},
		&mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer listening.Close()
	select {
	case <-streamOpen.open:
	case <-ctx.Done():
		t.Fatal("the listening client never opened its GET stream")
	}
	for _, cs := range []*mcp.ClientSession{quiet, listening} {
		if err := callSimpleText(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}

	// A POST's handler counts as an open stream until it returns, which can
	// be a moment after the client read the answer: wait for the calls'
	// streams to close (bounded), so only the GET stream is left open.
	var list adminSessionList
	poll(5*time.Second, func() bool {
		adminGet(t, "/mcp_proxy/sessions", &list)
		open := 0
		for _, s := range list.Sessions {
			open += s.OpenStreams
		}
		return open <= 1
	})
	if len(list.Sessions) != 2 || list.NextCursor != "" {
		t.Fatalf("GET /mcp_proxy/sessions = %+v, want the 2 sessions and no next_cursor", list)
	}
	byID := map[string]adminSession{}
	for _, s := range list.Sessions {
		byID[s.ID] = s
	}
	children := childPIDs(t)
	for _, c := range []struct {
		cs      *mcp.ClientSession
		streams int
	}{{quiet, 0}, {listening, 1}} {
		s, ok := byID[c.cs.ID()]
		if !ok {
			t.Fatalf("session %s of a client is not listed: %+v", c.cs.ID(), list.Sessions)
		}
		switch {
		case s.Endpoint != "admin-test", s.Upstream.Kind != "stdio", s.ProtocolVersion != "2025-11-25",
			s.Transport != "streamable_http", s.Client != "127.0.0.1", s.User != "", s.InFlight != 0:
			t.Errorf("session %s = %+v", s.ID, s)
		case s.OpenStreams != c.streams:
			t.Errorf("session %s: open_streams = %d, want %d", s.ID, s.OpenStreams, c.streams)
		case !slices.Contains(children, s.Upstream.PID):
			t.Errorf("session %s: pid %d is not a live child process (children: %v)", s.ID, s.Upstream.PID, children)
		case s.Created.IsZero() || s.LastActive.Before(s.Created) || time.Since(s.Created) > time.Minute:
			t.Errorf("session %s: created %v, last active %v", s.ID, s.Created, s.LastActive)
		}
	}
	if a, b := byID[quiet.ID()].Upstream.PID, byID[listening.ID()].Upstream.PID; a == b {
		t.Errorf("both sessions report pid %d", a)
	}

	// The pool's figures, once its spare has settled, are the processes
	// this binary has as children.
	var u adminUpstream
	if !poll(10*time.Second, func() bool {
		u = adminStdioUpstream(t)
		p := u.Processes
		return p.Warming == 0 && p.Stopping == 0 && p.Live == len(childPIDs(t))
	}) {
		t.Fatalf("the pool's figures never matched the %d child processes: %+v", len(childPIDs(t)), *u.Processes)
	}
	if p := u.Processes; u.Kind != "stdio" || u.Sessions != 2 || u.Evicted != 0 || p.Assigned != 2 || p.Live != p.Assigned+p.Spares ||
		p.Waiting != 0 || p.Spawned < p.Live || p.SpawnFailures != 0 || p.Crashed != 0 ||
		len(p.Exits) != 5 || p.Exits["crashed"] != 0 {
		t.Errorf("upstream = %+v, processes %+v", u, *p)
	}
	if want := filepath.Base(server); u.Address != want {
		t.Errorf("address = %q, want the executable's base name %q", u.Address, want)
	}

	var one adminSession
	adminGet(t, "/mcp_proxy/sessions/"+quiet.ID(), &one)
	if one != byID[quiet.ID()] {
		t.Errorf("GET /mcp_proxy/sessions/%s = %+v", quiet.ID(), one)
	}

	pid := byID[quiet.ID()].Upstream.PID
	releasedBefore := adminStdioUpstream(t).Processes.Exits["released"]
	if status, body := adminDo(t, http.MethodDelete, "/mcp_proxy/sessions/"+quiet.ID()); status != http.StatusNoContent {
		t.Fatalf("DELETE: status %d: %s", status, body)
	}
	if err := callSimpleText(ctx, quiet); !errors.Is(err, mcp.ErrSessionMissing) {
		t.Errorf("the deleted session's next call = %v, want mcp.ErrSessionMissing", err)
	}
	if err := callSimpleText(ctx, listening); err != nil {
		t.Errorf("the other session: %v", err)
	}
	if !poll(15*time.Second, func() bool { return !slices.Contains(childPIDs(t), pid) }) {
		t.Fatalf("the deleted session's process %d still runs", pid)
	}
	if status, body := adminDo(t, http.MethodGet, "/mcp_proxy/sessions/"+quiet.ID()); status != http.StatusNotFound {
		t.Errorf("GET a deleted session: status %d: %s", status, body)
	}
	adminGet(t, "/mcp_proxy/sessions", &list)
	if len(list.Sessions) != 1 || list.Sessions[0].ID != listening.ID() {
		t.Errorf("after DELETE: %+v, want only %s", list.Sessions, listening.ID())
	}
	if u := adminStdioUpstream(t); u.Sessions != 1 || u.Processes.Assigned != 1 {
		t.Errorf("after DELETE: upstream %+v, processes %+v, want 1 session on 1 assigned process", u, *u.Processes)
	}
	// Its process counts as an exit the gateway asked for, once reaped.
	var exits map[string]int
	if !poll(10*time.Second, func() bool {
		exits = adminStdioUpstream(t).Processes.Exits
		return exits["released"] == releasedBefore+1 && exits["crashed"] == 0
	}) {
		t.Fatalf("after DELETE: exits %v, want released %d (one more than before) and none crashed", exits, releasedBefore+1)
	}
}

// TestAdminQueries: paging, filters and what a wrong request gets.
func TestAdminQueries(t *testing.T) {
	requireIntegration(t)
	url := startProxy(t, adminEndpointSite(buildEverythingServer(t))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ids []string
	for range 3 {
		cs, err := connectAbandonable(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		ids = append(ids, cs.ID())
	}
	slices.Sort(ids)

	// Three sessions, one per page, in id order.
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		var list adminSessionList
		adminGet(t, "/mcp_proxy/sessions?limit=1&cursor="+cursor, &list)
		if len(list.Sessions) != 1 {
			t.Fatalf("page %d: %+v, want 1 session", page, list)
		}
		seen = append(seen, list.Sessions[0].ID)
		if list.NextCursor == "" {
			break
		}
		if page > len(ids) {
			t.Fatalf("more pages than sessions: %v", seen)
		}
		cursor = list.NextCursor
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("pages = %v, want %v", seen, ids)
	}

	for _, c := range []struct {
		path string
		want int
	}{
		{"/mcp_proxy/sessions?endpoint=admin-test", 3},
		{"/mcp_proxy/sessions?endpoint=other", 0},
		{"/mcp_proxy/sessions?user=nobody", 0},
	} {
		var list adminSessionList
		adminGet(t, c.path, &list)
		if len(list.Sessions) != c.want {
			t.Errorf("GET %s: %d sessions, want %d", c.path, len(list.Sessions), c.want)
		}
	}

	for _, c := range []struct {
		method, path string
		status       int
		says         string
	}{
		{http.MethodPost, "/mcp_proxy/sessions", http.StatusMethodNotAllowed, "method POST not allowed"},
		{http.MethodDelete, "/mcp_proxy/sessions", http.StatusMethodNotAllowed, "method DELETE not allowed"},
		{http.MethodPut, "/mcp_proxy/sessions/" + ids[0], http.StatusMethodNotAllowed, "use GET or DELETE"},
		{http.MethodPost, "/mcp_proxy/upstreams", http.StatusMethodNotAllowed, "use GET"},
		{http.MethodGet, "/mcp_proxy/sessions/no-such-session", http.StatusNotFound, "no live session"},
		{http.MethodDelete, "/mcp_proxy/sessions/no-such-session", http.StatusNotFound, "no live session"},
		{http.MethodGet, "/mcp_proxy/sessions?limit=0", http.StatusBadRequest, "limit must be a positive integer"},
		{http.MethodGet, "/mcp_proxy/sessions?limit=ten", http.StatusBadRequest, "limit must be a positive integer"},
	} {
		status, body := adminDo(t, c.method, c.path)
		if status != c.status || !strings.Contains(string(body), c.says) {
			t.Errorf("%s %s: %d %s, want %d saying %q", c.method, c.path, status, body, c.status, c.says)
		}
	}
	// None of the wrong requests ended anything.
	var list adminSessionList
	adminGet(t, "/mcp_proxy/sessions", &list)
	if len(list.Sessions) != 3 {
		t.Errorf("after the wrong requests: %d sessions, want 3", len(list.Sessions))
	}
}
