package stdio

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/pool"
)

// TestSharedProcessCursors: with two shared processes of a server whose
// cursors and requestState only the process that minted them understands
// (caddytest/taskserver -cursors local), a tools/list paged while the
// second process mints every page returns every page, and an
// input_required call's retry completes, though each later request alone
// would go to the first process (the least loaded). Failed before: the
// cursor and requestState were not tagged, and the first process
// answered the second page -32602 "invalid cursor".
func TestSharedProcessCursors(t *testing.T) {
	s := cursorServer(t, "local")

	// Hold the first process at its limit while the second mints the
	// first page and the requestState.
	holdCtx, release := context.WithCancel(context.Background())
	held := make(chan error, 1)
	go func() {
		held <- s.Call(holdCtx, taskRequest(t, "tools/call", `"name":"hold","arguments":{}`), func(*pipeline.Message, int) {})
	}()
	waitShared(t, s, func(sh *share) bool { return len(sh.procs) == 1 && sh.procs[0].load == 1 })
	names, cursor := listPage(t, s, "")
	asked := callOnce(t, s, taskRequest(t, "tools/call", `"name":"ask","arguments":{}`))[0]
	release()
	<-held
	var state struct {
		ResultType   string `json:"resultType"`
		RequestState string `json:"requestState"`
	}
	if json.Unmarshal(asked.Result, &state) != nil || state.ResultType != "input_required" || !strings.HasPrefix(state.RequestState, "mcpgw:2:") {
		t.Fatalf("ask: %s, want input_required with a requestState tagged with the second process", asked.Raw)
	}
	if !strings.HasPrefix(cursor, "mcpgw:2:") {
		t.Fatalf("the first page's cursor is %q, want it tagged with the second process", cursor)
	}
	// Both processes are idle now: untagged, each of these would go to
	// the first, which knows neither.
	for cursor != "" {
		var page []string
		page, cursor = listPage(t, s, cursor)
		names = append(names, page...)
	}
	if got := strings.Join(names, ","); got != "slow,ask,hold" {
		t.Errorf("paged tools/list: %s, want slow,ask,hold", got)
	}
	retry := callOnce(t, s, taskRequest(t, "tools/call", `"name":"ask","arguments":{},"inputResponses":{"name":{"action":"accept","content":{"name":"x"}}},"requestState":"`+state.RequestState+`"`))[0]
	if retry.Error != nil || !strings.Contains(string(retry.Result), "answered by A") {
		t.Errorf("the retry with the requestState: %s", retry.Raw)
	}
}

// TestCursorOfGoneProcess: a cursor or requestState naming a process the
// share no longer holds (it exited; or a page of a list cached for
// everyone named another user's process) goes to a process of the share,
// which judges it: a server whose cursors every process reads alike
// (-cursors any) serves the next page and completes the retry; one whose
// cursors only their process understands (-cursors local) answers as it
// answers a cursor it does not know (its own -32602, naming no command).
// A task id naming such a process is the gateway's -32602
// (TestSharedProcessTasks).
func TestCursorOfGoneProcess(t *testing.T) {
	for _, tc := range []struct {
		mode        string
		page, retry string // what the next page and the retry answer
	}{
		{"any", `"name":"ask"`, "answered by A"},
		{"local", `"message":"invalid cursor"`, `"message":"invalid requestState"`},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s := cursorServer(t, tc.mode)
			_, cursor := listPage(t, s, "")
			asked := callOnce(t, s, taskRequest(t, "tools/call", `"name":"ask","arguments":{}`))[0]
			var state struct {
				RequestState string `json:"requestState"`
			}
			_ = json.Unmarshal(asked.Result, &state)
			s.shared.mu.Lock()
			gone := s.shared.anon.procs[0]
			s.shared.mu.Unlock()
			if !strings.HasPrefix(cursor, "mcpgw:"+gone.name+":") || !strings.HasPrefix(state.RequestState, "mcpgw:"+gone.name+":") {
				t.Fatalf("cursor %q and requestState %q, want both tagged with process %s", cursor, state.RequestState, gone.name)
			}
			gone.mux.close()
			waitShared(t, s, func(sh *share) bool { return len(sh.procs) == 0 })
			for _, c := range []struct{ params, want string }{
				{`"cursor":"` + cursor + `"`, tc.page},
				{`"name":"ask","arguments":{},"inputResponses":{"name":{"action":"accept","content":{"name":"x"}}},"requestState":"` + state.RequestState + `"`, tc.retry},
			} {
				method := map[bool]string{true: "tools/list", false: "tools/call"}[strings.HasPrefix(c.params, `"cursor"`)]
				m := callOnce(t, s, taskRequest(t, method, c.params))[0]
				if !strings.Contains(string(m.Raw), c.want) || strings.Contains(string(m.Raw), "taskserver") {
					t.Errorf("%s of the exited process: %s, want %s", method, m.Raw, c.want)
				}
			}
		})
	}
}

// cursorServer is a stdio upstream of two shared processes (at most one
// request in flight each) of caddytest/taskserver -cursors mode.
func cursorServer(t *testing.T, mode string) *Upstream {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "taskserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/caddy-mcp/caddy-mcp/caddytest/taskserver").CombinedOutput(); err != nil {
		t.Fatalf("building the task server: %v\n%s", err, out)
	}
	p, err := pool.New(pool.Config{Command: bin, Args: []string{"-cursors", mode}, MaxProcesses: 4, Warm: pool.NoWarm, StopTimeout: 500 * time.Millisecond, AcquireTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return upstreamOn(t, p, Options{Protocol: ProtocolModern, Shared: 2, MaxInFlight: 1})
}

// listPage asks the tools/list page of cursor ("" the first) and returns
// its tools' names and its nextCursor.
func listPage(t *testing.T, s *Upstream, cursor string) ([]string, string) {
	t.Helper()
	params := ""
	if cursor != "" {
		params = `"cursor":"` + cursor + `"`
	}
	m := callOnce(t, s, taskRequest(t, "tools/list", params))[0]
	var page struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
		NextCursor string `json:"nextCursor"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &page) != nil {
		t.Fatalf("tools/list %q: %s", cursor, m.Raw)
	}
	var names []string
	for _, tool := range page.Tools {
		names = append(names, tool.Name)
	}
	return names, page.NextCursor
}
