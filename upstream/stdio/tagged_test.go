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
// (caddytest/taskserver -local), a tools/list paged while the second
// process mints every page returns every page, and an input_required
// call's retry completes, though each later request alone would go to the
// first process (the least loaded); a cursor of a process that exited is
// -32602, naming no command. Failed before: the cursor and requestState
// were not tagged, and the first process answered the second page
// -32602 "invalid cursor".
func TestSharedProcessCursors(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "taskserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/caddy-mcp/caddy-mcp/caddytest/taskserver").CombinedOutput(); err != nil {
		t.Fatalf("building the task server: %v\n%s", err, out)
	}
	p, err := pool.New(pool.Config{Command: bin, Args: []string{"-local"}, MaxProcesses: 4, Warm: pool.NoWarm, StopTimeout: 500 * time.Millisecond, AcquireTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := upstreamOn(t, p, Options{Protocol: ProtocolModern, Shared: 2, MaxInFlight: 1})

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

	_, second := listPage(t, s, "")
	s.shared.mu.Lock()
	gone := s.shared.anon.procs[0]
	s.shared.mu.Unlock()
	if !strings.HasPrefix(second, "mcpgw:"+gone.name+":") {
		t.Fatalf("the first page went to process %s, not the least loaded %s", second, gone.name)
	}
	gone.mux.close()
	waitShared(t, s, func(sh *share) bool { return len(sh.procs) == 1 })
	m := callOnce(t, s, taskRequest(t, "tools/list", `"cursor":"`+second+`"`))[0]
	if errorCode(m) != pipeline.CodeInvalidParams || strings.Contains(string(m.Raw), bin) {
		t.Errorf("the cursor of an exited process: %s", m.Raw)
	}
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
