// Package balance serves one endpoint from several upstreams: a Group is an
// upstream.Upstream (and upstream.Stateless) made of named Members, each an
// upstream of its own kind (stdio, HTTP, …).
//
// What a client of the 2025 revisions sees is one session, opened on the
// member a Policy selects among the available ones and sticky to it: every
// message of the session goes to that member, and the member's death — its
// active health check failing or its circuit breaker opening (a stdio
// process's exit already ends its session) — ends the session, so that the
// client initializes again, on a member that is up. A 2026-07-28 request
// stands alone and is balanced on its own, except what one member minted:
// a cursor or a requestState comes back tagged with the member's name, and
// the request that carries it goes to that member, untagged, byte for byte
// as the member wrote it.
//
// Health has two sources. Passive: failures seen on real traffic (an open
// that failed, an answer the upstream never gave, a JSON-RPC internal
// error, a response slower than the latency bound) counted within a window;
// MaxFails of them open the member's breaker, which after the window lets
// one trial through (half-open) and closes on its success. Active: a
// Checker run every interval, for HTTP members a short MCP exchange.
//
// It imports upstream, upstream/tags and pipeline, nothing of Caddy.
package balance
