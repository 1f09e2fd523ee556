// Package rest is the HTTP plumbing every OpenStack API package shares: a
// declared route table with the access rule beside each verb, token
// authentication, strict JSON decoding with body limits, and error bodies in
// each service's own format — also for unknown paths and methods, which
// net/http.ServeMux would answer in plain text.
package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
)

// MaxBody is the default limit on request bodies (Keystone's own default
// max_request_body_size is 112 KiB; ours is a little larger).
const MaxBody = 1 << 20

// HandlerFunc serves one route. It writes a success response itself and
// returns any error for the service to render; it never writes an error status.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Access decides whether the bearer of c may call a route. It returns an
// *oserr.Error (usually 403) when not. Public routes have a nil Access and
// no token is required.
type Access func(c *auth.Credentials, r *http.Request) error

// Route is one verb on one path of a service.
type Route struct {
	Method  string // GET, POST, …; GET also serves HEAD
	Path    string // ServeMux pattern below the service prefix, e.g. "/v3/users/{user_id}"
	Access  Access // nil: public
	Handler HandlerFunc
}

// Env is what every API package's New takes beside its domain service:
// the cloud's public base URL (for links and catalog URLs), the validator
// of tokens, and the logger. Every internal/api/<svc> package has the same
// constructor shape: New(s *<svc>.Service, env rest.Env) *API, and
// (*API).Service() *Service returns everything the wiring mounts.
type Env struct {
	PublicURL string // e.g. http://127.0.0.1:8000
	Validator auth.Validator
	Log       *slog.Logger
}

// Base is the public URL of a service mounted at prefix, e.g.
// http://127.0.0.1:8000/volume: the start of its links.
func (e Env) Base(prefix string) string { return strings.TrimRight(e.PublicURL, "/") + prefix }

// Logger is e.Log, or the default logger when none was given.
func (e Env) Logger() *slog.Logger {
	if e.Log == nil {
		return slog.Default()
	}
	return e.Log
}

// Endpoint is one entry of the Keystone catalog for a service: its type
// and name as clients look them up, and the path after the service's
// prefix that its URL ends with ("/v2.1", "/v3/$(project_id)s", "").
type Endpoint struct {
	Type, Name, Suffix string
}

// Service is one OpenStack API mounted under a path prefix: its route
// table, error format, version document and catalog entries. The wiring
// mounts it with one call (internal/cloud's mount), which also hands the
// format to the admission control and the endpoints to the catalog.
type Service struct {
	Prefix    string // e.g. "/identity"
	Format    oserr.Format
	Validator auth.Validator
	Routes    []Route
	Log       *slog.Logger
	// Endpoints are the service's catalog entries; none keeps it out of
	// the catalog (the agents' API).
	Endpoints []Endpoint
	// Versions, if set, answers GET Prefix and GET Prefix/ without a token:
	// the service's version document (each service has its own shape and
	// status; Cinder answers 300).
	Versions HandlerFunc
	// Unmetered are path prefixes below Prefix whose requests the admission
	// control does not count (long polls, consoles).
	Unmetered []string
	// Also mounts handlers that are not routes of the table, e.g. Nova's
	// /v2 alias, which re-enters mux at /v2.1.
	Also func(mux *http.ServeMux)
	// MaxBody overrides the body limit when positive.
	MaxBody int64
	// Before, if set, runs before every route, authentication included: it
	// may set headers (Nova's x-compute-request-id), negotiate the
	// microversion into the request context, or refuse the request.
	Before func(w http.ResponseWriter, r *http.Request) (*http.Request, error)
	// Verbatim, if set, serves every request under Prefix instead of
	// Routes, with the path exactly as the client sent it: ServeMux cleans
	// a path first (it redirects /a//b to /a/b and resolves "..") but
	// Swift's object names may hold "//", "." and "..", so its API routes
	// itself. The wiring sends such requests past the mux (Handler). They
	// get the same recovery, Before and body limit as routes and need no
	// token: the handler authenticates, as anonymous access may be allowed.
	Verbatim HandlerFunc
}

// Handler is the handler of a Verbatim service: every request under its
// prefix, uncleaned.
func (s *Service) Handler() http.Handler { return s.handler(Route{Handler: s.Verbatim}) }

