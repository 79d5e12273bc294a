package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// loadResult is what one target did under the load.
type loadResult struct {
	Target, Label, Upstream string
	Answers                 string // HTTP upstreams: how the echo server answers POSTs (SSE or JSON)
	Sessions                int
	Calls                   int64         // successful calls in the measured window
	Errors                  int64         // failed calls (any error or a wrong echo), warm-up included
	ErrorSamples            []string      // the first few distinct errors
	Reconnects              int64         // sessions re-opened after repeated errors
	Elapsed                 time.Duration // the measured window
	Throughput              float64       // Calls per second of Elapsed
	P50, P95, P99, Max      time.Duration
	Connect                 time.Duration   // opening all sessions
	Client                  string          // the load generator: clientRaw or clientGoSDK
	CPU                     cpuSplit        // CPU time over the window: the front, the load generator, the rest
	CPUPerCall              time.Duration   // CPU.Front / Calls
	AllocsPerCall           float64         // CPU.Mallocs / Calls: heap objects per call of a Caddy front; 0: unknown
	Err                     string          // the target could not be measured at all
	RoundThroughput         []float64       // calls/s of each round
	RoundCPUPerCall         []time.Duration // CPU per call of each round (the front's)
	ListP50                 time.Duration   // tools/list's first page, one at a time after the load (-list-calls); 0: not measured
	ListAllP50              time.Duration   // the whole listing, every page
	lat, listLat, listAll   []time.Duration
}

// merge adds another round's result.
func (l *loadResult) merge(o loadResult) {
	l.Calls += o.Calls
	l.Errors += o.Errors
	for _, e := range o.ErrorSamples {
		if len(l.ErrorSamples) < 5 && !slices.Contains(l.ErrorSamples, e) {
			l.ErrorSamples = append(l.ErrorSamples, e)
		}
	}
	l.Reconnects += o.Reconnects
	l.Elapsed += o.Elapsed
	l.CPU.add(o.CPU)
	l.Connect = max(l.Connect, o.Connect)
	if o.Err != "" && l.Err == "" {
		l.Err = o.Err
	}
	l.RoundThroughput = append(l.RoundThroughput, o.RoundThroughput...)
	l.RoundCPUPerCall = append(l.RoundCPUPerCall, o.RoundCPUPerCall...)
	l.lat = append(l.lat, o.lat...)
	l.listLat = append(l.listLat, o.listLat...)
	l.listAll = append(l.listAll, o.listAll...)
}

// finish computes throughput, percentiles and CPU per call from the
// merged rounds.
func (l *loadResult) finish() {
	l.Throughput, l.CPUPerCall, l.AllocsPerCall = 0, 0, 0
	if l.Elapsed > 0 {
		l.Throughput = float64(l.Calls) / l.Elapsed.Seconds()
	}
	if l.Calls > 0 {
		l.CPUPerCall = l.CPU.Front / time.Duration(l.Calls)
		l.AllocsPerCall = float64(l.CPU.Mallocs) / float64(l.Calls)
	}
	slices.Sort(l.lat)
	l.P50, l.P95, l.P99 = percentile(l.lat, 0.50), percentile(l.lat, 0.95), percentile(l.lat, 0.99)
	slices.Sort(l.listLat)
	slices.Sort(l.listAll)
	l.ListP50, l.ListAllP50 = percentile(l.listLat, 0.50), percentile(l.listAll, 0.50)
	l.Max = 0
	if len(l.lat) > 0 {
		l.Max = l.lat[len(l.lat)-1]
	}
}

// perCall is d spread over the calls.
func (l loadResult) perCall(d time.Duration) time.Duration {
	if l.Calls == 0 {
		return 0
	}
	return d / time.Duration(l.Calls)
}

// name is the label with the answer mode of an HTTP upstream.
func (l loadResult) name() string {
	if l.Answers == "" {
		return l.Label
	}
	return l.Label + " (" + l.Answers + ")"
}

// newHTTPClient is a client whose connection pool holds conns keep-alive
// connections to one host (http.DefaultTransport keeps only 2, so N
// concurrent sessions would open and close connections all the time).
func newHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// errorLog keeps a count and the first few distinct error messages.
type errorLog struct {
	mu      sync.Mutex
	n       atomic.Int64
	samples []string
}

