// Package reqid accepts or mints the x-openstack-request-id of each request
// and carries it in the context, so every log line and error body can name it.
package reqid

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Header is the response header that carries the request id.
const Header = "X-Openstack-Request-Id"

type ctxKey struct{}

// New mints a fresh id of OpenStack's form req-<uuid>.
func New() string { return "req-" + uuid.NewString() }

// valid reports whether id has OpenStack's form, so a client may pass its own
// id through (as oslo's request-id middleware accepts "global" ids).
func valid(id string) bool {
	rest, ok := strings.CutPrefix(id, "req-")
	if !ok {
		return false
	}
	_, err := uuid.Parse(rest)
	return err == nil && len(rest) == 36
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id in ctx, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Middleware takes a well-formed id from the request or mints one, sets the
// response header and stores the id in the request context.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !valid(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}
