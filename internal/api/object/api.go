// Package object serves Swift's v1 object storage API under /object: the
// accounts, containers and objects of internal/service/object in Swift's
// wire format (headers, plain-text and HTML error bodies, listings in
// text, JSON and XML), with Swift's middlewares' behaviour built in
// (large objects, TempURL, FormPost, bulk, quotas, static web, info).
package object

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	svc "github.com/onestack/onestack/internal/service/object"
)

// Prefix is where the API is mounted: accounts are under Prefix/v1/, and
// /info, /healthcheck and /crossdomain.xml at Prefix itself, as at the
// root of a Swift proxy.
const Prefix = "/object"

// API is the Swift v1 HTTP API.
type API struct {
	svc       *svc.Service
	base      string // e.g. http://127.0.0.1:8000/object
	log       *slog.Logger
	validator auth.Validator
	now       func() time.Time
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, base: env.Base(Prefix), log: env.Logger(), validator: env.Validator, now: time.Now}
}

// Service returns everything the wiring mounts. Swift's object names may
// hold "//", "." and "..", so the API routes itself (Verbatim), and bodies
// are streamed: the limit is the largest object, each handler bounds what
// it reads whole.
func (a *API) Service() *rest.Service {
	return &rest.Service{
		Prefix: Prefix, Format: Format, Validator: a.validator, Log: a.log,
		Endpoints: []rest.Endpoint{{Type: "object-store", Name: "swift", Suffix: "/v1/" + svc.ResellerPrefix + "$(project_id)s"}},
		MaxBody:   svc.MaxFileSize + 1,
		Before:    a.before,
		Verbatim:  a.serve,
	}
}

// reasons are Swift's titles and explanations of the statuses it answers
// (swob's RESPONSE_REASONS).
var reasons = map[int][2]string{
	400: {"Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."},
	401: {"Unauthorized", "This server could not verify that you are authorized to access the document you requested."},
	403: {"Forbidden", "Access was denied to this resource."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", "The method is not allowed for this resource."},
	406: {"Not Acceptable", "The resource is not available in a format acceptable to your browser."},
	408: {"Request Timeout", "The server has waited too long for the request to be sent by the client."},
	409: {"Conflict", "There was a conflict when trying to complete your request."},
	411: {"Length Required", "Content-Length header required."},
	412: {"Precondition Failed", "A precondition for this request was not met."},
	413: {"Request Entity Too Large", "The body of your request was too large for this server."},
	416: {"Requested Range Not Satisfiable", "The Range requested is not available."},
	422: {"Unprocessable Entity", "Unable to process the contained instructions"},
	429: {"Too Many Requests", "Too many requests; slow down."},
	499: {"Client Disconnect", "The client was disconnected during request."},
	500: {"Internal Error", "The server has either erred or is incapable of performing the requested operation."},
	501: {"Not Implemented", "The requested method is not implemented by this server."},
	503: {"Service Unavailable", "The server is currently unavailable. Please try again at a later time."},
}

// Format renders errors as Swift does: the page of the status (an HTML
// title and explanation, with our message after it), or, for the errors
// Swift answers with a sentence of its own, that sentence as text/plain.
func Format(e *oserr.Error, _ string) any {
	switch e.Type {
	case svc.Text:
		return oserr.Text{ContentType: "text/plain; charset=UTF-8", Body: e.Message}
	case "html":
		return oserr.Text{ContentType: "text/html; charset=UTF-8", Body: e.Message}
	}
	r, ok := reasons[e.Status]
	if !ok {
		r = [2]string{http.StatusText(e.Status), ""}
	}
	var b strings.Builder
	b.WriteString("<html><h1>" + r[0] + "</h1><p>" + r[1] + "</p>")
	if e.Message != "" && e.Message != r[1] {
		b.WriteString("<p>" + html.EscapeString(e.Message) + "</p>")
	}
	b.WriteString("</html>")
	return oserr.Text{ContentType: "text/html; charset=UTF-8", Body: b.String()}
}

// transID mints Swift's transaction id: "tx", 21 hex digits, "-", the
// time in 10 hex digits, and the client's X-Trans-Id-Extra if any.
func transID(now time.Time, extra string) string {
	id := "tx" + strings.ReplaceAll(uuid.NewString(), "-", "")[:21] + fmt.Sprintf("-%010x", now.Unix())
	if extra != "" {
		id += "-" + url.QueryEscape(extra[:min(len(extra), 32)])
	}
	return id
}

// before gives every answer Swift's transaction id (X-Trans-Id, and as
// X-Openstack-Request-Id, which is the same id in Swift) and refuses paths
// that are not valid UTF-8.
func (a *API) before(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	id := transID(a.now(), r.Header.Get("X-Trans-Id-Extra"))
	w.Header().Set("X-Trans-Id", id)
	w.Header().Set(reqid.Header, id)
	r = r.WithContext(reqid.With(r.Context(), id))
	if !svc.ValidUTF8(r.URL.Path) {
		return r, textErr(412, "Invalid UTF8 or contains NULL")
	}
	return r, nil
}

// Path is a request's target: its API version, account, container and
// object ("" for levels it does not name).
type Path struct {
	Version, Account, Container, Object string
}

// ParsePath splits a path below Prefix as Swift's split_path(1, 4, True):
// the object is everything after the container, slashes included.
func ParsePath(p string) (Path, bool) {
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return Path{}, false
	}
	parts := strings.SplitN(rest, "/", 4)
	var out Path
	out.Version = parts[0]
	if len(parts) > 1 {
		out.Account = parts[1]
	}
	if len(parts) > 2 {
		out.Container = parts[2]
	}
	if len(parts) > 3 {
		out.Object = parts[3]
	}
	if out.Object != "" && out.Container == "" {
		return Path{}, false
	}
	return out, true
}

