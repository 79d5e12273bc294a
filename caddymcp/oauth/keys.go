package oauth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// maxDocumentBytes bounds a metadata or JWKS document read from an
// authorization server.
const maxDocumentBytes = 1 << 20

// fetchTimeout bounds one discovery + JWKS fetch. It runs detached from
// the request that triggered it, so one client hanging up does not fail
// the others waiting on the same fetch.
const fetchTimeout = 10 * time.Second

// keySource holds one issuer's signing keys: fetched on first use (never
// at provisioning, so `caddy validate` makes no network call), cached,
// and fetched again when a token names a kid the cache lacks, at most
// once per minInterval (a token with a random kid must not turn the
// gateway into a JWKS request amplifier), and when older than maxAge (so
// a withdrawn key stops being trusted). A failed fetch is likewise retried
// at most once per minInterval; meanwhile stale keys stay in use, and
// callers that need a key the cache lacks get an UnavailableError saying
// when.
type keySource struct {
	client      *http.Client
	issuer      string // for discovery; empty when jwksURL is fixed
	minInterval time.Duration
	maxAge      time.Duration
	now         func() time.Time
	logger      *zap.Logger

	mu         sync.Mutex
	jwksURL    string // configured, or discovered once
	keys       *jose.JSONWebKeySet
	unreadable map[string]string // kid → why, of the keys of the set that could not be read
	fetchedAt  time.Time         // of keys
	lastTry    time.Time
	lastErr    error
	inflight   chan struct{} // non-nil while a fetch runs; closed when it ends
}

// keysFor returns the keys that may have signed a token with header kid
// (every key when kid is empty), fetching the set when needed.
func (s *keySource) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	refetched := false
	for {
		s.mu.Lock()
		if s.inflight != nil {
			wait := s.inflight
			s.mu.Unlock()
			select {
			case <-wait:
				refetched = true
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		since := s.now().Sub(s.lastTry)
		mayFetch := !refetched && (s.lastTry.IsZero() || since >= s.minInterval)
		if s.keys != nil {
			// Stale keys are refreshed (so a key the issuer withdrew
			// stops being trusted) but still used while the issuer
			// cannot be reached.
			stale := s.now().Sub(s.fetchedAt) >= s.maxAge
			if found := pick(s.keys, kid); len(found) > 0 && (!stale || !mayFetch) {
				s.mu.Unlock()
				return found, nil
			}
		}
		if !mayFetch {
			keys, lastErr := s.keys, s.lastErr
			s.mu.Unlock()
			if keys == nil || lastErr != nil {
				if lastErr == nil {
					lastErr = errors.New("no keys fetched yet")
				}
				return nil, &UnavailableError{RetryAfter: max(s.minInterval-since, time.Second), Err: lastErr}
			}
			if kid == "" {
				return nil, invalid("the token names no key (kid) and no key of the issuer verifies it")
			}
			if why, ok := s.unreadable[kid]; ok {
				return nil, invalid("the token is signed with key %q, which the issuer publishes in a form the gateway cannot use (%s)", kid, why)
			}
			return nil, invalid("the token is signed with key %q, which the issuer does not publish", kid)
		}
		done := make(chan struct{})
		s.inflight = done
		s.lastTry = s.now()
		jwksURL := s.jwksURL
		s.mu.Unlock()

		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		keys, skipped, discovered, err := s.fetch(fetchCtx, jwksURL)
		cancel()
		if err == nil && len(skipped) > 0 {
			// Once per fetch (at most once per minInterval), not per
			// request: the operator learns of it, the log is not flooded.
			s.logger.Warn("mcp_auth: the issuer's key set has keys the gateway cannot read; they are skipped and the other keys used",
				zap.String("jwks_url", cmp.Or(discovered, jwksURL)), zap.Any("skipped", skipped))
		}

		s.mu.Lock()
		if discovered != "" {
			s.jwksURL = discovered
		}
		if err == nil {
			s.keys, s.fetchedAt = keys, s.now()
			s.unreadable = make(map[string]string, len(skipped))
			for _, k := range skipped {
				if k.KeyID != "" {
					s.unreadable[k.KeyID] = k.Reason
				}
			}
		}
		s.lastErr = err
		s.inflight = nil
		close(done)
		s.mu.Unlock()
		refetched = true
	}
}

// pick returns the signature keys of set with kid (all of them for an
// empty kid).
func pick(set *jose.JSONWebKeySet, kid string) []jose.JSONWebKey {
	var found []jose.JSONWebKey
	for _, k := range set.Keys {
		if k.Use == "enc" || (kid != "" && k.KeyID != kid) {
			continue
		}
		found = append(found, k)
	}
	return found
}

// skippedKey is a key of a JWKS that could not be read.
type skippedKey struct {
	KeyID  string `json:"kid,omitempty"`
	Type   string `json:"kty,omitempty"`
	Curve  string `json:"crv,omitempty"`
	Reason string `json:"reason"`
}

// fetch gets the key set, discovering its URL from the issuer's metadata
// first when jwksURL is empty; discovered is the URL it found. Keys it
// cannot read are skipped, not fatal: RFC 7517 §5 says to ignore JWKs of
// unknown type or parameters, and an issuer publishing, say, an X448 key
// beside its RSA one must not stop every other key from verifying.
func (s *keySource) fetch(ctx context.Context, jwksURL string) (keys *jose.JSONWebKeySet, skipped []skippedKey, discovered string, err error) {
	if jwksURL == "" {
		if jwksURL, err = s.discover(ctx); err != nil {
			return nil, nil, "", err
		}
		discovered = jwksURL
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.getJSON(ctx, jwksURL, &doc); err != nil {
		return nil, nil, discovered, fmt.Errorf("JWKS: %w", err)
	}
	set := &jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(doc.Keys))}
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			var id skippedKey
			_ = json.Unmarshal(raw, &id) // best effort, for the log
			id.Reason = err.Error()
			skipped = append(skipped, id)
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	return set, skipped, discovered, nil
}

