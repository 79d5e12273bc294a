package replay

import (
	"context"
	"encoding/json"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Version20260728 is the stateless MCP revision: tapes recorded at it
// (one per client and day) answer Call.
const Version20260728 = "2026-07-28"

// Call answers one 2026-07-28 request from the tapes recorded at that
// revision: with no session there is no order to follow, so a request is
// matched on method and params without _meta (server/discover on its
// method alone), the first match of the first tape each time, and what the
// upstream sent for it is delivered with the client's id. Without such
// tapes it returns upstream.ErrSessionfulOnly: the client then falls back
// to initialize and the session tapes; so it does for a server/discover
// that no tape answers.
func (r *Replay) Call(ctx context.Context, req *upstream.StatelessRequest, deliver func(m *pipeline.Message, status int)) error {
	if len(r.stateless) == 0 {
		return upstream.ErrSessionfulOnly
	}
	m := req.Message
	want := canonical(m.Params, true)
	for _, s := range r.stateless {
		for _, st := range s.steps {
			if !st.msg.IsRequest() || st.msg.Method != m.Method || (m.Method != "server/discover" && st.params != want) {
				continue
			}
			tapeID := st.msg.IDKey()
			tok := progressToken(m.Params, true)
			for _, rp := range st.replies {
				if err := ctx.Err(); err != nil {
					return err
				}
				switch {
				case rp.respondsTo == tapeID:
					deliver(withID(rp.msg, m.ID), 200)
					return nil
				case rp.relatedTo == tapeID:
					out := rp.msg
					if tok != "" {
						out = withProgressToken(out, json.RawMessage(tok))
					}
					deliver(out, 200)
				}
			}
			// Recorded without an answer (the client went away first): the
			// next tape or step may hold one.
		}
	}
	switch m.Method {
	case "ping":
		deliver(pipeline.NewResult(m.ID, nil), 200)
		return nil
	case "server/discover":
		// No recorded discovery (today's recorder keeps a 2026 client's
		// probe but not its answer): answer as a 2025 server does, so the
		// client falls back to initialize and the session tapes.
		return upstream.ErrSessionfulOnly
	}
	deliver(r.noMatch(m), 200)
	return nil
}