// serve routes a request by its level (Swift's proxy get_controller).
func (a *API) serve(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.Path, Prefix)
	switch rest {
	case "/info":
		return a.info(w, r)
	case "/healthcheck":
		return a.healthcheck(w, r)
	case "/crossdomain.xml":
		return a.crossdomain(w, r)
	}
	p, ok := ParsePath(rest)
	if !ok || p.Version == "" || p.Account == "" {
		return oserr.NotFound("No Swift API path %s: accounts are at %s/v1/AUTH_<project id> (see the object-store endpoint in your catalog).", r.URL.Path, Prefix)
	}
	if p.Version != "v1" && p.Version != "v1.0" {
		return textErr(400, "Invalid path: %s; the API version is v1 (%s/v1/AUTH_<project id>).", r.URL.Path, Prefix)
	}
	if err := svc.CheckAccountName(p.Account); err != nil {
		return err
	}
	if r.Method == "OPTIONS" {
		return a.options(w, r, p)
	}
	c, err := a.caller(r, p)
	if err != nil {
		return err
	}
	if r.Header.Get("Origin") != "" && p.Container != "" {
		a.cors(w, r, p)
	}
	switch {
	case p.Object != "":
		return a.serveObject(w, r, c, p)
	case p.Container != "":
		return a.serveContainer(w, r, c, p)
	default:
		return a.serveAccount(w, r, c, p)
	}
}

// caller authenticates a request: a token if it sends one (X-Auth-Token,
// or X-Storage-Token as Swift's clients may), else anonymous; a TempURL's
// signature stands in for a token on its object.
func (a *API) caller(r *http.Request, p Path) (*svc.Caller, error) {
	c := &svc.Caller{Referrer: r.Referer()}
	q := r.URL.Query()
	if q.Has("temp_url_sig") || q.Has("temp_url_expires") {
		return a.tempURLCaller(r, p, c)
	}
	tok := r.Header.Get("X-Auth-Token")
	if tok == "" {
		tok = r.Header.Get("X-Storage-Token")
	}
	if tok == "" {
		return c, nil
	}
	cr, err := a.validator.Validate(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	c.Creds = cr
	return c, nil
}

// textErr is an error Swift answers with a plain-text sentence.
func textErr(status int, format string, args ...any) *oserr.Error {
	return (&oserr.Error{Status: status, Message: fmt.Sprintf(format, args...)}).WithType(svc.Text)
}

// methodNotAllowed answers a method a level does not serve.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) error {
	w.Header().Set("Allow", allow)
	return oserr.MethodNotAllowed("%s is not served on %s; the methods are %s.", r.Method, r.URL.Path, allow)
}
