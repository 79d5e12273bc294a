package caddymcp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-mcp/caddy-mcp/seal"
)

// keyStorage is the key entry that stands for a key made once and shared
// through Caddy's configured storage (the file system by default; Redis,
// Consul, … with a storage module), as certificates are: every instance
// that shares the storage and serves the endpoint opens what the others
// seal, with no key to hand out. It may stand anywhere in the list, once:
// first it seals, later it only opens (a rotation to or from it).
const keyStorage = "storage"

// storageLockWait bounds how long provisioning waits for another instance
// that is making the stored key (or left a stale lock behind).
const storageLockWait = time.Minute

// clusterKeyPath is where an endpoint's key lives in Caddy's storage: the
// endpoint's name escaped, so that a name with a slash stays one path
// element.
func clusterKeyPath(endpoint string) string {
	return "mcp/cluster/" + url.PathEscape(endpoint) + "/key"
}

// storedClusterKey returns the key stored for endpoint, making it first if
// there is none. It is made under the storage's lock, and looked for again
// once the lock is held, so two instances starting at once agree on one
// key. A stored key that is not a key is an error naming where it is:
// replacing it would end every session sealed with it.
func storedClusterKey(ctx context.Context, st certmagic.Storage, endpoint string) ([]byte, error) {
	path := clusterKeyPath(endpoint)
	if k, err := loadClusterKey(ctx, st, path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	ctx, cancel := context.WithTimeout(ctx, storageLockWait)
	defer cancel()
	if err := st.Lock(ctx, path); err != nil {
		return nil, fmt.Errorf("mcp_proxy: cluster key storage: locking %s in Caddy's storage: %v", path, err)
	}
	defer func() { _ = st.Unlock(context.WithoutCancel(ctx), path) }()
	k, err := loadClusterKey(ctx, st, path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err // another instance made it meanwhile (or it is broken)
	}
	fresh := seal.NewKey()
	if err := st.Store(ctx, path, []byte(fresh+"\n")); err != nil {
		return nil, fmt.Errorf("mcp_proxy: cluster key storage: storing a new key at %s in Caddy's storage: %v", path, err)
	}
	return seal.ParseKey(fresh)
}

// loadClusterKey reads and checks the key at path; fs.ErrNotExist when
// there is none.
func loadClusterKey(ctx context.Context, st certmagic.Storage, path string) ([]byte, error) {
	b, err := st.Load(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: cluster key storage: loading %s from Caddy's storage: %v", path, err)
	}
	k, err := seal.ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("mcp_proxy: cluster key storage: the key stored at %s in Caddy's storage is damaged (%v); restore it, or delete it to make a new one (sessions sealed with it then end)", path, err)
	}
	return k, nil
}
