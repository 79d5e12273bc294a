// Package remote is the upstream of MCP servers reached over HTTP.
//
// HTTP speaks Streamable HTTP: a 2025 session per client session (with the
// server's GET stream held while the client listens, and resumes with
// Last-Event-ID), and 2026-07-28 stateless requests (Call). SSE2024 speaks
// the 2024-11-05 HTTP+SSE transport (a GET event stream and POSTs to the
// endpoint it names). Auto POSTs a session's initialize as Streamable HTTP
// and falls back to SSE2024 when the server refuses it the way the
// specification names (400, 404 or 405 without a JSON-RPC answer),
// remembering the answer for the upstream's lifetime. Errors that
// the gateway makes up for a failed exchange carry upstream.GatewayError
// data and name no URL, host or path.
//
// It imports upstream (the interfaces it implements), pipeline, and sse for
// reading event streams.
package remote
