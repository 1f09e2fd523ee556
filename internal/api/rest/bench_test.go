package rest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/reqid"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/storetest"
)

// BenchmarkMiddlewareNoop measures what the plumbing costs a request whose
// handler does nothing: request id, access log, routing, body limit and,
// on the private route, token validation by the real identity service.
// private minus public is the price of authentication.
func BenchmarkMiddlewareNoop(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	keys, err := idsvc.LoadKeyRing(b.TempDir(), 3)
	if err != nil {
		b.Fatal(err)
	}
	ids := idsvc.New(storetest.New(b), keys, log, idsvc.Config{HashCost: 4})
	if _, err := ids.Bootstrap(ctx, idsvc.Bootstrap{AdminUser: "admin", AdminProject: "admin", AdminPassword: "pw", Region: "RegionOne"}); err != nil {
		b.Fatal(err)
	}
	c, err := ids.Authenticate(ctx, idsvc.AuthRequest{Methods: []string{"password"},
		User: idsvc.UserSelector{Name: "admin", DomainID: idsvc.DefaultDomainID}, Password: "pw"})
	if err != nil {
		b.Fatal(err)
	}
	noop := func(w http.ResponseWriter, _ *http.Request) error { rest.NoContent(w); return nil }
	svc := &rest.Service{
		Prefix: "/bench", Format: oserr.Keystone, Validator: ids, Log: log,
		Routes: []rest.Route{
			rest.R("GET", "/v1/public", nil, noop),
			rest.R("GET", "/v1/private", func(*auth.Credentials, *http.Request) error { return nil }, noop),
		},
	}
	mux := http.NewServeMux()
	svc.Mount(mux)
	h := reqid.Middleware(rest.Logged(log, mux))

	for _, route := range []string{"public", "private"} {
		b.Run(route, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "/bench/v1/"+route, nil)
			r.Header.Set("X-Auth-Token", c.Token)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusNoContent {
					body, _ := io.ReadAll(w.Body)
					b.Fatalf("status %d: %s", w.Code, body)
				}
			}
		})
	}
}
