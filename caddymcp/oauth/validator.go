// Package oauth checks OAuth 2.1 access tokens as an MCP resource server
// must (MCP authorization, RFC 9068, RFC 8707): JWTs signed by a
// configured issuer with an asymmetric key from its JWKS, for this
// resource, within their lifetime. It knows nothing of Caddy; the Caddy
// handler (caddymcp's mcp_auth) turns its answers into HTTP.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"
)

// allowedAlgorithms are the only signatures accepted: asymmetric ones, so
// a public key can never serve as an HMAC secret, and never "none".
var allowedAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// DefaultRefetchInterval is the least time between two fetches of an
// issuer's keys.
const DefaultRefetchInterval = 10 * time.Second

// DefaultKeysMaxAge is how long fetched keys are used before they are
// fetched again.
const DefaultKeysMaxAge = time.Hour

// Config is what a Validator checks tokens against.
type Config struct {
	// Resource is the protected resource's canonical URI; a token's aud
	// must contain it.
	Resource string
	// Issuers are the accepted authorization servers (a token's iss must
	// be one of them, exactly).
	Issuers []string
	// JWKSURL, when set, is where every issuer's keys are; else each
	// issuer's jwks_uri is discovered from its metadata.
	JWKSURL string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
	// RefetchInterval is the least time between two key fetches
	// (DefaultRefetchInterval when zero).
	RefetchInterval time.Duration
	// KeysMaxAge is how long fetched keys are trusted before they are
	// fetched again (DefaultKeysMaxAge when zero); while the issuer
	// cannot be reached the old ones stay in use.
	KeysMaxAge time.Duration
	// Introspection, when set, checks tokens that are not JWTs (opaque
	// ones) at the authorization server's RFC 7662 endpoint.
	Introspection *Introspection
	// Client makes the metadata, JWKS and introspection requests (http.DefaultClient
	// when nil).
	Client *http.Client
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger gets what an operator should know, such as keys of an
	// issuer's set that cannot be read (zap.NewNop when nil).
	Logger *zap.Logger
}

// Validator checks access tokens. It is safe for concurrent use.
type Validator struct {
	cfg          Config
	sources      map[string]*keySource // by issuer
	introspector *introspector         // nil without Introspection
}

// Claims is what a valid token says.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	Scopes   []string
	Expiry   time.Time
	// All is every claim of the payload, for placeholders.
	All map[string]any
}

// NewValidator checks cfg (without any network call) and returns a
// Validator for it.
func NewValidator(cfg Config) (*Validator, error) {
	if err := checkURI("resource", cfg.Resource); err != nil {
		return nil, err
	}
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("at least one issuer is required")
	}
	for _, iss := range cfg.Issuers {
		if err := checkURI("issuer", iss); err != nil {
			return nil, err
		}
	}
	if cfg.JWKSURL != "" {
		if err := checkURI("jwks_url", cfg.JWKSURL); err != nil {
			return nil, err
		}
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("leeway must not be negative")
	}
	if cfg.RefetchInterval <= 0 {
		cfg.RefetchInterval = DefaultRefetchInterval
	}
	if cfg.KeysMaxAge <= 0 {
		cfg.KeysMaxAge = DefaultKeysMaxAge
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	v := &Validator{cfg: cfg, sources: make(map[string]*keySource, len(cfg.Issuers))}
	if in := cfg.Introspection; in != nil {
		if err := checkURI("introspection_url", in.URL); err != nil {
			return nil, err
		}
		if in.ClientID == "" {
			return nil, errors.New("introspection needs a client_id (and client_secret) to authenticate to the endpoint")
		}
		ic := *in
		if ic.MaxEntries <= 0 {
			ic.MaxEntries = DefaultIntrospectionCacheSize
		}
		v.introspector = &introspector{cfg: ic, resource: cfg.Resource, issuers: cfg.Issuers, client: cfg.Client,
			now: cfg.Now, leeway: cfg.Leeway, cache: map[[32]byte]cachedAnswer{}, inflight: map[[32]byte]*introspection{}}
	}
	var shared *keySource
	for _, iss := range cfg.Issuers {
		src := &keySource{client: cfg.Client, issuer: iss, minInterval: cfg.RefetchInterval, maxAge: cfg.KeysMaxAge, now: cfg.Now, logger: cfg.Logger}
		if cfg.JWKSURL != "" {
			if shared == nil {
				shared = &keySource{client: cfg.Client, jwksURL: cfg.JWKSURL, minInterval: cfg.RefetchInterval, maxAge: cfg.KeysMaxAge, now: cfg.Now, logger: cfg.Logger}
			}
			src = shared
		}
		v.sources[iss] = src
	}
	return v, nil
}

