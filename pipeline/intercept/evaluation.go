package intercept

import (
	"bytes"
	"encoding/json"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// evaluation is one message on its way through the rules: the message as
// the rules so far left it. Rules read and edit its bytes where a pointer
// leads (pipeline.ValueAt, SetAt, RemoveAt), and decode an object or array
// of it only up to maxDecode.
type evaluation struct {
	ex        *pipeline.Exchange
	original  *pipeline.Message
	m         *pipeline.Message // as last parsed; stale while dirty
	raw       []byte            // the message's bytes with the edits so far
	maxDecode int64             // the largest JSON value a rule decodes
	method    string
	target    string
	ref       string // a completion/complete's: what target is ("prompt", "resource"), else ""
	known     bool   // method and target are computed
	dirty     bool   // raw was edited and m is stale
	by        string // the last rule that changed the message
	unjudged  string // why the current rule applies without judging the message ("": it judged it)
}

func newEvaluation(ex *pipeline.Exchange, m *pipeline.Message, maxDecode int64) *evaluation {
	return &evaluation{ex: ex, original: m, m: m, raw: m.Raw, maxDecode: maxDecode}
}

// what returns the method and target the rules judge.
func (st *evaluation) what() (method, target string) {
	if !st.known {
		if st.dirty {
			st.m = st.message(nil)
		}
		st.method, st.target = st.ex.Method(st.m), st.ex.Target(st.m)
		st.ref = ""
		if st.m.Kind == pipeline.KindRequest {
			if ref, name := st.m.CompletionRef(); ref != "" {
				st.ref, st.target = ref, name
			}
		}
		st.known = true
	}
	return st.method, st.target
}

// server returns the federated server the message concerns and its own
// name for what the message names (pipeline.Exchange.Server).
func (st *evaluation) server() (server, own string) {
	if st.ex.Servers == nil {
		return "", ""
	}
	method, target := st.what()
	if st.ref == "prompt" {
		method = "prompts/get" // the prompt whose arguments it completes is the server's it gets
	}
	return st.ex.Servers(method, target)
}

// names reports whether the message names a thing of kind ("tool",
// "prompt", "resource"): calls, gets or reads one, or (a prompt, a
// resource template) completes one's arguments.
func (st *evaluation) names(kind string) bool {
	method, _ := st.what()
	switch kind {
	case "tool":
		return method == "tools/call"
	case "prompt":
		return method == "prompts/get" || st.ref == "prompt"
	}
	return namesResource(method) || st.ref == "resource"
}

// edit replaces the message's bytes with an edited copy, by rule by: the
// message and what it names are computed again when needed.
func (st *evaluation) edit(raw []byte, by *compiledRule) {
	st.raw = raw
	st.dirty, st.known, st.by = true, false, by.name
}

// replace makes m (an operator's edit of a held message) the message.
func (st *evaluation) replace(m *pipeline.Message, by *compiledRule) {
	st.m, st.raw = m, m.Raw
	st.dirty, st.known, st.by = false, false, by.name
}

// message returns the message with the edits so far applied.
func (st *evaluation) message(logger *zap.Logger) *pipeline.Message {
	if !st.dirty {
		return st.m
	}
	m, err := pipeline.ParseEdited(st.raw) // raw is the evaluation's own copy
	if err == nil {
		st.m, st.raw, st.dirty, st.known = m, m.Raw, false, false
		return m
	}
	if logger != nil {
		logger.Error("intercept: an edited message is not valid JSON-RPC; the edits are dropped", zap.Error(err))
	}
	st.raw, st.dirty, st.known = st.m.Raw, false, false
	return st.m
}

// decode parses a JSON value known to be valid, numbers kept as written.
func decode(raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	_ = d.Decode(&v)
	return v
}
