package caddytest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/caddy-mcp/caddy-mcp/tape"
)

// pinServer is testdata/pinserver: echo never changes, fetch's
// description names the variant its first argument gives.
var pinServer = &builtBinary{pkg: "./testdata/pinserver", name: "pinserver", timeout: 5 * time.Minute}

// pinEntry is an entry of GET /mcp_proxy/pins.
type pinEntry struct {
	ID       string `json:"id"`
	Endpoint string `json:"endpoint"`
	Tool     string `json:"tool"`
	State    string `json:"state"`
	Pinned   *struct {
		Digest     string          `json:"digest"`
		Definition json.RawMessage `json:"definition"`
	} `json:"pinned"`
	Pending *struct {
		Digest     string          `json:"digest"`
		Definition json.RawMessage `json:"definition"`
	} `json:"pending"`
}

// pinGlobals are caddyGlobals with Caddy's storage in dir.
func pinGlobals(dir string) string {
	return strings.TrimSuffix(caddyGlobals, "}\n") + "\tstorage file_system " + caddyfileQuote(dir) + "\n}\n"
}

// pinSite serves the pinserver of variant at /mcp, as the endpoint named
// pinned (a name, so that the endpoint and its pins stay the same when
// the server's command line changes), with the pin_tools lines.
func pinSite(t *testing.T, variant string, pinLines ...string) string {
	return pipelineSite("name pinned\n\t\tstdio "+caddyfileQuote(pinServer.get(t))+" "+variant,
		"pin_tools {\n\t\t\t"+strings.Join(pinLines, "\n\t\t\t")+"\n\t\t}")
}

// pinsOf returns the pins of the endpoint named pinned, by tool.
func pinsOf(t *testing.T) map[string]pinEntry {
	t.Helper()
	var list struct {
		Pins []pinEntry `json:"pins"`
	}
	adminGet(t, "/mcp_proxy/pins?endpoint=pinned", &list)
	out := make(map[string]pinEntry)
	for _, e := range list.Pins {
		out[e.Tool] = e
	}
	return out
}

// sortedToolNames lists the tools cs sees, sorted.
func sortedToolNames(ctx context.Context, t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	var names []string
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// listChangedClient connects a 2025-11-25 go-sdk client that reports
// each notifications/tools/list_changed on the channel it returns.
func listChangedClient(ctx context.Context, t *testing.T, url string) (*mcp.ClientSession, <-chan struct{}) {
	changed := make(chan struct{}, 8)
	cs := connectGo(ctx, t, url, "2025-11-25", &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		},
	})
	return cs, changed
}

