package stdio

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCrashLoopCheck: with real subprocesses, a server whose processes die
// on their first message fails the check once three died since the check
// before; with nothing new, the next check passes. A server that works
// passes throughout.
func TestCrashLoopCheck(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		wantFail bool
	}{{"crash", true}, {"gosdk", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			s := newTestStdio(t, tc.mode, 3)
			check := CrashLoopCheck()
			if err := check(context.Background(), s); err != nil {
				t.Fatalf("the first check (the baseline) failed: %v", err)
			}
			for i := range CrashLoopFails {
				rec := newRecorder()
				conn, err := s.Open(context.Background(), rec)
				if err != nil {
					t.Fatal(err)
				}
				if err := conn.Send(context.Background(), mustParse(t, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)); err != nil {
					t.Fatal(err)
				}
				if tc.wantFail {
					select {
					case <-rec.closed:
					case <-time.After(10 * time.Second):
						t.Fatalf("process %d did not die", i)
					}
				} else {
					if m := rec.next(t); m.Error != nil {
						t.Fatalf("ping answered %s", m.Raw)
					}
				}
				conn.Close()
			}
			deadline := time.Now().Add(10 * time.Second)
			for tc.wantFail && s.pool.Stats().Crashed < CrashLoopFails {
				if time.Now().After(deadline) {
					t.Fatalf("the pool counted %d crashes", s.pool.Stats().Crashed)
				}
				time.Sleep(10 * time.Millisecond)
			}
			err := check(context.Background(), s)
			if tc.wantFail && (err == nil || !strings.Contains(err.Error(), "crash loop: 3 processes")) {
				t.Errorf("after three crashes the check says %v", err)
			}
			if !tc.wantFail && err != nil {
				t.Errorf("a working server failed the check: %v", err)
			}
			if err := check(context.Background(), s); err != nil {
				t.Errorf("with no new failure the check says %v", err)
			}
		})
	}
}
