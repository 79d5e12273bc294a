package pins

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

// CodeBlocked is the JSON-RPC error code of a call refused because the
// tool's definition awaits review (on_change block). It is in the range
// JSON-RPC leaves to servers, next to intercept's -32030, and used by
// nothing else.
const CodeBlocked = -32031

// StageName names the stage on tapes and in logs.
const StageName = "pin_tools"

// Names Verdict.By gives a list that a hidden tool left, so that a tape
// tells a hidden drift from a hidden new tool.
const (
	ByHiddenDrift = StageName + ":hidden_drift"
	ByHiddenNew   = StageName + ":hidden_new"
)

// Stage applies a Book to an endpoint's messages: it judges the pages of
// tools/list results (server → client) and refuses tools/call requests
// (client → server) of the tools the Book withholds.
type Stage struct {
	book *Book
	// server is the server's name among the endpoint's ("" before
	// federation, which will tell the stage each message's server).
	server string
}

// NewStage returns the stage of book for the endpoint's server.
func NewStage(book *Book, server string) *Stage { return &Stage{book: book, server: server} }

// StageName names the stage (pipeline.Namer).
func (s *Stage) StageName() string { return StageName }

// Handle judges lists and calls (pipeline.Stage).
func (s *Stage) Handle(ctx context.Context, ex *pipeline.Exchange, m *pipeline.Message) pipeline.Verdict {
	switch {
	case m.Kind == pipeline.KindRequest && ex.Direction == pipeline.ToServer && m.Method == "tools/call":
		return s.call(m)
	case m.Kind == pipeline.KindResponse && ex.Direction == pipeline.ToClient && m.Result != nil && ex.RequestMethod == "tools/list":
		out := s.book.FilterList(ctx, s.server, m.Result)
		if out.Result == nil {
			return pipeline.Verdict{}
		}
		by := ByHiddenNew
		if out.HiddenDrift > 0 {
			by = ByHiddenDrift
		}
		return pipeline.Verdict{Message: pipeline.NewResult(m.ID, out.Result), By: by}
	}
	return pipeline.Verdict{}
}

// call refuses a call of a withheld tool: a hidden one as a server refuses
// an unknown tool (the words of the go-sdk servers and of the tools
// filter, so it cannot be told from a missing one), a blocked one with an
// error that says why.
func (s *Stage) call(m *pipeline.Message) pipeline.Verdict {
	name := m.Target()
	switch s.book.CallAction(s.server, name) {
	case Hide:
		return pipeline.Verdict{Action: pipeline.Respond,
			Message: pipeline.NewError(m.ID, pipeline.CodeInvalidParams, "unknown tool "+strconv.Quote(name))}
	case Block:
		data, _ := json.Marshal(map[string]string{"rule": StageName, "tool": name})
		msg := "tool " + strconv.Quote(name) + " is blocked: its definition changed since it was approved, and the gateway's operator has not yet reviewed the change"
		return pipeline.Verdict{Action: pipeline.Respond, Message: pipeline.NewErrorWithData(m.ID, CodeBlocked, msg, json.RawMessage(data))}
	}
	return pipeline.Verdict{}
}

// Interface guards.
var (
	_ pipeline.Stage = (*Stage)(nil)
	_ pipeline.Namer = (*Stage)(nil)
)
