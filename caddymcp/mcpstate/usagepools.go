package mcpstate

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
	// StdioPools holds *StdioEntry values keyed by poolKey.
	StdioPools = caddy.NewUsagePool()
	// SessionStores holds *StoreEntry values keyed by endpoint name.
	SessionStores = caddy.NewUsagePool()
)

// StdioEntry is a process pool and the upstream that uses it.
type StdioEntry struct {
	Pool     *pool.Pool
	Upstream *stdio.Upstream
	Endpoint string // the store key of the endpoint it serves
	Name     string // the upstream's name in the endpoint
	Command  string // the executable's base name, for the admin API
}

// Destruct stops the spares and the processes shared by stateless
// clients; processes still held by sessions run on until their sessions end
// (a drain), then the pool is done.
func (e *StdioEntry) Destruct() error {
	e.Upstream.Close() // the processes shared by 2026-07-28 clients
	e.Pool.Close()
	if caddy.Exiting() {
		// Caddy is about to exit: the stop sequences running in the
		// background would die with it and leave a server that ignores
		// EOF running. Wait for them, as long as a full sequence takes.
		done := make(chan struct{})
		go func() { e.Pool.Wait(); e.Upstream.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2*e.Pool.Limits().StopTimeout + time.Second):
		}
	}
	return nil
}

// StoreEntry is an endpoint's session store.
type StoreEntry struct {
	Store *front.Store
	// Upstreams describe the endpoint's upstreams for the admin API and
	// the metrics, as the configuration loaded last set them.
	Upstreams atomic.Pointer[[]UpstreamDescription]
	// Calls are the endpoint's recent tool calls (calls.go), kept across
	// the reloads that keep the endpoint.
	Calls *CallLog
	// NodeURL is the endpoint's cluster node_url as the configuration
	// loaded last set it, placeholders resolved ("" without one): the
	// admin API names the instance by it.
	NodeURL atomic.Pointer[string]
}

// UpstreamDescription is what the admin API shows of one upstream.
type UpstreamDescription struct {
	Name    string
	Server  string // the federated server it is a replica of ("" without federation)
	Kind    string
	Address string          // scheme://host:port, or the executable's name
	Member  *balance.Member // its health
	Pool    *StdioEntry     // a stdio upstream's processes
}

// Destruct ends every session left when no configuration serves the
// endpoint any more.
func (e *StoreEntry) Destruct() error {
	e.Store.Close("the MCP endpoint was removed from the configuration")
	return nil
}

// StoreEntries returns the session stores by endpoint name. The usage
// pool's lock is held only while the entries are copied.
func StoreEntries() map[string]*StoreEntry {
	stores := make(map[string]*StoreEntry)
	SessionStores.Range(func(key, val any) bool {
		name, _ := key.(string)
		if e, ok := val.(*StoreEntry); ok {
			stores[name] = e
		}
		return true
	})
	return stores
}

// Upstream kinds of the admin API.
const (
	KindStdio  = "stdio"
	KindHTTP   = "http"
	KindReplay = "replay"
)
