// Package stdio is the upstream of local MCP servers run as subprocesses
// from a pool (package pool).
//
// A 2025 client session gets a process of its own (Upstream.Open), relayed
// line by line; 2026-07-28 requests (Upstream.Call) share a few processes
// per user, through a JSON-RPC mux that owns the ids on each process's side
// (mux.go, shares.go, jsonedit.go); a cursor, requestState or task id a
// shared process mints is tagged with it (package tags) so the requests
// that bring it back come back there. With protocol auto, the era probe
// (era.go) asks a process once which revisions the server speaks; the
// readiness ping (ready.go) is the pool's check that a new spare process
// answers MCP before a session gets it. Options that a configuration reload may change apply live
// (SetLive).
//
// It imports upstream (the interfaces it implements), pipeline, pool and
// upstream/tags.
package stdio
