package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// ServerMetadata is an issuer's RFC 8414 authorization server metadata
// document, fetched (RFC 8414 location, else OpenID Connect discovery)
// on first use, kept for maxAge, fetched again at most once per
// minInterval, and served stale while the issuer cannot be reached. The
// gateway serves it on the MCP origin for 2025-03-26 clients, which look
// for /.well-known/oauth-authorization-server there. Safe for concurrent
// use.
type ServerMetadata struct {
	issuer      string
	client      *http.Client
	minInterval time.Duration
	maxAge      time.Duration
	now         func() time.Time

	mu        sync.Mutex
	doc       []byte
	fetchedAt time.Time
	lastTry   time.Time
	lastErr   error
	inflight  chan struct{} // non-nil while a fetch runs; closed when it ends
}

// NewServerMetadata returns the (not yet fetched) metadata of issuer;
// client nil means http.DefaultClient.
func NewServerMetadata(issuer string, client *http.Client) (*ServerMetadata, error) {
	if err := checkURI("issuer", issuer); err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &ServerMetadata{issuer: issuer, client: client, minInterval: DefaultRefetchInterval,
		maxAge: DefaultKeysMaxAge, now: time.Now}, nil
}

// Locations are the URLs the document is looked for at, in order.
func (m *ServerMetadata) Locations() []string { return metadataURLs(m.issuer) }

// Document returns the metadata document as the issuer serves it. Without
// a document (never fetched, or the fetch failed) it gives an
// *UnavailableError.
func (m *ServerMetadata) Document(ctx context.Context) ([]byte, error) {
	for {
		m.mu.Lock()
		if m.inflight != nil {
			wait := m.inflight
			m.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		since := m.now().Sub(m.lastTry)
		mayFetch := m.lastTry.IsZero() || since >= m.minInterval
		fresh := m.doc != nil && m.now().Sub(m.fetchedAt) < m.maxAge
		if fresh || !mayFetch {
			doc, err := m.doc, m.lastErr
			m.mu.Unlock()
			if doc != nil {
				return doc, nil
			}
			return nil, &UnavailableError{RetryAfter: max(m.minInterval-since, time.Second), Err: err}
		}
		done := make(chan struct{})
		m.inflight = done
		m.lastTry = m.now()
		m.mu.Unlock()

		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		doc, err := m.fetch(fetchCtx)
		cancel()

		m.mu.Lock()
		if err == nil {
			m.doc, m.fetchedAt = doc, m.now()
		}
		m.lastErr = err
		m.inflight = nil
		close(done)
		m.mu.Unlock()
		if err != nil {
			m.mu.Lock()
			stale := m.doc
			m.mu.Unlock()
			if stale != nil {
				return stale, nil
			}
			return nil, &UnavailableError{RetryAfter: m.minInterval, Err: err}
		}
		return doc, nil
	}
}

// fetch reads the first location that has this issuer's document.
func (m *ServerMetadata) fetch(ctx context.Context) ([]byte, error) {
	var errs []error
	for _, u := range m.Locations() {
		var raw json.RawMessage
		if err := getJSON(ctx, m.client, u, &raw); err != nil {
			errs = append(errs, err)
			continue
		}
		var meta struct {
			Issuer string `json:"issuer"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil || meta.Issuer != m.issuer {
			errs = append(errs, fmt.Errorf("%s names issuer %q, not %q", u, meta.Issuer, m.issuer))
			continue
		}
		return raw, nil
	}
	return nil, fmt.Errorf("authorization server metadata of %s: %w", m.issuer, errors.Join(errs...))
}
