package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memSnapshot is the Caddy process's memory after a forced GC.
type memSnapshot struct {
	HeapAlloc  uint64 // live heap (runtime.MemStats.HeapAlloc via expvar)
	Goroutines int
	RSS        uint64 // VmRSS of the process
}

// snapshot forces a GC in Caddy (GET /debug/pprof/heap?gc=1 on its admin
// endpoint), then reads memstats from /debug/vars and the goroutine count.
func (c *caddyInstance) snapshot(ctx context.Context) (memSnapshot, error) {
	var s memSnapshot
	hc := newHTTPClient(2)
	defer hc.CloseIdleConnections()
	get := func(path string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.admin+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("admin %s: HTTP %d: %.200s", path, resp.StatusCode, b)
		}
		return b, nil
	}
	for range 2 {
		if _, err := get("/debug/pprof/heap?gc=1"); err != nil {
			return s, err
		}
	}
	b, err := get("/debug/vars")
	if err != nil {
		return s, err
	}
	var vars struct {
		Memstats struct{ HeapAlloc uint64 } `json:"memstats"`
	}
	if err := json.Unmarshal(b, &vars); err != nil {
		return s, fmt.Errorf("admin /debug/vars: %w", err)
	}
	s.HeapAlloc = vars.Memstats.HeapAlloc
	if b, err = get("/debug/pprof/goroutine?debug=1"); err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	s.Goroutines, _ = strconv.Atoi(strings.TrimPrefix(line, "goroutine profile: total "))
	s.RSS = rssBytes(c.p.cmd.Process.Pid)
	return s, nil
}

// memResult is the cost of N things (idle sessions, open SSE streams) in
// the Caddy process: snapshots before and after.
type memResult struct {
	What          string
	N             int // asked for
	Opened        int // actually opened
	StillOpen     int // SSE: streams still open after the hold
	Hold          time.Duration
	OpenTime      time.Duration
	Before, After memSnapshot
	Errors        int
	ErrorSamples  []string
}

func (m memResult) perItem() (heap, rss, goroutines float64) {
	if m.Opened == 0 {
		return 0, 0, 0
	}
	n := float64(m.Opened)
	return (float64(m.After.HeapAlloc) - float64(m.Before.HeapAlloc)) / n,
		(float64(m.After.RSS) - float64(m.Before.RSS)) / n,
		float64(m.After.Goroutines-m.Before.Goroutines) / n
}

