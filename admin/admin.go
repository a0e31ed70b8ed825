// Package admin serves Tortoise's management app at /admin: server-rendered
// pages (html/template, embedded), one handler per page, over the same
// service layer as the REST API, so a change made here is validated, ruled
// and fed to realtime, webhooks and the cache exactly like one made through
// the API. htmx (vendored, served by the binary) swaps parts of pages;
// every form also works as a plain POST.
//
// Safety: superusers sign in with a form (login.go) and hold a session
// cookie (session.go); every state-changing request carries a CSRF token
// and, when the browser sends one, a same-origin Origin; every answer
// carries a Content-Security-Policy without inline scripts or styles and
// nothing loads from another host.
package admin

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/api"
	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/auth"
	"github.com/tortoise-dev/tortoise/collections"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/records"
	"github.com/tortoise-dev/tortoise/reqlog"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/settings"
	"github.com/tortoise-dev/tortoise/store"
	"github.com/tortoise-dev/tortoise/webhooks"
)

//go:embed templates static
var assets embed.FS

// Gate is what the admin asks of the API server: the same login throttle
// and superuser address policy as the REST API, so the admin is no way
// around them.
type Gate interface {
	// ThrottleLogin applies the API's login throttle for identity in the
	// collection; it returns a KindTooMany error when it is reached, and
	// r carrying the client's origin for the login alerts.
	ThrottleLogin(r *http.Request, collectionID, identity string) (*http.Request, error)
	// SuperuserAllowed reports whether a superuser may act from r's
	// client address (the settings' superuser addresses).
	SuperuserAllowed(r *http.Request) (bool, error)
}

// Options are the parts the admin works over. All but Jobs, Webhooks and
// Logs are required.
type Options struct {
	Service     *service.Service
	Store       store.Store
	Settings    *settings.Service
	Keys        *apikeys.Service
	Collections *collections.Service
	Records     *records.Service
	Auth        *auth.Service
	Gate        Gate
	Jobs        *jobs.Queue       // nil: no job pages
	Webhooks    *webhooks.Service // nil: no webhook pages
	Logs        *reqlog.Log       // nil: the request log is off
	Logger      *slog.Logger
	Version     string
	Engine      string // "sqlite" or "postgres", for the dashboard
	// Started is when the process started, for the dashboard's uptime.
	Started time.Time
}

// Admin is the admin app's HTTP handler, mounted at /admin/.
type Admin struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	mu    sync.Mutex
	pages map[string]*template.Template // parsed page templates, by file
}

