package identity

import (
	"context"
	"fmt"
	"testing"

	"github.com/onestack/onestack/internal/storetest"
)

// BenchmarkValidateToken measures the hot path of every API request:
// validating a project token whose authorisation is cached.
func BenchmarkValidateToken(b *testing.B) {
	w := newWorld(b, storetest.New(b), Config{})
	tok := w.alice_(b, Scope{})
	ctx := context.Background()
	valid(b, w.s, tok) // warm the caches
	for b.Loop() {
		if _, err := w.s.Validate(ctx, tok.Token); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}

// BenchmarkValidateTokenParallel is the same from every CPU at once, as
// concurrent requests do it.
func BenchmarkValidateTokenParallel(b *testing.B) {
	w := newWorld(b, storetest.New(b), Config{})
	tok := w.alice_(b, Scope{})
	ctx := context.Background()
	valid(b, w.s, tok)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.s.Validate(ctx, tok.Token); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}

// BenchmarkIssueToken measures password authentication end to end; bcrypt
// dominates, so it runs at the production cost and at the tests' cost.
func BenchmarkIssueToken(b *testing.B) {
	for _, cost := range []int{DefaultHashCost, 4} {
		b.Run(fmt.Sprintf("cost=%d", cost), func(b *testing.B) {
			w := newWorld(b, storetest.New(b), Config{HashCost: cost})
			req := passwordAuth("alice", alicePassword, Scope{})
			ctx := context.Background()
			for b.Loop() {
				if _, err := w.s.Authenticate(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/token")
		})
	}
}

// BenchmarkValidateTrustToken is BenchmarkValidateToken for a trust-scoped
// token: the trust checks are part of the cached authorisation, so the hot
// path should cost the same.
func BenchmarkValidateTrustToken(b *testing.B) {
	w := newTrustWorld(b, storetest.New(b))
	tr, err := w.s.CreateTrust(context.Background(), w.alice, w.input())
	if err != nil {
		b.Fatal(err)
	}
	tok := w.mustBobToken(b, tr.ID)
	ctx := context.Background()
	valid(b, w.s, tok)
	for b.Loop() {
		if _, err := w.s.Validate(ctx, tok.Token); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}

// BenchmarkIssueTrustToken measures issuing a trust-scoped token from the
// trustee's own token (no bcrypt): unlimited, and limited, where each token
// also takes a use in a write transaction.
func BenchmarkIssueTrustToken(b *testing.B) {
	for _, limited := range []bool{false, true} {
		b.Run(fmt.Sprintf("limited=%v", limited), func(b *testing.B) {
			w := newTrustWorld(b, storetest.New(b))
			in := w.input()
			if limited {
				in.RemainingUses = ptr(1 << 30)
			}
			tr, err := w.s.CreateTrust(context.Background(), w.alice, in)
			if err != nil {
				b.Fatal(err)
			}
			own := authenticate(b, w.s, passwordAuth("bob", bobPassword, Scope{Unscoped: true}))
			req := tokenAuth(own.Token, Scope{TrustID: tr.ID})
			ctx := context.Background()
			for b.Loop() {
				if _, err := w.s.Authenticate(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "µs/token")
		})
	}
}
