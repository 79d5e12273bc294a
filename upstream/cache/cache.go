// Package cache keeps what an MCP server marks shareable — a result of
// tools/list, prompts/list, resources/list, resources/templates/list,
// resources/read or server/discover with cacheScope "public" and a
// positive ttlMs (2026-07-28, server/utilities/caching) — and answers the
// same request from it until the ttl ends or the server says the list or
// the resource changed.
//
// It sits below the pipeline, as an upstream.Stateless in front of the
// endpoint's upstream (Cache.Upstream): a cached answer reaches the
// pipeline as the upstream's would, with Message.Cached set, so filters,
// rules, per-user views, taps and tapes see it like any other. A result
// marked "private", one with no cacheScope, a ttlMs of 0, an error, an
// answer the gateway made up and a multi-round-trip or task result are
// never kept.
package cache

import (
	"container/list"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Defaults of Config.
const (
	// DefaultMaxEntries bounds the entries of one endpoint's cache.
	DefaultMaxEntries = 1024
	// DefaultMaxBytes bounds the bytes (keys and results) of one
	// endpoint's cache; a result larger than an eighth of it is not kept.
	DefaultMaxBytes = 16 << 20
	// DefaultMaxTTL caps how long an entry is served, whatever ttlMs the
	// server gave.
	DefaultMaxTTL = time.Hour
)

// Outcome is what the cache did, as counted (Config.Count) and logged.
type Outcome string

// The outcomes.
const (
	// Hit: a request answered from the cache.
	Hit Outcome = "hit"
	// Miss: a cacheable request that went to the upstream.
	Miss Outcome = "miss"
	// Store: an answer kept.
	Store Outcome = "store"
	// Invalidate: entries dropped because the server said they changed.
	Invalidate Outcome = "invalidate"
)

// Config configures a Cache.
type Config struct {
	// MaxEntries and MaxBytes bound the cache (0: the defaults); the least
	// recently used entries go first.
	MaxEntries int
	MaxBytes   int64
	// MaxTTL caps an entry's life (0: DefaultMaxTTL).
	MaxTTL time.Duration
	// Count is told each outcome (a metric); nil: nobody.
	Count func(Outcome)
	// Logger gets a debug line per hit, store and invalidation; nil: none.
	Logger *zap.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Cache is one endpoint's cache. Its entries are keyed by server (the
// member or group an Upstream serves for), method and params.
type Cache struct {
	cfg Config

	mu      sync.Mutex
	entries map[string]*list.Element // of *entry
	lru     *list.List               // front: most recently used
	bytes   int64
	gen     uint64 // bumped by each invalidation
}

// entry is one kept answer.
type entry struct {
	key     string
	server  string
	method  string
	uri     string // of resources/read
	result  json.RawMessage
	expires time.Time
	size    int64
}

// New returns an empty Cache.
func New(cfg Config) *Cache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Cache{cfg: cfg, entries: make(map[string]*list.Element), lru: list.New()}
}

// Len returns the number of entries and their bytes.
func (c *Cache) Len() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

func (c *Cache) count(o Outcome) {
	if c.cfg.Count != nil {
		c.cfg.Count(o)
	}
}

// get returns the live result kept under key.
func (c *Cache) get(key string) (json.RawMessage, bool) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.result, true
}

// generation counts invalidations: an answer to a request made before one
// may predate the change, and is not kept.
func (c *Cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps e unless an invalidation came since gen or e is too
// large, making room by dropping the least recently used entries.
func (c *Cache) put(e *entry, gen uint64) bool {
	e.size = int64(len(e.key) + len(e.result))
	if e.size > c.cfg.MaxBytes/8 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	if old, ok := c.entries[e.key]; ok {
		c.remove(old)
	}
	for c.lru.Len() >= c.cfg.MaxEntries || c.bytes+e.size > c.cfg.MaxBytes {
		c.remove(c.lru.Back())
	}
	c.entries[e.key] = c.lru.PushFront(e)
	c.bytes += e.size
	return true
}

// remove drops el; c.mu is held.
func (c *Cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// invalidated are the methods whose results a change notification makes
// stale.
var invalidated = map[string][]string{
	"notifications/tools/list_changed":     {"tools/list"},
	"notifications/prompts/list_changed":   {"prompts/list"},
	"notifications/resources/list_changed": {"resources/list", "resources/templates/list"},
	"notifications/resources/updated":      {"resources/read"},
}

// Heard drops what notification m, which server sent, says changed: the
// lists a list_changed names (every page), or the resource a
// resources/updated names. Other messages change nothing. server "" means
// every server of the endpoint (a session's upstream, which has no server
// key of the cache's).
func (c *Cache) Heard(m *pipeline.Message, server string) {
	methods, ok := invalidated[m.Method]
	if !ok || !m.IsNotification() {
		return
	}
	var uri string
	if m.Method == "notifications/resources/updated" {
		var p struct {
			URI string `json:"uri"`
		}
		_ = json.Unmarshal(m.Params, &p)
		uri = p.URI
	}
	c.mu.Lock()
	dropped := 0
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*entry)
		if (server == "" || e.server == server) && matches(methods, e, uri) {
			c.remove(el)
			dropped++
		}
		el = next
	}
	c.gen++
	c.mu.Unlock()
	c.count(Invalidate)
	if ce := c.cfg.Logger.Check(zap.DebugLevel, "cache invalidated"); ce != nil {
		ce.Write(zap.String("notification", m.Method), zap.String("server", server), zap.Int("dropped", dropped))
	}
}

// matches reports whether e answers one of methods (and, for a resource
// update, reads uri).
func matches(methods []string, e *entry, uri string) bool {
	for _, m := range methods {
		if e.method == m && (m != "resources/read" || e.uri == uri) {
			return true
		}
	}
	return false
}