// New returns the admin over opts' parts.
func New(opts Options) *Admin {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	a := &Admin{opts: opts, log: opts.Logger, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	a.routes()
	return a
}

// handler is the shape of every page: it writes its answer and returns
// nil, or returns an error, which serve answers (a redirect to sign in for
// KindUnauthorized, else an error page with the kind's status).
type handler func(http.ResponseWriter, *http.Request) error

// pageHandler is a handler for signed-in superusers, told who they are.
type pageHandler func(http.ResponseWriter, *http.Request, *session) error

func (a *Admin) routes() {
	static, _ := fs.Sub(assets, "static")
	files := http.FileServerFS(static)
	a.mux.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", staticCache(files)))

	a.mux.HandleFunc("GET /admin/login", a.serve(a.loginPage))
	a.mux.HandleFunc("POST /admin/login", a.serve(a.login))
	a.mux.HandleFunc("POST /admin/login/otp", a.serve(a.loginOTP))
	a.mux.HandleFunc("POST /admin/logout", a.serve(a.signedIn(a.logout)))

	a.mux.HandleFunc("GET /admin/{$}", a.serve(a.signedIn(a.dashboard)))
	a.collectionRoutes()
	a.recordRoutes()
	a.settingsRoutes()
	a.keyRoutes()
	a.superuserRoutes()
	a.mailboxRoutes()
	a.logRoutes()
	if a.opts.Jobs != nil {
		a.jobRoutes()
	}
	a.mux.HandleFunc("/admin/", a.serve(a.signedIn(func(http.ResponseWriter, *http.Request, *session) error {
		return core.NotFound("There is no such page.")
	})))
}

// page registers a signed-in page.
func (a *Admin) page(pattern string, h pageHandler) {
	a.mux.HandleFunc(pattern, a.serve(a.signedIn(h)))
}

// ServeHTTP sets the headers every answer carries and routes the request.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.URL.Path == "/admin" {
		http.Redirect(w, r, "/admin/", http.StatusFound)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy allows scripts, styles, fonts and forms of this
// origin only, no inline script or style (htmx is told not to add its
// indicator style: see layout.html), images also as data: and blob: URLs
// (file previews), and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// staticCache lets browsers keep the embedded assets for an hour; they
// change only with the binary.
func staticCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// serve adapts h to net/http: the one place a page's error becomes an
// answer.
func (a *Admin) serve(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

func (a *Admin) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := core.KindOf(err)
	if kind == core.KindUnauthorized {
		toLogin(w, r, "")
		return
	}
	msg := "Something went wrong."
	if e := core.AsError(err); e != nil && kind != core.KindInternal {
		msg = e.Error()
	}
	if kind == core.KindInternal {
		a.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	status := api.Status(kind)
	sess, _ := a.currentSession(r)
	a.render(w, r, status, "error.html", sess, map[string]any{"Status": status, "Message": msg})
}

// toLogin sends the browser to the sign-in page, back to where it was
// going afterwards (a GET's own address).
func toLogin(w http.ResponseWriter, r *http.Request, note string) {
	next := "/admin/"
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/admin/") && r.URL.Path != "/admin/login" {
		next = r.URL.RequestURI()
	}
	q := "?next=" + urlQueryEscape(next)
	if note != "" {
		q += "&note=" + urlQueryEscape(note)
	}
	if r.Header.Get("HX-Request") != "" {
		// htmx follows a redirect within the swap; this sends the whole
		// page to the sign-in form instead.
		w.Header().Set("HX-Redirect", "/admin/login"+q)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, "/admin/login"+q, http.StatusSeeOther)
}

// view is what every page template gets: the page's own data in Data,
// and what the layout needs.
type view struct {
	Title   string
	Nav     string // the navigation entry to mark current
	User    string // the signed-in superuser's email
	CSRF    string
	Version string
	Jobs    bool // job pages exist
	Flash   string
	Data    any
}

// render writes the page file (in templates/) inside the layout with
// status. A request from htmx that names a target gets the page's
// "content" block alone.
func (a *Admin) render(w http.ResponseWriter, r *http.Request, status int, file string, sess *session, data any) {
	t, err := a.template(file)
	if err != nil {
		a.log.Error("admin template", "file", file, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	v := view{Version: a.opts.Version, Jobs: a.opts.Jobs != nil, Data: data}
	if fromAdmin(r) {
		v.Flash = r.URL.Query().Get("flash")
	}
	if sess != nil {
		v.User, v.CSRF = sess.email, sess.csrf
	}
	if p, ok := data.(interface{ title() (string, string) }); ok {
		v.Title, v.Nav = p.title()
	}
	if m, ok := data.(map[string]any); ok {
		v.Title, _ = m["Title"].(string)
		v.Nav, _ = m["Nav"].(string)
	}
	name := "layout"
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") != "" && r.Header.Get("HX-Boosted") == "" {
		name = "content"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		a.log.Error("admin template", "file", file, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}

// fromAdmin reports whether r was sent from a page of this origin, as the
// redirect after one of the admin's forms is: by the browser's
// Sec-Fetch-Site, or without it (older browsers, plain HTTP) by the
// Referer. A flash message rides in the address, so one in a link from
// elsewhere (another site, a mail, a typed address) is not shown: it would
// put another's words in the admin's mouth.
func fromAdmin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	ref, err := url.Parse(r.Referer())
	return err == nil && ref.Host != "" && ref.Host == r.Host
}

// template parses layout.html with file once.
func (a *Admin) template(file string) (*template.Template, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.pages[file]; t != nil {
		return t, nil
	}
	t, err := template.New(file).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html", "templates/"+file)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	a.pages[file] = t
	return t, nil
}

// errNoForm answers a POST whose body does not parse as a form.
var errNoForm = core.Invalid("The form could not be read.")

// parseForm reads a urlencoded or multipart form of at most maxBytes.
func parseForm(w http.ResponseWriter, r *http.Request, maxBytes int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(8 << 20)
	} else {
		err = r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return core.Errorf(core.KindTooLarge, "The form is larger than %d bytes.", maxBytes)
	case err != nil:
		return errNoForm
	}
	return nil
}
