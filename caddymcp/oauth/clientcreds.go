package oauth

import (
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
)

// Client authentication methods at the token endpoint (RFC 6749 §2.3.1).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
)

// DefaultTokenLifetime is how long a token is used when the token
// endpoint says nothing of its lifetime (no expires_in).
const DefaultTokenLifetime = 5 * time.Minute

// maxRefreshMargin is the most time before its expiry a token is
// replaced; a short-lived one is replaced after half its lifetime.
const maxRefreshMargin = time.Minute

// failedFetchPause is the least time between two token requests after a
// failed one, so an unreachable endpoint is not asked by every request.
const failedFetchPause = 2 * time.Second

// minInvalidateAge is how old a token must be before the upstream's 401
// may discard it: a token the upstream refuses when fresh will not be
// fixed by another one, and the endpoint must not be asked per request.
const minInvalidateAge = 10 * time.Second

// ClientCredentials is an OAuth 2.1 client credentials grant (RFC 6749
// §4.4): how the gateway gets its own token for an upstream.
type ClientCredentials struct {
	// TokenURL is the authorization server's token endpoint.
	TokenURL string
	// ClientID and ClientSecret are the gateway's credentials there.
	ClientID     string
	ClientSecret string
	// Scopes are requested (scope=, space-joined), when any.
	Scopes []string
	// Audience is sent as audience= (Auth0 and others name the API so).
	Audience string
	// Resource is sent as resource= (RFC 8707): the upstream's URI.
	Resource string
	// AuthMethod is ClientSecretBasic (the default) or ClientSecretPost.
	AuthMethod string
	// Client makes the token requests (http.DefaultClient when nil).
	Client *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// TokenSource obtains tokens by client credentials, caches them, and
// replaces them before they expire. Safe for concurrent use.
type TokenSource struct {
	cfg ClientCredentials

	mu       sync.Mutex
	token    string
	obtained time.Time
	expiry   time.Time
	lastTry  time.Time
	lastErr  error
	inflight chan struct{} // non-nil while a token request runs
	fetches  int
}

// NewTokenSource checks cfg (without any network call).
func NewTokenSource(cfg ClientCredentials) (*TokenSource, error) {
	if err := checkURI("token_url", cfg.TokenURL); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("client_id is required")
	}
	switch cfg.AuthMethod {
	case "":
		cfg.AuthMethod = ClientSecretBasic
	case ClientSecretBasic, ClientSecretPost:
	default:
		return nil, fmt.Errorf("auth_method %q: want %s or %s", cfg.AuthMethod, ClientSecretBasic, ClientSecretPost)
	}
	if cfg.Resource != "" {
		if err := checkURI("resource", cfg.Resource); err != nil {
			return nil, err
		}
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &TokenSource{cfg: cfg}, nil
}

// Token returns a valid access token: the cached one, unless it is near
// its expiry, in which case one caller asks for a new one while the
// others keep using the old one until it expires.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		now := s.cfg.Now()
		valid := s.token != "" && now.Before(s.expiry)
		if valid && (now.Before(s.refreshAt()) || s.inflight != nil) {
			tok := s.token
			s.mu.Unlock()
			return tok, nil
		}
		if s.inflight != nil {
			wait := s.inflight
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if s.lastErr != nil && now.Sub(s.lastTry) < failedFetchPause {
			tok, err := s.token, s.lastErr
			s.mu.Unlock()
			if valid {
				return tok, nil
			}
			return "", err
		}
		done := make(chan struct{})
		s.inflight = done
		s.lastTry = now
		s.fetches++
		s.mu.Unlock()

		fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		tok, lifetime, err := s.fetch(fetchCtx)
		cancel()

		s.mu.Lock()
		if err == nil {
			at := s.cfg.Now()
			s.token, s.obtained, s.expiry = tok, at, at.Add(lifetime)
		}
		s.lastErr = err
		s.inflight = nil
		close(done)
		s.mu.Unlock()
		if err != nil && !valid {
			return "", err
		}
		// Loop: the new token, or the old one still valid.
	}
}

// refreshAt is when the current token is replaced: maxRefreshMargin
// before its expiry, or half-way through a shorter life.
func (s *TokenSource) refreshAt() time.Time {
	margin := min(s.expiry.Sub(s.obtained)/2, maxRefreshMargin)
	return s.expiry.Add(-margin)
}

// Invalidate drops tok if it is still the cached token and not brand new
// (the upstream refused it: revoked, or its keys rotated); it reports
// whether it did, i.e. whether asking again can help.
func (s *TokenSource) Invalidate(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != tok || s.cfg.Now().Sub(s.obtained) < minInvalidateAge {
		return false
	}
	s.token = ""
	return true
}

// Fetches is how many token requests were made.
func (s *TokenSource) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// tokenAnswer is the token endpoint's answer (RFC 6749 §5.1, §5.2).
type tokenAnswer struct {
	AccessToken      string   `json:"access_token"`
	TokenType        string   `json:"token_type"`
	ExpiresIn        *float64 `json:"expires_in"`
	Error            string   `json:"error"`
	ErrorDescription string   `json:"error_description"`
}

// fetch asks the token endpoint for a token.
func (s *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(s.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(s.cfg.Scopes, " "))
	}
	if s.cfg.Audience != "" {
		form.Set("audience", s.cfg.Audience)
	}
	if s.cfg.Resource != "" {
		form.Set("resource", s.cfg.Resource)
	}
	if s.cfg.AuthMethod == ClientSecretPost {
		form.Set("client_id", s.cfg.ClientID)
		form.Set("client_secret", s.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if s.cfg.AuthMethod == ClientSecretBasic {
		req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(s.cfg.ClientSecret)) // RFC 6749 §2.3.1
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	var a tokenAnswer
	decodeErr := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(&a)
	switch {
	case resp.StatusCode != http.StatusOK && a.Error != "":
		return "", 0, fmt.Errorf("token endpoint %s: %s: %s %s", s.cfg.TokenURL, resp.Status, a.Error, a.ErrorDescription)
	case resp.StatusCode != http.StatusOK:
		return "", 0, fmt.Errorf("token endpoint %s: %s", s.cfg.TokenURL, resp.Status)
	case decodeErr != nil:
		return "", 0, fmt.Errorf("token endpoint %s: unreadable answer: %w", s.cfg.TokenURL, decodeErr)
	case a.AccessToken == "":
		return "", 0, fmt.Errorf("token endpoint %s: the answer has no access_token", s.cfg.TokenURL)
	case !strings.EqualFold(a.TokenType, "Bearer"):
		return "", 0, fmt.Errorf("token endpoint %s: token_type %q, want Bearer", s.cfg.TokenURL, a.TokenType)
	}
	lifetime := DefaultTokenLifetime
	if a.ExpiresIn != nil {
		if *a.ExpiresIn <= 0 {
			return "", 0, fmt.Errorf("token endpoint %s: expires_in %v", s.cfg.TokenURL, *a.ExpiresIn)
		}
		lifetime = time.Duration(*a.ExpiresIn * float64(time.Second))
	}
	return a.AccessToken, lifetime, nil
}
