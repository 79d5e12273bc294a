package oauth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Introspection configures the checking of opaque tokens at an
// authorization server's RFC 7662 endpoint.
type Introspection struct {
	// URL is the introspection endpoint.
	URL string
	// ClientID and ClientSecret authenticate the gateway to it (HTTP Basic,
	// RFC 7662 §2.1).
	ClientID     string
	ClientSecret string
	// MaxEntries bounds the cache of answers (DefaultIntrospectionCacheSize
	// when zero).
	MaxEntries int
}

// DefaultIntrospectionCacheSize is how many introspection answers are
// kept by default.
const DefaultIntrospectionCacheSize = 10000

// inactiveTTL is how long an "active": false answer is remembered, so a
// client retrying a dead token does not turn into a request each time.
const inactiveTTL = 10 * time.Second

// maxIntrospectionTTL is the longest an active answer is trusted, even
// for a token that expires later: a revoked token stops working within it.
const maxIntrospectionTTL = time.Hour

// noExpiryTTL is how long an active answer without exp is trusted.
const noExpiryTTL = time.Minute

// introspector asks the endpoint about tokens and caches the answers
// until the token's expiry, in a bounded cache.
type introspector struct {
	cfg      Introspection
	resource string
	issuers  []string
	client   *http.Client
	now      func() time.Time
	leeway   time.Duration
	mu       sync.Mutex
	cache    map[[32]byte]cachedAnswer   // by the token's SHA-256: no token kept in memory as such
	order    [][32]byte                  // insertion order, for eviction
	inflight map[[32]byte]*introspection // tokens being asked about
}

type cachedAnswer struct {
	claims *Claims
	err    error // a *TokenError for a refused token
	until  time.Time
}

// introspectionAnswer is the RFC 7662 §2.2 response.
type introspectionAnswer struct {
	Active    bool            `json:"active"`
	Scope     *string         `json:"scope"`
	Scp       json.RawMessage `json:"scp"`
	ClientID  string          `json:"client_id"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Issuer    string          `json:"iss"`
	Expiry    *float64        `json:"exp"`
	NotBefore *float64        `json:"nbf"`
	TokenType string          `json:"token_type"`
}

// introspection is one question to the endpoint, which callers with the
// same token share.
type introspection struct {
	done chan struct{} // closed when answered
	err  error         // the endpoint's failure, once done
}

// check returns the claims of an opaque token. Callers with a token that
// is being asked about wait for that one answer.
func (in *introspector) check(ctx context.Context, token string) (*Claims, error) {
	key := sha256.Sum256([]byte(token))
	for {
		now := in.now()
		in.mu.Lock()
		if a, ok := in.cache[key]; ok && now.Before(a.until) {
			in.mu.Unlock()
			return a.claims, a.err
		}
		if q, ok := in.inflight[key]; ok {
			in.mu.Unlock()
			select {
			case <-q.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if q.err != nil {
				return nil, q.err
			}
			continue // the answer is cached
		}
		q := &introspection{done: make(chan struct{})}
		in.inflight[key] = q
		in.mu.Unlock()

		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		ans, err := in.ask(fetchCtx, token)
		cancel()
		var (
			claims  *Claims
			refusal error
		)
		if err != nil {
			q.err = &UnavailableError{RetryAfter: time.Second, Err: err}
		} else {
			var until time.Time
			claims, until, refusal = in.judge(ans, now)
			in.store(key, cachedAnswer{claims: claims, err: refusal, until: until})
		}
		in.mu.Lock()
		delete(in.inflight, key)
		in.mu.Unlock()
		close(q.done)
		switch {
		case q.err != nil:
			return nil, q.err
		case refusal != nil:
			return nil, refusal
		}
		return claims, nil
	}
}

// judge turns an answer into claims, or a refusal, and how long the
// verdict holds.
func (in *introspector) judge(a *introspectionAnswer, now time.Time) (*Claims, time.Time, error) {
	refused := func(format string, args ...any) (*Claims, time.Time, error) {
		return nil, now.Add(inactiveTTL), invalid(format, args...)
	}
	if !a.Active {
		return refused("the authorization server says the token is not active (expired, revoked or unknown); get a new one")
	}
	var exp time.Time
	until := now.Add(noExpiryTTL)
	if a.Expiry != nil {
		exp = time.Unix(int64(*a.Expiry), 0)
		if !now.Before(exp.Add(in.leeway)) {
			return refused("the token expired; get a new one")
		}
		// Until expiry, but asked again at least hourly (revocation).
		until = now.Add(maxIntrospectionTTL)
		if e := exp.Add(in.leeway); e.Before(until) {
			until = e
		}
	}
	if a.NotBefore != nil && now.Add(in.leeway).Before(time.Unix(int64(*a.NotBefore), 0)) {
		return refused("the token is not valid yet (nbf in the future)")
	}
	iss := a.Issuer
	if iss == "" {
		iss = in.issuers[0] // the endpoint vouches for the token; it is the issuer's
	} else if !slices.Contains(in.issuers, iss) {
		return refused("issuer %q is not accepted here", iss)
	}
	aud := audienceList(a.Audience)
	if !slices.Contains(aud, in.resource) {
		return refused("the token's audience does not include %s; request it with resource=%s", in.resource, in.resource)
	}
	all := map[string]any{}
	for k, v := range map[string]string{"sub": a.Subject, "client_id": a.ClientID, "iss": iss} {
		if v != "" {
			all[k] = v
		}
	}
	// RFC 7662 makes sub optional, and endpoints leave it out of a
	// client_credentials token's answer, whose only party is the client:
	// then the client is the user, as RFC 9068 §2.2 has sub be the
	// client_id for such tokens. With neither, the token names nobody,
	// and sessions bound to "" would be shared by every such token.
	subject := cmp.Or(a.Subject, a.ClientID)
	if subject == "" {
		return refused("the authorization server's answer names no subject (sub) nor client (client_id)")
	}
	return &Claims{Issuer: iss, Subject: subject, Audience: aud, Scopes: tokenScopes(a.Scope, a.Scp), Expiry: exp, All: all}, until, nil
}

// audienceList reads aud, a string or an array of strings.
func audienceList(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return []string{s}
	}
	return nil
}

// ask POSTs the token to the endpoint.
func (in *introspector) ask(ctx context.Context, token string) (*introspectionAnswer, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret)) // RFC 6749 §2.3.1
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocumentBytes))
		return nil, fmt.Errorf("POST %s: %s", in.cfg.URL, resp.Status)
	}
	var a introspectionAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(&a); err != nil {
		return nil, fmt.Errorf("POST %s: %w", in.cfg.URL, err)
	}
	return &a, nil
}

// store caches an answer, evicting expired ones, then the oldest, when
// the cache is full.
func (in *introspector) store(key [32]byte, a cachedAnswer) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.cache[key]; !ok {
		if len(in.cache) >= in.cfg.MaxEntries {
			in.evictLocked()
		}
		in.order = append(in.order, key)
	}
	in.cache[key] = a
}

func (in *introspector) evictLocked() {
	now := in.now()
	kept := in.order[:0]
	for _, k := range in.order {
		if a, ok := in.cache[k]; ok && now.Before(a.until) {
			kept = append(kept, k)
		} else {
			delete(in.cache, k)
		}
	}
	in.order = kept
	for len(in.cache) >= in.cfg.MaxEntries && len(in.order) > 0 {
		delete(in.cache, in.order[0])
		in.order = in.order[1:]
	}
}

// cached is how many answers are kept (for tests).
func (in *introspector) cached() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.cache)
}
