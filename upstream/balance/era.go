package balance

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// SessionsOnlyMemory is how long a member that showed it speaks only the
// 2025 revisions is passed over for 2026-07-28 requests; then one request
// asks it again, in case it was upgraded.
const SessionsOnlyMemory = time.Minute

// modernVersion is the first revision served without sessions.
const modernVersion = "2026-07-28"

// codeUnsupportedVersion is the JSON-RPC error of a server that refuses
// the request's protocol revision, naming the ones it supports.
const codeUnsupportedVersion = -32022

// ServesStateless reports whether the member is asked 2026-07-28
// requests: its upstream serves them (upstream.Stateless), and it has not
// shown within SessionsOnlyMemory that it speaks only the 2025 revisions.
// A member not asked yet is presumed to serve them.
func (m *Member) ServesStateless(now time.Time) bool {
	if _, ok := m.Upstream().(upstream.Stateless); !ok {
		return false
	}
	return now.UnixNano() >= m.sessionsOnlyUntil.Load()
}

// sessionsOnly records that the member answered a 2026-07-28 request as a
// server of the 2025 revisions does.
func (m *Member) sessionsOnly(now time.Time) {
	m.sessionsOnlyUntil.Store(now.Add(SessionsOnlyMemory).UnixNano())
}

// legacyAnswer reports whether resp, the answer (with HTTP status) to a
// 2026-07-28 request of method, is how a server of the 2025 revisions
// answers one, so that the member is known to serve only sessions:
//   - -32022 naming no revision from 2026-07-28 on (go-sdk's stateful
//     server answers every 2026 request so);
//   - -32601 with 400 (a legacy-only endpoint's answer, see docs/transports.md,
//     "Telling the eras apart"; a modern server's unknown method is 404);
//   - for server/discover, which every modern server implements: -32601
//     with any status, a 400, 404 or 405 error, or a result whose
//     supportedVersions lists no revision from 2026-07-28 on.
//
// An answer the gateway made up (a failure) is none of these.
func legacyAnswer(method string, resp *pipeline.Message, status int) bool {
	if !resp.IsResponse() || upstream.GatewayStatus(resp) != 0 {
		return false
	}
	discover := method == "server/discover"
	if resp.Error == nil {
		if !discover {
			return false
		}
		var r struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		return json.Unmarshal(resp.Result, &r) == nil && len(r.SupportedVersions) > 0 && !anyModern(r.SupportedVersions)
	}
	var e struct {
		Code int `json:"code"`
		Data struct {
			Supported []string `json:"supported"`
		} `json:"data"`
	}
	_ = json.Unmarshal(resp.Error, &e)
	switch {
	case e.Code == codeUnsupportedVersion:
		return !anyModern(e.Data.Supported)
	case e.Code == pipeline.CodeMethodNotFound:
		return discover || status == http.StatusBadRequest
	}
	return discover && (status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusMethodNotAllowed)
}

// anyModern reports whether versions hold a revision served without
// sessions.
func anyModern(versions []string) bool {
	for _, v := range versions {
		if v >= modernVersion {
			return true
		}
	}
	return false
}
