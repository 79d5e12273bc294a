package replay

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/tape"
)

// script is one tape turned into what a replay needs: the messages the
// upstream received from the client, in order, each with the upstream's
// messages to deliver once that message arrives.
type script struct {
	name  string // the tape's file name, for errors
	steps []*step
}

// step is one client message of a tape.
type step struct {
	msg     *pipeline.Message
	name    string // tools/call and prompts/get: params.name; resources/*: params.uri
	params  string // canonical params without _meta
	strict  string // canonical params with _meta
	token   string // the request's progress token, canonical JSON ("" if none)
	replies []reply
}

// reply is one upstream message to deliver after its step.
type reply struct {
	msg *pipeline.Message
	// respondsTo is the tape id (IDKey) of the request this message answers
	// ("" if it is not a response): its id is rewritten to the client's.
	respondsTo string
	// relatedTo is the tape id of the request a notification or server
	// request belongs to ("" if none): it travels on that request's stream,
	// and a progress token in it is rewritten to the client's.
	relatedTo string
}

// compile turns a tape into a script of the upstream's side of it
// (tape.Record.Upstream): what the server received and what it sent, in
// the form it sent it; what a stage or the gateway made, and client
// messages a stage stopped, are left out.
func compile(f *tape.File) (*script, error) {
	s := &script{name: f.Name}
	openReqs := map[string]openRequest{} // tape id → its step, until answered
	var pending []reply                  // upstream messages before any client message
	lastAnswer := -1                     // the last step that is the client answering a server request
	for i, rec := range f.Records {
		raw, ok := rec.Upstream()
		if !ok {
			continue
		}
		m, err := pipeline.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: record %d: %v", f.Name, i+1, err)
		}
		switch rec.Dir {
		case tape.ClientToServer:
			st := newStep(m)
			st.replies = pending
			pending = nil
			s.steps = append(s.steps, st)
			idx := len(s.steps) - 1
			switch {
			case m.IsRequest():
				openReqs[m.IDKey()] = openRequest{idx: idx, token: st.token}
			case m.IsResponse():
				lastAnswer = idx
			}
		case tape.ServerToClient:
			r := reply{msg: m}
			at := len(s.steps) - 1 // by default: after the latest client message
			if m.IsResponse() {
				o, ok := openReqs[m.IDKey()]
				if !ok {
					continue // an answer to nothing the upstream was asked
				}
				delete(openReqs, m.IDKey())
				r.respondsTo = m.IDKey()
				// After the request, or after the client's last answer to a
				// server request made while it ran (a sampling round trip).
				at = max(o.idx, lastAnswer)
			} else if rel, ok := relatedRequest(m, openReqs); ok {
				r.relatedTo = rel
				at = max(openReqs[rel].idx, lastAnswer)
			}
			if at < 0 {
				pending = append(pending, r)
				continue
			}
			s.steps[at].replies = append(s.steps[at].replies, r)
		}
	}
	return s, nil
}

// openRequest is a recorded request not answered yet at a point of the tape.
type openRequest struct {
	idx   int    // its step
	token string // its progress token
}

// relatedRequest finds the open request an upstream notification or
// request belongs to: the one whose progress token it names, else the only
// one open.
func relatedRequest(m *pipeline.Message, open map[string]openRequest) (string, bool) {
	if tok := progressToken(m.Params, false); tok != "" {
		for id, o := range open {
			if o.token == tok {
				return id, true
			}
		}
	}
	if len(open) == 1 {
		for id := range open {
			return id, true
		}
	}
	return "", false
}

func newStep(m *pipeline.Message) *step {
	st := &step{msg: m}
	var p struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	if len(m.Params) > 0 {
		_ = json.Unmarshal(m.Params, &p)
	}
	st.name = p.Name
	if st.name == "" {
		st.name = p.URI
	}
	st.params = canonical(m.Params, true)
	st.strict = canonical(m.Params, false)
	st.token = progressToken(m.Params, true)
	return st
}

// canonical renders params as comparable JSON (members sorted), without
// the top-level _meta when dropMeta is set. Absent params and {} compare equal.
func canonical(params json.RawMessage, dropMeta bool) string {
	if len(params) == 0 {
		return "{}"
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(params)
	}
	if obj, ok := v.(map[string]any); ok && dropMeta {
		delete(obj, "_meta")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// progressToken returns the canonical progress token of a request's
// params (inMeta: params._meta.progressToken) or of a progress
// notification's (params.progressToken), "" if none.
func progressToken(params json.RawMessage, inMeta bool) string {
	if len(params) == 0 {
		return ""
	}
	var p struct {
		Meta struct {
			Token json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
		Token json.RawMessage `json:"progressToken"`
	}
	if json.Unmarshal(params, &p) != nil {
		return ""
	}
	if inMeta {
		return string(p.Meta.Token)
	}
	return string(p.Token)
}
