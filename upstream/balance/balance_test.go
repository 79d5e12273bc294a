package balance

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/tags"
)

// TestMain checks that no test leaves a goroutine behind; the pool's
// spawner thread lives for the process by design.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction(pool.SpawnerFunction))
}

// fake is an upstream for fault injection: up, it answers every request
// with a result naming it (a list with a nextCursor); down, it answers as
// the HTTP upstream does when the server cannot be reached — an error it
// made up, with GatewayError data. The real-peer tests are in caddytest.
type fake struct {
	name string
	mu   sync.Mutex
	down bool
	got  []string // methods received
}

func (f *fake) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *fake) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fake) answer(m *pipeline.Message) *pipeline.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, m.Method)
	if f.down {
		return pipeline.NewErrorWithData(m.ID, pipeline.CodeInternalError, "upstream unreachable",
			upstream.GatewayError{ErrorData: pipeline.NewErrorData(), Status: 502})
	}
	if strings.HasSuffix(m.Method, "/list") {
		return pipeline.NewResult(m.ID, json.RawMessage(`{"tools":[],"nextCursor":"page2-of-`+f.name+`"}`))
	}
	return pipeline.NewResult(m.ID, json.RawMessage(`{"server":"`+f.name+`"}`))
}

func (f *fake) Open(_ context.Context, r upstream.Receiver) (upstream.Conn, error) {
	return &fakeConn{f: f, r: r}, nil
}

func (f *fake) Call(_ context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	deliver(f.answer(req.Message), 200)
	return nil
}

type fakeConn struct {
	f *fake
	r upstream.Receiver
}

func (c *fakeConn) Send(_ context.Context, m *pipeline.Message) error {
	if m.IsRequest() {
		c.r.Deliver(c.f.answer(m))
	}
	return nil
}

func (c *fakeConn) Close() {}

// recorder is a session's receiver.
type recorder struct {
	mu     sync.Mutex
	got    []*pipeline.Message
	closed chan error
}

func newRecorder() *recorder { return &recorder{closed: make(chan error, 1)} }

func (r *recorder) Deliver(m *pipeline.Message) { r.mu.Lock(); r.got = append(r.got, m); r.mu.Unlock() }
func (r *recorder) Closed(err error)            { r.closed <- err }

func (r *recorder) last(t *testing.T) *pipeline.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		n := len(r.got)
		var m *pipeline.Message
		if n > 0 {
			m = r.got[n-1]
		}
		r.mu.Unlock()
		if m != nil {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no message reached the session")
	return nil
}

