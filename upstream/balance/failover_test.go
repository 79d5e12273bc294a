package balance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
	"github.com/caddy-mcp/caddy-mcp/upstream/remote"
)

// inbox is a session's receiver that hands what it gets over one channel,
// in the order it came, so that a test waits on it rather than on time.
type inbox struct {
	events  chan event
	related chan string // the request ids of DeliverRelated
}

// event is a message the session got, or its end.
type event struct {
	m      *pipeline.Message
	closed bool
	err    error
}

func newInbox() *inbox {
	return &inbox{events: make(chan event, 16), related: make(chan string, 16)}
}

func (b *inbox) Deliver(m *pipeline.Message) { b.events <- event{m: m} }
func (b *inbox) Closed(err error)            { b.events <- event{closed: true, err: err} }

// DeliverRelated makes inbox an upstream.RelatedReceiver.
func (b *inbox) DeliverRelated(m *pipeline.Message, id json.RawMessage) {
	b.related <- string(id)
	b.events <- event{m: m}
}

func (b *inbox) wait(t *testing.T) event {
	t.Helper()
	select {
	case e := <-b.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("nothing reached the session")
	}
	return event{}
}

// next waits for the session's next message.
func (b *inbox) next(t *testing.T) *pipeline.Message {
	t.Helper()
	e := b.wait(t)
	if e.closed {
		t.Fatalf("the session ended (%v) before its next message", e.err)
	}
	return e.m
}

// end waits for the session's end and returns its cause.
func (b *inbox) end(t *testing.T) error {
	t.Helper()
	e := b.wait(t)
	if !e.closed {
		t.Fatalf("the session got %s, want its end", e.m.Raw)
	}
	return e.err
}

// whoServer is a go-sdk server named name with a tool "whoami" that
// answers the server's name.
func whoServer(name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name}}}, nil, nil
	})
	return s
}

// httpMember puts handler behind a test server and the real HTTP
// upstream; gone closes the server first, so that the member gives no
// answer (the HTTP upstream makes one up, as when a server is down).
func httpMember(t *testing.T, name string, handler http.Handler, gone bool) (*Member, *methodLog, *httptest.Server) {
	t.Helper()
	log := &methodLog{next: handler}
	srv := httptest.NewServer(log)
	if gone {
		srv.Close()
	} else {
		t.Cleanup(srv.Close)
	}
	up, err := remote.NewHTTP(remote.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.CloseIdleConnections)
	t.Cleanup(up.Wait)
	return member(t, up, name, HealthConfig{}), log, srv
}

// sessionful is a go-sdk server of the 2025 revisions; the sessions a
// test leaves open (a server gone before the session's DELETE) are closed
// when it ends.
func sessionful(t *testing.T, name string) http.Handler {
	s := whoServer(name)
	t.Cleanup(func() {
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	})
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
}

func stateless(name string) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return whoServer(name) },
		&mcp.StreamableHTTPOptions{Stateless: true})
}

const (
	realInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	initialized    = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	whoami         = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
)

