package federate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// maxKnownUsers bounds the users whose latest merged lists a federation
// keeps for routing 2026-07-28 calls; past it, all are forgotten at once
// (a call whose name needs a list then reads the lists again).
const maxKnownUsers = 1024

// known is the latest merged lists of 2026-07-28 requests, by user (each
// user's servers may show them other lists), used to route a call by the
// name it gives without reading the lists for every call.
type known struct {
	mu    sync.Mutex
	users map[string]*[numKinds]*catalog
}

func (k *known) get(user string, kd kind) *catalog {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cats := k.users[user]; cats != nil {
		return cats[kd]
	}
	return nil
}

func (k *known) put(user string, kd kind, cat *catalog) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.users == nil || len(k.users) >= maxKnownUsers && k.users[user] == nil {
		k.users = make(map[string]*[numKinds]*catalog)
	}
	cats := k.users[user]
	if cats == nil {
		cats = new([numKinds]*catalog)
		k.users[user] = cats
	}
	cats[kd] = cat
}

// forget drops user's catalogs of the kinds a list_changed notification
// names, so that the next call by a name they no longer hold reads the
// lists again.
func (k *known) forget(user, notification string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cats := k.users[user]; cats != nil {
		for _, kd := range changedKinds[notification] {
			cats[kd] = nil
		}
	}
}

// knownCatalog is user's latest catalog of kd, an empty one (which still
// resolves the names of PrefixAlways) when there is none.
func (f *Federation) knownCatalog(user string, kd kind) *catalog {
	if cat := f.known.get(user, kd); cat != nil {
		return cat
	}
	return f.emptyCatalog()
}

// readAll reads every page of k from every server for req's client, at
// once, and merges them. A server that fails is left out; when every one
// failed, readAll returns the first failure; when one speaks only the 2025
// revisions, upstream.ErrSessionfulOnly (see Call).
func (f *Federation) readAll(ctx context.Context, req *upstream.StatelessRequest, k kind) (*catalog, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	raws := make([][]rawPage, len(f.names))
	errs := make([]error, len(f.names))
	f.eachServer(func(i int) {
		raws[i] = f.fetchAll(ctx, i, k, func(ctx context.Context, method string, params map[string]any) (*pipeline.Message, error) {
			ans, err := f.ask(ctx, i, req, method, params)
			if err == nil && upstream.GatewayStatus(ans) != 0 {
				err = errServer(ans) // an answer the upstream made up: it failed
			}
			if err != nil && errs[i] == nil {
				errs[i] = err
			}
			return ans, err
		})
	})
	failed := 0
	for i, err := range errs {
		if errors.Is(err, upstream.ErrSessionfulOnly) {
			return nil, upstream.ErrSessionfulOnly
		}
		if err != nil && len(raws[i]) == 0 {
			failed++
		}
	}
	if failed == len(f.names) {
		return nil, fmt.Errorf("server %s: %w", f.names[0], errs[0])
	}
	cat := f.build(k, raws)
	f.note(k, cat)
	f.known.put(req.User, k, cat)
	return cat, nil
}

// listStateless answers a 2026-07-28 list request. Every page reads every
// server's list afresh (there is no session to keep the first page's
// merge in), and the gateway's cursor finds its page in it. The result
// carries the lowest ttlMs and the strictest cacheScope of every page read.
func (f *Federation) listStateless(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	msg := req.Message
	k := methodKind[msg.Method]
	var p struct {
		Cursor string `json:"cursor"`
	}
	_ = json.Unmarshal(msg.Params, &p)
	server, at := 0, ""
	if p.Cursor != "" {
		name, sc, err := decodeCursor(p.Cursor)
		server = f.serverIndex(name)
		if err != nil || server < 0 {
			deliver(pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid cursor"), http.StatusOK)
			return nil
		}
		at = sc
	}
	cat, err := f.readAll(ctx, req, k)
	if err != nil {
		return err
	}
	i, j, ok := cat.find(server, at)
	if !ok && p.Cursor != "" {
		deliver(pipeline.NewError(msg.ID, pipeline.CodeInvalidParams, "invalid cursor"), http.StatusOK)
		return nil
	}
	res := f.pageResult(k, cat, i, j, ok)
	cat.hint.put(res)
	b, _ := json.Marshal(res)
	deliver(pipeline.NewResult(msg.ID, b), http.StatusOK)
	return nil
}
