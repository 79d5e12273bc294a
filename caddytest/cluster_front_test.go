package caddytest

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file runs a cluster as operators deploy one: clusterInstances Caddy
// processes (the built binary) sharing a cluster key, each on a port of its
// own, behind a fourth Caddy whose reverse_proxy spreads requests round
// robin with no affinity. The tests of cluster_front_*_test.go drive MCP
// clients through the front and restart, reload or kill instances.
//
// What a restart looks like to the front is what docs/deploying.md tells
// operators to configure: an instance that is told to stop first fails its
// readiness route (/healthz answers 503 while {http.shutting_down}) for
// shutdown_delay, so the front's active health check takes it out of the
// rotation before it closes a connection; a request that still meets a
// closed port is retried on another instance (lb_try_duration), which is
// safe since it was never sent.

// clusterInstances is how many instances a clusterFront runs.
const clusterInstances = 3

// clusterShutdownDelay is the instances' shutdown_delay: several of the
// front's health_interval, so that the front has stopped sending requests
// to an instance well before it closes its connections.
const clusterShutdownDelay = time.Second

// clusterEndpoint is one mcp_proxy of every instance of a cluster.
type clusterEndpoint struct {
	path string // where it is served, e.g. /mcp
	name string // its name, the same on every instance
	// keys are the arguments of the key line (default
	// {env.MCP_SESSION_KEY}).
	keys string
	// upstream is the upstream line (or lines), e.g. "http <url>" or
	// "stdio <command>".
	upstream string
	// nodeURL adds node_url <the instance's own URL> to the cluster block
	// (stdio upstreams).
	nodeURL bool
}

// block returns the endpoint's mcp_proxy block as instance n serves it.
func (e clusterEndpoint) block(n *clusterNode) string {
	keys := e.keys
	if keys == "" {
		keys = "{env.MCP_SESSION_KEY}"
	}
	node := ""
	if e.nodeURL {
		node = "\n\t\t\tnode_url " + n.base
	}
	return fmt.Sprintf("\tmcp_proxy %s {\n\t\tname %s\n\t\tcluster {\n\t\t\tkey %s%s\n\t\t}\n\t\t%s\n\t}\n",
		e.path, e.name, keys, node, e.upstream)
}

// clusterNode is one instance: its addresses stay across restarts.
type clusterNode struct {
	index       int
	admin, addr string // host:port of its admin endpoint and its site
	base        string // http://<addr>
	proc        *caddyProcess
}

// clusterFront is a running cluster and its front.
type clusterFront struct {
	t     *testing.T
	url   string // the front's base URL
	front *caddyProcess
	nodes []*clusterNode
	env   []string // the instances' environment (the cluster keys)
	// extra is site configuration every instance has besides its
	// endpoints (e.g. basic_auth for a path).
	extra     string
	endpoints []clusterEndpoint
}

// startClusterFront runs clusterInstances instances serving endpoints, with
// env in their environment, and the front; it returns once the front routes
// to every instance.
func startClusterFront(t *testing.T, env []string, extra string, endpoints ...clusterEndpoint) *clusterFront {
	t.Helper()
	return startClusterFrontWith(t, "", env, extra, endpoints...)
}

// frontRetryPOST are the reverse_proxy lines docs/cluster.md gives for a
// front that resends a POST an instance's reload closed the connection
// under.
const frontRetryPOST = "\t\tlb_retry_match {\n\t\t\tmethod POST\n\t\t}\n\t\trequest_buffers 1MB\n"

// startClusterFrontWith is startClusterFront with lines added to the
// front's reverse_proxy block.
func startClusterFrontWith(t *testing.T, frontLines string, env []string, extra string, endpoints ...clusterEndpoint) *clusterFront {
	t.Helper()
	requireIntegration(t)
	c := &clusterFront{t: t, env: env, extra: extra, endpoints: endpoints}
	upstreams := make([]string, clusterInstances)
	for i := range clusterInstances {
		n := &clusterNode{index: i, admin: freeLoopbackAddr(t), addr: freeLoopbackAddr(t)}
		n.base = "http://" + n.addr
		c.nodes = append(c.nodes, n)
		upstreams[i] = n.addr
		c.start(n)
	}
	frontAddr := freeLoopbackAddr(t)
	_, port, _ := net.SplitHostPort(frontAddr)
	// Every Host is served (bind keeps it on loopback), so that what the
	// instances' mcp_proxy checks of Host and Origin is what clients sent.
	c.front = runCaddyProcessAt(t, freeLoopbackAddr(t), frontAddr, "", fmt.Sprintf(`http://:%s {
	bind 127.0.0.1
	reverse_proxy %s {
		lb_policy round_robin
		lb_try_duration 5s
		lb_try_interval 50ms
		fail_duration 2s
		health_uri /healthz
		health_interval 100ms
		health_timeout 2s
%s	}
}
`, port, strings.Join(upstreams, " "), frontLines))
	c.url = "http://" + frontAddr
	for _, n := range c.nodes {
		c.waitRouted(n)
	}
	return c
}