// serverName is the serverInfo name of an initialize result.
func serverName(t *testing.T, m *pipeline.Message) string {
	t.Helper()
	var r struct {
		ServerInfo struct{ Name string } `json:"serverInfo"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil {
		t.Fatalf("initialize answered %s", m.Raw)
	}
	return r.ServerInfo.Name
}

// TestSessionFailoverRealServers: against real go-sdk servers behind the
// real HTTP upstream, a new session's initialize that the first member
// does not answer (its server is gone) is answered by the next one, with
// lb_retries; the session stays there; without retries the client gets
// the failure; and once a session was initialized, a tools/call its member
// does not answer is never sent to another member (it would run twice).
func TestSessionFailoverRealServers(t *testing.T) {
	t.Run("initialize moves to the next member", func(t *testing.T) {
		dead, _, _ := httpMember(t, "dead", sessionful(t, "dead"), true)
		live, liveLog, _ := httpMember(t, "live", sessionful(t, "live"), false)
		g, err := New(Config{Members: []*Member{dead, live}, Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Wait)
		in := newInbox()
		conn, err := g.Open(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Send(context.Background(), request(t, realInitialize)); err != nil {
			t.Fatal(err)
		}
		if got := serverName(t, in.next(t)); got != "live" {
			t.Fatalf("initialize answered by %q, want live", got)
		}
		_ = conn.Send(context.Background(), request(t, initialized))
		_ = conn.Send(context.Background(), request(t, whoami))
		if m := in.next(t); m.Error != nil || !strings.Contains(string(m.Result), `"text":"live"`) {
			t.Fatalf("tools/call answered %s", m.Raw)
		}
		if name, _ := conn.(upstream.ServedConn).ServedBy(); name != "live" {
			t.Errorf("served by %q", name)
		}
		if got := liveLog.methods(); got != "initialize notifications/initialized tools/call" {
			t.Errorf("live got %q", got)
		}
		if st := dead.Status(time.Now()); st.Total != 1 {
			t.Errorf("dead's passive failures: %d, want 1 (the unanswered initialize)", st.Total)
		}
		if dead.Sessions() != 0 || live.Sessions() != 1 {
			t.Errorf("sessions: dead %d, live %d; want 0 and 1", dead.Sessions(), live.Sessions())
		}
	})

	t.Run("no retries: the client gets the failure", func(t *testing.T) {
		dead, _, _ := httpMember(t, "dead", sessionful(t, "dead"), true)
		live, liveLog, _ := httpMember(t, "live", sessionful(t, "live"), false)
		g, _ := New(Config{Members: []*Member{dead, live}})
		in := newInbox()
		conn, err := g.Open(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.Send(context.Background(), request(t, realInitialize))
		if m := in.next(t); upstream.GatewayStatus(m) == 0 {
			t.Errorf("initialize answered %s, want the made-up failure", m.Raw)
		}
		if got := liveLog.methods(); got != "" {
			t.Errorf("live got %q", got)
		}
	})

	t.Run("a tools/call is never retried", func(t *testing.T) {
		first, _, firstSrv := httpMember(t, "first", sessionful(t, "first"), false)
		second, secondLog, _ := httpMember(t, "second", sessionful(t, "second"), false)
		g, _ := New(Config{Members: []*Member{first, second}, Retries: 1})
		t.Cleanup(g.Wait)
		in := newInbox()
		conn, err := g.Open(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.Send(context.Background(), request(t, realInitialize))
		if got := serverName(t, in.next(t)); got != "first" {
			t.Fatalf("initialize answered by %q", got)
		}
		_ = conn.Send(context.Background(), request(t, initialized))
		firstSrv.CloseClientConnections()
		firstSrv.Close()
		_ = conn.Send(context.Background(), request(t, whoami))
		if m := in.next(t); upstream.GatewayStatus(m) == 0 || string(m.ID) != "2" {
			t.Errorf("tools/call answered %s, want first's made-up failure", m.Raw)
		}
		if got := secondLog.methods(); got != "" {
			t.Errorf("second got %q: the call was retried", got)
		}
	})
}

// TestStatelessRetriesRealServers: 2026-07-28 requests to real go-sdk
// stateless servers: a retriable request the first member does not answer
// is answered by the next one; a tools/call and a next page are not
// retried; without retries nothing is.
func TestStatelessRetriesRealServers(t *testing.T) {
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"}}`
	for _, tc := range []struct {
		name, method, params string
		retries              int
		wantLive             bool // answered by live (else: dead's made-up failure)
	}{
		{"tools/list first page", "tools/list", `{` + meta + `}`, 1, true},
		{"server/discover", "server/discover", `{` + meta + `}`, 1, true},
		{"ping", "ping", `{` + meta + `}`, 1, true},
		{"tools/call", "tools/call", `{"name":"whoami","arguments":{},` + meta + `}`, 1, false},
		{"tools/list next page", "tools/list", `{"cursor":"p2",` + meta + `}`, 1, false},
		{"tools/list without retries", "tools/list", `{` + meta + `}`, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dead, _, _ := httpMember(t, "dead", stateless("dead"), true)
			live, liveLog, _ := httpMember(t, "live", stateless("live"), false)
			g, _ := New(Config{Members: []*Member{dead, live}, Retries: tc.retries})
			req := request(t, `{"jsonrpc":"2.0","id":5,"method":"`+tc.method+`","params":`+tc.params+`}`)
			hdr := http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {tc.method}}
			if tc.method == "tools/call" {
				hdr.Set("Mcp-Name", "whoami")
			}
			var answers []*pipeline.Message
			err := g.Call(context.Background(), &upstream.StatelessRequest{Message: req, Header: hdr}, func(m *pipeline.Message, _ int) {
				if m.IsResponse() {
					answers = append(answers, m)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(answers) != 1 || string(answers[0].ID) != "5" {
				t.Fatalf("answers %v, want one for id 5", answers)
			}
			a := answers[0]
			if tc.wantLive {
				if upstream.GatewayStatus(a) != 0 || liveLog.methods() != tc.method {
					t.Errorf("answer %s, live got %q; want live's answer", a.Raw, liveLog.methods())
				}
				return
			}
			if upstream.GatewayStatus(a) == 0 {
				t.Errorf("answer %s, want dead's made-up failure", a.Raw)
			}
			if got := liveLog.methods(); got != "" {
				t.Errorf("live got %q: the request was retried", got)
			}
		})
	}
}

// The faults a member meets on the way to answering a new session's
// initialize, injected.
type (
	// openFails is an upstream whose Open fails with err.
	openFails struct{ err error }
	// endsEarly is an upstream whose connections end, with errFault, on
	// the first request, before answering it.
	endsEarly struct{}
	earlyConn struct{ r upstream.Receiver }
	// sendFails is an upstream whose connections cannot send.
	sendFails struct{}
	// silent is an upstream whose connections take every message and
	// answer none.
	silent     struct{}
	silentConn struct{}
)

var errFault = errors.New("injected fault")

func (o openFails) Open(context.Context, upstream.Receiver) (upstream.Conn, error) { return nil, o.err }

func (endsEarly) Open(_ context.Context, r upstream.Receiver) (upstream.Conn, error) {
	return &earlyConn{r: r}, nil
}

func (c *earlyConn) Send(_ context.Context, m *pipeline.Message) error {
	if m.IsRequest() {
		c.r.Closed(errFault) // the process exited before answering
	}
	return nil
}
func (c *earlyConn) Close() {}

func (sendFails) Open(context.Context, upstream.Receiver) (upstream.Conn, error) {
	return sendFailsConn{}, nil
}

type sendFailsConn struct{}

func (sendFailsConn) Send(context.Context, *pipeline.Message) error { return errFault }
func (sendFailsConn) Close()                                        {}

func (silent) Open(context.Context, upstream.Receiver) (upstream.Conn, error) {
	return &silentConn{}, nil
}
func (c *silentConn) Send(context.Context, *pipeline.Message) error { return nil }
func (c *silentConn) Close()                                        {}

// TestSessionFailoverFaults: for each fault a member meets before it
// answers a new session's initialize — its Open fails, its connection
// ends, its Send fails, it answers with a failure — and each number of
// retries, the session lands on the member that answers, or the client
// gets the last failure, or the session ends; and no member that was not
// needed is asked.
func TestSessionFailoverFaults(t *testing.T) {
	type outcome int
	const (
		answered outcome = iota // live's answer reaches the client
		failure                 // an error answer reaches the client
		ended                   // the session ends
		openErr                 // Open returns an error
	)
	for _, tc := range []struct {
		name    string
		faults  []func() upstream.Upstream
		live    bool // a live fake follows the faulty members
		retries int
		want    outcome
	}{
		{"open fails, retried", ups(func() upstream.Upstream { return openFails{errFault} }), true, 1, answered},
		{"open fails, no retries", ups(func() upstream.Upstream { return openFails{errFault} }), true, 0, openErr},
		{"open fails everywhere", ups(func() upstream.Upstream { return openFails{errFault} }, func() upstream.Upstream { return openFails{errFault} }), false, 5, openErr},
		{"busy is not a failure but moves on", ups(func() upstream.Upstream {
			return openFails{&upstream.BusyError{RetryAfter: time.Second, Err: errFault}}
		}), true, 1, answered},
		{"connection ends, retried", ups(func() upstream.Upstream { return endsEarly{} }), true, 1, answered},
		{"connection ends, no retries", ups(func() upstream.Upstream { return endsEarly{} }), true, 0, ended},
		{"connection ends everywhere", ups(func() upstream.Upstream { return endsEarly{} }, func() upstream.Upstream { return endsEarly{} }), false, 1, ended},
		{"ends, then retries left but no member", ups(func() upstream.Upstream { return endsEarly{} }), false, 3, failure},
		{"send fails on the retried member", ups(func() upstream.Upstream { return &fake{name: "down", down: true} }, func() upstream.Upstream { return sendFails{} }), true, 2, answered},
		{"failure answers everywhere", ups(func() upstream.Upstream { return &fake{name: "d1", down: true} }, func() upstream.Upstream { return &fake{name: "d2", down: true} }), false, 1, failure},
		{"failure answer, more retries than members", ups(func() upstream.Upstream { return &fake{name: "d1", down: true} }), false, 4, failure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ms []*Member
			for i, f := range tc.faults {
				ms = append(ms, member(t, f(), "fault"+string(rune('0'+i)), HealthConfig{}))
			}
			live := &fake{name: "live"}
			if tc.live {
				ms = append(ms, member(t, live, "live", HealthConfig{}))
			}
			g, err := New(Config{Members: ms, Retries: tc.retries})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Wait()
			in := newInbox()
			conn, err := g.Open(context.Background(), in)
			if tc.want == openErr {
				if err == nil {
					conn.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, errFault) {
					t.Errorf("Open: %v, want the member's failure", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Send(context.Background(), request(t, initialize)); err != nil && tc.want == answered {
				t.Fatal(err)
			}
			switch tc.want {
			case answered:
				if m := in.next(t); m.Error != nil || !strings.Contains(string(m.Result), `"live"`) {
					t.Fatalf("initialize answered %s, want live's", m.Raw)
				}
				if name, _ := conn.(upstream.ServedConn).ServedBy(); name != "live" {
					t.Errorf("served by %q", name)
				}
				_ = conn.Send(context.Background(), request(t, `{"jsonrpc":"2.0","id":2,"method":"ping"}`))
				if m := in.next(t); string(m.ID) != "2" {
					t.Errorf("ping answered %s", m.Raw)
				}
				if got := strings.Join(live.received(), ","); got != "initialize,ping" {
					t.Errorf("live got %s", got)
				}
			case failure:
				m := in.next(t)
				if m.Error == nil || string(m.ID) != "1" {
					t.Errorf("initialize answered %s, want an error", m.Raw)
				}
			case ended:
				if err := in.end(t); err == nil {
					t.Error("the session ended without a cause")
				}
			}
		})
	}
}

func ups(f ...func() upstream.Upstream) []func() upstream.Upstream { return f }

// TestSessionMovesDropStale: once a session moved to the next member, what
// the member it left still sends is dropped; a server request related to a
// client request reaches the session as related.
func TestSessionMovesDropStale(t *testing.T) {
	quiet := silent{}
	live := &fake{name: "live"}
	qm := member(t, quiet, "quiet", HealthConfig{})
	g, _ := New(Config{Members: []*Member{qm, member(t, live, "live", HealthConfig{})}, Retries: 1})
	defer g.Wait()
	in := newInbox()
	conn, err := g.Open(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gc := conn.(*groupConn)
	first := gc.current()
	_ = conn.Send(context.Background(), request(t, initialize))
	// quiet ends before answering: the session moves to live.
	first.Closed(io.ErrUnexpectedEOF)
	if m := in.next(t); !strings.Contains(string(m.Result), `"live"`) {
		t.Fatalf("initialize answered %s", m.Raw)
	}
	// What quiet sends now is of a session it no longer serves.
	first.Deliver(request(t, `{"jsonrpc":"2.0","method":"notifications/message","params":{}}`))
	first.Deliver(pipeline.NewResult(json.RawMessage("1"), json.RawMessage(`{"server":"quiet"}`)))
	first.Closed(nil)
	// live's server request related to a client request is delivered so.
	gc.current().DeliverRelated(request(t, `{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}`), json.RawMessage("7"))
	select {
	case id := <-in.related:
		if id != "7" {
			t.Errorf("related to %s, want 7", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the related request did not arrive")
	}
	if m := in.next(t); m.Method != "sampling/createMessage" {
		t.Errorf("the session got %s, want live's request (quiet's stale messages dropped)", m.Raw)
	}
	select {
	case e := <-in.events:
		t.Errorf("a stale message or quiet's end reached the moved session: %+v", e)
	default:
	}
	if gc.PID() != 0 {
		t.Error("an HTTP-like member's connection has a pid")
	}
	gc.Listen(true) // passes on to a connection that does not listen: no-op
}

// TestStatelessRetryFaults: a retriable 2026-07-28 request whose members
// fail with an error (a stdio member's failure, not a made-up answer) is
// tried on each up to lb_retries, and the last error is returned; with
// every member made-up-failing the last failure is delivered.
func TestStatelessRetryFaults(t *testing.T) {
	failing := func(n string) *era2025 {
		return &era2025{&fake{name: n}, func(*pipeline.Message) (*pipeline.Message, int, error) {
			return nil, 0, errFault
		}}
	}
	a, b := failing("a"), failing("b")
	g, _ := New(Config{Members: []*Member{member(t, a, "a", HealthConfig{}), member(t, b, "b", HealthConfig{})}, Retries: 3})
	err := g.Call(context.Background(), &upstream.StatelessRequest{Message: request(t, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x"}}`)},
		func(m *pipeline.Message, _ int) { t.Errorf("delivered %s", m.Raw) })
	if !errors.Is(err, errFault) {
		t.Errorf("Call: %v, want the member's error", err)
	}
	if len(a.received()) != 1 || len(b.received()) != 1 {
		t.Errorf("a got %v, b got %v; want one try each", a.received(), b.received())
	}

	d1, d2 := &fake{name: "d1", down: true}, &fake{name: "d2", down: true}
	g, _ = New(Config{Members: []*Member{member(t, d1, "d1", HealthConfig{}), member(t, d2, "d2", HealthConfig{})}, Retries: 3})
	var got []*pipeline.Message
	if err := g.Call(context.Background(), &upstream.StatelessRequest{Message: request(t, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)},
		func(m *pipeline.Message, _ int) { got = append(got, m) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || upstream.GatewayStatus(got[0]) == 0 || len(d1.received())+len(d2.received()) != 2 {
		t.Errorf("got %v; want one failure after one try on each member", got)
	}
}