// TestPinToolsHide: through a real Caddy with file storage and a go-sdk
// stdio server: the first run pins both tools; after the server restarts
// with fetch's description changed, hide hides exactly fetch and refuses
// its calls as unknown, the admin API shows the old and new definitions,
// the drift is counted, and approving it brings fetch back with a
// list_changed to the connected go-sdk client. The pins survive a restart
// of the endpoint (the storage keeps them): the server going back to the
// first variant is then a drift in turn.
func TestPinToolsHide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	globals := withGlobals(pinGlobals(t.TempDir()))
	url := startProxy(t, pinSite(t, "v1", "on_change hide"), globals) + "/mcp"
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo", "fetch"}) {
		t.Fatalf("first run lists %v", got)
	}
	pinned := pinsOf(t)
	if len(pinned) != 2 || pinned["fetch"].State != "pinned" || pinned["echo"].State != "pinned" {
		t.Fatalf("first run pins %+v", pinned)
	}
	_ = cs.Close()

	// The server restarts with fetch changed (a new command line: new
	// processes). The counter is the process's: other tests count too.
	const driftSeries = `caddy_mcp_tool_drifts_total{action="hide",endpoint="pinned"}`
	drifts := scrape(t)[driftSeries]
	startProxy(t, pinSite(t, "v2", "on_change hide"), globals)
	cs, changed := listChangedClient(ctx, t, url)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after the change the client lists %v, want only echo", got)
	}
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fetch", Arguments: map[string]any{"text": "x"}})
	if e := wantRPCError(t, err, "call of the hidden tool"); e.Code != -32602 || e.Message != `unknown tool "fetch"` {
		t.Errorf("hidden tool: %d %q", e.Code, e.Message)
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}}); got != "hi" {
		t.Errorf("echo answered %q", got)
	}
	drift := pinsOf(t)["fetch"]
	if drift.State != "drift" || drift.Pinned == nil || drift.Pending == nil ||
		!strings.Contains(string(drift.Pinned.Definition), "(v1)") || !strings.Contains(string(drift.Pending.Definition), "(v2)") {
		t.Fatalf("the admin API shows %+v", drift)
	}
	if e := pinsOf(t)["echo"]; e.State != "pinned" {
		t.Errorf("echo: %+v", e)
	}
	if n := scrape(t)[driftSeries]; n != drifts+1 {
		t.Errorf("caddy_mcp_tool_drifts_total{hide} went from %v to %v, want one more", drifts, n)
	}

	status, body := adminDo(t, http.MethodPost, "/mcp_proxy/pins/"+drift.ID+"/approve")
	if status != http.StatusOK {
		t.Fatalf("approve: %d %s", status, body)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("the connected client heard no notifications/tools/list_changed after the approval")
	}
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo", "fetch"}) {
		t.Fatalf("after the approval the client lists %v", got)
	}
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "fetch", Arguments: map[string]any{"text": "x"}}); got != "fetched x with v2" {
		t.Errorf("fetch answered %q", got)
	}
	if status, _ := adminDo(t, http.MethodPost, "/mcp_proxy/pins/"+drift.ID+"/approve"); status != http.StatusNotFound {
		t.Errorf("approving the same id again: %d, want 404", status)
	}

	// Caddy restarts (the endpoint and its book go; the storage stays).
	unloadProxy(t)
	startProxy(t, pinSite(t, "v1", "on_change hide"), globals)
	cs = connectGo(ctx, t, url, "2025-11-25", nil)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("after the restart, v1 (no longer the pin) lists %v", got)
	}
	if e := pinsOf(t)["fetch"]; e.State != "drift" || !strings.Contains(string(e.Pinned.Definition), "(v2)") {
		t.Errorf("after the restart: %+v", e)
	}
}

// TestPinToolsWarnBlockReject: block keeps a drifted tool listed and
// refuses its calls with the documented error; warn lets it through and
// flags it; a rejected definition stays withheld (under warn too) and
// keeps the old pin.
func TestPinToolsWarnBlockReject(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	globals := withGlobals(pinGlobals(t.TempDir()))
	url := startProxy(t, pinSite(t, "v1", "on_change block"), globals) + "/mcp"
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	sortedToolNames(ctx, t, cs)

	startProxy(t, pinSite(t, "v2", "on_change block"), globals)
	cs = connectGo(ctx, t, url, "2025-11-25", nil)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo", "fetch"}) {
		t.Fatalf("block lists %v, want both", got)
	}
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fetch", Arguments: map[string]any{"text": "x"}})
	if e := wantRPCError(t, err, "call of the blocked tool"); e.Code != -32031 || !strings.Contains(e.Message, `tool "fetch" is blocked`) {
		t.Errorf("blocked tool: %d %q", e.Code, e.Message)
	}

	startProxy(t, pinSite(t, "v2", "on_change warn"), globals)
	cs = connectGo(ctx, t, url, "2025-11-25", nil)
	if got := callToolText(ctx, t, cs, &mcp.CallToolParams{Name: "fetch", Arguments: map[string]any{"text": "x"}}); got != "fetched x with v2" {
		t.Errorf("warn: fetch answered %q", got)
	}
	drift := pinsOf(t)["fetch"]
	if drift.State != "drift" {
		t.Fatalf("warn: %+v", drift)
	}
	status, body := adminDo(t, http.MethodPost, "/mcp_proxy/pins/"+drift.ID+"/reject")
	if status != http.StatusOK {
		t.Fatalf("reject: %d %s", status, body)
	}
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("a rejected definition under warn lists %v, want only echo", got)
	}
	if e := pinsOf(t)["fetch"]; e.State != "rejected" || !strings.Contains(string(e.Pinned.Definition), "(v1)") {
		t.Errorf("after the rejection: %+v", e)
	}
	for _, path := range []string{"/mcp_proxy/pins/nope/approve", "/mcp_proxy/pins/" + drift.ID + "/frobnicate"} {
		if status, _ := adminDo(t, http.MethodPost, path); status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, status)
		}
	}
	if status, _ := adminDo(t, http.MethodGet, "/mcp_proxy/pins?state=odd"); status != http.StatusBadRequest {
		t.Errorf("a bad state filter: %d, want 400", status)
	}
}

