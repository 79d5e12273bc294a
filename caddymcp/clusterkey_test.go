package caddymcp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"

	_ "github.com/caddyserver/caddy/v2/modules/filestorage" // the file_system storage of the test's configs

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// TestStoredClusterKey: instances sharing one storage agree on one key,
// also when they start at once; a damaged stored key is an error that says
// where it is, and is not replaced.
func TestStoredClusterKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := &certmagic.FileStorage{Path: dir}
	keys := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each instance has a storage of its own over the same files,
			// as separate processes do.
			k, err := storedClusterKey(ctx, &certmagic.FileStorage{Path: dir}, "api/v1")
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if len(k) != seal.KeySize || string(k) != string(keys[0]) {
			t.Fatal("instances starting at once made different keys")
		}
	}
	again, err := storedClusterKey(ctx, st, "api/v1")
	if err != nil || string(again) != string(keys[0]) {
		t.Fatalf("the stored key did not load again: %v", err)
	}
	other, err := storedClusterKey(ctx, st, "admin")
	if err != nil || string(other) == string(keys[0]) {
		t.Fatalf("another endpoint got the same key (or %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mcp", "cluster", "api%2Fv1", "key")); err != nil {
		t.Fatalf("the key is not where the docs say: %v", err)
	}

	for _, damaged := range []string{"not a key", "c2hvcnQ=", ""} {
		if err := st.Store(ctx, clusterKeyPath("broken"), []byte(damaged)); err != nil {
			t.Fatal(err)
		}
		_, err := storedClusterKey(ctx, st, "broken")
		if err == nil || !strings.Contains(err.Error(), "mcp/cluster/broken/key") || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("a stored key %q: err = %v", damaged, err)
		}
		if b, _ := st.Load(ctx, clusterKeyPath("broken")); string(b) != damaged {
			t.Errorf("the damaged key was replaced by %q", b)
		}
	}
}

// TestClusterKeyStorage: two endpoints provisioned against one file
// storage with "key storage" seal and open each other's ids; "storage"
// after an explicit key opens ids sealed with the stored key (a rotation).
func TestClusterKeyStorage(t *testing.T) {
	dir := t.TempDir()
	storage, _ := json.Marshal(map[string]string{"module": "file_system", "root": dir})
	cfg := func() caddy.Context {
		ctx, err := caddy.ProvisionContext(&caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}, StorageRaw: storage})
		if err != nil {
			t.Fatal(err)
		}
		return ctx
	}
	old := seal.NewKey()
	rings := make([]*seal.Ring, 0, 3)
	for i, keys := range [][]string{{"storage"}, {"storage", old}, {old, "storage"}} {
		h := &Handler{Name: "api", Upstreams: []*UpstreamConfig{httpUp("", "http://127.0.0.1:9/mcp")}, Cluster: &ClusterConfig{Keys: keys}}
		if err := provision(t, cfg(), h); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		rings = append(rings, h.cluster.Ring)
		_ = h.Cleanup()
	}
	b := seal.Binding{Endpoint: "api"}
	id, _ := rings[0].SealSession(b, seal.Session{})
	for i, r := range rings {
		if _, err := r.OpenSession(id, b); err != nil {
			t.Errorf("instance %d does not open the stored key's id: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mcp", "cluster", "api", "key")); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Name: "api", Upstreams: []*UpstreamConfig{httpUp("", "http://127.0.0.1:9/mcp")}, Cluster: &ClusterConfig{Keys: []string{"storage", "storage"}}}
	if err := provision(t, cfg(), h); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("storage twice: %v", err)
	}
}
