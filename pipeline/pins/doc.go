// Package pins pins tool definitions on first use: it records a digest of
// each tool definition a server lists (name, title, description, input and
// output schema, annotations, in a canonical form where key order and
// whitespace do not count) the first time it sees it, and decides what
// happens to a definition that differs from its pin (a drift) or to a tool
// never seen before: pass it, warn, hide it from the client's lists and
// refuse calls to it, or keep listing it and refuse calls to it, until an
// operator approves.
//
// Pins live in a certmagic.Storage (Caddy's configured storage), one
// record per endpoint, server and tool, so that they survive restarts and
// every instance sharing the storage sees the same pins; a Book keeps an
// endpoint's records in memory and reloads them from the storage at an
// interval, so an approval made on one instance reaches the others.
//
// The package is plain Go: the Caddy face (caddymcp) configures a Book,
// gives it the storage and the hooks that log, count and notify, and puts
// its Stage in the endpoint's pipeline.
package pins
