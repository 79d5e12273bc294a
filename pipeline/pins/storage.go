package pins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/caddyserver/certmagic"
)

// StoragePrefix is where the pins are in the storage:
// mcp/pins/<endpoint>/<server or "-">/<tool>.json, each name
// path-escaped (so "/" in a name is "%2F").
const StoragePrefix = "mcp/pins"

// endpointPrefix is the storage prefix of an endpoint's records.
func endpointPrefix(endpoint string) string {
	return StoragePrefix + "/" + url.PathEscape(endpoint)
}

// recordKey is the storage key of a tool's record.
func recordKey(endpoint, server, tool string) string {
	if server == "" {
		server = "-"
	} else {
		server = url.PathEscape(server)
	}
	return endpointPrefix(endpoint) + "/" + server + "/" + url.PathEscape(tool) + ".json"
}

// loadRecord reads the record at key; nil when there is none.
func loadRecord(ctx context.Context, s certmagic.Storage, key string) (*Record, error) {
	b, err := s.Load(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rec := new(Record)
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	return rec, nil
}

// loadAll reads every record of an endpoint.
func loadAll(ctx context.Context, s certmagic.Storage, endpoint string) ([]*Record, error) {
	prefix := endpointPrefix(endpoint)
	if !s.Exists(ctx, prefix) {
		return nil, nil
	}
	keys, err := s.List(ctx, prefix, true)
	if err != nil {
		return nil, err
	}
	var recs []*Record
	var errs []error
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		rec, err := loadRecord(ctx, s, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	return recs, errors.Join(errs...)
}

// update changes the record at key under the storage's lock, so that two
// instances sharing the storage do not undo each other's changes: change
// gets the stored record (nil if none) and returns the one to store (nil:
// no change). update returns the record as stored after it.
func update(ctx context.Context, s certmagic.Storage, key string, change func(*Record) *Record) (*Record, error) {
	if err := s.Lock(ctx, key); err != nil {
		return nil, err
	}
	defer func() { _ = s.Unlock(context.WithoutCancel(ctx), key) }()
	cur, err := loadRecord(ctx, s, key)
	if err != nil {
		return nil, err
	}
	next := change(cur)
	if next == nil || next == cur {
		return cur, nil
	}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	if err := s.Store(ctx, key, b); err != nil {
		return nil, err
	}
	return next, nil
}