// TestPinToolsTape: a tape notes a list answered with a hidden drift: the
// list is recorded as modified by stage pin_tools:hidden_drift, with the
// server's own list as the original.
func TestPinToolsTape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	globals := withGlobals(pinGlobals(t.TempDir()))
	url := startProxy(t, pinSite(t, "v1"), globals) + "/mcp"
	sortedToolNames(ctx, t, connectGo(ctx, t, url, "2025-11-25", nil))
	dir := t.TempDir()
	startProxy(t, pipelineSite("name pinned\n\t\tstdio "+caddyfileQuote(pinServer.get(t))+" v2",
		"pin_tools", "record "+caddyfileQuote(dir)), globals)
	cs := connectGo(ctx, t, url, "2025-11-25", nil)
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Fatalf("lists %v", got)
	}
	var found *tape.Record
	if !poll(15*time.Second, func() bool {
		paths, _ := tape.List(dir)
		for _, p := range paths {
			f, err := tape.ReadFile(p)
			if err != nil {
				continue
			}
			for i, r := range f.Records {
				if r.Pipeline.Stage == "pin_tools:hidden_drift" {
					found = &f.Records[i]
				}
			}
		}
		return found != nil
	}) {
		t.Fatal("no tape line notes the hidden drift")
	}
	if found.Pipeline.Action != tape.Modified || found.Dir != tape.ServerToClient ||
		!strings.Contains(string(found.Pipeline.Original), "(v2)") || strings.Contains(string(found.Msg), "fetch") {
		t.Errorf("the tape line: %+v\nmsg %s\noriginal %s", found.Pipeline, found.Msg, found.Pipeline.Original)
	}
}

// TestPinToolsOnNewHide: under on_new hide a server's tools wait for
// approval from the first run; approving one brings exactly that one to a
// connected client, with list_changed.
func TestPinToolsOnNewHide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := startProxy(t, pinSite(t, "v1", "on_new hide"), withGlobals(pinGlobals(t.TempDir()))) + "/mcp"
	cs, changed := listChangedClient(ctx, t, url)
	if got := sortedToolNames(ctx, t, cs); len(got) != 0 {
		t.Fatalf("new tools listed before approval: %v", got)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}); wantRPCError(t, err, "a new tool").Code != -32602 {
		t.Errorf("a call of a new tool: %v", err)
	}
	held := pinsOf(t)
	if held["echo"].State != "new" || held["fetch"].State != "new" || held["echo"].Pinned != nil {
		t.Fatalf("pins %+v", held)
	}
	if status, body := adminDo(t, http.MethodPost, "/mcp_proxy/pins/"+held["echo"].ID+"/approve"); status != http.StatusOK {
		t.Fatalf("approve: %d %s", status, body)
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no list_changed after the approval")
	}
	if got := sortedToolNames(ctx, t, cs); !slices.Equal(got, []string{"echo"}) {
		t.Errorf("after approving echo the client lists %v", got)
	}
}