// openSessions opens n sessions on c, a few at a time, and returns their ids.
func openSessions(ctx context.Context, c *rawClient, n int, errs *errorLog) []string {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				sid, err := c.open(ctx)
				if err != nil {
					errs.add("open session: %v", err)
					continue
				}
				ids[i] = sid
			}
		}()
	}
	wg.Wait()
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// runMemory measures, through caddy-mcp in front of the HTTP echo server,
// the heap per idle session (K sessions opened and left idle) and per open
// SSE GET stream (M streams on M of those sessions, held open a while).
func (b *bench) runMemory(ctx context.Context) (idle, sse *memResult, err error) {
	k, m := b.cfg.idleSessions, b.cfg.sseStreams
	ep, upURL, err := b.startEchoHTTP(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer ep.stop(5 * time.Second)
	site := fmt.Sprintf(`	mcp_proxy /mcp {
		name bench-memory
		http %s
		max_sessions %d
		session_idle_timeout 30m
	}
`, upURL, max(k, m)+100)
	c, err := b.startCaddy(ctx, "caddy-mcp-memory", site)
	if err != nil {
		return nil, nil, err
	}
	// Many sessions take Caddy a while to end on shutdown.
	defer c.p.stop(20 * time.Second)

	hc := newHTTPClient(16)
	defer hc.CloseIdleConnections()
	rc := &rawClient{hc: hc, url: c.url("/mcp")}

	// One session opened and ended first, so that lazily built state is
	// in the baseline.
	if sid, err := rc.open(ctx); err != nil {
		return nil, nil, fmt.Errorf("first session: %w", err)
	} else if err := rc.end(ctx, sid); err != nil {
		return nil, nil, fmt.Errorf("first session DELETE: %w", err)
	}

	var sids []string
	if k > 0 {
		r := &memResult{What: "idle sessions", N: k}
		if r.Before, err = c.snapshot(ctx); err != nil {
			return nil, nil, err
		}
		errs := &errorLog{}
		t0 := time.Now()
		sids = openSessions(ctx, rc, k, errs)
		r.OpenTime = time.Since(t0)
		r.Opened = len(sids)
		if r.After, err = c.snapshot(ctx); err != nil {
			return nil, nil, err
		}
		r.Errors, r.ErrorSamples = int(errs.n.Load()), errs.list()
		idle = r
		b.logf("idle sessions: %d opened in %v", r.Opened, r.OpenTime.Round(time.Millisecond))
	}
	if m > 0 && ctx.Err() == nil {
		errs := &errorLog{}
		if len(sids) < m {
			sids = append(sids, openSessions(ctx, rc, m-len(sids), errs)...)
		}
		if sse, err = holdStreams(ctx, c, rc.url, sids[:min(m, len(sids))], b.cfg.sseHold, errs); err != nil {
			return idle, nil, err
		}
		sse.N = m
		b.logf("SSE streams: %d opened, %d still open after %v", sse.Opened, sse.StillOpen, sse.Hold)
	}
	return idle, sse, nil
}

// holdStreams opens a GET stream on each session, holds them all open for
// hold, checks that none ended, and closes them.
func holdStreams(ctx context.Context, c *caddyInstance, url string, sids []string, hold time.Duration, errs *errorLog) (*memResult, error) {
	r := &memResult{What: "open SSE GET streams", Hold: hold}
	var err error
	if r.Before, err = c.snapshot(ctx); err != nil {
		return nil, err
	}
	// One connection per stream; a bound on the wait for headers only.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, DisableCompression: true,
		ResponseHeaderTimeout: 10 * time.Second}}
	defer hc.CloseIdleConnections()
	rc := &rawClient{hc: hc, url: url}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		opened, ended atomic.Int64
		wg, openWG    sync.WaitGroup
		sem           = make(chan struct{}, 32)
	)
	t0 := time.Now()
	for _, sid := range sids {
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		openWG.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			resp := openStream(sctx, rc, sid, errs)
			<-sem
			if resp != nil {
				opened.Add(1)
			}
			openWG.Done()
			if resp == nil {
				return
			}
			defer resp.Body.Close()
			// Read until the stream ends or we close it.
			rd := bufio.NewReader(resp.Body)
			for {
				if _, err := rd.ReadString('\n'); err != nil {
					if sctx.Err() == nil {
						ended.Add(1)
						errs.add("stream ended during the hold: %v", err)
					}
					return
				}
			}
		}()
	}
	openWG.Wait()
	r.OpenTime = time.Since(t0)
	r.Opened = int(opened.Load())
	sleepCtx(ctx, hold)
	if r.After, err = c.snapshot(ctx); err != nil {
		return nil, err
	}
	r.StillOpen = r.Opened - int(ended.Load())
	cancel()
	wg.Wait()
	r.Errors, r.ErrorSamples = int(errs.n.Load()), errs.list()
	return r, nil
}

// openStream opens the GET stream of a session; nil on failure (recorded).
func openStream(ctx context.Context, rc *rawClient, sid string, errs *errorLog) *http.Response {
	req, err := rc.request(ctx, http.MethodGet, sid, "")
	if err != nil {
		errs.add("GET: %v", err)
		return nil
	}
	resp, err := rc.hc.Do(req)
	if err != nil {
		errs.add("GET: %v", err)
		return nil
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		errs.add("GET: HTTP %d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		return nil
	}
	return resp
}
