// Package sse encodes and decodes server-sent events (text/event-stream),
// as MCP's HTTP transports use them: Reader parses a stream incrementally
// with a bound on each event's size (the HTTP upstream reads servers'
// streams with it), and the Append functions frame events into a buffer
// (the front writes clients' streams with them; flushing and headers are
// the caller's).
//
// It imports nothing of this module, so that both the front and the
// upstreams may use it.
package sse
