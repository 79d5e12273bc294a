package caddymcp

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// maxToolLabels bounds the tool names an endpoint's tool_calls_total
// tells apart; calls of tools beyond them, and of tools the server never
// listed, count as other.
const maxToolLabels = 100

// knownTools holds each endpoint's *toolSet. It is keyed by endpoint name
// so that what a server listed survives a reload, and it is bounded by the
// endpoints configured times maxToolLabels.
var knownTools sync.Map

// toolSet is the tool names an endpoint's server listed.
type toolSet struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func toolsOf(endpoint string) *toolSet {
	if v, ok := knownTools.Load(endpoint); ok {
		return v.(*toolSet)
	}
	v, _ := knownTools.LoadOrStore(endpoint, &toolSet{names: make(map[string]struct{})})
	return v.(*toolSet)
}

// learn adds the tools a tools/list result names, up to maxToolLabels.
func (s *toolSet) learn(result json.RawMessage) {
	var list struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if json.Unmarshal(result, &list) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range list.Tools {
		if len(s.names) >= maxToolLabels {
			return
		}
		if t.Name != "" && t.Name != methodOther {
			s.names[t.Name] = struct{}{}
		}
	}
}

// label is name if the server listed it, else other.
func (s *toolSet) label(name string) string {
	s.mu.Lock()
	_, ok := s.names[name]
	s.mu.Unlock()
	if ok {
		return name
	}
	return methodOther
}

// onAnswer tells the endpoint's metrics of an answer: it marks its POST
// with the answer's outcome (its requests_total outcome: an error, or a
// policy's block or mock, apart), counts tool calls by their outcome
// (mcpstate.OutcomeOf), and learns the tools a tools/list answer names.
// For a tools/call it returns the tool's label (its name if listed, else
// other), "" for anything else. A tool's label is the name the client
// calls (a federated endpoint's client-visible name, which the tools/list
// answers here hold), and server the federated server that owns it ("" on
// an endpoint without servers, or when no list told it yet).
func (m *endpointMetrics) onAnswer(post http.ResponseWriter, method, target, server string, answer *pipeline.Message, policy front.Policy, outcome mcpstate.CallOutcome) (tool string) {
	if rec, ok := post.(*statusRecorder); ok {
		rec.noteAnswer(answerOutcomeOf(answer, policy))
	}
	failed := answer.Error != nil
	switch method {
	case "tools/list":
		if !failed {
			m.tools.learn(answer.Result)
		}
	case "tools/call":
		tool = m.tools.label(target)
		metrics.toolCalls.WithLabelValues(m.endpoint, server, tool, outcome.Metric()).Inc()
	}
	return tool
}
