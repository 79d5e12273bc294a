package federate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// routeStateless sends a 2026-07-28 request that names a tool, prompt or
// resource to the server that owns it, under that server's own name. Its
// headers go as the client sent them: an HTTP upstream's Mcp-Name follows
// the body it sends, so the server reads its own name there too.
func (f *Federation) routeStateless(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	i, params, ans, err := f.statelessTarget(ctx, req)
	switch {
	case err != nil:
		return err
	case ans != nil:
		deliver(ans, http.StatusOK)
		return nil
	}
	r := *req
	if params != nil {
		raw, err := pipeline.SetAt(req.Message.Raw, []string{"params"}, params)
		if err == nil {
			r.Message, err = pipeline.Parse(raw)
		}
		if err != nil {
			deliver(pipeline.NewError(req.Message.ID, pipeline.CodeInternalError, "the gateway could not rewrite the request"), http.StatusOK)
			return nil
		}
	}
	return f.callServer(ctx, i, &r, func(m *pipeline.Message, status int) {
		if m.IsResponse() && mayHoldURIs(m, req.Message.Method) {
			m = urisForClient(m, req.Message.Method, f.statelessURIs(req.User, i, req.Message, params))
		}
		deliver(m, status)
	})
}

// callServer sends the client's request req to server i, as it is; the
// task ids the server mints come back tagged with its name (tagTasks).
func (f *Federation) callServer(ctx context.Context, i int, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	st := f.stateless(i)
	if st == nil {
		return upstream.ErrSessionfulOnly
	}
	err := st.Call(ctx, req, f.tagTasks(i, req.Message.Method, deliver))
	var busy *upstream.BusyError
	if err == nil || ctx.Err() != nil || errors.Is(err, upstream.ErrSessionfulOnly) || errors.As(err, &busy) {
		return err
	}
	// The server failed before it answered: the client reads which one,
	// as the operator named it, never its address or command.
	f.log.Warn("a federated server failed a 2026-07-28 request", zap.String("server", f.names[i]),
		zap.String("method", req.Message.Method), zap.Error(err))
	deliver(unavailable(req.Message.ID, f.names[i]), http.StatusBadGateway)
	return nil
}

// statelessTarget is the server a request goes to and its params as that
// server reads them (nil: unchanged), or the answer it gets instead. The
// user's latest merged lists tell the owner; a name they do not hold
// makes it read the lists once.
func (f *Federation) statelessTarget(ctx context.Context, req *upstream.StatelessRequest) (int, json.RawMessage, *pipeline.Message, error) {
	msg := req.Message
	switch msg.Method {
	case "tools/call":
		return f.statelessByName(ctx, req, kTools, "tool", msg.Target(), []string{"name"})
	case "prompts/get":
		return f.statelessByName(ctx, req, kPrompts, "prompt", msg.Target(), []string{"name"})
	case "completion/complete":
		// read as the rules read it (ServerQuery): a ref member spelled in
		// another case must not route where no rule looked
		kind, name := msg.CompletionRef()
		if kind == "prompt" {
			return f.statelessByName(ctx, req, kPrompts, "prompt", name, []string{"ref", "name"})
		}
		return f.statelessByURI(ctx, req, name, true)
	}
	return f.statelessByURI(ctx, req, msg.Target(), false)
}

// statelessByName finds the owner of a tool or prompt name; the server's
// own name goes at path of the params.
func (f *Federation) statelessByName(ctx context.Context, req *upstream.StatelessRequest, k kind, what, name string, path []string) (int, json.RawMessage, *pipeline.Message, error) {
	ref, ok := f.knownCatalog(req.User, k).table.Resolve(name)
	if !ok {
		cat, err := f.readAll(ctx, req, k)
		if err != nil {
			return 0, nil, nil, err
		}
		ref, ok = cat.table.Resolve(name)
	}
	if !ok {
		return 0, nil, pipeline.NewError(req.Message.ID, pipeline.CodeInvalidParams, "unknown "+what+" "+strconv.Quote(name)), nil
	}
	if ref.Own == name {
		return ref.Server, nil, nil, nil
	}
	params, err := pipeline.SetAt(req.Message.Params, path, []byte(strconv.Quote(ref.Own)))
	if err != nil {
		return 0, nil, pipeline.NewError(req.Message.ID, pipeline.CodeInvalidParams, "invalid params"), nil
	}
	return ref.Server, params, nil, nil
}

// statelessByURI finds the server of a resource URI (template: uri is a
// template's own text, as completion/complete names one).
func (f *Federation) statelessByURI(ctx context.Context, req *upstream.StatelessRequest, uri string, template bool) (int, json.RawMessage, *pipeline.Message, error) {
	user := req.User
	ref, ok := uriOwner(f.knownCatalog(user, kResources), f.knownCatalog(user, kTemplates), f.names, uri, template)
	if !ok {
		var cats [2]*catalog
		var errs [2]error
		var wg sync.WaitGroup
		for n, k := range []kind{kResources, kTemplates} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cats[n], errs[n] = f.readAll(ctx, req, k)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return 0, nil, nil, err
			}
		}
		ref, ok = uriOwner(cats[0], cats[1], f.names, uri, template)
	}
	if !ok {
		return 0, nil, pipeline.NewError(req.Message.ID, CodeResourceNotFound, "Resource not found"), nil
	}
	params, ans := ownURIParams(req.Message, ref, uri)
	return ref.Server, params, ans, nil
}
