package pins

import (
	"testing"
	"time"
)

func pin(digest string) *Pin { return &Pin{Digest: digest, Definition: []byte(`{}`)} }

func TestDecide(t *testing.T) {
	def := Definition{Name: "t", Canonical: []byte(`{"name":"t"}`), Digest: "new"}
	pinned := &Record{Tool: "t", Pinned: pin("old")}
	drifted := &Record{Tool: "t", Pinned: pin("old"), Pending: pin("new")}
	rejectedDrift := &Record{Tool: "t", Pinned: pin("old"), Pending: pin("new"), Rejected: []string{"new"}}
	rejectedElder := &Record{Tool: "t", Pinned: pin("old"), Pending: pin("other"), Rejected: []string{"new"}}
	awaiting := &Record{Tool: "t", Pending: pin("new")}
	same := &Record{Tool: "t", Pinned: pin("new")}
	hide := Config{OnChange: Hide, OnNew: Pass}
	tests := []struct {
		name    string
		cfg     Config
		rec     *Record
		act     Action
		write   bool
		event   string
		pending string // the written record's pending digest
	}{
		{"unseen, on_new allow: pinned", hide, nil, Pass, true, "", ""},
		{"unseen, on_new hide: held", Config{OnChange: Hide, OnNew: Hide}, nil, Hide, true, "new", "new"},
		{"held new, on_new hide: no rewrite", Config{OnChange: Hide, OnNew: Hide}, awaiting, Hide, false, "", ""},
		{"held new, now on_new allow: pinned", hide, awaiting, Pass, true, "", ""},
		{"pinned and same", hide, same, Pass, false, "", ""},
		{"drift, hide", hide, pinned, Hide, true, "drift", "new"},
		{"drift, block", Config{OnChange: Block}, pinned, Block, true, "drift", "new"},
		{"drift, warn", Config{OnChange: Warn}, pinned, Warn, true, "drift", "new"},
		{"drift known: no rewrite", hide, drifted, Hide, false, "", ""},
		{"rejected, warn withholds", Config{OnChange: Warn}, rejectedDrift, Hide, false, "", ""},
		{"rejected, block blocks", Config{OnChange: Block}, rejectedDrift, Block, false, "", ""},
		{"rejected before, back again: no event", hide, rejectedElder, Hide, true, "", "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := decide(tt.cfg, tt.rec, "ep", "", def, time.Now())
			if j.act != tt.act || (j.next != nil) != tt.write || j.event != tt.event {
				t.Fatalf("got act %v write %v event %q, want %v %v %q", j.act, j.next != nil, j.event, tt.act, tt.write, tt.event)
			}
			if j.next != nil {
				got := ""
				if j.next.Pending != nil {
					got = j.next.Pending.Digest
				}
				if got != tt.pending {
					t.Errorf("pending %q, want %q", got, tt.pending)
				}
				if tt.pending == "" && (j.next.Pinned == nil || j.next.Pinned.Digest != "new") {
					t.Errorf("not pinned: %+v", j.next)
				}
				if tt.rec != nil && j.next == tt.rec {
					t.Error("changed the record in place")
				}
			}
			// A call judged with the same digest gets the list's action.
			if got := actionNow(tt.cfg, tt.rec, "new"); tt.rec != nil && got != tt.act && !(tt.rec == awaiting && tt.cfg.OnNew == Pass) {
				t.Errorf("actionNow = %v, want %v", got, tt.act)
			}
		})
	}
}

func TestReviewDecisions(t *testing.T) {
	drifted := &Record{Tool: "t", Pinned: pin("old"), Pending: pin("new")}
	if next, ok := approve(drifted, "new"); !ok || next.Pinned.Digest != "new" || next.Pending != nil || next.State() != StatePinned {
		t.Errorf("approve: %+v %v", next, ok)
	}
	if _, ok := approve(drifted, "stale"); ok {
		t.Error("approved a digest not pending")
	}
	next, ok := reject(drifted, "new")
	if !ok || next.Pinned.Digest != "old" || next.State() != StateRejected {
		t.Errorf("reject: %+v %v", next, ok)
	}
	if drifted.State() != StateDrift || (&Record{Pending: pin("x")}).State() != StateNew {
		t.Error("states")
	}
	if a := actionNow(Config{OnChange: Hide}, next, ""); a != Hide {
		t.Errorf("a rejected drift acts %v", a)
	}
	r := &Record{Pinned: pin("a"), Pending: pin("b")}
	for i := range maxRejected + 3 {
		r.Pending = pin(string(rune('a' + i)))
		r, _ = reject(r, r.Pending.Digest)
	}
	if len(r.Rejected) != maxRejected {
		t.Errorf("%d rejected digests kept", len(r.Rejected))
	}
}
