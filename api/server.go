// Package api serves Tortoise's REST API, which follows PocketBase's
// documented Web API so its SDKs work unchanged. Handlers decode requests,
// identify the caller and return errors, which one adapter answers through
// one status table (errors.go); everything else is the service layer's.
package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/cache"
	"github.com/tortoise-dev/tortoise/collections"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/realtime"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/reqlog"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/webhooks"
)

// DefaultMaxBody caps request bodies unless Options say otherwise.
const DefaultMaxBody = 32 << 20

// Options configure the API server.
type Options struct {
	Logger *slog.Logger
	// MaxBody is the largest request body accepted, in bytes (default 32 MiB).
	MaxBody int64
	// Version is reported by the health route.
	Version string
	// Cache holds encoded record reads (GET one, list pages); nil: none
	// (see cache.go).
	Cache cache.Cache
	// RateLimiter applies the rate limits (default: in this process
	// alone; guard/redislimit shares them between processes). The cap on
	// requests in progress stays in process whatever it is.
	RateLimiter guard.RateLimiter
	// ReadBudget bounds the reads behind one record answer together (a
	// list, its total, its search, each query of its expand), as the
	// store's read timeout bounds each of them; past it the answer is
	// the read timeout's 503. 0 or less: no bound beyond the store's.
	ReadBudget time.Duration
	// ReadConns is how many database reads can run at once (the store's
	// ReadConns). Costly reads (see enterCostlyRead) in progress are
	// capped below it, all clients together, so that plain reads always
	// find a connection; 0: no such cap.
	ReadConns int
}

// Services are the parts of the service layer the API serves.
type Services struct {
	Core        *service.Service
	Settings    *settings.Service
	Keys        *apikeys.Service
	Collections *collections.Service
	Records     *records.Service
	Auth        *auth.Service
	// Jobs is the job queue (nil: no job and cron routes).
	Jobs *jobs.Queue
	// Webhooks keeps the webhooks and hooks (nil: no routes for them; set
	// it only with Jobs, which deliveries use).
	Webhooks *webhooks.Service
	// Logs is the request log: every /api/ request is recorded in it,
	// and /api/logs reads it (nil: nothing recorded, no log routes).
	Logs *reqlog.Log
}

// Server is the HTTP handler of the REST API.
type Server struct {
	svc         *service.Service
	settings    *settings.Service
	keys        *apikeys.Service
	collections *collections.Service
	records     *records.Service
	auth        *auth.Service
	jobs        *jobs.Queue
	webhooks    *webhooks.Service
	logs        *reqlog.Log
	entry       http.Handler // serve, behind the request log when there is one
	log         *slog.Logger
	opts        Options
	mux         *http.ServeMux
	limiter     *guard.Limiter    // the in-process cap on requests in progress (InFlight)
	rates       guard.RateLimiter // the rate limits (Options.RateLimiter, throttle.go)
	hub         *realtime.Hub
	// dispatchCosts is the realtime dispatcher's own (see realtimeShare).
	dispatchCosts dispatchCosts
	pol           atomic.Pointer[policy] // what requests consult of the settings (throttle.go)
	cache         cache.Cache            // the record cache, or nil (cache.go)
	cacheLog      *cache.LogLimit
	schemaSum     atomic.Pointer[schemaSum]
	thumbs        *thumbGate    // bounds the making of thumbnails (files.go)
	costly        chan struct{} // slots of costly reads, all clients together (reads.go); nil: no cap
}

