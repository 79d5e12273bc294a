// Package federate makes several different MCP servers look like one: a
// Federation is an upstream.Upstream whose sessions open a session on every
// server, answer initialize as the gateway (capabilities merged), merge the
// servers' tools, prompts, resources and resource templates into one list
// each (paginated with the gateway's own cursor), and route each call to
// the server that owns the name, with that server's own name.
//
// Each server is an upstream.Upstream of its own (in the gateway, a
// balance group of its replicas). Client-visible names are made by one
// pair of functions (names.go) so that a name means the same server and
// tool in every session, reload and instance. The package imports pipeline,
// pipeline/glob, pipeline/filter and upstream; nothing of Caddy.
package federate