// discover reads the issuer's jwks_uri from its RFC 8414 metadata, else
// from its OpenID Connect discovery document. RFC 8414 §3.3: the document
// must name the same issuer, or it is not this issuer's.
func (s *keySource) discover(ctx context.Context) (string, error) {
	var errs []error
	for _, u := range metadataURLs(s.issuer) {
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := s.getJSON(ctx, u, &meta); err != nil {
			errs = append(errs, err)
			continue
		}
		if meta.Issuer != s.issuer {
			errs = append(errs, fmt.Errorf("%s names issuer %q, not %q", u, meta.Issuer, s.issuer))
			continue
		}
		if meta.JWKSURI == "" {
			errs = append(errs, fmt.Errorf("%s has no jwks_uri", u))
			continue
		}
		return meta.JWKSURI, nil
	}
	return "", fmt.Errorf("discovery of %s: %w", s.issuer, errors.Join(errs...))
}

// metadataURLs are where an issuer's metadata lives: RFC 8414 inserts the
// well-known segment before the issuer's path; OpenID Connect Discovery
// appends it.
func metadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	path := strings.TrimSuffix(u.Path, "/")
	rfc := *u
	rfc.Path = "/.well-known/oauth-authorization-server" + path
	oidc := *u
	oidc.Path = path + "/.well-known/openid-configuration"
	return []string{rfc.String(), oidc.String()}
}

// getJSON GETs u and decodes its JSON body into dest.
func (s *keySource) getJSON(ctx context.Context, u string, dest any) error {
	return getJSON(ctx, s.client, u, dest)
}

// getJSON GETs u with client and decodes its JSON body (at most
// maxDocumentBytes) into dest.
func getJSON(ctx context.Context, client *http.Client, u string, dest any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocumentBytes))
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(dest); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
