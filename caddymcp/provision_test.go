package caddymcp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
)

// configContext is the context of an empty configuration with no admin
// endpoint: what Caddy hands the handlers of a config it loads, with no
// network. Handlers provisioned in contexts of one configuration share its
// mcp app.
func configContext(t *testing.T) caddy.Context {
	t.Helper()
	ctx, err := caddy.ProvisionContext(&caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// provision provisions h in a module context of cfg, as Caddy does,
// Cleanup included when Provision fails (Caddy's LoadModule does so).
func provision(t *testing.T, cfg caddy.Context, h *Handler) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(cfg)
	t.Cleanup(cancel)
	err := h.Provision(ctx)
	if err != nil {
		if cerr := h.Cleanup(); cerr != nil {
			t.Errorf("Cleanup after a failed Provision: %v", cerr)
		}
	}
	return err
}

// marker is an argument no other process has: a stdio upstream's process
// would carry it.
func marker(t *testing.T) string { return "caddymcp-provision-test-" + filepath.Base(t.TempDir()) }

// childrenWith lists this process's children whose command line holds s
// (Linux; nil where /proc does not tell).
func childrenWith(s string) []string {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var found []string
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, pid := range strings.Fields(string(b)) {
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			if strings.Contains(string(cmdline), s) {
				found = append(found, pid+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}
	return found
}

// references is how many configurations use key in pool (0 if none).
func references(pool *caddy.UsagePool, key string) int {
	n, _ := pool.References(key)
	return n
}

// stdioUp is a stdio upstream whose process waits for its stdin to
// close; args (a marker) show in its command line.
func stdioUp(args ...string) *UpstreamConfig {
	return &UpstreamConfig{Stdio: &StdioUpstream{Command: "sh", Args: append([]string{"-c", "read line"}, args...)}}
}

func httpUp(name, url string) *UpstreamConfig {
	return &UpstreamConfig{Name: name, HTTP: &HTTPUpstream{URL: url}}
}

func intp(n int) *int { return &n }

// TestProvision provisions mcp_proxy handlers against a real caddy.Context
// with no network: what each configuration builds, that provisioning
// starts no process (the mcp app starts the pools when the configuration
// starts), and that Cleanup releases every usage pool entry it took.
func TestProvision(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(mark string) *Handler
		check   func(t *testing.T, h *Handler)
	}{
		{"stdio upstream", func(mark string) *Handler {
			return &Handler{Upstreams: []*UpstreamConfig{stdioUp(mark)}}
		}, func(t *testing.T, h *Handler) {
			if len(h.poolKeys) != 1 || len(h.built) != 1 || h.built[0].kind != mcpstate.KindStdio || h.built[0].name != "sh" {
				t.Fatalf("built %+v, pools %v", h.built, h.poolKeys)
			}
			if st := h.built[0].pool.Pool.Stats(); st.Live != 0 {
				t.Errorf("the pool holds %d processes after Provision", st.Live)
			}
			if h.balance != nil {
				t.Error("one upstream without health settings got a group")
			}
			if h.storeKey != "stdio:sh" {
				t.Errorf("store key %q, want the default name stdio:sh", h.storeKey)
			}
		}},
		{"http upstream", func(string) *Handler {
			return &Handler{Name: "api", Upstreams: []*UpstreamConfig{{HTTP: &HTTPUpstream{URL: "http://127.0.0.1:9/mcp"}}}}
		}, func(t *testing.T, h *Handler) {
			if len(h.poolKeys) != 0 || len(h.built) != 1 || h.built[0].kind != mcpstate.KindHTTP || h.built[0].name != "127.0.0.1-9" {
				t.Fatalf("built %+v, pools %v", h.built, h.poolKeys)
			}
			if h.storeKey != "api" {
				t.Errorf("store key %q, want the name", h.storeKey)
			}
		}},
		{"two upstreams with a policy", func(mark string) *Handler {
			return &Handler{
				Upstreams:   []*UpstreamConfig{httpUp("a", "http://127.0.0.1:9/mcp"), {Name: "b", Stdio: stdioUp(mark).Stdio}},
				LBPolicyRaw: json.RawMessage(`{"policy":"first"}`),
				LBRetries:   intp(0),
			}
		}, func(t *testing.T, h *Handler) {
			if h.balance == nil || len(h.members) != 2 || h.members[0].Name() != "a" || h.members[1].Name() != "b" {
				t.Fatalf("group %v, members %v", h.balance, h.members)
			}
			if len(h.memberKeys) != 2 || len(h.poolKeys) != 1 {
				t.Errorf("member keys %v, pool keys %v", h.memberKeys, h.poolKeys)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := marker(t)
			h := tc.handler(mark)
			if err := provision(t, configContext(t), h); err != nil {
				t.Fatalf("Provision: %v", err)
			}
			tc.check(t, h)
			if found := childrenWith(mark); len(found) > 0 {
				t.Errorf("Provision started processes: %v", found)
			}
			held := map[*caddy.UsagePool][]string{
				mcpstate.SessionStores: {h.storeKey},
				mcpstate.StdioPools:    h.poolKeys,
				memberStates:           h.memberKeys,
			}
			for pool, keys := range held {
				for _, k := range keys {
					if references(pool, k) != 1 {
						t.Errorf("%q has %d references after Provision, want 1", k, references(pool, k))
					}
				}
			}
			if err := h.Cleanup(); err != nil {
				t.Fatalf("Cleanup: %v", err)
			}
			for pool, keys := range held {
				for _, k := range keys {
					if n := references(pool, k); n != 0 {
						t.Errorf("%q has %d references after Cleanup, want 0", k, n)
					}
				}
			}
		})
	}
}

// TestProvisionRefuses: bad settings are refused with an error that names
// what is wrong, and what a failed Provision took is released by the
// Cleanup Caddy runs after it.
func TestProvisionRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		h       *Handler
		wantErr []string
	}{
		{"no upstream", &Handler{}, []string{"configure an upstream"}},
		{"negative sizes", &Handler{Upstreams: []*UpstreamConfig{stdioUp()}, MaxSessions: -1, ReplayBytes: -2, MaxMessageSize: -3},
			[]string{"max_sessions must not be negative", "replay_bytes must not be negative", "max_message_size must not be negative"}},
		{"negative lb_retries", &Handler{Upstreams: []*UpstreamConfig{stdioUp()}, LBRetries: intp(-1)}, []string{"lb_retries"}},
		{"two kinds in one upstream", &Handler{Upstreams: []*UpstreamConfig{{Stdio: stdioUp().Stdio, HTTP: &HTTPUpstream{URL: "http://x"}}}},
			[]string{"upstream 1", "exactly one of stdio, http or replay"}},
		{"http without a URL", &Handler{Upstreams: []*UpstreamConfig{{HTTP: &HTTPUpstream{}}}}, []string{"URL is empty"}},
		{"an invalid upstream name", &Handler{Upstreams: []*UpstreamConfig{httpUp("a:b", "http://x")}}, []string{`"a:b"`}},
		{"two upstreams of one name", &Handler{Upstreams: []*UpstreamConfig{httpUp("a", "http://x"), httpUp("a", "http://y")}},
			[]string{`two upstreams are named "a"`}},
		{"an unknown policy", &Handler{Upstreams: []*UpstreamConfig{httpUp("a", "http://x"), httpUp("b", "http://y")},
			LBPolicyRaw: json.RawMessage(`{"policy":"fastest"}`)}, []string{"fastest"}},
		{"a bad stdio setting after a pool was taken", &Handler{Upstreams: []*UpstreamConfig{
			{Name: "ok", Stdio: stdioUp().Stdio}, {Name: "bad", Stdio: &StdioUpstream{Command: "sh", SpareCheck: "sometimes"}}}},
			[]string{"upstream bad", "spare_check"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := provision(t, configContext(t), tc.h)
			if err == nil {
				_ = tc.h.Cleanup()
				t.Fatal("Provision accepted it")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Provision: %v; want it to say %q", err, w)
				}
			}
			for _, k := range tc.h.poolKeys {
				if n := references(mcpstate.StdioPools, k); n != 0 {
					t.Errorf("pool %q has %d references after the failed Provision's Cleanup", k, n)
				}
			}
			if tc.h.storeKey != "" && references(mcpstate.SessionStores, tc.h.storeKey) != 0 {
				t.Errorf("store %q kept after the failed Provision's Cleanup", tc.h.storeKey)
			}
		})
	}
}

