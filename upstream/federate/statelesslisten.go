package federate

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// listen opens the client's subscriptions/listen on every server and
// passes on what they send: the first acknowledgement, and every
// notification (a list_changed also drops the user's merged lists of that
// kind, which route calls). A server whose listen fails (it is down, or
// went down: then the client gets the list_changed it subscribed to) is
// listened on again with the waits of a session's rejoin for as long as
// another server's listen is open; when it answers, the client gets the
// list_changed it subscribed to, so that it lists that server's names
// again. The listen ends when the client goes away, or when
// every server ended its stream (then with an empty result). A listen for
// task ids listens only on the server that minted them, once.
func (f *Federation) listen(ctx context.Context, req *upstream.StatelessRequest, deliver func(*pipeline.Message, int)) error {
	only, req, ans := f.untagTasks(req)
	if ans != nil {
		deliver(ans, http.StatusOK)
		return nil
	}
	l := &listening{f: f, req: req, deliver: deliver, only: only, changed: make(chan struct{})}
	errs := make([]error, len(f.names))
	for i := range f.names {
		if f.stateless(i) != nil && (only < 0 || i == only) {
			l.open++ // counted before any starts: a failing one waits for the others
		}
	}
	f.eachServer(func(i int) {
		st := f.stateless(i)
		switch {
		case only >= 0 && i != only:
			return
		case st == nil:
			errs[i] = upstream.ErrSessionfulOnly
			return
		}
		errs[i] = l.serve(ctx, i, st)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if only >= 0 {
		errs = errs[only : only+1]
	}
	for _, err := range errs {
		if err == nil {
			deliver(pipeline.NewResult(req.Message.ID, json.RawMessage(`{}`)), http.StatusOK)
			return nil
		}
	}
	return errors.Join(errs...)
}

// listening is one client's subscriptions/listen across the servers.
type listening struct {
	f       *Federation
	req     *upstream.StatelessRequest
	deliver func(*pipeline.Message, int)
	only    int // the one server a listen for task ids goes to, -1: all

	mu    sync.Mutex // orders what the servers send the client
	acked bool       // the client got an acknowledgement

	openMu  sync.Mutex
	open    int           // servers whose listen is open (or opening)
	changed chan struct{} // closed, and replaced, when open changes
}

// serve listens on server i until its stream ends, the client goes away,
// or it failed and no other server's listen is open any more.
func (l *listening) serve(ctx context.Context, i int, st upstream.Stateless) error {
	wait := l.f.cfg.RejoinDelay
	for again := false; ; again = true {
		if again {
			l.add(1)
		}
		var a attempt
		err := st.Call(ctx, l.req, l.f.tagTasks(i, l.req.Message.Method, l.from(again, &a)))
		l.add(-1)
		if err == nil && a.failed {
			err = errUnavailable // the gateway answered for the server, or its stream broke: it is down
		}
		if err == nil || ctx.Err() != nil || errors.Is(err, upstream.ErrSessionfulOnly) || l.only >= 0 {
			return err
		}
		if a.joined {
			l.listsChanged(http.StatusOK) // it went down: its names leave the client's lists
		}
		if !again {
			l.f.log.Warn("a federated server could not listen; it is asked again while the others listen",
				zap.String("server", l.f.names[i]), zap.Error(err))
		}
		if !l.await(ctx, wait) {
			return err
		}
		wait = min(2*wait, maxRejoinDelay)
	}
}

// add changes the count of open listens and wakes those waiting on it.
func (l *listening) add(n int) {
	l.openMu.Lock()
	defer l.openMu.Unlock()
	l.open += n
	close(l.changed)
	l.changed = make(chan struct{})
}

// await waits d before a failed server's next try; it reports false (no
// try) when the client went away or no other server's listen is open.
func (l *listening) await(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		l.openMu.Lock()
		open, changed := l.open, l.changed
		l.openMu.Unlock()
		if open == 0 {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-changed:
		}
	}
}

// attempt is what one try of a server's listen showed.
type attempt struct {
	joined bool // the server acknowledged the listen
	failed bool // it ended in an error the gateway answered for a server it could not reach (a 5xx status), or after it joined (its stream broke)
}

// from is what one server's listen sends the client: the first
// acknowledgement of all, and its notifications. A server that listens
// again after it failed (again) acknowledges its return: the client gets
// the list_changed notifications it subscribed to instead. The end of
// its stream is not the client's.
func (l *listening) from(again bool, a *attempt) func(*pipeline.Message, int) {
	return func(m *pipeline.Message, status int) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch {
		case m.IsResponse():
			a.failed = m.Error != nil && (status >= http.StatusInternalServerError || a.joined)
			return // one server's stream ended: the others go on
		case m.Method == "notifications/subscriptions/acknowledged":
			a.joined = true
			first := !l.acked
			l.acked = true
			if first {
				l.deliver(m, status)
			}
			if again {
				l.notifyLists(status)
			}
			return
		}
		l.f.known.forget(l.req.User, m.Method)
		l.deliver(m, status)
	}
}

// listFilters are the listen filter's keys that subscribe to a kind of
// list_changed, and the notification each one gets.
var listFilters = []struct{ key, method string }{
	{"toolsListChanged", "notifications/tools/list_changed"},
	{"promptsListChanged", "notifications/prompts/list_changed"},
	{"resourcesListChanged", "notifications/resources/list_changed"},
}

// listsChanged is notifyLists for a caller that does not hold l.mu.
func (l *listening) listsChanged(status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notifyLists(status)
}

// notifyLists tells the client that a server came back or left: a
// list_changed of each kind its listen subscribed to, under its
// subscription id. l.mu is held.
func (l *listening) notifyLists(status int) {
	var p struct {
		Notifications map[string]json.RawMessage `json:"notifications"`
	}
	_ = json.Unmarshal(l.req.Message.Params, &p)
	meta, _ := json.Marshal(map[string]map[string]json.RawMessage{"_meta": {"io.modelcontextprotocol/subscriptionId": l.req.Message.ID}})
	for _, lf := range listFilters {
		if string(p.Notifications[lf.key]) != "true" {
			continue
		}
		l.f.known.forget(l.req.User, lf.method)
		l.deliver(pipeline.NewNotification(lf.method, meta), status)
	}
}
