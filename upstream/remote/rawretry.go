package remote

import "net/http"

// A keep-alive connection the server closes just as a request is written
// on it (its idle timeout, a restart, a reload) fails that request though
// the server never read it. The raw client makes such a request once more,
// on a new connection, by net/http Transport's rule
// (persistConn.shouldRetryRequest), so that a server reached through the
// raw client fails no request that http.Transport would have carried:
//
//   - only a request made on a pooled connection: a new one the server
//     closed says something about the request, and is not tried again;
//   - when nothing of the request reached the connection, any request
//     whose body can be made again (none, or Request.GetBody): the server
//     cannot have acted on it;
//   - when the connection ended before the first byte of the answer, a
//     request that may be sent twice (replayable): the server may have
//     read it and acted on it before it closed. A POST may be sent twice
//     only when it says so with an Idempotency-Key (or X-Idempotency-Key)
//     header — an MCP call to an upstream server does not, and is never
//     made twice; the hops between a cluster's instances do, with a token
//     the owner takes once (caddymcp/front/forward.go).
//
// The request is made once more at most, on a connection dialled for it:
// a second failure is the caller's.

// mayRetry reports whether req, which failed on a pooled connection, may
// be made again: nothingWritten when no byte of it reached the
// connection, unanswered when reading the answer failed before its first
// byte.
func mayRetry(req *http.Request, nothingWritten, unanswered bool) bool {
	if nothingWritten {
		return !hasBody(req) || req.GetBody != nil
	}
	return unanswered && replayable(req)
}

// replayable is net/http's Request.isReplayable: a request whose body can
// be made again and that may be sent twice — its method is safe, or an
// Idempotency-Key says so (an entry with no value says so without being
// sent, as http.Transport reads it).
func replayable(req *http.Request) bool {
	if hasBody(req) && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

func hasBody(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody
}

// rewind returns req with its body made again for another attempt, or
// false when it cannot be.
func rewind(req *http.Request) (*http.Request, bool) {
	if !hasBody(req) {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	again := *req
	again.Body = body
	return &again, true
}
