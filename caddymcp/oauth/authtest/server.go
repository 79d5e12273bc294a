// Package authtest is a small OAuth 2.1 authorization server for tests:
// RFC 8414 metadata, a JWKS, a client_credentials token endpoint that
// issues RS256 JWTs whose audience is the requested resource (RFC 8707),
// and an RFC 7662 introspection endpoint for the opaque tokens it issues.
// It is real enough for real clients (the MCP SDKs' client-credentials
// flows) and lets a test sign any claims and rotate the key.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Server is the authorization server. Its issuer is URL.
type Server struct {
	// URL is the issuer (no trailing slash).
	URL string
	// DefaultAudience is the aud of tokens requested without resource.
	DefaultAudience string

	srv *httptest.Server

	mu             sync.Mutex
	keys           []signingKey      // the last one signs
	extraJWKs      []json.RawMessage // published as they are, after keys
	clients        map[string]client
	tokens         int // issued by the token endpoint
	requests       int // of any kind
	tokenTTL       time.Duration
	lastClientAuth string                 // client_secret_basic or client_secret_post
	opaque         map[string]opaqueGrant // opaque tokens, for introspection
	introspections int
}

// opaqueGrant is what an opaque token stands for.
type opaqueGrant struct {
	subject  string
	clientID string
	aud      string
	scopes   []string
	expiry   time.Time
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

type client struct {
	secret string
	scopes []string // granted when the request names none
}

// New starts a server. Close it when done.
func New() (*Server, error) {
	s := &Server{clients: map[string]client{}, opaque: map[string]opaqueGrant{}, tokenTTL: time.Hour}
	if err := s.RotateKey(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.serveMetadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.serveMetadata)
	mux.HandleFunc("GET /jwks", s.serveJWKS)
	mux.HandleFunc("POST /token", s.serveToken)
	mux.HandleFunc("POST /introspect", s.serveIntrospect)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	s.URL = s.srv.URL
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddClient registers a confidential client; scopes are what it gets
// when its request names none.
func (s *Server) AddClient(id, secret string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = client{secret: secret, scopes: scopes}
}

// RotateKey makes a new key (with a new kid) the signing key; the old
// ones stay published.
func (s *Server) RotateKey() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, signingKey{kid: fmt.Sprintf("key-%d", len(s.keys)+1), key: k})
	return nil
}

// PublishRawJWK adds jwk to the published key set verbatim, after the
// signing keys: a test can publish an entry a relying party cannot read
// (an unknown kty, an X448 key) and check that the other keys still serve.
func (s *Server) PublishRawJWK(jwk string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extraJWKs = append(s.extraJWKs, json.RawMessage(jwk))
}

// TokensIssued is how many tokens the token endpoint issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// Requests is how many requests the server got.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Token signs a token for subject with audience aud and scopes, valid
// for ttl.
func (s *Server) Token(subject, aud string, ttl time.Duration, scopes ...string) (string, error) {
	now := time.Now()
	c := map[string]any{
		"iss":       s.URL,
		"sub":       subject,
		"aud":       aud,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
		"client_id": subject,
		"jti":       rand.Text(), // two tokens issued in the same second differ
	}
	if len(scopes) > 0 {
		c["scope"] = strings.Join(scopes, " ")
	}
	return s.Sign(c)
}

// Sign signs any claims with the current key.
func (s *Server) Sign(claims map[string]any) (string, error) {
	s.mu.Lock()
	k := s.keys[len(s.keys)-1]
	s.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.kid))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

func (s *Server) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.URL,
		"authorization_endpoint":                s.URL + "/authorize",
		"token_endpoint":                        s.URL + "/token",
		"jwks_uri":                              s.URL + "/jwks",
		"introspection_endpoint":                s.URL + "/introspect",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
	})
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	var set struct {
		Keys []any `json:"keys"`
	}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
	for _, raw := range s.extraJWKs {
		set.Keys = append(set.Keys, raw)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// serveToken is the client_credentials grant (RFC 6749 §4.4) with
// client_secret_basic or client_secret_post, and the resource parameter
// (RFC 8707) as the token's audience.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	id, ok := s.authenticateClient(r)
	if !ok {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	s.mu.Lock()
	c := s.clients[id]
	ttl := s.tokenTTL
	s.mu.Unlock()
	aud := r.PostForm.Get("resource")
	if aud == "" {
		aud = s.DefaultAudience
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = c.scopes
	}
	tok, err := s.Token(id, aud, ttl, scopes...)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	s.mu.Lock()
	s.tokens++
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(ttl.Seconds()),
		"scope":        strings.Join(scopes, " "),
	})
}

// authenticateClient checks the client's credentials, sent with
// client_secret_basic or client_secret_post, and returns its id.
func (s *Server) authenticateClient(r *http.Request) (string, bool) {
	method := "client_secret_basic"
	id, secret, ok := r.BasicAuth()
	if !ok {
		method = "client_secret_post"
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, known := s.clients[id]
	if !known || c.secret != secret {
		return "", false
	}
	s.lastClientAuth = method
	return id, true
}

func tokenError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// SetTokenTTL sets the lifetime of the tokens the token endpoint issues
// (an hour by default).
func (s *Server) SetTokenTTL(ttl time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = ttl
}

// LastClientAuth is how the last authenticated client sent its
// credentials: client_secret_basic or client_secret_post.
func (s *Server) LastClientAuth() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastClientAuth
}

// OpaqueToken issues an opaque (non-JWT) token for subject with audience
// aud and scopes, valid for ttl; only the introspection endpoint can tell
// what it is.
func (s *Server) OpaqueToken(subject, aud string, ttl time.Duration, scopes ...string) string {
	return s.OpaqueTokenWith(subject, subject, aud, ttl, scopes...)
}

// OpaqueTokenWith is OpaqueToken with the sub and client_id of the
// introspection answer given apart; an empty one is left out of it (RFC
// 7662 makes both optional).
func (s *Server) OpaqueTokenWith(subject, clientID, aud string, ttl time.Duration, scopes ...string) string {
	tok := rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opaque[tok] = opaqueGrant{subject: subject, clientID: clientID, aud: aud, scopes: scopes, expiry: time.Now().Add(ttl)}
	return tok
}

// Revoke makes an opaque token inactive.
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.opaque, token)
}

// Introspections is how many introspection requests were answered.
func (s *Server) Introspections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.introspections
}

// serveIntrospect is the RFC 7662 endpoint, for registered clients: an
// opaque token it issued and has not expired is active.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if _, ok := s.authenticateClient(r); !ok {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	s.mu.Lock()
	s.introspections++
	g, ok := s.opaque[r.PostForm.Get("token")]
	s.mu.Unlock()
	if !ok || !time.Now().Before(g.expiry) {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	answer := map[string]any{
		"active":     true,
		"iss":        s.URL,
		"aud":        g.aud,
		"scope":      strings.Join(g.scopes, " "),
		"exp":        g.expiry.Unix(),
		"token_type": "Bearer",
	}
	if g.subject != "" {
		answer["sub"] = g.subject
	}
	if g.clientID != "" {
		answer["client_id"] = g.clientID
	}
	writeJSON(w, http.StatusOK, answer)
}