// Mount registers every route of s on mux, plus a catch-all under the
// prefix that answers unknown paths with 404 and known paths with an
// unsupported method with 405, both in the service's error format.
func (s *Service) Mount(mux *http.ServeMux) {
	if s.Verbatim != nil {
		mux.Handle(s.Prefix+"/", s.Handler())
		mux.Handle(s.Prefix, s.Handler())
		return
	}
	allowed := map[string][]string{}
	routes := s.Routes
	if s.Versions != nil {
		routes = append([]Route{R("GET", "", nil, s.Versions), R("GET", "/{$}", nil, s.Versions)}, routes...)
	}
	for _, rt := range routes {
		pattern := s.Prefix + rt.Path
		mux.Handle(rt.Method+" "+pattern, s.handler(rt))
		allowed[pattern] = append(allowed[pattern], rt.Method)
	}
	for pattern, methods := range allowed {
		allow := strings.Join(methods, ", ")
		h := s.handler(Route{Handler: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Allow", allow)
			return oserr.MethodNotAllowed("The method %s is not allowed for %s; allowed: %s.", r.Method, r.URL.Path, allow)
		}})
		// One pattern per missing method, not a method-less one: "/servers/detail"
		// without a method would conflict with "GET /servers/{id}" (neither is
		// more specific) and ServeMux would panic. HEAD is left to GET.
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			if !slices.Contains(methods, m) {
				mux.Handle(m+" "+pattern, h)
			}
		}
	}
	notFound := s.handler(Route{Handler: func(w http.ResponseWriter, r *http.Request) error {
		return oserr.NotFound("The resource could not be found: no %s API path %s.", strings.TrimPrefix(s.Prefix, "/"), r.URL.Path)
	}})
	mux.Handle(s.Prefix+"/", notFound)
	if _, ok := allowed[s.Prefix]; !ok && s.Prefix != "" {
		mux.Handle(s.Prefix, notFound)
	}
	if s.Also != nil {
		s.Also(mux)
	}
}

func (s *Service) handler(rt Route) http.Handler {
	limit := s.MaxBody
	if limit <= 0 {
		limit = MaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.WriteError(w, r, oserr.Internal(fmt.Errorf("panic: %v\n%s", p, debug.Stack())))
			}
		}()
		if s.Before != nil {
			var err error
			if r, err = s.Before(w, r); err != nil {
				s.WriteError(w, r, err)
				return
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if rt.Access != nil {
			tok := r.Header.Get("X-Auth-Token")
			if tok == "" {
				s.WriteError(w, r, oserr.Unauthorized("The request you have made requires authentication: send a token in the X-Auth-Token header (get one with 'openstack token issue')."))
				return
			}
			c, err := s.Validator.Validate(r.Context(), tok)
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			if err := rt.Access(c, r); err != nil {
				s.WriteError(w, r, err)
				return
			}
			r = r.WithContext(auth.With(r.Context(), c))
		}
		if err := rt.Handler(w, r); err != nil {
			s.WriteError(w, r, err)
		}
	})
}

// WriteError renders err in the service's format and logs it.
func (s *Service) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := oserr.From(err)
	id := reqid.From(r.Context())
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	switch {
	case e.Status >= 500:
		log.ErrorContext(r.Context(), "request failed", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", err)
	case oserr.Untranslated(err):
		// A service returned a store error as it was: the client gets a
		// generic 404/409, and this line is the bug report.
		log.WarnContext(r.Context(), "store error not translated by the service; answered with a generic status", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", err)
	default:
		log.DebugContext(r.Context(), "request refused", "request_id", id, "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	switch body := s.Format(e, id).(type) {
	case oserr.Text:
		w.Header().Set("Content-Type", body.ContentType)
		w.Header().Set("Content-Length", fmt.Sprint(len(body.Body)))
		w.WriteHeader(e.Status)
		_, _ = io.WriteString(w, body.Body)
	default:
		WriteJSON(w, e.Status, body)
	}
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// NoContent writes a 204.
func NoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// Decode reads the JSON body into v. Unknown fields are rejected when strict
// is true. Errors say where the body went wrong: 400 for malformed JSON or a
// wrong type, 413 past the body limit.
func Decode(r *http.Request, v any, strict bool) error {
	if r.Body == nil {
		return oserr.BadRequest("The request body is empty; send a JSON document.")
	}
	// The body is read whole (it is size-limited) so that invalid UTF-8
	// is refused, as Python services refuse it, rather than silently
	// turned into U+FFFD by encoding/json.
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeError(err)
	}
	if !utf8.Valid(raw) {
		return oserr.BadRequest("The request body is not valid UTF-8; send JSON encoded as UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return oserr.BadRequest("The request body has data after the JSON document; send exactly one JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return oserr.BadRequest("The request body has data after the JSON document; send exactly one JSON object.")
	}
	return nil
}

func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return oserr.TooLarge("The request body is larger than the limit of %d bytes; send a smaller body.", mbe.Limit)
	case errors.Is(err, io.EOF):
		return oserr.BadRequest("The request body is empty; send a JSON document.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return oserr.BadRequest("The request body is not valid JSON: it ends before the document is complete.")
	case errors.As(err, &syn):
		return oserr.BadRequest("The request body is not valid JSON: %s at byte %d.", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the document"
		}
		return oserr.BadRequest("Invalid input for field '%s': expected %s, got JSON %s.", field, jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return oserr.BadRequest("Additional properties are not allowed: %s is not a field of this request; remove it.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return oserr.BadRequest("The request body is not valid JSON: %v.", err)
	}
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64", "float32":
		return "a number"
	}
	return kind
}

// Logged wraps h with an access log line per request.
func Logged(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		// The id the answer carries: a service may mint its own (Swift's
		// transaction id) in place of the one in the context.
		id := w.Header().Get(reqid.Header)
		if id == "" {
			id = reqid.From(r.Context())
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// R declares a route; route tables read as one line per verb.
func R(method, path string, access Access, h HandlerFunc) Route {
	return Route{Method: method, Path: path, Access: access, Handler: h}
}
