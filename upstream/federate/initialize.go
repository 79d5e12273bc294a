package federate

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// initialize sends the client's initialize to every server at once and
// answers it as the gateway once each answered or InitTimeout passed; a
// server that did not answer (or refused) is left out of the session.
func (c *conn) initialize(ctx context.Context, msg *pipeline.Message) {
	ctx, cancel := c.detach(ctx, c.f.cfg.InitTimeout)
	defer cancel()
	params := msg.Params
	if params == nil {
		params = json.RawMessage("{}")
	}
	c.noteSession("initialize", params)
	answers := make([]*pipeline.Message, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		if !m.live() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], _ = c.call(ctx, m, "initialize", params)
		}()
	}
	wg.Wait()
	var results []initAnswer
	var left []*member // to rejoin once the client has its answer
	for i, m := range c.members {
		ans := answers[i]
		if ans == nil || ans.Error != nil || ans.Result == nil {
			if m.markDown() {
				m.close()
				c.f.log.Warn("a federated server did not answer initialize in time, or refused it; the session goes on without it",
					zap.String("server", m.name))
			}
			left = append(left, m)
			continue
		}
		m.setInitialized(ans.Result)
		results = append(results, initAnswer{server: m.name, result: ans.Result})
	}
	if len(results) == 0 {
		c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInternalError, "no MCP server of this endpoint answered initialize"))
		return
	}
	c.r.Deliver(pipeline.NewResult(msg.ID, c.f.mergeInit(results)))
	for _, m := range left {
		c.rejoin(m)
	}
}

// initAnswer is one server's initialize result.
type initAnswer struct {
	server string
	result json.RawMessage
}

// mergeInit is the gateway's initialize result: its own serverInfo, the
// union of the servers' capabilities with listChanged on every list kind
// (the gateway sends those itself), the lowest protocol version the
// servers chose, and their instructions under a heading each.
func (f *Federation) mergeInit(answers []initAnswer) json.RawMessage {
	caps := map[string]map[string]any{}
	version := ""
	var instr []string
	for _, a := range answers {
		var r struct {
			ProtocolVersion string                     `json:"protocolVersion"`
			Capabilities    map[string]json.RawMessage `json:"capabilities"`
			Instructions    string                     `json:"instructions"`
		}
		_ = json.Unmarshal(a.result, &r)
		if r.ProtocolVersion != "" && (version == "" || r.ProtocolVersion < version) {
			version = r.ProtocolVersion
		}
		instr = appendInstructions(instr, a.server, r.Instructions)
		unionCaps(caps, r.Capabilities)
	}
	for _, k := range []string{"tools", "prompts", "resources"} {
		if caps[k] != nil {
			caps[k]["listChanged"] = true
		}
	}
	out := map[string]any{
		"protocolVersion": version,
		"capabilities":    caps,
		"serverInfo":      map[string]string{"name": f.cfg.ServerName, "version": f.cfg.ServerVersion},
	}
	if len(instr) > 0 {
		out["instructions"] = strings.Join(instr, "\n\n")
	}
	b, _ := json.Marshal(out)
	return b
}

// broadcastRequest sends a client request that concerns every server
// (logging/setLevel) to each, and answers it with the first answer that
// is not an error (or the first error, when every server refused).
func (c *conn) broadcastRequest(ctx context.Context, msg *pipeline.Message) {
	ctx, cancel := c.detach(ctx, listTimeout)
	defer cancel()
	answers := make([]*pipeline.Message, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		if !m.ready() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], _ = c.call(ctx, m, msg.Method, msg.Params)
		}()
	}
	wg.Wait()
	var first *pipeline.Message
	for _, a := range answers {
		if a != nil && a.Error == nil {
			c.r.Deliver(pipeline.NewResult(msg.ID, a.Result))
			return
		}
		if first == nil {
			first = a
		}
	}
	if first == nil {
		c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInternalError, "no MCP server of this endpoint is available"))
		return
	}
	c.r.Deliver(pipeline.NewError(msg.ID, pipeline.CodeInternalError, errServer(first).Error()))
}

// appendInstructions adds a server's instructions under a heading of its
// name.
func appendInstructions(instr []string, server, text string) []string {
	if text == "" {
		return instr
	}
	return append(instr, "## "+server+"\n\n"+strings.TrimSpace(text))
}

// unionCaps adds a server's capabilities to caps: a flag is on when any
// server's is; any other member is the first server's.
func unionCaps(caps map[string]map[string]any, server map[string]json.RawMessage) {
	for name, raw := range server {
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil {
			continue
		}
		merged := caps[name]
		if merged == nil {
			merged = map[string]any{}
			caps[name] = merged
		}
		for key, val := range v {
			if b, ok := val.(bool); ok {
				old, _ := merged[key].(bool)
				merged[key] = old || b
			} else if _, set := merged[key]; !set {
				merged[key] = val
			}
		}
	}
}
