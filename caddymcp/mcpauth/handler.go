package mcpauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-mcp/caddy-mcp/caddymcp/front"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/internal/mcphttp"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/mcpstate"
	"github.com/caddy-mcp/caddy-mcp/caddymcp/oauth"
	"github.com/caddy-mcp/caddy-mcp/pipeline"
)

func init() {
	caddy.RegisterModule(AuthHandler{})
}

// metadataWellKnown is the RFC 9728 well-known prefix of protected
// resource metadata.
const metadataWellKnown = "/.well-known/oauth-protected-resource"

// AuthHandler makes the site an OAuth 2.1 resource server as the MCP
// authorization specification asks: it serves the RFC 9728 protected
// resource metadata, and lets a request to the resource's path (and
// below) through only with a valid bearer JWT issued for the resource;
// others get the 401/403 challenge that lets an MCP client discover
// where to get one. Every other request passes through untouched.
type AuthHandler struct {
	// Resource is the protected resource's canonical URI (such as
	// https://mcp.example.com/mcp). Tokens must carry it in aud (RFC 8707);
	// its path is the part of the site that is guarded; the metadata is
	// built from it, never from the request's Host or scheme.
	Resource string `json:"resource"`
	// Issuers are the authorization servers whose tokens are accepted.
	Issuers []string `json:"issuers"`
	// JWKSURL is where the issuers' keys are; by default each issuer's
	// jwks_uri is discovered from its RFC 8414 (else OpenID Connect)
	// metadata at the first request.
	JWKSURL string `json:"jwks_url,omitempty"`
	// ScopesSupported is announced in the metadata.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// RequiredScopes must all be granted for every request.
	RequiredScopes []string `json:"required_scopes,omitempty"`
	// Leeway is the clock skew tolerated on exp and nbf (default 0).
	Leeway caddy.Duration `json:"leeway,omitempty"`
	// KeepAuthorization leaves the client's Authorization header on the
	// request for the handlers after this one. By default it is removed
	// once checked, so nothing downstream (a reverse_proxy, an upstream)
	// sees the client's token — the MCP specification forbids token
	// passthrough. mcp_proxy's pass_authorization needs it set.
	KeepAuthorization bool `json:"keep_authorization,omitempty"`
	// ScopeRules ask for more scopes for some tools or methods; a request
	// needs required_scopes and those of every rule that applies to one of
	// its messages.
	ScopeRules []ScopeRule `json:"scope_rules,omitempty"`
	// MaxMessageSize bounds the body read to find the operation when there
	// are ScopeRules (default 4MiB, mcp_proxy's default); a bigger body is
	// refused with 413, since it could not be checked.
	MaxMessageSize int64 `json:"max_message_size,omitempty"`
	// CORSOrigins are the origins (scheme://host[:port], or "*" for any)
	// of browser-based clients: their preflights are answered without a
	// token, and the responses let them read Mcp-Session-Id,
	// MCP-Protocol-Version and WWW-Authenticate. mcp_proxy's
	// allowed_origins must accept them too.
	CORSOrigins []string `json:"cors_origins,omitempty"`
	// Introspection checks opaque (non-JWT) tokens at the authorization
	// server's RFC 7662 endpoint.
	Introspection *IntrospectionConfig `json:"introspection,omitempty"`
	// HideUnauthorized hides from a token the tools, prompts and resources
	// of the ScopeRules it does not satisfy: lists lose them (every page)
	// and a call of one gets the unknown-name error (-32602) instead of
	// the 403, as if the upstream had none (hide.go). By default they
	// stay listed and a call gets the 403, so clients can step up.
	HideUnauthorized bool `json:"hide_unauthorized,omitempty"`

	hidings       *hidings // with HideUnauthorized
	validator     *oauth.Validator
	logger        *zap.Logger
	guardedPath   string   // the resource's folded path (mcpstate.FoldPath) without a trailing slash; "" guards everything
	metadataPaths []string // the path-suffixed well-known path and the root one
	metadataURL   string   // the path-suffixed one, absolute, for the challenge
	metadata      []byte   // the metadata document

	serverMetadata *oauth.ServerMetadata // the issuer's, served for 2025-03-26 clients; nil when not served
}

