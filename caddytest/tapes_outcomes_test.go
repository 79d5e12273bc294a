package caddytest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// outcomeServer is a go-sdk server whose tools the outcome test's rules
// act on: echo answers its message, slow answers only once release is
// closed (a stateless server cannot hear the cancel of a request made in
// another POST), and the others answer "ran <name>" (so a mocked or
// blocked call that reached the server would show).
func outcomeServer(release <-chan struct{}) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "outcomes", Version: "1"}, nil)
	type echoArgs struct {
		Message string `json:"message"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + a.Message}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "slow"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		select {
		case <-ctx.Done():
		case <-release:
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "too late"}}}, nil, nil
	})
	for _, name := range []string{"secret_op", "fake", "approve"} {
		mcp.AddTool(s, &mcp.Tool{Name: name}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ran " + name}}}, nil, nil
		})
	}
	return s
}

// TestTapeOutcomes: a tape says what the pipeline did to each message —
// blocked (and the rule's error, generated), mocked (and the mock's
// result), modified both ways with the original form, held with how the
// hold ended — and holds the messages the gateway made itself: the
// request_timeout answer (here rewritten by a rule, which sees it like any
// answer) and the cancel it sent the server. Not the defaults in one
// line: request_timeout is 1s instead of 10m, so that the slow call times
// out within the test.
func TestTapeOutcomes(t *testing.T) {
	requireIntegration(t)
	release := make(chan struct{})
	up := httptest.NewServer(statelessHandler(outcomeServer(release)))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) }) // first: slow's handler ends before Close waits for it
	dir := t.TempDir()
	url := startProxy(t, fmt.Sprintf(siteAddr+` {
	bind 127.0.0.1
	mcp_proxy /mcp {
		http %s
		request_timeout 1s
		record %s
		intercept no-secrets {
			tool secret_op
			block "not through this gateway"
		}
		intercept fake {
			tool fake
			mock `+"`"+`{"content": [{"type": "text", "text": "mocked"}]}`+"`"+`
		}
		intercept force {
			tool echo
			set /params/arguments/message `+"`"+`"forced"`+"`"+`
		}
		intercept redact {
			direction to_client
			tool echo
			set /result/content/0/text `+"`"+`"redacted"`+"`"+`
		}
		intercept soften {
			direction to_client
			tool slow
			set /error/message `+"`"+`"slow is slow today"`+"`"+`
		}
		intercept approve {
			tool approve
			pause 300ms then continue
		}
	}
}
`, caddyfileQuote(up.URL), caddyfileQuote(dir))) + "/mcp"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs := connectGo(ctx, t, url, "2025-11-25", nil)

	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "secret_op"})
	wantRPCError(t, err, "the blocked call")
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "fake"}); got != "mocked" {
		t.Errorf("the mocked call: %q", got)
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": "hi"}}); got != "redacted" {
		t.Errorf("the modified call: %q", got)
	}
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow"})
	if e := wantRPCError(t, err, "the call that timed out"); e.Code != -32001 || e.Message != "slow is slow today" {
		t.Errorf("the gateway's timeout answer, as the rule rewrote it: %d %q", e.Code, e.Message)
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "approve"}); got != "ran approve" {
		t.Errorf("the held call: %q", got)
	}
	_ = cs.Close()
	startProxy(t, idleSite) // unloads the recorder: the tape is complete

	tapes, err := tape.List(dir)
	if err != nil || len(tapes) != 1 {
		t.Fatalf("want one session tape, got %v %v", tapes, err)
	}
	f, err := tape.ReadFile(tapes[0])
	if err != nil {
		t.Fatal(err)
	}
	// Each line names what the tape must hold: direction, action, stage,
	// how a hold ended, and text the message (and its original) contain.
	type line struct{ dir, action, stage, ended, msg, original string }
	want := []line{
		{tape.ClientToServer, tape.Blocked, "no-secrets", "", `"secret_op"`, ""},
		{tape.ServerToClient, tape.Generated, "no-secrets", "", `not through this gateway`, ""},
		{tape.ClientToServer, tape.Mocked, "fake", "", `"fake"`, ""},
		{tape.ServerToClient, tape.Mocked, "fake", "", `"mocked"`, ""},
		{tape.ClientToServer, tape.Modified, "force", "", `"forced"`, `"hi"`},
		{tape.ServerToClient, tape.Modified, "redact", "", `"redacted"`, `echo: forced`},
		{tape.ServerToClient, tape.Generated, "soften", "", `slow is slow today`, `request_timeout (1s)`},
		{tape.ClientToServer, tape.Generated, "", "", `notifications/cancelled`, ""},
		{tape.ClientToServer, tape.Held, "approve", "timeout", `"approve"`, ""},
	}
	var missing []string
	for _, w := range want {
		found := false
		for _, r := range f.Records {
			if r.Dir == w.dir && r.Pipeline.Action == w.action && r.Pipeline.Stage == w.stage && r.Pipeline.Ended == w.ended &&
				strings.Contains(string(r.Msg), w.msg) && strings.Contains(string(r.Pipeline.Original), w.original) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, fmt.Sprintf("%+v", w))
		}
	}
	if len(missing) > 0 {
		var got []string
		for _, r := range f.Records {
			got = append(got, fmt.Sprintf("%s %+v %s", r.Dir, r.Pipeline, r.Msg))
		}
		t.Fatalf("the tape lacks:\n%s\nit holds:\n%s", strings.Join(missing, "\n"), strings.Join(got, "\n"))
	}
	// The server never got the blocked or the mocked call.
	for _, r := range f.Records {
		if msg, ok := r.Upstream(); ok && r.Dir == tape.ClientToServer &&
			(strings.Contains(string(msg), `"secret_op"`) || strings.Contains(string(msg), `"fake"`)) {
			t.Errorf("the tape says the server got %s", msg)
		}
	}
}
