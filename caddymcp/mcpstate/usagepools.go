package caddymcp

import (
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream/balance"
	"github.com/caddy-mcp/caddy-mcp/upstream/stdio"
)

// State that must survive configuration reloads lives in usage pools, keyed
// by what defines it, and is destroyed when the last configuration using it
// is cleaned up (see reverseproxy's hosts.go for the precedent).
var (
	// stdioPools holds *stdioEntry values keyed by poolKey.
	stdioPools = caddy.NewUsagePool()
	// sessionStores holds *storeEntry values keyed by endpoint name.
	sessionStores = caddy.NewUsagePool()
)

// stdioEntry is a process pool and the upstream that uses it.
type stdioEntry struct {
	pool     *pool.Pool
	upstream *stdio.Upstream
	endpoint string // the store key of the endpoint it serves
	name     string // the upstream's name in the endpoint
	command  string // the executable's base name, for the admin API
}

// Destruct stops the spares and the processes shared by stateless
// clients; processes still held by sessions run on until their sessions end
// (a drain), then the pool is done.
func (e *stdioEntry) Destruct() error {
	e.upstream.Close() // the processes shared by 2026-07-28 clients
	e.pool.Close()
	if caddy.Exiting() {
		// Caddy is about to exit: the stop sequences running in the
		// background would die with it and leave a server that ignores
		// EOF running. Wait for them, as long as a full sequence takes.
		done := make(chan struct{})
		go func() { e.pool.Wait(); e.upstream.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2*e.pool.Limits().StopTimeout + time.Second):
		}
	}
	return nil
}

// storeEntry is an endpoint's session store.
type storeEntry struct {
	store *front.Store
	// upstreams describe the endpoint's upstreams for the admin API and
	// the metrics, as the configuration loaded last set them.
	upstreams atomic.Pointer[[]upstreamDescription]
	// calls are the endpoint's recent tool calls (calls.go), kept across
	// the reloads that keep the endpoint.
	calls *callLog
}

// upstreamDescription is what the admin API shows of one upstream.
type upstreamDescription struct {
	name    string
	kind    string
	address string          // scheme://host:port, or the executable's name
	member  *balance.Member // its health
	pool    *stdioEntry     // a stdio upstream's processes
}

// Destruct ends every session left when no configuration serves the
// endpoint any more.
func (e *storeEntry) Destruct() error {
	e.store.Close("the MCP endpoint was removed from the configuration")
	return nil
}
