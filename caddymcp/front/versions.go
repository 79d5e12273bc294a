package front

import "slices"

// MCP revisions.
const (
	Version20241105 = "2024-11-05"
	Version20250326 = "2025-03-26"
	Version20250618 = "2025-06-18"
	Version20251125 = "2025-11-25"
	Version20260728 = "2026-07-28"
)

// sessionVersions are the revisions served over Streamable HTTP with
// sessions, newest first. 2024-11-05 is listed because a client may
// negotiate it through initialize on the Streamable endpoint.
var sessionVersions = []string{Version20251125, Version20250618, Version20250326, Version20241105}

// supportedSessionVersion reports whether v may appear in MCP-Protocol-Version
// on a session request.
func supportedSessionVersion(v string) bool { return slices.Contains(sessionVersions, v) }

// isStatelessVersion reports whether v is a stateless (2026-07-28 or later)
// revision. Versions are dates, so they order as strings.
func isStatelessVersion(v string) bool { return v >= Version20260728 }

// batchesAllowed reports whether revision v accepts JSON-RPC batches.
func batchesAllowed(v string) bool { return v <= Version20250326 }

// primesStreams reports whether SSE streams of revision v start with a
// priming event (an id and empty data), which makes them resumable from
// the start.
func primesStreams(v string) bool { return v >= Version20251125 }
