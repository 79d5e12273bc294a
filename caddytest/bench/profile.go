package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// takeProfiles fetches a CPU and an allocation profile of the Caddy at
// admin over the window that opens after warmup and lasts window, into
// dir; the returned function waits for both and reports what failed.
func takeProfiles(ctx context.Context, admin, dir, name string, warmup, window time.Duration) func() error {
	secs := max(1, int(window/time.Second))
	errs := make(chan error, 2)
	fetch := func(kind, path string) {
		select {
		case <-time.After(warmup):
		case <-ctx.Done():
			errs <- ctx.Err()
			return
		}
		errs <- fetchTo(ctx, fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", admin, path, secs),
			filepath.Join(dir, fmt.Sprintf("%s.%s.pprof", name, kind)), time.Duration(secs+30)*time.Second)
	}
	go fetch("cpu", "profile")
	go fetch("allocs", "allocs")
	return func() error {
		var msgs []string
		for range 2 {
			if err := <-errs; err != nil {
				msgs = append(msgs, err.Error())
			}
		}
		if len(msgs) > 0 {
			return fmt.Errorf("profile %s: %s", name, strings.Join(msgs, "; "))
		}
		return nil
	}
}

// fetchTo writes the body of a GET of url to file.
func fetchTo(ctx context.Context, url, file string, timeout time.Duration) error {
	resp, cancel, err := getWithin(ctx, url, timeout)
	if err != nil {
		return err
	}
	defer cancel()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", url, resp.Status, msg)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// getWithin GETs url, the whole exchange bounded by timeout: the caller
// closes the body, then calls cancel.
func getWithin(ctx context.Context, url string, timeout time.Duration) (*http.Response, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			return resp, cancel, nil
		}
	}
	cancel()
	return nil, nil, err
}

// mallocs is the count of heap objects the Caddy at admin has allocated
// so far (runtime.MemStats.Mallocs from its admin /debug/vars), 0 when
// unknown.
func mallocs(admin string) uint64 {
	if admin == "" {
		return 0
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + admin + "/debug/vars")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var v struct {
		Memstats struct{ Mallocs uint64 } `json:"memstats"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&v) != nil {
		return 0
	}
	return v.Memstats.Mallocs
}

// profile starts the profiles of one round of a Caddy target when -profile
// asks for them; the returned function waits for them.
func (b *bench) profile(ctx context.Context, rt *running, lr loadResult, round int, window time.Duration) func() error {
	if b.cfg.profileDir == "" || rt.caddy == nil {
		return func() error { return nil }
	}
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil {
		return func() error { return err }
	}
	name := lr.Target
	if lr.Answers != "" {
		name += "-" + strings.ToLower(lr.Answers)
	}
	if lr.Client != "" && lr.Client != b.cfg.client {
		name += "-" + lr.Client
	}
	name += fmt.Sprintf("-r%d", round)
	return takeProfiles(ctx, rt.caddy.admin, b.cfg.profileDir, name, b.cfg.warmup, window)
}