func member(t *testing.T, up upstream.Upstream, name string, hc HealthConfig) *Member {
	t.Helper()
	m, err := NewMember(name, "http", up, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.SetHealth(hc)
	return m
}

func request(t *testing.T, raw string) *pipeline.Message {
	t.Helper()
	m, err := pipeline.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`

func TestPolicies(t *testing.T) {
	ms := make([]*Member, 3)
	for i, n := range []string{"a", "b", "c"} {
		ms[i] = member(t, &fake{name: n}, n, HealthConfig{})
	}
	ms[0].sessions.Store(5)
	ms[1].sessions.Store(2)
	ms[2].sessions.Store(2)
	wrr, err := NewWeightedRoundRobin(map[string]int{"a": 3, "b": 1, "c": 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		picks  int
		want   string
	}{
		{"first", First{}, 3, "aaa"},
		{"round_robin", new(RoundRobin), 6, "abcabc"},
		{"least_sessions", LeastSessions{}, 2, "bb"},
		{"weighted_round_robin", wrr, 8, "aaabaaab"},
		{"hash", Hash{Key: func(context.Context) string { return "client-1" }}, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for range tc.picks {
				b.WriteString(tc.policy.Select(context.Background(), ms).Name())
			}
			got := b.String()
			if tc.want != "" && got != tc.want {
				t.Errorf("picks %q, want %q", got, tc.want)
			}
			if tc.want == "" && strings.Count(got, got[:1]) != len(got) {
				t.Errorf("the same key went to several upstreams: %q", got)
			}
		})
	}
	// Rendezvous hashing: removing an upstream moves only its own keys.
	h := Hash{}
	moved := 0
	for i := range 200 {
		key := "client-" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		h.Key = func(context.Context) string { return key }
		before := h.Select(context.Background(), ms).Name()
		after := h.Select(context.Background(), ms[:2]).Name()
		if before != "c" && before != after {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d keys of the remaining upstreams moved when c left", moved)
	}
}

// TestBreaker: max_fails failures within fail_duration open the breaker
// and end the member's sessions; after the cooldown one trial goes through;
// its success closes the breaker.
func TestBreaker(t *testing.T) {
	m := member(t, &fake{name: "a"}, "a", HealthConfig{FailDuration: 50 * time.Millisecond, MaxFails: 2})
	g, err := New(Config{Members: []*Member{m}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if _, err := g.Open(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m.fail(now, "one")
	if !m.Available(now) {
		t.Fatal("one failure of two opened the breaker")
	}
	m.fail(now, "two")
	if m.Available(now) {
		t.Fatal("max_fails failures left the breaker closed")
	}
	select {
	case err := <-rec.closed:
		if !errors.Is(err, ErrMemberDown) {
			t.Errorf("the session ended with %v, want ErrMemberDown", err)
		}
	case <-time.After(time.Second):
		t.Fatal("the breaker opened and the session lives on")
	}
	if _, err := g.Open(context.Background(), newRecorder()); !errors.Is(err, upstream.ErrUnhealthy) {
		t.Fatalf("Open with the breaker open: %v, want ErrUnhealthy", err)
	}
	var busy *upstream.BusyError
	if _, err := g.Open(context.Background(), newRecorder()); !errors.As(err, &busy) || busy.RetryAfter < time.Second {
		t.Errorf("Open with the breaker open: %v, want a BusyError with Retry-After", err)
	}
	later := now.Add(60 * time.Millisecond)
	if !m.claim(later) {
		t.Fatal("no trial after the cooldown")
	}
	if m.claim(later) {
		t.Fatal("a second trial while the first runs")
	}
	if st := m.Status(later); st.Breaker != "half_open" {
		t.Errorf("breaker %s during the trial, want half_open", st.Breaker)
	}
	m.succeed()
	if st := m.Status(later); st.Breaker != "closed" || !st.Healthy || st.Fails != 0 || st.Total != 2 {
		t.Errorf("after the trial's success: %+v", st)
	}
}

// TestInitializeRetried: a new session whose initialize the first member
// does not answer is moved to the next, which answers; the client sees one
// answer, and later messages go to the member that answered.
func TestInitializeRetried(t *testing.T) {
	dead, live := &fake{name: "dead", down: true}, &fake{name: "live"}
	g, err := New(Config{Members: []*Member{member(t, dead, "dead", HealthConfig{}), member(t, live, "live", HealthConfig{})}, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Wait()
	rec := newRecorder()
	conn, err := g.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Send(context.Background(), request(t, initialize)); err != nil {
		t.Fatal(err)
	}
	if m := rec.last(t); m.Error != nil || !strings.Contains(string(m.Result), `"live"`) {
		t.Fatalf("the session got %s, want live's answer", m.Raw)
	}
	if err := conn.Send(context.Background(), request(t, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(live.received(), ","); got != "initialize,ping" {
		t.Errorf("live received %s", got)
	}
	if name, _ := conn.(upstream.ServedConn).ServedBy(); name != "live" {
		t.Errorf("served by %q", name)
	}
	rec.mu.Lock()
	n := len(rec.got)
	rec.mu.Unlock()
	if n != 2 {
		t.Errorf("the session got %d messages, want 2 (dead's failure stays inside)", n)
	}
}

// TestInitializeNotRetriedWithoutRetries: lb_retries 0 gives the client
// the member's failure.
func TestInitializeNotRetriedWithoutRetries(t *testing.T) {
	dead, live := &fake{name: "dead", down: true}, &fake{name: "live"}
	g, _ := New(Config{Members: []*Member{member(t, dead, "dead", HealthConfig{}), member(t, live, "live", HealthConfig{})}})
	rec := newRecorder()
	conn, err := g.Open(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.Send(context.Background(), request(t, initialize))
	if m := rec.last(t); upstream.GatewayStatus(m) != 502 {
		t.Errorf("the session got %s, want the 502 failure", m.Raw)
	}
	if len(live.received()) != 0 {
		t.Error("live got the initialize")
	}
}

// TestStatelessTagsAndRetries: a list's nextCursor comes back tagged with
// its member and the next page goes to that member untagged; with the
// first member down, a first page is retried on the next, a tools/call
// is not.
func TestStatelessTagsAndRetries(t *testing.T) {
	a, b := &fake{name: "a"}, &fake{name: "b"}
	g, _ := New(Config{Members: []*Member{member(t, a, "a", HealthConfig{}), member(t, b, "b", HealthConfig{})}, Retries: 1})
	call := func(raw string) []*pipeline.Message {
		var got []*pipeline.Message
		err := g.Call(context.Background(), &upstream.StatelessRequest{Message: request(t, raw)}, func(m *pipeline.Message, _ int) {
			got = append(got, m)
		})
		if err != nil {
			t.Fatalf("Call %s: %v", raw, err)
		}
		return got
	}
	got := call(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if len(got) != 1 || !strings.Contains(string(got[0].Result), `"nextCursor":"mcpgw:a:page2-of-a"`) {
		t.Fatalf("first page: %v", got)
	}
	var page struct {
		NextCursor string `json:"nextCursor"`
	}
	_ = json.Unmarshal(got[0].Result, &page)
	for range 3 { // whatever the policy would pick, the cursor decides
		call(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"` + page.NextCursor + `"}}`)
	}
	if n := len(b.received()); n != 0 {
		t.Errorf("b got %d next-page requests of a's cursor", n)
	}
	if got := call(`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"mcpgw:gone:x"}}`); len(got) != 1 ||
		errorCode(got[0].Error) != pipeline.CodeInvalidParams {
		t.Errorf("a cursor of an upstream no longer configured: %v", got)
	}

	a.setDown(true)
	if got := call(`{"jsonrpc":"2.0","id":4,"method":"tools/list"}`); len(got) != 1 || got[0].Error != nil {
		t.Errorf("a first page with a down: %s, want b's answer", got[0].Raw)
	}
	before := len(b.received())
	if got := call(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x"}}`); len(got) != 1 || upstream.GatewayStatus(got[0]) != 502 {
		t.Errorf("a tools/call with a down: %s, want a's failure", got[0].Raw)
	}
	if len(b.received()) != before {
		t.Error("the tools/call was retried on b")
	}
}

