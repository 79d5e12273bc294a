package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// targetMCPFederated is one caddy-mcp endpoint federating three stdio echo
// servers (issue 23: its calls/s must stay ≥ 0.9× caddy-mcp-stdio's, the
// median of interleaved rounds, and its merged tools/list no slower at p50
// than one server's plus 1 ms).
const targetMCPFederated = "caddy-mcp-federated"

// fedServers are the federated target's server names; the load calls the
// first one's echo, by its prefixed name.
var fedServers = []string{"one", "two", "three"}

func startMCPFederatedTarget(ctx context.Context, b *bench) (*running, error) {
	var servers strings.Builder
	for _, name := range fedServers {
		fmt.Fprintf(&servers, "\t\tserver %s {\n\t\t\tstdio %s {\n\t\t\t\t%s\n\t\t\t}\n\t\t}\n",
			name, caddyQuote(b.echoBin), stdioPoolSize(b.cfg.sessions))
	}
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-federated
%s		max_sessions %d
	}
`, servers.String(), b.cfg.sessions*4+100)
	c, err := b.startCaddy(ctx, targetMCPFederated, site)
	if err != nil {
		return nil, err
	}
	return &running{URL: c.url("/mcp"), Tool: fedServers[0] + "_echo", procs: []*proc{c.p}, caddy: c}, nil
}

// listTools opens one session on url and lists its tools n times, one
// after another, each listing checked to hold want tools. It returns the
// latencies of the first pages (a federated endpoint reads every server's
// list for it) and of whole listings, later pages (one per server) included.
func listTools(ctx context.Context, url string, n, want int) (first, whole []time.Duration, err error) {
	hc := newHTTPClient(2)
	defer hc.CloseIdleConnections()
	c := &rawClient{hc: hc, url: url}
	sid, err := c.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = c.end(ctx, sid) }()
	id := 1
	for range n {
		start := time.Now()
		got, cursor := 0, ""
		for page := 0; page == 0 || cursor != ""; page++ {
			id++
			k, next, err := c.listOnce(ctx, sid, strconv.Itoa(id), cursor)
			if err != nil {
				return first, whole, err
			}
			if page == 0 {
				first = append(first, time.Since(start))
			}
			got, cursor = got+k, next
			if page > want {
				return first, whole, fmt.Errorf("tools/list: more than %d pages", want)
			}
		}
		whole = append(whole, time.Since(start))
		if got != want {
			return first, whole, fmt.Errorf("tools/list: %d tools, want %d", got, want)
		}
	}
	return first, whole, nil
}

// listOnce sends one tools/list and returns how many tools its page lists
// and the next page's cursor.
func (c *rawClient) listOnce(ctx context.Context, sid, id, cursor string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	params := "{}"
	if cursor != "" {
		b, _ := json.Marshal(map[string]string{"cursor": cursor})
		params = string(b)
	}
	req, err := c.request(ctx, http.MethodPost, sid, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/list","params":`+params+`}`)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("tools/list: HTTP %d", resp.StatusCode)
	}
	msg, err := readResponse(resp, id)
	if err != nil {
		return 0, "", fmt.Errorf("tools/list: %w", err)
	}
	var m struct {
		Result *struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		} `json:"result"`
	}
	if err := json.Unmarshal(msg, &m); err != nil || m.Result == nil {
		return 0, "", fmt.Errorf("tools/list: unexpected answer %.200s", msg)
	}
	return len(m.Result.Tools), m.Result.NextCursor, nil
}

// toolsWanted is how many tools a target's tools/list holds.
func toolsWanted(t target) int {
	if t.Name == targetMCPFederated {
		return len(fedServers)
	}
	return 1
}

// federationCost compares the federated target with caddy-mcp-stdio as
// observeCost does, and their tools/list p50s.
func federationCost(load []loadResult, client string) string {
	out := pairCost(load, client, targetMCPFederated, targetMCPStdio, "federated", "alone")
	f, s := findIn(load, targetMCPFederated, ""), findIn(load, targetMCPStdio, "")
	if out == "" || f.ListP50 == 0 || s.ListP50 == 0 {
		return out
	}
	return out + fmt.Sprintf("- tools/list p50, **federated** vs **alone**: first page (every server's list read) %s vs %s, %+.2f ms; "+
		"whole listing (a page per server) %s vs %s.\n", ms(f.ListP50), ms(s.ListP50),
		float64(f.ListP50-s.ListP50)/float64(time.Millisecond), ms(f.ListAllP50), ms(s.ListAllP50))
}

// listNote lists each target's tools/list p50.
func listNote(load []loadResult, n int) string {
	var parts []string
	for _, l := range load {
		if l.ListP50 > 0 {
			parts = append(parts, fmt.Sprintf("%s %s (whole %s)", l.name(), ms(l.ListP50), ms(l.ListAllP50)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("- tools/list p50, first page (whole listing, every page), %d listings one after another on one session after each round's load: %s.\n", n, strings.Join(parts, "; "))
}