// checkURI requires an absolute http(s) URI without a fragment.
func checkURI(what, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%s %q: want an absolute http(s) URI without a fragment", what, s)
	}
	return nil
}

// payload is the part of the claims the checks read beyond the
// registered ones.
type payload struct {
	Scope *string         `json:"scope"`
	Scp   json.RawMessage `json:"scp"`
}

// Validate checks raw (a compact JWS, or with Introspection any other
// token at the endpoint) and returns its claims. A refused
// token gives a *TokenError; keys that could not be fetched an
// *UnavailableError.
func (v *Validator) Validate(ctx context.Context, raw string) (*Claims, error) {
	if v.introspector != nil && strings.Count(raw, ".") != 2 {
		// Not a compact JWS: an opaque token, which only the
		// authorization server can read.
		return v.introspector.check(ctx, raw)
	}
	tok, err := jwt.ParseSigned(raw, allowedAlgorithms)
	if err != nil {
		return nil, invalid("not a JWT signed with %s (%v)", algorithmNames(), err)
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("the token must carry exactly one signature")
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, invalid("unreadable claims (%v)", err)
	}
	src, ok := v.sources[unverified.Issuer]
	if !ok {
		return nil, invalid("issuer %q is not accepted here", unverified.Issuer)
	}
	keys, err := src.keysFor(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var extra payload
	all := map[string]any{}
	verified := false
	for _, k := range keys {
		if tok.Claims(k.Key, &std, &extra, &all) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, invalid("the signature does not verify with the issuer's key")
	}
	if std.Expiry == nil {
		return nil, invalid("the token has no expiry (exp)")
	}
	if std.Subject == "" {
		// Sessions are bound to the subject: tokens without one would
		// all be user "" and share each other's sessions. RFC 9068 §2.2
		// requires sub in a JWT access token (a client_credentials one
		// carries the client's id there), so a token without it is not
		// one; binding to client_id instead would accept what the
		// profile forbids and guess at what the issuer meant.
		return nil, invalid("the token has no subject (sub), which RFC 9068 requires of a JWT access token")
	}
	err = std.ValidateWithLeeway(jwt.Expected{
		Issuer:      unverified.Issuer,
		AnyAudience: jwt.Audience{v.cfg.Resource},
		Time:        v.cfg.Now(),
	}, v.cfg.Leeway)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrExpired):
		return nil, invalid("the token expired; get a new one")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, invalid("the token is not valid yet (nbf/iat in the future)")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, invalid("the token's audience does not include %s; request it with resource=%s", v.cfg.Resource, v.cfg.Resource)
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, invalid("issuer %q is not accepted here", std.Issuer)
	default:
		return nil, invalid("%v", err)
	}
	return &Claims{
		Issuer:   std.Issuer,
		Subject:  std.Subject,
		Audience: std.Audience,
		Scopes:   tokenScopes(extra.Scope, extra.Scp),
		Expiry:   std.Expiry.Time(),
		All:      all,
	}, nil
}

func algorithmNames() string { return "RS256, ES256 or EdDSA" }

// IssuerCount is how many issuers are accepted (a user id is then
// "<issuer>#<subject>" when it is more than one).
func (v *Validator) IssuerCount() int { return len(v.cfg.Issuers) }
