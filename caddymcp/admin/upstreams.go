package caddymcp

import (
	"cmp"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// listUpstreams describes the upstreams of every endpoint, as its
// configuration names them, plus the stdio pools of earlier configurations
// that still serve sessions (a reload changed the command).
func listUpstreams() []adminUpstream {
	stores := storeEntries()
	now := time.Now()
	var out []adminUpstream
	shown := make(map[*stdioEntry]bool)
	for endpoint, e := range stores {
		descs := e.upstreams.Load()
		if descs == nil {
			continue
		}
		for _, d := range *descs {
			u := adminUpstream{Endpoint: endpoint, Name: d.name, Kind: d.kind, Address: d.address, Evicted: e.store.Evicted()}
			u.Health = newAdminHealth(d.member, now)
			if len(*descs) == 1 {
				u.Sessions = e.store.Len()
			} else if d.member != nil {
				u.Sessions = d.member.Sessions()
			}
			if d.pool != nil {
				u.Processes = newAdminProcesses(d.pool)
				shown[d.pool] = true
			}
			out = append(out, u)
		}
	}
	stdioPools.Range(func(_, val any) bool {
		if p, ok := val.(*stdioEntry); ok && !shown[p] {
			out = append(out, adminUpstream{Endpoint: p.endpoint, Name: p.name, Kind: kindStdio, Address: p.command,
				Processes: newAdminProcesses(p)})
		}
		return true
	})
	slices.SortFunc(out, func(a, b adminUpstream) int {
		return cmp.Or(strings.Compare(a.Endpoint, b.Endpoint), strings.Compare(a.Name, b.Name), strings.Compare(a.Address, b.Address))
	})
	return out
}

func newAdminProcesses(p *stdioEntry) *adminProcesses {
	st := p.pool.Stats()
	return &adminProcesses{
		Live: st.Live, Spares: st.Spares, Warming: st.Warming, Assigned: st.Assigned,
		Stopping: st.Stopping, Waiting: st.Waiting,
		Spawned: st.Spawned, SpawnFailures: st.SpawnFailed, ReadyFailures: st.ReadyFailed, Crashed: st.Crashed,
		Exits: exitsByCause(st),
	}
}

func newAdminHealth(m *balance.Member, now time.Time) adminHealth {
	if m == nil {
		return adminHealth{Healthy: true, Breaker: "closed"}
	}
	st := m.Status(now)
	h := adminHealth{Healthy: st.Healthy, Breaker: st.Breaker, Fails: st.Fails, TotalFails: st.Total}
	if !st.CheckedAt.IsZero() {
		t := st.CheckedAt.UTC()
		h.LastCheck = &t
		h.LastCheckPassed = st.CheckError == ""
	}
	return h
}

// describe records what the admin API and the metrics show of the
// endpoint's upstreams.
func (e *storeEntry) describe(built []*provisionedUpstream, members []*balance.Member) {
	descs := make([]upstreamDescription, len(built))
	for i, b := range built {
		descs[i] = upstreamDescription{name: b.name, kind: b.kind, address: b.address, pool: b.pool}
		if i < len(members) {
			descs[i].member = members[i]
		}
	}
	e.upstreams.Store(&descs)
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