// TestProvisionSharedStores: within one configuration, handlers configured
// alike are one endpoint and share its session store, each holding it
// until its Cleanup; handlers of one name configured differently are
// refused; differently configured handlers of the same upstream each get
// a store of their own.
func TestProvisionSharedStores(t *testing.T) {
	t.Run("alike handlers share a store", func(t *testing.T) {
		cfg := configContext(t)
		a := &Handler{Upstreams: []*UpstreamConfig{stdioUp(marker(t))}}
		b := &Handler{Upstreams: []*UpstreamConfig{stdioUp(a.Upstreams[0].Stdio.Args[2])}}
		for _, h := range []*Handler{a, b} {
			if err := provision(t, cfg, h); err != nil {
				t.Fatal(err)
			}
		}
		if a.storeKey != b.storeKey {
			t.Fatalf("store keys %q and %q", a.storeKey, b.storeKey)
		}
		if n := references(mcpstate.SessionStores, a.storeKey); n != 2 {
			t.Errorf("the store has %d references, want 2", n)
		}
		if n := references(mcpstate.StdioPools, a.poolKeys[0]); n != 2 || a.poolKeys[0] != b.poolKeys[0] {
			t.Errorf("the pool has %d references (keys %v, %v), want one pool used twice", n, a.poolKeys, b.poolKeys)
		}
		_ = a.Cleanup()
		if n := references(mcpstate.SessionStores, a.storeKey); n != 1 {
			t.Errorf("after one Cleanup the store has %d references, want 1", n)
		}
		_ = b.Cleanup()
		if n := references(mcpstate.SessionStores, a.storeKey) + references(mcpstate.StdioPools, a.poolKeys[0]); n != 0 {
			t.Errorf("after both Cleanups %d references are left", n)
		}
	})

	t.Run("one name, two configurations", func(t *testing.T) {
		cfg := configContext(t)
		a := &Handler{Name: "tools", Upstreams: []*UpstreamConfig{httpUp("u", "http://127.0.0.1:9/mcp")}}
		b := &Handler{Name: "tools", Upstreams: []*UpstreamConfig{httpUp("u", "http://127.0.0.1:9/mcp")}, MaxSessions: 5}
		if err := provision(t, cfg, a); err != nil {
			t.Fatal(err)
		}
		defer a.Cleanup()
		err := provision(t, cfg, b)
		if err == nil || !strings.Contains(err.Error(), `name "tools" is used by two mcp_proxy handlers configured differently`) {
			t.Fatalf("the second handler: %v", err)
		}
		if n := references(mcpstate.SessionStores, "tools"); n != 1 {
			t.Errorf("the first handler's store has %d references, want 1", n)
		}
	})

	t.Run("same upstream, two configurations", func(t *testing.T) {
		cfg := configContext(t)
		a := &Handler{Upstreams: []*UpstreamConfig{httpUp("u", "http://127.0.0.1:9/mcp")}}
		b := &Handler{Upstreams: []*UpstreamConfig{httpUp("u", "http://127.0.0.1:9/mcp")}, MaxSessions: 5}
		for _, h := range []*Handler{a, b} {
			if err := provision(t, cfg, h); err != nil {
				t.Fatal(err)
			}
			defer h.Cleanup()
		}
		if b.storeKey != a.storeKey+"#2" {
			t.Errorf("store keys %q and %q, want the second with #2", a.storeKey, b.storeKey)
		}
	})
}

// TestAppStartsWhatProvisionDoesNot is the other half of TestProvision's
// "no process": the same stdio upstream's warm spare runs once the mcp app
// starts, and the last Cleanup stops it.
func TestAppStartsWhatProvisionDoesNot(t *testing.T) {
	mark := marker(t)
	up := stdioUp(mark)
	up.Stdio.SpareCheck = "off"
	h := &Handler{Upstreams: []*UpstreamConfig{up}}
	if err := provision(t, configContext(t), h); err != nil {
		t.Fatal(err)
	}
	if found := childrenWith(mark); len(found) > 0 {
		t.Fatalf("Provision started processes: %v", found)
	}
	if err := h.app.Start(); err != nil {
		t.Fatal(err)
	}
	p := h.built[0].pool.Pool
	deadline := time.Now().Add(10 * time.Second)
	for len(childrenWith(mark)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no spare after the app started (pool %+v)", p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := p.Stats(); st.Crashed != 0 {
		t.Fatalf("the spare crashed: %+v", st)
	}
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if found := childrenWith(mark); len(found) > 0 {
		t.Errorf("processes left after Cleanup: %v", found)
	}
}
