package stdio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/pipeline"
	"github.com/caddy-mcp/caddy-mcp/upstream"
)

// Bounds of the era probe besides Options.ProbeTimeout.
const (
	// DefaultProbeReadyTimeout bounds the wait for the probe process to
	// answer a ping before it is asked server/discover: a server may take
	// seconds to load, and its readiness is not its answer (as the pool's
	// default ready_timeout).
	DefaultProbeReadyTimeout = 30 * time.Second
	// probeRetryFirst and probeRetryMax are the backoff of a probe that got
	// no answer in time: it is retried after a minute, then after twice as
	// long each time, up to 15 minutes.
	probeRetryFirst = time.Minute
	probeRetryMax   = 15 * time.Minute
)

// eraState remembers which era the server speaks, found by a probe.
type eraState struct {
	mu      sync.Mutex
	era     string        // "" until a probe got a definite answer
	guess   string        // EraLegacy after a probe that timed out, until one answers
	retryAt time.Time     // when a timed-out probe may run again
	backoff time.Duration // the wait before the last retryAt
	probing chan struct{} // non-nil while a probe runs; closed when it ends
	err     error         // why the last probe could not run

	// Tunables, fixed before the first probe; zero means the default
	// (tests shorten them).
	readyWait  time.Duration
	retryFirst time.Duration
}

// Era reports whether the server speaks the 2026-07-28 revision (EraModern)
// or only the 2025 ones (EraLegacy). With Protocol auto the first call
// probes the server, with server/discover on a throwaway process from the
// pool once it answered a ping (its readiness); concurrent calls wait for
// that probe (or until ctx ends). A probe that got an answer — or saw the
// process exit on it — is remembered for the life of the Upstream. A probe
// that got no answer in time counts as legacy for now and is retried with a
// backoff (a minute, doubling up to 15): the first call after the wait
// starts the retry in the background and gets the legacy answer meanwhile.
// A probe that could not run (the pool was full, the command did not
// start, Close) returns its error and is retried by the next call.
func (s *Upstream) Era(ctx context.Context) (string, error) {
	switch s.statelessOpts().Protocol {
	case ProtocolLegacy:
		return EraLegacy, nil
	case ProtocolModern:
		return EraModern, nil
	}
	e := &s.era
	e.mu.Lock()
	if e.era != "" {
		era := e.era
		e.mu.Unlock()
		return era, nil
	}
	if e.guess != "" && (e.probing != nil || time.Now().Before(e.retryAt)) {
		guess := e.guess
		e.mu.Unlock()
		return guess, nil
	}
	ch := e.probing
	if ch == nil {
		if err := s.closeCtx.Err(); err != nil {
			e.mu.Unlock()
			return "", &upstream.BusyError{RetryAfter: time.Second, Err: errSharedClosed}
		}
		ch = make(chan struct{})
		e.probing = ch
		s.wg.Add(1)
		go s.runProbe(ch)
		if e.guess != "" {
			guess := e.guess // a retry: it runs in the background
			e.mu.Unlock()
			return guess, nil
		}
	}
	e.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.era != "":
		return e.era, nil
	case e.guess != "":
		return e.guess, nil
	}
	return "", e.err
}

// probeResult is what one probe found.
type probeResult struct {
	era      string
	timedOut bool // no answer in time: retried later
}

func (s *Upstream) runProbe(ch chan struct{}) {
	defer s.wg.Done()
	res, err := s.probe(s.closeCtx)
	e := &s.era
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil:
		e.err = err
	case res.timedOut:
		e.guess = EraLegacy
		first := cmp.Or(e.retryFirst, probeRetryFirst)
		e.backoff = min(max(2*e.backoff, first), max(probeRetryMax, first))
		e.retryAt = time.Now().Add(e.backoff)
		s.logger.Warn("the stdio MCP server did not answer the era probe in time; serving it as legacy for now",
			zap.Duration("retry_in", e.backoff))
	default:
		e.era, e.guess = res.era, ""
	}
	e.probing = nil
	close(ch)
}

