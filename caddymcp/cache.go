package caddymcp

import (
	"time"

	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/upstream/cache"
)

// CacheConfig configures the endpoint's cache of what its servers mark
// public (upstream/cache). It is on by default: a server that answers
// tools/list, prompts/list, resources/list, resources/templates/list,
// resources/read or server/discover with cacheScope "public" and a
// positive ttlMs has that answer served to every 2026-07-28 client for
// the ttl, or until it says the list or resource changed. Each
// configuration load starts with an empty cache.
type CacheConfig struct {
	// Off turns the cache off: every request reaches the upstream.
	Off bool `json:"off,omitempty"`
	// MaxEntries bounds the entries (default 1024).
	MaxEntries int `json:"max_entries,omitempty"`
	// MaxSize bounds the bytes kept (default 16 MiB); an answer larger
	// than an eighth of it is not kept.
	MaxSize int64 `json:"max_size,omitempty"`
	// MaxTTL caps how long an answer is served, whatever ttlMs said
	// (default 1h).
	MaxTTL caddy.Duration `json:"max_ttl,omitempty"`
}

// cacheTotal counts what the endpoints' caches did.
var cacheTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "caddy_mcp", Name: "cache_total",
	Help: "What the cache of results servers mark public did, by endpoint and result (hit: answered from it; miss: a cacheable request sent upstream; store: an answer kept; invalidate: a change notification heard).",
}, []string{"endpoint", "result"})

// useCache gives cfg the endpoint's cache, unless it is off.
func (h *Handler) useCache(cfg *front.Config) {
	if h.Cache != nil && h.Cache.Off {
		return
	}
	c := CacheConfig{}
	if h.Cache != nil {
		c = *h.Cache
	}
	counters := make(map[cache.Outcome]prometheus.Counter, 4)
	for _, o := range []cache.Outcome{cache.Hit, cache.Miss, cache.Store, cache.Invalidate} {
		counters[o] = cacheTotal.WithLabelValues(h.storeKey, string(o))
	}
	cfg.Cache = cache.New(cache.Config{
		MaxEntries: c.MaxEntries, MaxBytes: c.MaxSize, MaxTTL: time.Duration(c.MaxTTL),
		Count:  func(o cache.Outcome) { counters[o].Inc() },
		Logger: h.logger.Named("cache"),
	})
	// One key for the endpoint's upstream or group, by the names the
	// operator wrote; a server of its own (federation) gets its own key.
	names, _ := upstreamNames(h.Upstreams)
	cfg.CacheServer = strings.Join(names, ",")
}

// parseCache parses `cache off` or
//
//	cache {
//	    max_entries <n>
//	    max_size <size>
//	    max_ttl <duration>
//	}
func (h *Handler) parseCache(d *caddyfile.Dispenser) error {
	if h.Cache != nil {
		return d.Err("cache is set twice")
	}
	h.Cache = new(CacheConfig)
	switch args := d.RemainingArgs(); {
	case len(args) == 1 && args[0] == "off":
		h.Cache.Off = true
		if d.NextBlock(d.Nesting()) {
			return d.Err("cache off takes no block")
		}
		return nil
	case len(args) > 0:
		return d.Errf("cache takes `off` or a block, got %q", strings.Join(args, " "))
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "max_entries":
			h.Cache.MaxEntries, err = mcphttp.PositiveIntArg(d)
		case "max_size":
			h.Cache.MaxSize, err = mcphttp.SizeArg(d)
		case "max_ttl":
			h.Cache.MaxTTL, err = mcphttp.DurationArg(d)
		default:
			return d.Errf("unrecognized cache option %q (max_entries, max_size, max_ttl)", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
