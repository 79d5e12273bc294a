package caddymcp

import (
	"cmp"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pool"
)

// listUpstreams describes the upstream of every endpoint: one entry per
// stdio pool, one for an HTTP upstream.
func listUpstreams() []adminUpstream {
	stores := storeEntries()
	var pools []*stdioEntry
	stdioPools.Range(func(_, val any) bool {
		if e, ok := val.(*stdioEntry); ok {
			pools = append(pools, e)
		}
		return true
	})
	out := make([]adminUpstream, 0, len(stores)+len(pools))
	withPool := make(map[string]bool)
	for _, p := range pools {
		st := p.pool.Stats()
		u := adminUpstream{Endpoint: p.endpoint, Kind: kindStdio, Address: p.command, Processes: &adminProcesses{
			Live: st.Live, Spares: st.Spares, Warming: st.Warming, Assigned: st.Assigned,
			Stopping: st.Stopping, Waiting: st.Waiting,
			Spawned: st.Spawned, SpawnFailures: st.SpawnFailed, Crashed: st.Crashed, Exits: exitsByCause(st),
		}}
		if e := stores[p.endpoint]; e != nil {
			u.Sessions, u.Evicted = e.store.Len(), e.store.Evicted()
		}
		withPool[p.endpoint] = true
		out = append(out, u)
	}
	for name, e := range stores {
		d := e.http.Load()
		if d == nil || withPool[name] {
			continue
		}
		out = append(out, adminUpstream{Endpoint: name, Kind: kindHTTP, Address: d.address,
			Sessions: e.store.Len(), Evicted: e.store.Evicted()})
	}
	slices.SortFunc(out, func(a, b adminUpstream) int {
		return cmp.Or(strings.Compare(a.Endpoint, b.Endpoint), strings.Compare(a.Address, b.Address))
	})
	return out
}

// describe records what the admin API shows of the endpoint's HTTP
// upstream (u nil: a stdio upstream, which its pool describes).
func (e *storeEntry) describe(u *HTTPUpstream) {
	if u == nil {
		e.http.Store(nil)
		return
	}
	e.http.Store(&httpDescription{address: httpAddress(u.URL)})
}

// httpAddress is the scheme, host and port of rawURL, with the scheme's
// default port filled in; the path, query and user info hold secrets as
// often as not and never show. A URL that does not parse shows as "".
func httpAddress(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// commandName is the executable's base name: neither its directory (which
// may name a user) nor its arguments show.
func commandName(command string) string {
	if command == "" {
		return ""
	}
	return filepath.Base(command)
}

// exitsByCause names the pool's exit counts by cause.
func exitsByCause(st pool.Stats) map[string]int {
	m := make(map[string]int, len(st.Exits))
	for c, n := range st.Exits {
		m[pool.ExitCause(c).String()] = n
	}
	return m
}
