package balance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// era2025 is a fake upstream of the 2025 revisions: sessions as fake's,
// and a 2026-07-28 request answered as one kind of legacy server does.
type era2025 struct {
	*fake
	answer func(m *pipeline.Message) (*pipeline.Message, int, error)
}

func (e *era2025) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	e.mu.Lock()
	e.got = append(e.got, req.Message.Method)
	e.mu.Unlock()
	m, status, err := e.answer(req.Message)
	if m != nil {
		deliver(m, status)
	}
	return err
}

// sessionsOnly is an upstream without 2026-07-28 serving at all.
type sessionsOnly struct{ *fake }

func (s sessionsOnly) Call() {} // hides fake's: not an upstream.Stateless

// legacyKinds are the ways a server of the 2025 revisions answers a
// 2026-07-28 request, as the members meet them.
var legacyKinds = []struct {
	name string
	up   func(name string) upstream.Upstream
}{
	{"no stateless serving", func(n string) upstream.Upstream { return sessionsOnly{&fake{name: n}} }},
	{"stdio protocol legacy (ErrSessionfulOnly)", func(n string) upstream.Upstream {
		return &era2025{&fake{name: n}, func(*pipeline.Message) (*pipeline.Message, int, error) {
			return nil, 0, upstream.ErrSessionfulOnly
		}}
	}},
	{"go-sdk stateful HTTP (-32022 naming 2025 revisions, discover listing them)", func(n string) upstream.Upstream {
		return &era2025{&fake{name: n}, func(m *pipeline.Message) (*pipeline.Message, int, error) {
			if m.Method == "server/discover" {
				return pipeline.NewResult(m.ID, json.RawMessage(`{"supportedVersions":["2025-11-25","2025-06-18"],"capabilities":{}}`)), 200, nil
			}
			return pipeline.NewErrorWithData(m.ID, codeUnsupportedVersion, "protocol version not supported",
				map[string]any{"supported": []string{"2025-11-25"}, "requested": "2026-07-28"}), 400, nil
		}}
	}},
	{"legacy-only gateway (400 -32601)", func(n string) upstream.Upstream {
		return &era2025{&fake{name: n}, func(m *pipeline.Message) (*pipeline.Message, int, error) {
			return pipeline.NewError(m.ID, pipeline.CodeMethodNotFound, "start with initialize"), 400, nil
		}}
	}},
}

// policyKinds are the policies a group may have, made fresh per test.
var policyKinds = []struct {
	name      string
	new       func(t *testing.T) Policy
	alternate bool // sessions take turns between two members
}{
	{"first", func(*testing.T) Policy { return First{} }, false},
	{"round_robin", func(*testing.T) Policy { return new(RoundRobin) }, true},
	{"weighted_round_robin 1 1", func(t *testing.T) Policy {
		p, err := NewWeightedRoundRobin(map[string]int{"a": 1, "b": 1})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}, true},
	{"least_sessions", func(*testing.T) Policy { return LeastSessions{} }, true},
}

const discoverProbe = `{"jsonrpc":"2.0","id":"probe","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`

// dualEraConnect does what a go-sdk v1.8 client's Connect does against a
// server of the 2025 revisions: server/discover first, then, on a legacy
// answer, a session. It returns the member serving the session and what
// the probe got.
func dualEraConnect(t *testing.T, g *Group) (servedBy string, probe *pipeline.Message, probeErr error) {
	t.Helper()
	probeErr = g.Call(context.Background(), &upstream.StatelessRequest{Message: request(t, discoverProbe)},
		func(m *pipeline.Message, _ int) {
			if m.IsResponse() {
				probe = m
			}
		})
	r := newRecorder()
	c, err := g.Open(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // held: least_sessions sees them
	if err := c.Send(context.Background(), request(t, initialize)); err != nil {
		t.Fatal(err)
	}
	name, _ := c.(upstream.ServedConn).ServedBy()
	return name, probe, probeErr
}

// TestProbesKeepSessionTurns: for every policy and every kind of 2025
// server, clients that probe with server/discover before each initialize
// get their sessions as the policy spreads them (the probe takes no
// session's turn), the probe gets ErrSessionfulOnly (the front's legacy
// answer) when no member serves 2026-07-28 requests and the serving
// member's answer when one does, and a member that showed it serves only
// sessions is asked no more probes.
func TestProbesKeepSessionTurns(t *testing.T) {
	for _, pk := range policyKinds {
		for _, lk := range legacyKinds {
			for _, modernB := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/a %s/b modern=%v", pk.name, lk.name, modernB), func(t *testing.T) {
					a := lk.up("a")
					var b upstream.Upstream = &fake{name: "b"}
					if !modernB {
						b = lk.up("b")
					}
					g, err := New(Config{Members: []*Member{member(t, a, "a", HealthConfig{}), member(t, b, "b", HealthConfig{})},
						Policy: pk.new(t), Retries: 1})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for i := range 4 {
						name, probe, perr := dualEraConnect(t, g)
						got = append(got, name)
						switch {
						case modernB && (perr != nil || probe == nil || probe.Error != nil):
							t.Fatalf("probe %d with a modern member: %v %v", i, perr, probe)
						case modernB && string(probe.Result) != `{"server":"b"}`:
							t.Fatalf("probe %d answered by %s, want b (the member serving 2026 requests)", i, probe.Result)
						case !modernB && !errors.Is(perr, upstream.ErrSessionfulOnly):
							t.Fatalf("probe %d with no modern member: %v %v, want ErrSessionfulOnly", i, perr, probe)
						}
					}
					want := []string{"a", "a", "a", "a"}
					if pk.alternate {
						want = []string{"a", "b", "a", "b"}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("sessions went to %v, want %v", got, want)
					}
					for _, up := range []upstream.Upstream{a, b} {
						probes := 0
						var f *fake
						switch u := up.(type) {
						case *era2025:
							f = u.fake
						case sessionsOnly:
							f = u.fake
						}
						if f == nil {
							continue
						}
						for _, m := range f.received() {
							if m == "server/discover" {
								probes++
							}
						}
						if probes > 1 {
							t.Errorf("the 2025 member %s was asked %d probes; after its first answer it is passed over", f.name, probes)
						}
					}
				})
			}
		}
	}
}

