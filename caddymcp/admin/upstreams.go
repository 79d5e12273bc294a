package admin

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
)

// listUpstreams describes the upstreams of every endpoint, as its
// configuration names them, plus the stdio pools of earlier configurations
// that still serve sessions (a reload changed the command).
func listUpstreams() []adminUpstream {
	stores := mcpstate.StoreEntries()
	now := time.Now()
	var out []adminUpstream
	shown := make(map[*mcpstate.StdioEntry]bool)
	for endpoint, e := range stores {
		descs := e.Upstreams.Load()
		if descs == nil {
			continue
		}
		for _, d := range *descs {
			u := adminUpstream{Endpoint: endpoint, Name: d.Name, Server: d.Server, Kind: d.Kind, Address: d.Address, Evicted: e.Store.Evicted()}
			u.Health = newAdminHealth(d.Member, now)
			if len(*descs) == 1 {
				u.Sessions = e.Store.Len()
			} else if d.Member != nil {
				u.Sessions = d.Member.Sessions()
			}
			if d.Pool != nil {
				u.Processes = newAdminProcesses(d.Pool)
				shown[d.Pool] = true
			}
			out = append(out, u)
		}
	}
	mcpstate.StdioPools.Range(func(_, val any) bool {
		if p, ok := val.(*mcpstate.StdioEntry); ok && !shown[p] {
			out = append(out, adminUpstream{Endpoint: p.Endpoint, Name: p.Name, Kind: mcpstate.KindStdio, Address: p.Command,
				Processes: newAdminProcesses(p)})
		}
		return true
	})
	slices.SortFunc(out, func(a, b adminUpstream) int {
		return cmp.Or(strings.Compare(a.Endpoint, b.Endpoint), strings.Compare(a.Name, b.Name), strings.Compare(a.Address, b.Address))
	})
	return out
}

func newAdminProcesses(p *mcpstate.StdioEntry) *adminProcesses {
	st := p.Pool.Stats()
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

// exitsByCause names the pool's exit counts by cause.
func exitsByCause(st pool.Stats) map[string]int {
	m := make(map[string]int, len(st.Exits))
	for c, n := range st.Exits {
		m[pool.ExitCause(c).String()] = n
	}
	return m
}
