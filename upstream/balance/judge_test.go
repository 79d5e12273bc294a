package balance

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// scripted is an upstream whose sessions answer every request with what
// answer makes of it.
type scripted struct {
	answer func(m *pipeline.Message) *pipeline.Message
}

func (s scripted) Open(_ context.Context, r upstream.Receiver) (upstream.Conn, error) {
	return scriptedConn{s, r}, nil
}

type scriptedConn struct {
	s scripted
	r upstream.Receiver
}

func (c scriptedConn) Send(_ context.Context, m *pipeline.Message) error {
	if m.IsRequest() {
		c.r.Deliver(c.s.answer(m))
	}
	return nil
}
func (scriptedConn) Close() {}

// TestPassiveJudgement: what a session's answers count for the member's
// passive health, with max_fails 1: an answer the upstream never gave and
// a JSON-RPC internal error are failures that take the member out; a
// tool's error result, another JSON-RPC error and a plain result are not;
// an initialize slower than unhealthy_latency is.
func TestPassiveJudgement(t *testing.T) {
	result := func(m *pipeline.Message) *pipeline.Message {
		return pipeline.NewResult(m.ID, json.RawMessage(`{"content":[]}`))
	}
	for _, tc := range []struct {
		name    string
		answer  func(*pipeline.Message) *pipeline.Message
		latency time.Duration
		down    bool
	}{
		{"a result", result, 0, false},
		{"a tool's error result", func(m *pipeline.Message) *pipeline.Message {
			return pipeline.NewResult(m.ID, json.RawMessage(`{"content":[],"isError":true}`))
		}, 0, false},
		{"invalid params", func(m *pipeline.Message) *pipeline.Message {
			return pipeline.NewError(m.ID, pipeline.CodeInvalidParams, "no such tool")
		}, 0, false},
		{"an internal error", func(m *pipeline.Message) *pipeline.Message {
			if m.Method == "initialize" {
				return result(m)
			}
			return pipeline.NewError(m.ID, pipeline.CodeInternalError, "boom")
		}, 0, true},
		{"no answer (made up)", func(m *pipeline.Message) *pipeline.Message {
			if m.Method == "initialize" {
				return result(m)
			}
			return (&fake{down: true}).answer(m)
		}, 0, true},
		// Any answer takes longer than a nanosecond.
		{"a slow initialize", result, time.Nanosecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := member(t, scripted{tc.answer}, "m", HealthConfig{FailDuration: time.Hour, MaxFails: 1, UnhealthyLatency: tc.latency})
			g, _ := New(Config{Members: []*Member{m}})
			in := newInbox()
			conn, err := g.Open(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.Send(context.Background(), request(t, initialize))
			if got := in.next(t); string(got.ID) != "1" {
				t.Fatalf("initialize answered %s", got.Raw)
			}
			if tc.latency == 0 {
				_ = conn.Send(context.Background(), request(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x"}}`))
				if got := in.next(t); string(got.ID) != "2" {
					t.Fatalf("tools/call answered %s", got.Raw)
				}
			}
			if down := !m.Available(time.Now()); down != tc.down {
				t.Errorf("member down %v, want %v (status %+v)", down, tc.down, m.Status(time.Now()))
			}
			if tc.down {
				// The answer that took the member out reached the client
				// (above); then the session ends.
				if err := in.end(t); !errors.Is(err, ErrMemberDown) {
					t.Errorf("the session ended with %v, want ErrMemberDown", err)
				}
			}
		})
	}
}

// TestSessionCheckFaults: the MCP active check of an upstream of the
// 2025 revisions fails, naming the step, when the session cannot be
// opened, the message cannot be sent, or the server ends the session
// before it answers.
func TestSessionCheckFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		up   upstream.Upstream
		want string
	}{
		{"open fails", openFails{errFault}, "opening a session: injected fault"},
		{"send fails", sendFails{}, "sending initialize: injected fault"},
		{"the server ends the session", endsEarly{}, "initialize: the server ended the session: injected fault"},
		{"initialize refused", scripted{func(m *pipeline.Message) *pipeline.Message {
			return pipeline.NewError(m.ID, pipeline.CodeInvalidRequest, "not now")
		}}, "initialize: not now"},
		{"ping refused", scripted{func(m *pipeline.Message) *pipeline.Message {
			if m.Method == "ping" {
				return pipeline.NewError(m.ID, pipeline.CodeInternalError, "no ping")
			}
			return pipeline.NewResult(m.ID, json.RawMessage(`{}`))
		}}, "ping: no ping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := MCPCheck()(ctx, tc.up)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestSetUpstreamKeepsOpenSessions: a reload's upstream serves the
// member's new sessions; a session opened before stays on the upstream it
// was opened on.
func TestSetUpstreamKeepsOpenSessions(t *testing.T) {
	old, next := &fake{name: "old"}, &fake{name: "new"}
	m := member(t, old, "m", HealthConfig{})
	if m.Kind() != "http" {
		t.Errorf("kind %q", m.Kind())
	}
	g, _ := New(Config{Members: []*Member{m}, Policy: Random{}})
	if len(g.Members()) != 1 {
		t.Fatalf("members %v", g.Members())
	}
	before, err := g.Open(context.Background(), newInbox())
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	m.SetUpstream(next)
	after, err := g.Open(context.Background(), newInbox())
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	_ = before.Send(context.Background(), request(t, `{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	_ = after.Send(context.Background(), request(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if o, n := strings.Join(old.received(), ","), strings.Join(next.received(), ","); o != "ping" || n != "tools/list" {
		t.Errorf("old got %q, new got %q; want ping and tools/list", o, n)
	}
	if _, up := after.(upstream.ServedConn).ServedBy(); up != next {
		t.Error("the new session is not served by the new upstream")
	}
}
