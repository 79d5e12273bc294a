package front

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

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

// servesVersion reports whether a client may name revision v anywhere:
// in MCP-Protocol-Version or in a 2026-07-28 request's `_meta`.
func servesVersion(v string) bool {
	return supportedSessionVersion(v) || slices.Contains(statelessVersions, v)
}

// writeUnsupportedVersion answers a request that names a revision this
// endpoint does not serve, older or newer: 400 with -32022 and the
// revisions it does serve, which is what lets a dual-era client retry with
// one of them rather than give up (2026-07-28, versioning).
func writeUnsupportedVersion(w http.ResponseWriter, id json.RawMessage, v string) {
	writeErrorData(w, http.StatusBadRequest, id, codeUnsupportedProtocolVersion,
		"Unsupported protocol version "+strconv.Quote(v)+"; supported: "+strings.Join(allVersions, ", "),
		unsupportedVersionData(v))
}

// unsupportedVersionData is the data of a -32022 error.
func unsupportedVersionData(v string) map[string]any {
	return map[string]any{"supported": allVersions, "requested": v}
}

// unservedVersion is the revision a POST names that this endpoint does not
// serve — its MCP-Protocol-Version header, else (no header) a message's
// `_meta` revision — or "". A header and a `_meta` that differ are the
// stateless check's -32020, not this.
func unservedVersion(header string, msgs []*pipeline.Message) string {
	if header != "" {
		if servesVersion(header) {
			return ""
		}
		return header
	}
	for _, m := range msgs {
		if v := m.MetaProtocolVersion(); v != "" && !servesVersion(v) {
			return v
		}
	}
	return ""
}