// New returns the API handler over the service layer's parts.
func New(parts Services, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	s := &Server{svc: parts.Core, settings: parts.Settings, keys: parts.Keys, collections: parts.Collections, records: parts.Records, auth: parts.Auth, jobs: parts.Jobs, webhooks: parts.Webhooks, log: opts.Logger, opts: opts, mux: http.NewServeMux(), limiter: guard.NewLimiter(0), hub: realtime.NewHub(), thumbs: newThumbGate()}
	s.cache, s.cacheLog = opts.Cache, cache.NewLogLimit(opts.Logger, time.Minute)
	if n := costlyReadSlots(opts.ReadConns); n > 0 {
		s.costly = make(chan struct{}, n)
	}
	s.rates = opts.RateLimiter
	if s.rates == nil {
		s.rates = guard.InProcess(s.limiter)
	}
	s.entry = http.HandlerFunc(s.serve)
	if parts.Logs != nil {
		s.logs = parts.Logs
		s.entry = parts.Logs.Handler(s.entry)
	}
	s.routes()
	go s.realtimeDispatch()
	go s.recheckAccounts()
	return s
}

func (s *Server) routes() {
	// route registers h for pattern through handle, the one error path.
	route := func(pattern string, h handler) { s.mux.HandleFunc(pattern, s.handle(h)) }
	route("GET /api/health", s.health)

	route("POST /api/batch", s.batch)

	route("GET /api/files/{collection}/{record}/{filename}", s.serveFile)
	route("POST /api/files/token", s.fileToken)

	route("GET /api/realtime", s.realtimeConnect)
	route("POST /api/realtime", s.realtimeSubscribe)
	route("GET /api/oauth2-redirect", s.oauth2Redirect)
	route("POST /api/oauth2-redirect", s.oauth2Redirect)

	route("GET /api/keys", s.superuserAccount(s.listAPIKeys))
	route("POST /api/keys", s.superuserAccount(s.createAPIKey))
	route("DELETE /api/keys/{id}", s.superuserAccount(s.revokeAPIKey))

	// Without a job queue (or webhooks) their routes are not there: 404.
	if s.jobs != nil {
		s.jobRoutes(route)
	}
	if s.webhooks != nil {
		s.webhookRoutes(route)
	}
	if s.logs != nil {
		s.logRoutes(route)
	}

	route("GET /api/settings", s.superuser(s.getSettings))
	route("PATCH /api/settings", s.superuser(s.updateSettings))
	route("POST /api/settings/test/email", s.superuser(s.testEmail))
	route("POST /api/settings/test/s3", s.superuser(s.testS3))
	route("POST /api/sql", s.superuser(s.runSQL))

	route("GET /api/collections", s.superuser(s.listCollections))
	route("POST /api/collections", s.superuser(s.createCollection))
	route("PUT /api/collections/import", s.superuser(s.importCollections))
	// Paths of their own: a collection named "meta" keeps its routes.
	route("GET /api/collections/meta/scaffolds", s.superuser(s.collectionScaffolds))
	route("POST /api/collections/meta/dry-run-view", s.superuser(s.dryRunView))
	route("GET /api/collections/meta/oauth2-providers", s.superuser(s.oauth2Providers))
	route("GET /api/collections/{collection}", s.superuser(s.viewCollection))
	route("PATCH /api/collections/{collection}", s.superuser(s.updateCollection))
	route("DELETE /api/collections/{collection}", s.superuser(s.deleteCollection))
	route("DELETE /api/collections/{collection}/truncate", s.superuser(s.truncateCollection))

	route("GET /api/collections/{collection}/records", s.cachedRead(cacheList, s.listRecords))
	route("GET /api/collections/{collection}/aggregate", s.aggregateRecords)
	route("POST /api/collections/{collection}/records", s.createRecord)
	route("GET /api/collections/{collection}/records/{id}", s.cachedRead(cacheView, s.viewRecord))
	route("PATCH /api/collections/{collection}/records/{id}", s.updateRecord)
	route("DELETE /api/collections/{collection}/records/{id}", s.deleteRecord)

	route("GET /api/collections/{collection}/auth-methods", s.authMethods)
	route("POST /api/collections/{collection}/auth-with-password", s.authWithPassword)
	route("POST /api/collections/{collection}/auth-refresh", s.authRefresh)
	route("POST /api/collections/{collection}/auth-with-oauth2", s.authWithOAuth2)
	route("POST /api/collections/{collection}/impersonate/{id}", s.superuser(s.impersonate))

	route("POST /api/collections/{collection}/request-verification", s.requestVerification)
	route("POST /api/collections/{collection}/confirm-verification", s.confirmVerification)
	route("POST /api/collections/{collection}/request-password-reset", s.requestPasswordReset)
	route("POST /api/collections/{collection}/confirm-password-reset", s.confirmPasswordReset)
	route("POST /api/collections/{collection}/request-email-change", s.requestEmailChange)
	route("POST /api/collections/{collection}/confirm-email-change", s.confirmEmailChange)
	route("POST /api/collections/{collection}/request-otp", s.requestOTP)
	route("POST /api/collections/{collection}/auth-with-otp", s.authWithOTP)

	route("/api/", func(http.ResponseWriter, *http.Request) error {
		return core.NotFound("The requested resource wasn't found.")
	})
}