// IntrospectionConfig is where and how opaque tokens are checked (RFC
// 7662).
type IntrospectionConfig struct {
	// URL is the authorization server's introspection endpoint.
	URL string `json:"url"`
	// ClientID and ClientSecret authenticate the gateway there (HTTP
	// Basic). Placeholders such as {env.INTROSPECTION_SECRET} are
	// evaluated at provisioning.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// CacheSize bounds the answers kept (default 10000); each is kept
	// until its token's expiry, at most an hour.
	CacheSize int `json:"cache_size,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (AuthHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_auth",
		New: func() caddy.Module { return new(AuthHandler) },
	}
}

// Provision checks the configuration and prepares the metadata. It makes
// no network call: keys are fetched at the first request that needs them.
func (h *AuthHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	cfg := oauth.Config{
		Resource: h.Resource,
		Issuers:  h.Issuers,
		JWKSURL:  h.JWKSURL,
		Leeway:   time.Duration(h.Leeway),
		Logger:   h.logger,
	}
	if in := h.Introspection; in != nil {
		repl := caddy.NewReplacer()
		cfg.Introspection = &oauth.Introspection{
			URL:          in.URL,
			ClientID:     repl.ReplaceKnown(in.ClientID, ""),
			ClientSecret: repl.ReplaceKnown(in.ClientSecret, ""),
			MaxEntries:   in.CacheSize,
		}
	}
	v, err := oauth.NewValidator(cfg)
	if err != nil {
		return fmt.Errorf("mcp_auth: %w", err)
	}
	h.validator = v
	for _, rule := range h.ScopeRules {
		if err := rule.validate(); err != nil {
			return fmt.Errorf("mcp_auth: %w", err)
		}
		warnings, _ := rule.checkGlobs()
		for _, w := range warnings {
			h.logger.Warn(fmt.Sprintf("mcp_auth: scope %v: %s", rule.Scopes, w))
		}
	}
	if h.HideUnauthorized {
		if err := h.provisionHide(ctx); err != nil {
			return fmt.Errorf("mcp_auth: %w", err)
		}
	}
	if h.MaxMessageSize < 0 {
		return fmt.Errorf("mcp_auth: max_message_size must not be negative")
	}
	if err := checkCORSOrigins(h.CORSOrigins); err != nil {
		return fmt.Errorf("mcp_auth: %w", err)
	}
	u, _ := url.Parse(h.Resource) // checked by NewValidator
	if err := h.setUpServerMetadata(u); err != nil {
		return fmt.Errorf("mcp_auth: %w", err)
	}
	if u.Path != "" {
		h.guardedPath = strings.TrimSuffix(mcpstate.FoldPath(u.Path), "/")
	}
	app, err := mcpstate.SharedOf(ctx)
	if err != nil {
		return fmt.Errorf("mcp_auth: %w", err)
	}
	app.AddGuard(mcpstate.Guard{Auth: h, Resource: h.Resource, Host: strings.ToLower(u.Hostname()), Path: h.guardedPath})
	resourcePath := strings.TrimSuffix(u.EscapedPath(), "/")
	h.metadataPaths = []string{metadataWellKnown + resourcePath}
	if resourcePath != "" {
		h.metadataPaths = append(h.metadataPaths, metadataWellKnown)
	}
	h.metadataURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: h.metadataPaths[0]}).String()
	h.metadata, err = json.Marshal(protectedResourceMetadata{
		Resource:               h.Resource,
		AuthorizationServers:   h.Issuers,
		ScopesSupported:        h.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
	})
	return err
}

// protectedResourceMetadata is the RFC 9728 document.
type protectedResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
}

// ServeHTTP serves the metadata, guards the resource, and passes
// everything else through.
func (h *AuthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	switch {
	case slices.Contains(h.metadataPaths, r.URL.Path):
		if !h.answerCORS(w, r) {
			h.serveMetadata(w, r)
		}
		return nil
	case h.serverMetadata != nil && r.URL.Path == serverMetadataPath:
		if !h.answerCORS(w, r) {
			h.serveServerMetadata(w, r)
		}
		return nil
	case !mcpstate.GuardsRequest(h.guardedPath, r):
		return next.ServeHTTP(w, r)
	}
	if h.answerCORS(w, r) {
		return nil
	}
	need := h.RequiredScopes
	var msgs []*pipeline.Message
	if len(h.ScopeRules) > 0 {
		// The scopes an operation needs are known before the token is
		// looked at, so even the first 401 asks for all of them.
		var res mcphttp.EnvelopeResult
		var err error
		msgs, _, res, err = mcphttp.ReadEnvelope(r, h.envelopeLimit())
		switch res {
		case mcphttp.EnvelopeInvalid:
			// Unreadable, the body could name a tool that needs a scope;
			// with members a server reads otherwise it would, by design.
			mcphttp.WriteEnvelopeError(w, err)
			return nil
		case mcphttp.EnvelopeTooLarge:
			// Unread, the body could name a tool that needs a scope.
			mcphttp.WriteError(w, http.StatusRequestEntityTooLarge, pipeline.CodeInvalidRequest,
				fmt.Sprintf("Request Entity Too Large: the body exceeds mcp_auth's max_message_size (%d bytes)", h.envelopeLimit()))
			return nil
		case mcphttp.EnvelopeOK:
			need = h.neededScopes(msgs)
		}
	}
	if r.URL.Query().Has("access_token") {
		h.refuse(w, http.StatusBadRequest, need, `error="invalid_request", error_description="tokens in the URL are refused"`,
			"Unauthorized: a token in the query string (access_token) is refused; send it in the Authorization header as Bearer <token>")
		return nil
	}
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		h.refuse(w, http.StatusUnauthorized, need, "",
			"Unauthorized: this MCP server needs an OAuth access token (Authorization: Bearer <token>); the WWW-Authenticate header says where to get one")
		return nil
	}
	claims, err := h.validator.Validate(r.Context(), token)
	if err != nil {
		h.refuseToken(w, r, need, err)
		return nil
	}
	var hd *hiding
	if h.HideUnauthorized {
		// What the token may not see is answered by mcp_proxy's filter as
		// unknown, so it needs no scope here.
		hd = h.hidingFor(claims.Scopes)
		if hd != nil && len(msgs) > 0 {
			need = h.neededScopes(visibleMessages(hd, msgs))
		}
	}
	if missing := oauth.MissingScopes(claims.Scopes, need); missing != nil {
		h.refuse(w, http.StatusForbidden, need, `error="insufficient_scope"`,
			"Forbidden: the token lacks the scope(s) "+strings.Join(missing, " ")+"; request a token with scope="+strings.Join(need, " "))
		return nil
	}
	h.setUser(r, claims)
	h.setHidden(r, hd)
	if !h.KeepAuthorization {
		// In place: the replacer's {http.request.header.*} reads this same
		// map, so the token is gone for every handler after this one.
		r.Header.Del("Authorization")
	}
	return next.ServeHTTP(w, mcpstate.MarkJudged(r, h))
}

// envelopeLimit is the largest body whose messages are read for the
// per-operation scopes.
func (h *AuthHandler) envelopeLimit() int64 {
	if h.MaxMessageSize > 0 {
		return h.MaxMessageSize
	}
	return front.DefaultMaxMessageSize
}

// bearerToken takes the token out of an Authorization header value
// (RFC 6750 §2.1; the scheme is case-insensitive).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// serveMetadata answers the protected resource metadata.
func (h *AuthHandler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		mcphttp.WriteError(w, http.StatusMethodNotAllowed, pipeline.CodeInvalidRequest,
			"Method Not Allowed: the protected resource metadata is read with GET")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(h.metadata)))
	hdr.Set("Cache-Control", "max-age=3600")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(h.metadata)
	}
}

// refuseToken answers a token that Validate did not accept.
func (h *AuthHandler) refuseToken(w http.ResponseWriter, r *http.Request, need []string, err error) {
	var te *oauth.TokenError
	var ue *oauth.UnavailableError
	switch {
	case errors.As(err, &te):
		h.refuse(w, http.StatusUnauthorized, need, `error="invalid_token", error_description=`+mcphttp.Quote(te.Reason),
			"Unauthorized: invalid token: "+te.Reason)
	case errors.As(err, &ue):
		data := pipeline.NewErrorData()
		h.logger.Warn("mcp_auth: cannot check tokens: the authorization server (keys or introspection) is unavailable",
			zap.String("resource", h.Resource), zap.String("correlation_id", data.CorrelationID), zap.Error(ue.Err))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ue.RetryAfter.Seconds()))))
		mcphttp.WriteErrorData(w, http.StatusServiceUnavailable, pipeline.CodeInternalError,
			"Service Unavailable: the token cannot be checked now (the authorization server is unreachable); retry later", data)
	default: // the client went away while keys were fetched
		mcphttp.WriteError(w, http.StatusServiceUnavailable, pipeline.CodeInternalError,
			"Service Unavailable: the token could not be checked; retry")
		h.logger.Debug("mcp_auth: token check ended", zap.Error(err), zap.String("path", r.URL.Path))
	}
}

// refuse answers status with the Bearer challenge (RFC 6750 §3, RFC 9728
// §5.1): where the metadata is, every scope the operation needs (need),
// and params (the error) when not empty.
func (h *AuthHandler) refuse(w http.ResponseWriter, status int, need []string, params, msg string) {
	challenge := "Bearer resource_metadata=" + mcphttp.Quote(h.metadataURL)
	if len(need) > 0 {
		challenge += ", scope=" + mcphttp.Quote(strings.Join(need, " "))
	}
	if params != "" {
		challenge += ", " + params
	}
	w.Header().Set("WWW-Authenticate", challenge)
	mcphttp.WriteError(w, status, pipeline.CodeInvalidRequest, msg)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*AuthHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*AuthHandler)(nil)
)