// Requests of the era probe.
const (
	readyProbe    = `{"jsonrpc":"2.0","id":0,"method":"ping"}`
	discoverProbe = `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{` +
		`"io.modelcontextprotocol/protocolVersion":"` + modernVersion + `","io.modelcontextprotocol/clientCapabilities":{}}}}`
)

// probe asks a throwaway process which era it speaks and stops it. It
// first waits for the process to answer a ping (a spare still warming, or a
// server still loading, is not yet an answer to server/discover), then
// gives server/discover ProbeTimeout.
func (s *Upstream) probe(ctx context.Context) (probeResult, error) {
	proc, err := s.pool.Acquire(ctx)
	if err != nil {
		return probeResult{}, fmt.Errorf("upstream: starting a process to probe the MCP server's era: %w", acquireError(err))
	}
	logger := s.logger.With(zap.Int("pid", proc.PID()))
	m := newMux(proc, s.messageLimit(), logger, &s.wg, nil)
	defer m.close()

	ask := func(raw string, timeout time.Duration) (*pipeline.Message, error) {
		req, err := pipeline.Parse([]byte(raw))
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var resp *pipeline.Message
		err = m.call(pctx, req, func(msg *pipeline.Message, _ int) {
			if msg.IsResponse() {
				resp = msg
			}
		})
		return resp, err
	}
	closed := func() (probeResult, error) {
		return probeResult{}, &upstream.BusyError{RetryAfter: time.Second, Err: errSharedClosed}
	}

	readyWait := cmp.Or(s.era.readyWait, DefaultProbeReadyTimeout)
	_, err = ask(readyProbe, readyWait)
	if ctx.Err() != nil {
		return closed()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Info("the probe process did not answer a ping in time; the era probe will be retried",
			zap.Duration("waited", readyWait))
		return probeResult{timedOut: true}, nil
	}
	var resp *pipeline.Message
	if err == nil {
		resp, err = ask(discoverProbe, s.statelessOpts().ProbeTimeout)
		if ctx.Err() != nil {
			return closed()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			logger.Info("the probe process answered a ping but not server/discover in time; the era probe will be retried",
				zap.Duration("probe_timeout", s.statelessOpts().ProbeTimeout))
			return probeResult{timedOut: true}, nil
		}
	}
	// An answer, or a process that exited on a request before initialize
	// (as some legacy servers do): definite either way.
	era, why := classifyDiscover(resp, err)
	logger.Info("probed the stdio MCP server's era", zap.String("era", era), zap.String("why", why))
	return probeResult{era: era}, nil
}

// classifyDiscover reads the answer to server/discover (docs/transports.md,
// "Telling the eras apart"): a result or a -32022 error that lists 2026-07-28 means modern;
// anything else means legacy.
func classifyDiscover(resp *pipeline.Message, err error) (era, why string) {
	switch {
	case err != nil:
		return EraLegacy, "server/discover failed: " + err.Error()
	case resp == nil:
		return EraLegacy, "no answer to server/discover"
	case resp.Result != nil:
		var r struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		_ = json.Unmarshal(resp.Result, &r)
		if slices.Contains(r.SupportedVersions, modernVersion) {
			return EraModern, "server/discover lists " + modernVersion
		}
		return EraLegacy, fmt.Sprintf("server/discover lists %q only", r.SupportedVersions)
	default:
		var e struct {
			Code int `json:"code"`
			Data struct {
				Supported []string `json:"supported"`
			} `json:"data"`
		}
		_ = json.Unmarshal(resp.Error, &e)
		if e.Code == -32022 && slices.Contains(e.Data.Supported, modernVersion) {
			return EraModern, "server/discover answered -32022 listing " + modernVersion
		}
		return EraLegacy, fmt.Sprintf("server/discover answered error %d", e.Code)
	}
}