// jobRoutes are the routes of jobs and crons.
func (s *Server) jobRoutes(route func(string, handler)) {
	route("GET /api/jobs", s.scoped(service.ScopeJobs, s.listJobs))
	route("POST /api/jobs", s.scoped(service.ScopeJobs, s.enqueueJob))
	route("GET /api/jobs/{id}", s.scoped(service.ScopeJobs, s.jobOp(false, (*jobs.Queue).Get)))
	route("POST /api/jobs/{id}/retry", s.scoped(service.ScopeJobs, s.jobOp(true, (*jobs.Queue).Retry)))
	route("POST /api/jobs/{id}/cancel", s.scoped(service.ScopeJobs, s.jobOp(true, (*jobs.Queue).Cancel)))
	route("DELETE /api/jobs/{id}", s.scoped(service.ScopeJobs, s.jobOp(true, (*jobs.Queue).Delete)))
	route("GET /api/crons", s.scoped(service.ScopeJobs, s.listCrons))
	route("POST /api/crons", s.scoped(service.ScopeJobs, s.createCron))
	route("GET /api/crons/{id}", s.scoped(service.ScopeJobs, s.getCron))
	route("POST /api/crons/{id}", s.scoped(service.ScopeJobs, s.runCron))
	route("PATCH /api/crons/{id}", s.scoped(service.ScopeJobs, s.updateCron))
	route("DELETE /api/crons/{id}", s.scoped(service.ScopeJobs, s.deleteCron))
}

// webhookRoutes are the routes of outgoing webhooks and inbound hooks.
func (s *Server) webhookRoutes(route func(string, handler)) {
	route("GET /api/webhooks", s.scoped(service.ScopeWebhooks, s.listWebhooks))
	route("POST /api/webhooks", s.scoped(service.ScopeWebhooks, s.createWebhook))
	route("GET /api/webhooks/{id}", s.scoped(service.ScopeWebhooks, s.getWebhook))
	route("PATCH /api/webhooks/{id}", s.scoped(service.ScopeWebhooks, s.updateWebhook))
	route("DELETE /api/webhooks/{id}", s.scoped(service.ScopeWebhooks, s.deleteWebhook))
	route("POST /api/webhooks/{id}/secret", s.scoped(service.ScopeWebhooks, s.rotateWebhookSecret))
	route("GET /api/webhooks/{id}/deliveries", s.scoped(service.ScopeWebhooks, s.webhookDeliveries))
	route("POST /api/webhooks/{id}/deliveries/{job}/replay", s.scoped(service.ScopeWebhooks, s.replayDelivery))
	route("POST /api/hooks/{name}", s.receiveHook)
	route("GET /api/hooks", s.scoped(service.ScopeWebhooks, s.listHookSources))
	route("POST /api/hooks", s.scoped(service.ScopeWebhooks, s.saveHookSource(true)))
	route("GET /api/hooks/{name}", s.scoped(service.ScopeWebhooks, s.getHookSource))
	route("PATCH /api/hooks/{name}", s.scoped(service.ScopeWebhooks, s.saveHookSource(false)))
	route("DELETE /api/hooks/{name}", s.scoped(service.ScopeWebhooks, s.deleteHookSource))
}