// sites returns instance n's Caddyfile after the globals.
func (c *clusterFront) sites(n *clusterNode) string {
	_, port, _ := net.SplitHostPort(n.addr)
	var b strings.Builder
	fmt.Fprintf(&b, `http://:%s {
	bind 127.0.0.1
	handle /healthz {
		@draining vars {http.shutting_down} true
		respond @draining 503
		respond 200
	}
	respond /whoami %d
%s`, port, n.index, c.extra)
	for _, e := range c.endpoints {
		b.WriteString(e.block(n))
	}
	b.WriteString("}\n")
	return b.String()
}

// globals are the instances' global options.
var clusterGlobals = fmt.Sprintf("\tshutdown_delay %s\n", clusterShutdownDelay)

// start runs instance n on its addresses and waits until it is ready.
func (c *clusterFront) start(n *clusterNode) {
	c.t.Helper()
	n.proc = runCaddyProcessAt(c.t, n.admin, n.addr, clusterGlobals, c.sites(n), c.env...)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if !poll(30*time.Second, func() bool {
		select {
		case <-n.proc.exited:
			c.t.Fatalf("instance %d exited before serving: %v\n%s", n.index, n.proc.err, n.proc.output.String())
		default:
		}
		resp, err := hc.Get(n.base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		c.t.Fatalf("instance %d not ready on %s:\n%s", n.index, n.base, n.proc.output.String())
	}
}

// stop sends instance n SIGTERM (a rolling restart's stop, Kubernetes'
// too) and waits until it has exited.
func (c *clusterFront) stop(n *clusterNode) {
	c.t.Helper()
	if err := n.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	select {
	case <-n.proc.exited:
	case <-time.After(clusterShutdownDelay + exitBound):
		c.t.Fatalf("instance %d did not exit on SIGTERM:\n%s", n.index, n.proc.output.String())
	}
	if n.proc.err != nil {
		c.t.Errorf("instance %d exited with %v:\n%s", n.index, n.proc.err, n.proc.output.String())
	}
}

// kill ends instance n with SIGKILL: nothing of it runs any more. It
// returns once the front's active health check has found n down, so that
// the front sends it nothing more: until then a POST the front writes on a
// kept-alive connection to n whose close it has not yet seen fails with a
// 502 that reverse_proxy does not retry (it may have been sent), as behind
// any load balancer that loses a node — the front's doing, not the
// instances'.
func (c *clusterFront) kill(n *clusterNode) {
	c.t.Helper()
	mark := len(c.front.output.String())
	if err := n.proc.cmd.Process.Kill(); err != nil {
		c.t.Fatal(err)
	}
	<-n.proc.exited
	// Two failed checks: the first is logged just before it marks n
	// unhealthy.
	failed := `"msg":"HTTP request failed","host":"` + n.addr + `"`
	waitUntil(c.t, 30*time.Second, fmt.Sprintf("the front finds instance %d down", n.index), func() bool {
		return strings.Count(c.front.output.String()[mark:], failed) >= 2
	})
}

// restart stops instance n, starts it again on the same port and waits
// until the front routes to it again.
func (c *clusterFront) restart(n *clusterNode) {
	c.t.Helper()
	c.stop(n)
	c.start(n)
	c.waitRouted(n)
}

// waitRouted waits until a request through the front reaches instance n.
func (c *clusterFront) waitRouted(n *clusterNode) {
	c.t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	want := strconv.Itoa(n.index)
	var last string
	if !poll(30*time.Second, func() bool {
		resp, err := hc.Get(c.url + "/whoami")
		if err != nil {
			last = err.Error()
			return false
		}
		last = readAll(c.t, resp)
		return last == want
	}) {
		c.t.Fatalf("the front does not route to instance %d (last answer %q):\n%s", n.index, last, c.front.output.String())
	}
}

// reload loads endpoints into every running instance through its admin
// endpoint (POST /load, as `caddy reload` does) and makes them the ones a
// restart starts with.
func (c *clusterFront) reload(endpoints ...clusterEndpoint) {
	c.t.Helper()
	c.endpoints = endpoints
	for _, n := range c.nodes {
		config := caddyfileText(n.admin, n.addr, clusterGlobals, c.sites(n))
		req, err := http.NewRequest(http.MethodPost, "http://"+n.admin+"/load", strings.NewReader(config))
		if err != nil {
			c.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/caddyfile")
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			c.t.Fatalf("reload instance %d: %v", n.index, err)
		}
		if body := readAll(c.t, resp); resp.StatusCode != http.StatusOK {
			c.t.Fatalf("reload instance %d: %d %s", n.index, resp.StatusCode, body)
		}
	}
	// A reload closes the old server's idle connections, among them the
	// front's kept-alive ones; a POST the front writes on one as it closes
	// fails (502), as behind any reverse_proxy, since a POST is not retried
	// once sent. GETs are: they let the front find out before the caller's
	// next request.
	for _, n := range c.nodes {
		c.waitRouted(n)
	}
}