func (e *errorLog) add(format string, args ...any) {
	e.n.Add(1)
	msg := fmt.Sprintf(format, args...)
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.samples) < 5 && !slices.Contains(e.samples, msg) {
		e.samples = append(e.samples, msg)
	}
}

func (e *errorLog) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.samples)
}

// The load generators.
const (
	// clientRaw speaks Streamable HTTP by hand (rawmcp.go): a POST per call,
	// the answer read to its response and checked. It costs the machine
	// little, so the targets, not the client, use up the cores.
	clientRaw = "raw"
	// clientGoSDK is the go-sdk's client (StreamableClientTransport).
	clientGoSDK = "go-sdk"
)

// callTimeout bounds one call of the load.
const callTimeout = 10 * time.Second

// loadSession is one worker's MCP session.
type loadSession interface {
	// call calls echo with text and checks the answer.
	call(ctx context.Context, text string) error
	// close ends the session (DELETE).
	close()
}

// opener opens a load session on url whose calls go to the tool named tool.
type opener func(ctx context.Context, hc *http.Client, url, tool string) (loadSession, error)

func openerFor(client string) opener {
	if client == clientGoSDK {
		return openGoSDKSession
	}
	return openRawSession
}

// goSDKSession is a load session on the go-sdk client.
type goSDKSession struct {
	cs   *mcp.ClientSession
	tool string
}

func openGoSDKSession(ctx context.Context, hc *http.Client, url, tool string) (loadSession, error) {
	cs, err := connect(ctx, hc, url)
	if err != nil {
		return nil, err
	}
	return goSDKSession{cs, tool}, nil
}

func (s goSDKSession) call(ctx context.Context, text string) error {
	return echoCall(ctx, s.cs, s.tool, text)
}
func (s goSDKSession) close() { _ = s.cs.Close() }

func newMCPClient() *mcp.Client {
	return mcp.NewClient(&mcp.Implementation{Name: "caddy-mcp-bench", Version: "0"}, nil)
}

// connect opens one go-sdk session at the benchmark's protocol revision,
// without the standalone GET stream (the load measures calls).
func connect(ctx context.Context, hc *http.Client, url string) (*mcp.ClientSession, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cs, err := newMCPClient().Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc, DisableStandaloneSSE: true},
		&mcp.ClientSessionOptions{ProtocolVersion: protocolRevision})
	if err != nil {
		return nil, err
	}
	if got := cs.InitializeResult().ProtocolVersion; got != protocolRevision {
		_ = cs.Close()
		return nil, fmt.Errorf("negotiated protocol %q, want %q", got, protocolRevision)
	}
	return cs, nil
}

// echoCall calls the echo server's tool, by the name tool, with text and
// checks the answer.
func echoCall(ctx context.Context, cs *mcp.ClientSession, tool, text string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"text": text}})
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("tool error: %v", res.Content)
	}
	if len(res.Content) != 1 {
		return fmt.Errorf("%d content items, want 1", len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return fmt.Errorf("content is %T, want text", res.Content[0])
	}
	if tc.Text != text {
		return fmt.Errorf("echo mismatch: sent %q, got %q", text, tc.Text)
	}
	return nil
}

