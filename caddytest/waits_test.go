package caddytest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// This file holds the waits on a condition with a deadline that the tests
// use instead of sleeping.

// poll checks cond until it holds or within has passed, and reports
// whether it held. It checks at once, then after pauses that grow from 5ms
// to 100ms: quick to notice, light on what cond reads.
func poll(within time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return pollCtx(ctx, cond)
}

// pollCtx is poll bounded by ctx.
func pollCtx(ctx context.Context, cond func() bool) bool {
	pause := 5 * time.Millisecond
	for !cond() {
		if ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
	return true
}

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(within, cond) {
		t.Fatalf("timed out after %s waiting until %s", within, what)
	}
}

// waitForNoModuleGoroutines fails the test if goroutines of this module are
// still running after within.
func waitForNoModuleGoroutines(t testing.TB, within time.Duration) {
	t.Helper()
	var leaks []string
	if !poll(within, func() bool { leaks = moduleGoroutines(); return len(leaks) == 0 }) {
		t.Fatalf("%d goroutines of caddy-mcp left over:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
	}
}
