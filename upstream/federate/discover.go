package federate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// metaServerInfo is the _meta key of a DiscoverResult's serverInfo.
const metaServerInfo = "io.modelcontextprotocol/serverInfo"

// discover answers a 2026-07-28 server/discover as initialize is answered
// in a session: every server is asked at once (bounded by InitTimeout),
// and the gateway's answer merges those that answered. A server that
// failed or did not answer in time is left out, and logged; one that
// speaks only the 2025 revisions makes the whole endpoint one of those
// (upstream.ErrSessionfulOnly), so that the client's fallback session
// holds every server.
func (f *Federation) discover(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.InitTimeout)
	defer cancel()
	answers := make([]*pipeline.Message, len(f.names))
	errs := make([]error, len(f.names))
	f.eachServer(func(i int) {
		answers[i], errs[i] = f.ask(ctx, i, req, "server/discover", map[string]any{})
	})
	var results []initAnswer
	var first error
	for i, ans := range answers {
		err := errs[i]
		if errors.Is(err, upstream.ErrSessionfulOnly) {
			return upstream.ErrSessionfulOnly
		}
		if err == nil && (ans.Error != nil || ans.Result == nil) {
			err = errServer(ans)
		}
		if err != nil {
			f.log.Warn("a federated server did not answer server/discover in time, or refused it; the answer leaves it out",
				zap.String("server", f.names[i]), zap.Error(err))
			if first == nil {
				first = fmt.Errorf("server %s: %w", f.names[i], err)
			}
			continue
		}
		results = append(results, initAnswer{server: f.names[i], result: ans.Result})
	}
	if len(results) == 0 {
		return first
	}
	deliver(pipeline.NewResult(req.Message.ID, f.mergeDiscover(results)), http.StatusOK)
	return nil
}

// mergeDiscover is the gateway's DiscoverResult: its own serverInfo, the
// union of the servers' capabilities, their instructions under a heading
// each, the revisions every one of them supports, and the lowest ttlMs and
// strictest cacheScope of the parts.
func (f *Federation) mergeDiscover(answers []initAnswer) json.RawMessage {
	caps := map[string]map[string]any{}
	var instr, versions []string
	hint := publicForever
	for n, a := range answers {
		var r struct {
			SupportedVersions []string                   `json:"supportedVersions"`
			Capabilities      map[string]json.RawMessage `json:"capabilities"`
			Instructions      string                     `json:"instructions"`
		}
		_ = json.Unmarshal(a.result, &r)
		var all map[string]json.RawMessage
		_ = json.Unmarshal(a.result, &all)
		hint = hint.and(hintOf(all))
		instr = appendInstructions(instr, a.server, r.Instructions)
		unionCaps(caps, r.Capabilities)
		if n == 0 {
			versions = r.SupportedVersions
		} else {
			versions = intersect(versions, r.SupportedVersions)
		}
	}
	out := map[string]any{
		"supportedVersions": append([]string{}, versions...),
		"capabilities":      caps,
		"_meta":             map[string]any{metaServerInfo: map[string]string{"name": f.cfg.ServerName, "version": f.cfg.ServerVersion}},
	}
	if len(instr) > 0 {
		out["instructions"] = strings.Join(instr, "\n\n")
	}
	hint.put(out)
	b, _ := json.Marshal(out)
	return b
}

// intersect is what of a b holds too, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, v := range a {
		for _, w := range b {
			if v == w {
				out = append(out, v)
				break
			}
		}
	}
	return out
}
