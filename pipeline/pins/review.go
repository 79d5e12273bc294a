package pins

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// Entry is one record as the admin API shows it.
type Entry struct {
	// ID names the record in its current state (see entryID).
	ID string `json:"id"`
	// Endpoint, Member and Tool name the tool: the endpoint, the server
	// ("" for the endpoint's one server) and the server's own tool name.
	Endpoint string `json:"endpoint"`
	Member   string `json:"member,omitempty"`
	Tool     string `json:"tool"`
	// State is pinned, drift, new or rejected.
	State string `json:"state"`
	// Pinned is the approved definition; Pending the one awaiting review.
	Pinned  *Pin `json:"pinned,omitempty"`
	Pending *Pin `json:"pending,omitempty"`
}

// Entries returns the Book's records, by member then tool.
func (b *Book) Entries() []Entry {
	b.mu.Lock()
	out := make([]Entry, 0, len(b.records))
	for _, r := range b.records {
		out = append(out, Entry{ID: entryID(r), Endpoint: r.Endpoint, Member: r.Server, Tool: r.Tool,
			State: r.State(), Pinned: r.Pinned, Pending: r.Pending})
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(x, y Entry) int {
		return cmpOr(strings.Compare(x.Member, y.Member), strings.Compare(x.Tool, y.Tool))
	})
	return out
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// Errors of Decide.
var (
	// ErrUnknown: no record has that id (it may have changed since it was
	// listed: list again).
	ErrUnknown = errors.New("no pin or drift with that id (it may have changed since it was listed; list again)")
	// ErrNothingPending: the record has no definition awaiting review.
	ErrNothingPending = errors.New("nothing awaits review there: the tool's definition is pinned")
)

// Has reports whether the Book holds a record with that id.
func (b *Book) Has(id string) bool {
	_, _, ok := b.find(id)
	return ok
}

// find returns the record with that id.
func (b *Book) find(id string) (toolKey, *Record, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, r := range b.records {
		if entryID(r) == id {
			return k, r, true
		}
	}
	return toolKey{}, nil, false
}

// Decide approves (pins the definition awaiting review) or rejects (keeps
// the pin, withholds the definition and remembers it as rejected) the
// record with that id, in the storage and here; clients are told if
// their lists change. Other instances learn it at their next reload.
func (b *Book) Decide(ctx context.Context, id string, approveIt bool) (Entry, error) {
	k, r, ok := b.find(id)
	if !ok {
		return Entry{}, ErrUnknown
	}
	if r.Pending == nil {
		return Entry{}, ErrNothingPending
	}
	digest := r.Pending.Digest
	stale := false
	ctx, cancel := context.WithTimeout(ctx, storageTimeout)
	defer cancel()
	stored, err := update(ctx, b.storage, recordKey(b.endpoint, k.server, k.tool), func(cur *Record) *Record {
		if cur == nil {
			cur = r
		}
		var next *Record
		if approveIt {
			next, ok = approve(cur, digest)
		} else {
			next, ok = reject(cur, digest)
		}
		stale = !ok
		if stale {
			return nil
		}
		return next
	})
	if err != nil {
		return Entry{}, err
	}
	b.changed(b.setRecord(k, stored))
	if stale {
		return Entry{}, ErrUnknown
	}
	return Entry{ID: entryID(stored), Endpoint: stored.Endpoint, Member: stored.Server, Tool: stored.Tool,
		State: stored.State(), Pinned: stored.Pinned, Pending: stored.Pending}, nil
}
