package main

import (
	"context"
	"fmt"
	neturl "net/url"
	"slices"
	"time"
)

// startupResult is the time to first response for new sessions: from
// sending initialize to holding its result, one new session at a time
// (DELETE after each).
type startupResult struct {
	Label               string
	Path                string // the endpoint's URL path
	Sessions            int
	Gap                 time.Duration // between two sessions
	Mean, P50, Min, Max time.Duration
	Errors              int
	ErrorSamples        []string
}

// The gaps between two new sessions, long enough for a warm pool to have its
// next spare started and loaded: the echo server starts in a few
// milliseconds, server-everything (Node) in about 150-200.
const (
	startupGap           = 100 * time.Millisecond
	startupGapEverything = time.Second
)

// measureStartup opens n sessions one after the other on url, gap apart.
func measureStartup(ctx context.Context, label, url string, n int, gap time.Duration) startupResult {
	r := startupResult{Label: label, Sessions: n, Gap: gap}
	if u, err := neturl.Parse(url); err == nil {
		r.Path = u.Path
	}
	hc := newHTTPClient(4)
	defer hc.CloseIdleConnections()
	c := &rawClient{hc: hc, url: url}
	errs := &errorLog{}
	var took []time.Duration
	// Two untimed sessions first: connections, lazy initialization, a
	// protocol probe.
	for i := -2; i < n && ctx.Err() == nil; i++ {
		sleepCtx(ctx, gap)
		sid, d, err := c.initialize(ctx)
		if err != nil {
			errs.add("%v", err)
			continue
		}
		if i >= 0 {
			took = append(took, d)
		}
		if err := c.end(ctx, sid); err != nil {
			errs.add("DELETE: %v", err)
		}
	}
	r.Errors = int(errs.n.Load())
	r.ErrorSamples = errs.list()
	if len(took) == 0 {
		return r
	}
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	r.Mean = sum / time.Duration(len(took))
	slices.Sort(took)
	r.P50, r.Min, r.Max = percentile(took, 0.5), took[0], took[len(took)-1]
	return r
}

// runStartup measures the echo server directly, caddy-mcp over stdio with
// a warm spare and with a cold spawn, and supergateway (which spawns a
// process per session) when it is among the targets.
func (b *bench) runStartup(ctx context.Context) ([]startupResult, error) {
	n := b.cfg.startup
	var out []startupResult

	if b.wants(targetEcho) {
		rt, err := startEchoTarget(ctx, b)
		if err != nil {
			return out, err
		}
		out = append(out, measureStartup(ctx, "echo server, direct (no process to start)", rt.URL, n, startupGap))
		rt.stop()
	}

	site := fmt.Sprintf(`	mcp_proxy /warm {
		name bench-warm
		stdio %[1]s {
			warm 1
			max_processes 4
		}
	}
	mcp_proxy /cold {
		name bench-cold
		stdio %[1]s {
			warm 0
			max_processes 4
		}
	}
`, caddyQuote(b.echoBin))
	se, seMissing := b.nodeScript("@modelcontextprotocol", "server-everything", "dist", "index.js")
	if se != "" {
		// The Node server most operators would start with npx: its cold
		// start is what warm spares exist for.
		site += fmt.Sprintf(`	mcp_proxy /warm-everything {
		name bench-warm-everything
		stdio %[1]s %[2]s stdio {
			warm 1
			max_processes 4
		}
	}
	mcp_proxy /cold-everything {
		name bench-cold-everything
		stdio %[1]s %[2]s stdio {
			warm 0
			max_processes 4
		}
	}
`, caddyQuote(b.cfg.node), caddyQuote(se))
	}
	c, err := b.startCaddy(ctx, "caddy-mcp-startup", site)
	if err != nil {
		return out, err
	}
	out = append(out,
		measureStartup(ctx, "caddy-mcp → stdio echo server, warm 1 (a spare is ready)", c.url("/warm"), n, startupGap),
		measureStartup(ctx, "caddy-mcp → stdio echo server, warm 0 (cold spawn)", c.url("/cold"), n, startupGap))
	if se != "" {
		// Fewer sessions: each waits a second for the spare to load.
		ne := max(1, min(n, 10))
		out = append(out,
			measureStartup(ctx, "caddy-mcp → stdio server-everything (Node), warm 1", c.url("/warm-everything"), ne, startupGapEverything),
			measureStartup(ctx, "caddy-mcp → stdio server-everything (Node), warm 0 (cold spawn)", c.url("/cold-everything"), ne, startupGapEverything))
	} else {
		b.logf("time to first response: server-everything left out (%s)", seMissing)
	}
	c.p.stop(10 * time.Second)

	if b.wants(targetSG) {
		rt, err := startSupergatewayTarget(ctx, b)
		if err != nil {
			return out, err
		}
		out = append(out, measureStartup(ctx, "supergateway → stdio (spawns `sh -c` per session)", rt.URL, n, startupGap))
		rt.stop()
	}
	return out, nil
}
