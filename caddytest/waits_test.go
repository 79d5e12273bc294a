package caddytest

import (
	"strings"
	"testing"
	"time"
)

// This file holds the waits on a condition with a deadline that the tests
// use instead of sleeping.

// waitUntil polls cond until it holds, failing the test after within.
func waitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForNoModuleGoroutines fails the test if goroutines of this module are
// still running after within.
func waitForNoModuleGoroutines(t testing.TB, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		leaks := moduleGoroutines()
		if len(leaks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of caddy-mcp left over:\n%s", len(leaks), strings.Join(leaks, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