// TestStatelessTurnsApart: with two members that serve both eras,
// round_robin spreads sessions and 2026-07-28 requests each on its own
// turns, however they interleave.
func TestStatelessTurnsApart(t *testing.T) {
	for _, pk := range policyKinds[1:3] {
		t.Run(pk.name, func(t *testing.T) {
			g, err := New(Config{Members: []*Member{member(t, &fake{name: "a"}, "a", HealthConfig{}),
				member(t, &fake{name: "b"}, "b", HealthConfig{})}, Policy: pk.new(t)})
			if err != nil {
				t.Fatal(err)
			}
			var sessions, calls []string
			for range 4 {
				name, probe, err := dualEraConnect(t, g)
				if err != nil || probe == nil {
					t.Fatalf("probe: %v %v", err, probe)
				}
				sessions = append(sessions, name)
				calls = append(calls, string(probe.Result))
			}
			if fmt.Sprint(sessions) != "[a b a b]" || fmt.Sprint(calls) != `[{"server":"a"} {"server":"b"} {"server":"a"} {"server":"b"}]` {
				t.Errorf("sessions %v, 2026 requests %v: want each alternating from a", sessions, calls)
			}
		})
	}
}

// TestSessionsOnlyForgotten: a member that answered as a 2025 server is
// asked again once SessionsOnlyMemory passed (it may have been upgraded).
func TestSessionsOnlyForgotten(t *testing.T) {
	m := member(t, &fake{name: "a"}, "a", HealthConfig{})
	now := time.Now()
	if !m.ServesStateless(now) {
		t.Fatal("a member not asked yet is presumed to serve 2026 requests")
	}
	m.sessionsOnly(now)
	if m.ServesStateless(now.Add(SessionsOnlyMemory - time.Second)) {
		t.Error("passed over for less than SessionsOnlyMemory")
	}
	if !m.ServesStateless(now.Add(SessionsOnlyMemory)) {
		t.Error("still passed over after SessionsOnlyMemory")
	}
	if member(t, sessionsOnly{&fake{name: "s"}}, "s", HealthConfig{}).ServesStateless(now) {
		t.Error("an upstream without stateless serving is asked 2026 requests")
	}
}

// TestLegacyAnswer: which answers to a 2026-07-28 request show a server of
// the 2025 revisions, and which are a modern server's own (passed on).
func TestLegacyAnswer(t *testing.T) {
	id := json.RawMessage(`1`)
	unsupported := func(supported ...string) *pipeline.Message {
		return pipeline.NewErrorWithData(id, codeUnsupportedVersion, "unsupported", map[string]any{"supported": supported})
	}
	made := pipeline.NewErrorWithData(id, pipeline.CodeInternalError, "unreachable",
		upstream.GatewayError{ErrorData: pipeline.NewErrorData(), Status: 502})
	for _, tc := range []struct {
		name   string
		method string
		m      *pipeline.Message
		status int
		legacy bool
	}{
		{"discover listing 2025 revisions", "server/discover", pipeline.NewResult(id, json.RawMessage(`{"supportedVersions":["2025-11-25"]}`)), 200, true},
		{"discover without supportedVersions", "server/discover", pipeline.NewResult(id, json.RawMessage(`{"capabilities":{}}`)), 200, false},
		{"discover listing 2026-07-28", "server/discover", pipeline.NewResult(id, json.RawMessage(`{"supportedVersions":["2025-11-25","2026-07-28"]}`)), 200, false},
		{"a tool's result", "tools/call", pipeline.NewResult(id, json.RawMessage(`{"content":[]}`)), 200, false},
		{"-32022 naming 2025 revisions", "tools/call", unsupported("2025-11-25", "2025-06-18"), 400, true},
		{"-32022 naming a modern revision", "tools/call", unsupported("2026-07-28"), 400, false},
		{"400 -32601", "tools/call", pipeline.NewError(id, pipeline.CodeMethodNotFound, "x"), 400, true},
		{"404 -32601 (modern: unknown method)", "tools/call", pipeline.NewError(id, pipeline.CodeMethodNotFound, "x"), 404, false},
		{"discover -32601 in a 200", "server/discover", pipeline.NewError(id, pipeline.CodeMethodNotFound, "x"), 200, true},
		{"discover refused with 400", "server/discover", pipeline.NewError(id, pipeline.CodeInvalidRequest, "not initialized"), 400, true},
		{"discover failing inside", "server/discover", pipeline.NewError(id, pipeline.CodeInternalError, "x"), 200, false},
		{"discover 401", "server/discover", pipeline.NewError(id, pipeline.CodeInvalidRequest, "x"), http.StatusUnauthorized, false},
		{"a tool's 400 -32602", "tools/call", pipeline.NewError(id, pipeline.CodeInvalidParams, "x"), 400, false},
		{"made up by the gateway", "server/discover", made, 502, false},
	} {
		if got := legacyAnswer(tc.method, tc.m, tc.status); got != tc.legacy {
			t.Errorf("%s: legacy %v, want %v", tc.name, got, tc.legacy)
		}
	}
}
