package pins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
)

// DefaultRefresh is how often a Book reloads its records from the
// storage, so that an approval made on another instance sharing the
// storage applies here within that delay.
const DefaultRefresh = 10 * time.Second

// maxTools bounds the tools a Book keeps in memory per endpoint; beyond
// it new tools are judged from the storage alone (not remembered).
const maxTools = 10000

// Event is a definition that newly awaits review.
type Event struct {
	// Endpoint, Server and Tool name the tool (Server "" for the
	// endpoint's one server).
	Endpoint, Server, Tool string
	// Kind is "drift" or "new".
	Kind string
	// Action is what applies to the tool meanwhile.
	Action Action
	// Pinned and Seen are the digests of the pinned definition ("" for a
	// new tool) and of the one seen.
	Pinned, Seen string
}

// Hooks are how a Book tells its owner what happens. Each may be nil.
type Hooks struct {
	// Event hears a definition that newly awaits review.
	Event func(Event)
	// Changed hears that a decision changed what clients list (an
	// approval, a rejection, a drift, a change another instance made):
	// the owner tells connected clients (notifications/tools/list_changed).
	Changed func()
	// Error hears a storage error; the decision then stands in memory.
	Error func(error)
}

// toolKey names a tool of a Book.
type toolKey struct{ server, tool string }

// Book holds an endpoint's pins: their records, loaded from and written to
// the storage, and the decisions they make. Its methods are safe for
// concurrent use; none holds its lock across storage I/O.
type Book struct {
	endpoint string
	storage  certmagic.Storage
	cfg      atomic.Pointer[Config]
	hooks    atomic.Pointer[Hooks]
	refresh  atomic.Int64 // nanoseconds between reloads
	defs     defCache

	mu       sync.Mutex
	records  map[toolKey]*Record
	seen     map[toolKey]string // the digest each tool was last listed with
	hidden   map[toolKey]bool   // whether the last decision hid it
	gen      uint64             // counts changes of records, so memoized lists expire
	writes   uint64             // counts records written, so a reload does not undo them
	lists    map[string]map[string]listMemo
	loaded   bool
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// NewBook returns the Book of an endpoint whose records are in storage.
// Start loads them and keeps them fresh.
func NewBook(endpoint string, storage certmagic.Storage, cfg Config) *Book {
	b := &Book{
		endpoint: endpoint,
		storage:  storage,
		records:  make(map[toolKey]*Record),
		seen:     make(map[toolKey]string),
		hidden:   make(map[toolKey]bool),
		lists:    make(map[string]map[string]listMemo),
		stop:     make(chan struct{}),
	}
	b.defs.init()
	b.cfg.Store(&cfg)
	b.hooks.Store(&Hooks{})
	return b
}

// Endpoint returns the name of the Book's endpoint.
func (b *Book) Endpoint() string { return b.endpoint }

// SetConfig changes what the Book does (on a reload); decisions follow at
// once, and clients are told if their lists change.
func (b *Book) SetConfig(cfg Config) {
	if old := b.cfg.Swap(&cfg); *old == cfg {
		return
	}
	b.mu.Lock()
	changed := b.settleLocked()
	b.mu.Unlock()
	b.changed(changed)
}

// SetHooks sets the hooks (on each reload: the latest configuration's).
func (b *Book) SetHooks(h Hooks) { b.hooks.Store(&h) }

// Start loads the records, then reloads them every refresh (or as
// SetRefresh changes it) until Close.
func (b *Book) Start(refresh time.Duration) {
	b.SetRefresh(refresh)
	b.Reload(context.Background())
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			t := time.NewTimer(time.Duration(b.refresh.Load()))
			select {
			case <-b.stop:
				t.Stop()
				return
			case <-t.C:
				b.Reload(context.Background())
			}
		}
	}()
}

// SetRefresh sets the interval of the reloads (DefaultRefresh when not
// positive); it applies from the next one.
func (b *Book) SetRefresh(refresh time.Duration) {
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	b.refresh.Store(int64(refresh))
}

// Close stops the reloads and waits for them.
func (b *Book) Close() {
	b.stopOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
}

// storageTimeout bounds one storage operation of a Book.
const storageTimeout = 10 * time.Second

// Reload reads the endpoint's records from the storage and applies what
// changed there (an approval made on another instance); clients are told
// when their lists change.
func (b *Book) Reload(ctx context.Context) {
	b.mu.Lock()
	writes := b.writes
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, storageTimeout)
	defer cancel()
	recs, err := loadAll(ctx, b.storage, b.endpoint)
	if err != nil {
		b.fail(err)
		return
	}
	b.mu.Lock()
	if b.writes != writes {
		b.mu.Unlock()
		return // a write raced the load: the next reload sees both
	}
	fresh := make(map[toolKey]*Record, len(recs))
	for _, r := range recs {
		if len(fresh) < maxTools {
			fresh[toolKey{r.Server, r.Tool}] = r
		}
	}
	b.records = fresh
	b.loaded = true
	b.gen++
	changed := b.settleLocked()
	b.mu.Unlock()
	b.changed(changed)
}

// setRecord puts a record written to (or read back from) the storage.
func (b *Book) setRecord(k toolKey, rec *Record) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rec == nil {
		return false
	}
	if _, ok := b.records[k]; ok || len(b.records) < maxTools {
		b.records[k] = rec
	}
	b.writes++
	b.gen++
	return b.settleLocked()
}

// settleLocked recomputes whether each listed tool is hidden and reports
// whether that changed for any.
func (b *Book) settleLocked() bool {
	cfg := *b.cfg.Load()
	changed := false
	for k, digest := range b.seen {
		h := actionNow(cfg, b.records[k], digest) == Hide
		if was, ok := b.hidden[k]; ok && was != h {
			changed = true
		}
		b.hidden[k] = h
	}
	if changed {
		b.gen++
	}
	return changed
}

// changed tells the owner that clients' lists changed.
func (b *Book) changed(yes bool) {
	if h := b.hooks.Load(); yes && h.Changed != nil {
		h.Changed()
	}
}

// fail tells the owner of a storage error.
func (b *Book) fail(err error) {
	if h := b.hooks.Load(); err != nil && h.Error != nil {
		h.Error(err)
	}
}

// CallAction is what applies to a call of the server's tool.
func (b *Book) CallAction(server, tool string) Action {
	cfg := *b.cfg.Load()
	k := toolKey{server, tool}
	b.mu.Lock()
	defer b.mu.Unlock()
	return actionNow(cfg, b.records[k], b.seen[k])
}

// entryID names a record's state for the admin API: it changes with the
// definition under review, so that an approval cannot apply to a
// definition the operator did not see.
func entryID(r *Record) string {
	digest := ""
	if r.Pending != nil {
		digest = r.Pending.Digest
	} else if r.Pinned != nil {
		digest = r.Pinned.Digest
	}
	sum := sha256.Sum256([]byte(r.Endpoint + "\x00" + r.Server + "\x00" + r.Tool + "\x00" + r.State() + "\x00" + digest))
	return hex.EncodeToString(sum[:8])
}