// runLoad opens sessions MCP sessions to url with the given client, one
// per worker; each calls the echo tool named tool with a unique text in a loop for
// warmup+duration. Calls that start after the warm-up are measured. meter,
// if not nil, samples the CPU time when the measured window opens and after
// the last call.
func runLoad(ctx context.Context, url, tool, client string, sessions int, warmup, duration time.Duration, meter *cpuMeter) loadResult {
	var res loadResult
	res.Sessions, res.Client = sessions, client
	hc := newHTTPClient(2*sessions + 8)
	defer hc.CloseIdleConnections()
	lw := &loadWorkers{hc: hc, url: url, tool: tool, open: openerFor(client), errs: &errorLog{}}

	t0 := time.Now()
	lw.ss = lw.openSessions(ctx, sessions)
	res.Connect = time.Since(t0)
	defer func() {
		for _, s := range lw.ss {
			if s != nil {
				s.close() // DELETE
			}
		}
	}()
	if ctx.Err() != nil {
		res.Err = ctx.Err().Error()
		return res
	}

	run := make([]byte, 4)
	_, _ = rand.Read(run)
	lw.tag = hex.EncodeToString(run)
	start := time.Now()
	lw.measureFrom = start.Add(warmup)
	lw.end = lw.measureFrom.Add(duration)
	var cpuStart atomic.Pointer[cpuSample]
	if meter != nil {
		t := time.AfterFunc(warmup, func() { s := meter.sample(); cpuStart.Store(&s) })
		defer t.Stop()
	}
	lat := make([][]time.Duration, sessions)
	lastDone := make([]time.Time, sessions)
	var wg sync.WaitGroup
	for w := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[w], lastDone[w] = lw.work(ctx, w)
		}()
	}
	wg.Wait()
	if meter != nil {
		if from := cpuStart.Load(); from != nil {
			res.CPU = from.to(meter.sample())
		}
	}

	var all []time.Duration
	last := lw.measureFrom
	for w := range sessions {
		all = append(all, lat[w]...)
		if lastDone[w].After(last) {
			last = lastDone[w]
		}
	}
	res.Calls = int64(len(all))
	res.Errors = lw.errs.n.Load()
	res.ErrorSamples = lw.errs.list()
	res.Reconnects = lw.reconnects.Load()
	res.Elapsed = last.Sub(lw.measureFrom)
	res.lat = all
	res.finish()
	res.RoundThroughput = []float64{res.Throughput}
	if ctx.Err() != nil {
		res.Err = "interrupted"
	}
	return res
}

// loadWorkers is what runLoad's workers share.
type loadWorkers struct {
	hc               *http.Client
	url, tool        string
	open             opener
	errs             *errorLog
	tag              string // this run's, in every echo text
	measureFrom, end time.Time
	ss               []loadSession // worker w's session at w, nil while it has none
	reconnects       atomic.Int64
}

// openSessions opens n sessions, a few at a time. One that fails is left
// nil, for its worker to open again.
func (lw *loadWorkers) openSessions(ctx context.Context, n int) []loadSession {
	ss := make([]loadSession, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range ss {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := lw.open(ctx, lw.hc, lw.url, lw.tool)
			if err != nil {
				lw.errs.add("connect: %v", err)
				return
			}
			ss[i] = s
		}()
	}
	wg.Wait()
	return ss
}

// work is worker w's loop: it calls echo until the window ends, opening a
// new session when its own looks dead. It returns the latencies of the calls
// that started in the measured window and when the last of them ended.
func (lw *loadWorkers) work(ctx context.Context, w int) (samples []time.Duration, lastDone time.Time) {
	s := lw.ss[w]
	failures := 0
	samples = make([]time.Duration, 0, 4096)
	for i := 0; ; i++ {
		now := time.Now()
		if !now.Before(lw.end) || ctx.Err() != nil {
			break
		}
		if s == nil {
			var err error
			if s, err = lw.open(ctx, lw.hc, lw.url, lw.tool); err != nil {
				lw.errs.add("connect: %v", err)
				sleepCtx(ctx, 50*time.Millisecond)
				continue
			}
			lw.ss[w] = s
		}
		text := fmt.Sprintf("bench-%s-w%d-c%d", lw.tag, w, i)
		t := time.Now()
		err := s.call(ctx, text)
		d := time.Since(t)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			lw.errs.add("%v", err)
			failures++
			if failures >= 5 || errors.Is(err, mcp.ErrConnectionClosed) {
				// The session looks dead: open a new one.
				s.close()
				s, lw.ss[w] = nil, nil
				lw.reconnects.Add(1)
				failures = 0
			}
			sleepCtx(ctx, 10*time.Millisecond)
			continue
		}
		failures = 0
		if !t.Before(lw.measureFrom) {
			samples = append(samples, d)
			lastDone = t.Add(d)
		}
	}
	return samples, lastDone
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