// TestUntagKeepsOtherRequests: a request with nothing tagged passes as the
// very message it was.
func TestUntagKeepsOtherRequests(t *testing.T) {
	for _, raw := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"plain"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"mcpgw:not-a-tag"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
	} {
		m := request(t, raw)
		name, out, err := tags.Untag(m, tags.All)
		if err != nil || name != "" || out != m {
			t.Errorf("%s: untag gave %q, %v", raw, name, err)
		}
	}
	m := request(t, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"t","requestState":"mcpgw:b:opaque:state=="}}`)
	name, out, err := tags.Untag(m, tags.All)
	if err != nil || name != "b" || !strings.Contains(string(out.Params), `"requestState":"opaque:state=="`) || string(out.ID) != "9" {
		t.Errorf("requestState: %q %s %v", name, out.Raw, err)
	}
}

// TestMemberNames: names show in labels and tags, so they are short and
// plain.
func TestMemberNames(t *testing.T) {
	for name, ok := range map[string]bool{"a": true, "b.internal-8443": true, "x_1": true, "": false, "a:b": false, "a/b": false, "-a": false, strings.Repeat("a", 65): false} {
		if err := ValidName(name); (err == nil) != ok {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
	if _, err := New(Config{Members: []*Member{member(t, &fake{}, "a", HealthConfig{}), member(t, &fake{}, "a", HealthConfig{})}}); err == nil {
		t.Error("two members of one name")
	}
}

// TestActiveCheck: a failing check takes the member down and ends its
// sessions; a passing one brings it back.
func TestActiveCheck(t *testing.T) {
	var mu sync.Mutex
	failing := false
	check := func(context.Context, upstream.Upstream) error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return errors.New("down")
		}
		return nil
	}
	m := member(t, &fake{name: "a"}, "a", HealthConfig{Interval: 10 * time.Millisecond, Check: check})
	m.StartChecks()
	defer m.StopChecks()
	g, _ := New(Config{Members: []*Member{m}})
	rec := newRecorder()
	if _, err := g.Open(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	failing = true
	mu.Unlock()
	select {
	case err := <-rec.closed:
		if !errors.Is(err, ErrMemberDown) {
			t.Errorf("ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the failing check left the session open")
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for !m.Available(time.Now()) {
		if time.Now().After(deadline) {
			t.Fatal("the passing check did not bring the member back")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkGroupSession is what a group adds to a session's round trip
// over calling the member directly.
func BenchmarkGroupSession(b *testing.B) {
	for _, tc := range []struct {
		name  string
		group bool
	}{{"direct", false}, {"group", true}} {
		b.Run(tc.name, func(b *testing.B) {
			f := &fake{name: "a"}
			m, _ := NewMember("a", "http", f, nil)
			var up upstream.Upstream = f
			if tc.group {
				up, _ = New(Config{Members: []*Member{m}})
			}
			rec := newRecorder()
			conn, err := up.Open(context.Background(), rec)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			msg, _ := pipeline.Parse([]byte(`{"jsonrpc":"2.0","id":2,"method":"ping"}`))
			b.ReportAllocs()
			for b.Loop() {
				_ = conn.Send(context.Background(), msg)
				rec.mu.Lock()
				rec.got = rec.got[:0]
				rec.mu.Unlock()
				f.mu.Lock()
				f.got = f.got[:0]
				f.mu.Unlock()
			}
		})
	}
}

// TestForgedTags: a tag the gateway did not mint for this request — one
// naming no member of the group, a member that is down, or two members at
// once — is an invalid cursor or requestState (-32602, naming no
// upstream), and no member gets the request; a tag naming a member that
// is up goes to it.
func TestForgedTags(t *testing.T) {
	up, down := &fake{name: "up"}, &fake{name: "down"}
	upM := member(t, up, "alpha-internal", HealthConfig{})
	downM := member(t, down, "beta-internal", HealthConfig{FailDuration: time.Minute, MaxFails: 1})
	g, err := New(Config{Members: []*Member{upM, downM}})
	if err != nil {
		t.Fatal(err)
	}
	downM.fail(time.Now(), "down for the test")
	if downM.Available(time.Now()) {
		t.Fatal("the member is still available")
	}
	for _, tc := range []struct {
		name    string
		params  string
		wantErr bool
	}{
		{"a member of another group", `{"cursor":"mcpgw:gamma-internal:page2"}`, true},
		{"a member that is down", `{"cursor":"mcpgw:beta-internal:page2"}`, true},
		{"a requestState of a member that is down", `{"name":"t","requestState":"mcpgw:beta-internal:state"}`, true},
		{"two members at once", `{"name":"t","cursor":"mcpgw:alpha-internal:p","requestState":"mcpgw:beta-internal:s"}`, true},
		{"a member that is up", `{"cursor":"mcpgw:alpha-internal:page2"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.received()) + len(down.received())
			var got []*pipeline.Message
			req := request(t, `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":`+tc.params+`}`)
			if err := g.Call(context.Background(), &upstream.StatelessRequest{Message: req}, func(m *pipeline.Message, _ int) {
				got = append(got, m)
			}); err != nil {
				t.Fatalf("Call: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("%d answers, want 1", len(got))
			}
			received := len(up.received()) + len(down.received()) - before
			if !tc.wantErr {
				if got[0].Error != nil || received != 1 || !strings.Contains(string(got[0].Result), "mcpgw:alpha-internal:") {
					t.Errorf("answer %s, %d requests to members; want the tagged member's answer", got[0].Raw, received)
				}
				return
			}
			if errorCode(got[0].Error) != pipeline.CodeInvalidParams || string(got[0].ID) != "7" {
				t.Errorf("answer %s, want -32602 for id 7", got[0].Raw)
			}
			if strings.Contains(string(got[0].Raw), "internal") {
				t.Errorf("the error names an upstream: %s", got[0].Raw)
			}
			if received != 0 {
				t.Errorf("%d requests reached a member", received)
			}
		})
	}
}