// Shutdown ends the long-lived realtime streams, so a graceful shutdown
// does not wait on them. Register it with http.Server.RegisterOnShutdown.
func (s *Server) Shutdown() { s.hub.Close() }

// ServeHTTP serves r, recorded in the request log when there is one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.entry.ServeHTTP(w, r) }

// serve applies the cross-cutting concerns (panic recovery, security
// headers, CORS, body limit, then the settings' superuser addresses and
// rate limits: see admit) and routes the request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Every answer, errors and 404s included: browsers must not guess a
	// type other than the one declared (a JSON error echoing input as HTML).
	h.Set("X-Content-Type-Options", "nosniff")
	var body *cappedBody
	// Runs last: after the handler, and after a panic has been answered.
	defer func() { body.drain(w, r) }()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			s.writeError(w, r, core.Internal(fmt.Errorf("panic: %v", p), "panic"))
		}
	}()
	// CORS is the API's: the admin (mounted beside it) is same-origin only.
	if origin := r.Header.Get("Origin"); origin != "" && strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	var refused bool
	if body, refused = s.capBody(w, r); refused {
		return
	}
	admitted, err := s.admit(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.mux.ServeHTTP(w, admitted)
}

// caller identifies who sent r. An invalid or expired token makes the caller
// a guest, as in PocketBase; routes that need an identity then refuse. The
// request log learns who it was.
func (s *Server) caller(r *http.Request) *service.Request {
	req := s.identify(r)
	if e := reqlog.FromContext(r.Context()); e != nil {
		switch {
		case req.Auth != nil:
			e.Auth, e.AuthID = req.Auth.Collection.Name, req.Auth.ID()
		case req.Key != nil:
			e.Auth, e.AuthID = apikeys.CollectionName, req.Key.ID
		}
	}
	return req
}

// identify is caller without the request log.
func (s *Server) identify(r *http.Request) *service.Request {
	if req, ok := knownCaller(r); ok {
		return req
	}
	req := &service.Request{Method: r.Method}
	tok := r.Header.Get("Authorization")
	if tok == "" {
		return req
	}
	if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
		tok = strings.TrimSpace(tok[7:])
	}
	if strings.HasPrefix(tok, apikeys.Prefix) {
		key, err := s.keys.Authenticate(r.Context(), tok)
		if err != nil {
			return req
		}
		req.Key, req.Superuser = key, key.Superuser
		return req
	}
	rec, refreshable, err := s.auth.Authenticate(r.Context(), tok)
	if err != nil {
		return req
	}
	req.Auth, req.Refreshable = rec, refreshable
	req.Superuser = rec.Collection.Name == core.SuperusersName
	return req
}

// scoped guards a route for superusers and API keys with scope: 401
// without a valid token or key, 403 otherwise.
func (s *Server) scoped(scope string, h callerHandler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		req := s.caller(r)
		switch {
		case req.Superuser, req.Key != nil && req.Key.HasScope(scope):
			return h(w, r, req)
		case req.Auth == nil && req.Key == nil:
			return core.Unauthorized("The request requires valid superuser authorization token.")
		default:
			return core.Forbidden("The authorized record is not allowed to perform this action.")
		}
	}
}

// superuser guards a route for superusers: 401 without a valid token, 403
// with a non-superuser one.
func (s *Server) superuser(h callerHandler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		req := s.caller(r)
		switch {
		case req.Superuser:
			return h(w, r, req)
		case req.Auth == nil && req.Key == nil:
			return core.Unauthorized("The request requires valid superuser authorization token.")
		default:
			return core.Forbidden("The authorized record is not allowed to perform this action.")
		}
	}
}
