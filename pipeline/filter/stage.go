package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// Filter is the pipeline stage that applies a Config.
type Filter struct {
	tools, prompts, resources *visibility
}

// New builds a Filter.
func New(c Config) *Filter {
	return &Filter{tools: compileRules(c.Tools), prompts: compileRules(c.Prompts), resources: compileRules(c.Resources)}
}

// Handle refuses a request for a hidden name and filters list results
// (pipeline.Stage).
func (f *Filter) Handle(_ context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	switch m.Kind {
	case pipeline.KindRequest:
		if ex.Direction == pipeline.ToServer {
			return f.request(m)
		}
	case pipeline.KindResponse:
		if ex.Direction == pipeline.ToClient && m.Result != nil {
			return f.response(ex.RequestMethod, m)
		}
	}
	return pipeline.Verdict{}
}

// request answers a request that names a hidden tool, prompt or resource.
func (f *Filter) request(m *pipeline.Message) pipeline.Verdict {
	var v *visibility
	var what string
	switch m.Method {
	case "tools/call":
		v, what = f.tools, "tool"
	case "prompts/get":
		v, what = f.prompts, "prompt"
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		v, what = f.resources, "resource"
	default:
		return pipeline.Verdict{}
	}
	if v == nil {
		return pipeline.Verdict{}
	}
	name := m.Target()
	if v.visible(name) {
		return pipeline.Verdict{}
	}
	// The words the go-sdk servers use for a name they do not have, so a
	// hidden name cannot be told from a missing one.
	msg := "unknown " + what + " " + strconv.Quote(name)
	if what == "resource" {
		msg = "Resource not found"
	}
	return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewError(m.ID, pipeline.CodeInvalidParams, msg)}
}

// lists are the list methods, the result member each lists in and the
// member of an entry that holds its name.
var lists = map[string]struct{ member, key string }{
	"tools/list":               {"tools", "name"},
	"prompts/list":             {"prompts", "name"},
	"resources/list":           {"resources", "uri"},
	"resources/templates/list": {"resourceTemplates", "uriTemplate"},
}

// response filters one page of a list result.
func (f *Filter) response(method string, m *pipeline.Message) pipeline.Verdict {
	l, ok := lists[method]
	if !ok {
		return pipeline.Verdict{}
	}
	var v *visibility
	switch method {
	case "tools/list":
		v = f.tools
	case "prompts/list":
		v = f.prompts
	default:
		v = f.resources
	}
	if v == nil {
		return pipeline.Verdict{}
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(m.Result, &result) != nil {
		return pipeline.Verdict{}
	}
	var entries []json.RawMessage
	if json.Unmarshal(result[l.member], &entries) != nil {
		return pipeline.Verdict{}
	}
	kept := entries[:0]
	for _, e := range entries {
		var named map[string]json.RawMessage
		var name string
		if json.Unmarshal(e, &named) != nil || json.Unmarshal(named[l.key], &name) != nil {
			continue // an entry without a name cannot be shown as allowed
		}
		if v.visible(name) {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(entries) {
		return pipeline.Verdict{} // nothing hidden: forwarded byte for byte
	}
	var list bytes.Buffer
	list.WriteByte('[')
	for i, e := range kept {
		if i > 0 {
			list.WriteByte(',')
		}
		list.Write(e)
	}
	list.WriteByte(']')
	result[l.member] = list.Bytes()
	raw, err := json.Marshal(result)
	if err != nil {
		return pipeline.Verdict{}
	}
	return pipeline.Verdict{Message: pipeline.NewResult(m.ID, raw)}
}

// Interface guard.
var _ pipeline.Stage = (*Filter)(nil)
