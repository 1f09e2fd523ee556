package identity

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

const bobPassword = "bob-secret"

// trustWorld is a world with bob, the trustee, who has no role anywhere,
// and a project-scoped token of alice, the trustor.
type trustWorld struct {
	*world
	bob   store.User
	alice *auth.Credentials
}

func newTrustWorld(t testing.TB, db *store.DB) *trustWorld {
	t.Helper()
	w := newWorld(t, db, Config{})
	pw := bobPassword
	bob, err := w.s.CreateUser(context.Background(), store.User{Name: "bob", Enabled: true}, &pw)
	if err != nil {
		t.Fatal(err)
	}
	return &trustWorld{world: w, bob: bob, alice: w.alice_(t, Scope{ProjectID: w.demo.ID})}
}

// input is a trust from alice to bob of member on demo.
func (w *trustWorld) input() TrustInput {
	return TrustInput{TrustorUserID: w.alice.User.ID, TrusteeUserID: w.bob.ID, ProjectID: w.demo.ID,
		Impersonation: true, Roles: []TrustRole{{Name: "member"}}}
}

func (w *trustWorld) trust(t testing.TB, in TrustInput) Trust {
	t.Helper()
	tr, err := w.s.CreateTrust(context.Background(), w.alice, in)
	if err != nil {
		t.Fatalf("create trust: %v", err)
	}
	return tr
}

// bobToken is bob's token scoped to trust id.
func (w *trustWorld) bobToken(id string) (*auth.Credentials, error) {
	return w.s.Authenticate(context.Background(), passwordAuth("bob", bobPassword, Scope{TrustID: id}))
}

func (w *trustWorld) mustBobToken(t testing.TB, id string) *auth.Credentials {
	t.Helper()
	c, err := w.bobToken(id)
	if err != nil {
		t.Fatalf("trust-scoped token: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestCreateTrustRules(t *testing.T) {
	w := newTrustWorld(t, storetest.New(t))
	ctx := context.Background()
	other, err := w.s.CreateProject(ctx, store.Project{Name: "other", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	for _, c := range []struct {
		name   string
		change func(in *TrustInput)
		status int
		substr string
	}{
		{"another trustor", func(in *TrustInput) { in.TrustorUserID = w.bob.ID }, 403, "identity:create_trust"},
		{"project without roles", func(in *TrustInput) { in.Roles = nil }, 403, "At least one role should be specified"},
		{"unknown trustee", func(in *TrustInput) { in.TrusteeUserID = "nobody" }, 404, "Could not find user: nobody"},
		{"unknown role name", func(in *TrustInput) { in.Roles = []TrustRole{{Name: "wizard"}} }, 404, "Could not find role: wizard"},
		{"role not held", func(in *TrustInput) { in.Roles = []TrustRole{{ID: w.roles["admin"].ID}} }, 404, "holds no such role"},
		{"unknown project", func(in *TrustInput) { in.ProjectID = "nowhere" }, 404, "Could not find project: nowhere"},
		{"project where the trustor has no role", func(in *TrustInput) { in.ProjectID = other.ID }, 404, "holds no such role"},
		{"roles without project", func(in *TrustInput) { in.ProjectID = "" }, 404, "without a project"},
		{"expired", func(in *TrustInput) { in.ExpiresAt = &past }, 400, "must not be before now"},
		{"zero uses", func(in *TrustInput) { in.RemainingUses = ptr(0) }, 400, "minimum of 1"},
		{"negative redelegation count", func(in *TrustInput) { in.RedelegationCount = ptr(-1) }, 400, "minimum of 0"},
		{"uses with redelegation", func(in *TrustInput) { in.AllowRedelegation, in.RemainingUses = true, ptr(3) }, 400, "remaining_uses must not be set"},
		{"too deep", func(in *TrustInput) { in.AllowRedelegation, in.RedelegationCount = true, ptr(MaxRedelegationCount+1) }, 403, "greater than allowed 3"},
		{"redelegated_trust_id without a trust token", func(in *TrustInput) { in.RedelegatedTrustID = "x" }, 400, "redelegated_trust_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := w.input()
			c.change(&in)
			_, err := w.s.CreateTrust(ctx, w.alice, in)
			wantErr(t, err, c.status, c.substr)
		})
	}
	ts, err := w.s.ListTrusts(ctx, TrustFilter{})
	if err != nil || len(ts) != 0 {
		t.Fatalf("refused creates left trusts: %v, %v", ts, err)
	}

	// Roles the trustor holds through implication count (admin ⊃ member ⊃
	// reader: alice has member, so reader may be delegated).
	tr := w.trust(t, TrustInput{TrustorUserID: w.alice.User.ID, TrusteeUserID: w.bob.ID, ProjectID: w.demo.ID,
		Roles: []TrustRole{{Name: "reader"}, {ID: w.roles["reader"].ID}}})
	if diff := cmp.Diff([]string{w.roles["reader"].ID}, tr.RoleIDs); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	if tr.RedelegationCount != 0 || tr.RemainingUses != nil || tr.ExpiresAt != nil {
		t.Errorf("defaults: %+v", tr.Trust)
	}
	// A second trust identical in trustor, trustee, project, impersonation
	// and expiry is Keystone's 409, unless the expiry is absent (NULLs differ).
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	in := w.input()
	in.ExpiresAt = &exp
	w.trust(t, in)
	_, err = w.s.CreateTrust(ctx, w.alice, in)
	wantErr(t, err, 409, "Conflict")
	in.ExpiresAt = nil
	w.trust(t, in)
	w.trust(t, in)

	// Application credential tokens manage no trust.
	ac, secret, err := w.s.CreateAppCred(ctx, w.alice.User.ID, w.demo.ID, tokenRoles(w.alice), AppCredInput{Name: "ci", Unrestricted: true})
	if err != nil {
		t.Fatal(err)
	}
	acTok := authenticate(t, w.s, AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{ID: ac.ID, Secret: secret}})
	_, err = w.s.CreateTrust(ctx, acTok, w.input())
	wantErr(t, err, 403, "application_credential")
}

func TestTrustScopedToken(t *testing.T) {
	w := newTrustWorld(t, storetest.New(t))
	ctx := context.Background()
	exp := time.Now().Add(10 * time.Minute).Truncate(time.Microsecond)
	for _, imp := range []bool{true, false} {
		t.Run(fmt.Sprintf("impersonation=%v", imp), func(t *testing.T) {
			in := w.input()
			in.Impersonation, in.ExpiresAt = imp, &exp
			tr := w.trust(t, in)
			c := valid(t, w.s, w.mustBobToken(t, tr.ID))
			wantUser := w.bob.ID
			if imp {
				wantUser = w.alice.User.ID
			}
			if c.User.ID != wantUser {
				t.Errorf("token user %s, want %s", c.User.Name, wantUser)
			}
			want := &auth.TrustRef{ID: tr.ID, TrustorID: w.alice.User.ID, TrusteeID: w.bob.ID, Impersonation: imp}
			if diff := cmp.Diff(want, c.Trust); diff != "" {
				t.Errorf("trust (-want +got):\n%s", diff)
			}
			if c.ProjectID() != w.demo.ID || c.System || c.Domain != nil {
				t.Errorf("scope: project %q system %v domain %v", c.ProjectID(), c.System, c.Domain)
			}
			if diff := cmp.Diff([]string{"member", "reader"}, roleNames(c)); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			if !c.Expires.Equal(exp) {
				t.Errorf("token expires %v, want the trust's expiry %v", c.Expires, exp)
			}
		})
	}

	tr := w.trust(t, w.input())
	tok := w.mustBobToken(t, tr.ID)
	// Only the trustee may use the trust.
	_, err := w.s.Authenticate(ctx, passwordAuth("alice", alicePassword, Scope{TrustID: tr.ID}))
	wantErr(t, err, 403, "not a trustee")
	_, err = w.bobToken("no-such-trust")
	wantErr(t, err, 401, "Could not find trust")
	// A trust scope is the only scope.
	_, err = w.s.Authenticate(ctx, passwordAuth("bob", bobPassword, Scope{TrustID: tr.ID, ProjectID: w.demo.ID}))
	wantErr(t, err, 400, "only one of")
	// A trust-scoped token is not rescoped, to anything.
	for _, sc := range []Scope{{}, {ProjectID: w.demo.ID}, {TrustID: tr.ID}, {Unscoped: true}} {
		_, err = w.s.Authenticate(ctx, tokenAuth(tok.Token, sc))
		wantErr(t, err, 403, "Using trust-scoped token to create another token")
	}
	// Bob's own token can be exchanged for a trust-scoped one (the token method).
	own := authenticate(t, w.s, passwordAuth("bob", bobPassword, Scope{Unscoped: true}))
	c := authenticate(t, w.s, tokenAuth(own.Token, Scope{TrustID: tr.ID}))
	if c.Trust == nil || c.Trust.ID != tr.ID || !slices.Equal(c.Methods, []string{"password", "token"}) {
		t.Errorf("token-method trust token: trust %+v methods %v", c.Trust, c.Methods)
	}
	// Without redelegation, a trust-scoped token creates no trust.
	again := w.input()
	again.TrustorUserID = tok.User.ID // alice, impersonated
	_, err = w.s.CreateTrust(ctx, tok, again)
	wantErr(t, err, 403, "cannot be redelegated")
}

// TestTrustTokenInvalidation: each change ends the trust's tokens, as
// Keystone's revocation rules do, and (except where noted) refuses new ones.
func TestTrustTokenInvalidation(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change func(t *testing.T, w *trustWorld, tr Trust, clock *fakeClock) error
		substr string
		// again: a new token can be had afterwards (the trust survives).
		again bool
	}{
		{"trust deleted", func(t *testing.T, w *trustWorld, tr Trust, _ *fakeClock) error {
			return w.s.DeleteTrust(ctx, tr.ID)
		}, "was deleted", false},
		{"trustor loses the delegated role", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			return w.s.Revoke(ctx, w.memberOnDemo())
		}, "Trustee has no delegated roles", false},
		{"delegated role deleted", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			return w.s.DeleteRole(ctx, w.roles["reader"].ID) // alice keeps member, reader no longer exists
		}, "Trustee has no delegated roles", false},
		{"trustor disabled", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			_, err := w.s.UpdateUser(ctx, w.alice.User.ID, nil, func(u *store.User) error { u.Enabled = false; return nil })
			return err
		}, "", false},
		{"trustor's password changed", func(t *testing.T, w *trustWorld, _ Trust, clock *fakeClock) error {
			defer clock.advance(time.Second) // tokens issued later are not revoked
			pw := "new-secret"
			_, err := w.s.UpdateUser(ctx, w.alice.User.ID, &pw, func(*store.User) error { return nil })
			return err
		}, "revoked", true},
		{"trustor deleted", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			return w.s.DeleteUser(ctx, w.alice.User.ID)
		}, "", false},
		{"trustee disabled", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			_, err := w.s.UpdateUser(ctx, w.bob.ID, nil, func(u *store.User) error { u.Enabled = false; return nil })
			return err
		}, "", false},
		{"trustee deleted", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			return w.s.DeleteUser(ctx, w.bob.ID)
		}, "", false},
		{"project disabled", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			_, err := w.s.UpdateProject(ctx, w.demo.ID, func(p *store.Project) error { p.Enabled = false; return nil })
			return err
		}, "", false},
		{"project deleted", func(t *testing.T, w *trustWorld, _ Trust, _ *fakeClock) error {
			return w.s.DeleteProject(ctx, w.demo.ID)
		}, "", false},
		{"trust expired", func(t *testing.T, w *trustWorld, _ Trust, clock *fakeClock) error {
			clock.advance(2 * time.Hour)
			return nil
		}, "expired", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newTrustWorld(t, storetest.New(t))
			clock := useFakeClock(w.s)
			in := w.input()
			in.ExpiresAt = ptr(clock.now().Add(90 * time.Minute))
			in.Roles = []TrustRole{{Name: "member"}, {Name: "reader"}}
			tr := w.trust(t, in)
			tok := w.mustBobToken(t, tr.ID)
			valid(t, w.s, tok)
			if err := c.change(t, w, tr, clock); err != nil {
				t.Fatal(err)
			}
			invalid(t, w.s, tok, c.substr)
			if _, err := w.bobToken(tr.ID); (err == nil) != c.again {
				t.Errorf("new trust-scoped token after the change: %v, want possible=%v", err, c.again)
			}
		})
	}
}

// TestTrustRoleRegranted: a trust whose trustor lost a delegated role works
// again once the role is back (Keystone checks the roles at validation).
func TestTrustRoleRegranted(t *testing.T) {
	w := newTrustWorld(t, storetest.New(t))
	ctx := context.Background()
	tok := w.mustBobToken(t, w.trust(t, w.input()).ID)
	if err := w.s.Revoke(ctx, w.memberOnDemo()); err != nil {
		t.Fatal(err)
	}
	invalid(t, w.s, tok, "no delegated roles")
	if err := w.s.Grant(ctx, w.memberOnDemo()); err != nil {
		t.Fatal(err)
	}
	valid(t, w.s, tok)
}

func TestTrustRemainingUses(t *testing.T) {
	w := newTrustWorld(t, storetest.New(t))
	ctx := context.Background()
	in := w.input()
	in.RemainingUses = ptr(2)
	tr := w.trust(t, in)

	// A refused request takes no use.
	_, err := w.s.Authenticate(ctx, passwordAuth("alice", alicePassword, Scope{TrustID: tr.ID}))
	wantErr(t, err, 403, "not a trustee")
	if err := w.s.Revoke(ctx, w.memberOnDemo()); err != nil {
		t.Fatal(err)
	}
	_, err = w.bobToken(tr.ID)
	wantErr(t, err, 401, "no delegated roles")
	if err := w.s.Grant(ctx, w.memberOnDemo()); err != nil {
		t.Fatal(err)
	}

	first := w.mustBobToken(t, tr.ID)
	got, err := w.s.GetTrust(ctx, tr.ID)
	if err != nil || got.RemainingUses == nil || *got.RemainingUses != 1 {
		t.Fatalf("after one token: %+v, %v; want 1 use left", got.RemainingUses, err)
	}
	second := w.mustBobToken(t, tr.ID)
	_, err = w.bobToken(tr.ID)
	wantErr(t, err, 401, "No remaining uses")
	// Used up, the trust is hidden as in Keystone, but the tokens it
	// issued stay good while it exists, and its trustor can delete it.
	_, err = w.s.GetTrust(ctx, tr.ID)
	wantErr(t, err, 404, "Could not find trust")
	valid(t, w.s, first)
	valid(t, w.s, second)
	if err := w.s.DeleteTrust(ctx, tr.ID); err != nil {
		t.Fatal(err)
	}
	invalid(t, w.s, second, "deleted")
}

// TestTrustRemainingUsesRace issues tokens for one limited trust from many
// goroutines at once: exactly remaining_uses of them get a token.
func TestTrustRemainingUsesRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newTrustWorld(t, db)
		const uses, callers = 7, 40
		in := w.input()
		in.RemainingUses = ptr(uses)
		tr := w.trust(t, in)
		// Tokens of bob's own, so racing requests skip bcrypt and meet at
		// the use counter.
		own := authenticate(t, w.s, passwordAuth("bob", bobPassword, Scope{Unscoped: true}))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var issued, refused int
		start := make(chan struct{})
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := w.s.Authenticate(context.Background(), tokenAuth(own.Token, Scope{TrustID: tr.ID}))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					issued++
				default:
					refused++
					wantErr(t, err, 401, "")
				}
			}()
		}
		close(start)
		wg.Wait()
		if issued != uses || refused != callers-uses {
			t.Fatalf("%d tokens issued and %d refused; want %d and %d", issued, refused, uses, callers-uses)
		}
		st, err := w.s.FindTrust(context.Background(), tr.ID)
		if err != nil || st.RemainingUses == nil || *st.RemainingUses != 0 {
			t.Fatalf("remaining uses after the race: %v, %v; want 0", st.RemainingUses, err)
		}
	})
}

func TestTrustRedelegation(t *testing.T) {
	w := newTrustWorld(t, storetest.New(t))
	ctx := context.Background()
	pw := "carol-secret"
	carol, err := w.s.CreateUser(ctx, store.User{Name: "carol", Enabled: true}, &pw)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	in := w.input()
	in.AllowRedelegation, in.ExpiresAt = true, &exp
	in.Roles = []TrustRole{{Name: "member"}, {Name: "reader"}}
	root := w.trust(t, in)
	if root.RedelegationCount != MaxRedelegationCount {
		t.Fatalf("redelegation_count %d, want the maximum %d", root.RedelegationCount, MaxRedelegationCount)
	}
	bobTok := w.mustBobToken(t, root.ID) // acts as alice (impersonation)

	child := TrustInput{TrustorUserID: w.alice.User.ID, TrusteeUserID: carol.ID, ProjectID: w.demo.ID,
		Impersonation: true, AllowRedelegation: true, Roles: []TrustRole{{Name: "reader"}}}
	for _, c := range []struct {
		name   string
		change func(in *TrustInput)
		status int
		substr string
	}{
		{"longer than the parent", func(in *TrustInput) { in.ExpiresAt = ptr(exp.Add(time.Minute)) }, 403, "more than redelegated trust can provide"},
		{"a role the parent lacks", func(in *TrustInput) { in.Roles = []TrustRole{{Name: "admin"}} }, 404, "holds no such role"},
		{"another redelegation count", func(in *TrustInput) { in.RedelegationCount = ptr(1) }, 403, "Modifying \"redelegation_count\""},
		{"uses on a redelegated trust", func(in *TrustInput) { in.AllowRedelegation, in.RemainingUses = false, ptr(1) }, 403, "remaining_uses"},
		{"another project", func(in *TrustInput) {
			other, err := w.s.CreateProject(ctx, store.Project{Name: "elsewhere", Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.s.Grant(ctx, store.Assignment{ActorType: store.ActorUser, ActorID: w.alice.User.ID, TargetType: store.TargetProject, TargetID: other.ID, RoleID: w.roles["reader"].ID}); err != nil {
				t.Fatal(err)
			}
			in.ProjectID = other.ID
		}, 403, "stays on the project"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := child
			c.change(&in)
			_, err := w.s.CreateTrust(ctx, bobTok, in)
			wantErr(t, err, c.status, c.substr)
		})
	}

	mid, err := w.s.CreateTrust(ctx, bobTok, child)
	if err != nil {
		t.Fatal(err)
	}
	if mid.RedelegatedTrustID != root.ID || mid.RedelegationCount != MaxRedelegationCount-1 || mid.ExpiresAt == nil || !mid.ExpiresAt.Equal(exp) {
		t.Fatalf("redelegated trust: %+v; want parent %s, count %d, the parent's expiry", mid.Trust, root.ID, MaxRedelegationCount-1)
	}
	carolTok, err := w.s.Authenticate(ctx, passwordAuth("carol", pw, Scope{TrustID: mid.ID}))
	if err != nil {
		t.Fatal(err)
	}
	if carolTok.User.ID != w.alice.User.ID || !slices.Equal(roleNames(carolTok), []string{"reader"}) {
		t.Errorf("carol's token: user %s roles %v; want alice with reader", carolTok.User.Name, roleNames(carolTok))
	}
	// The end of the chain: a terminator (no further redelegation).
	term := TrustInput{TrustorUserID: w.alice.User.ID, TrusteeUserID: w.bob.ID, ProjectID: w.demo.ID,
		Impersonation: false, Roles: []TrustRole{{Name: "reader"}}}
	last, err := w.s.CreateTrust(ctx, carolTok, term)
	if err != nil {
		t.Fatal(err)
	}
	if last.RedelegationCount != 0 || last.RedelegatedTrustID != mid.ID {
		t.Fatalf("terminator: %+v", last.Trust)
	}
	lastTok := w.mustBobToken(t, last.ID)
	if lastTok.User.ID != w.bob.ID {
		t.Errorf("a trust without impersonation gives the trustee's token, got %s", lastTok.User.Name)
	}
	_, err = w.s.CreateTrust(ctx, lastTok, TrustInput{TrustorUserID: w.bob.ID, TrusteeUserID: carol.ID, ProjectID: w.demo.ID, Roles: []TrustRole{{Name: "reader"}}})
	wantErr(t, err, 404, "holds no such role") // bob, trustor now, has no role himself

	// Disabling a user in the middle of the chain ends the trusts below.
	if _, err := w.s.UpdateUser(ctx, carol.ID, nil, func(u *store.User) error { u.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	invalid(t, w.s, lastTok, "trust agents")
	if _, err := w.s.UpdateUser(ctx, carol.ID, nil, func(u *store.User) error { u.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	valid(t, w.s, lastTok)
	// Deleting the first trust deletes every trust redelegated from it.
	if err := w.s.DeleteTrust(ctx, root.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{mid.ID, last.ID} {
		_, err := w.s.FindTrust(ctx, id)
		wantErr(t, err, 404, "Could not find trust")
	}
	invalid(t, w.s, carolTok, "") // revoked already: carol was disabled
	invalid(t, w.s, lastTok, "deleted")
}

func TestApplyRedelegation(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	parent := store.Trust{ID: "p", ProjectID: "proj", Impersonation: true, RedelegationCount: 2, RoleIDs: []string{"r1", "r2"}, ExpiresAt: &exp}
	for _, c := range []struct {
		name      string
		in        TrustInput
		chain     []store.Trust
		wantCount int
		wantErr   int
	}{
		{"plain", TrustInput{}, nil, 0, 0},
		{"allowed, default depth", TrustInput{AllowRedelegation: true}, nil, MaxRedelegationCount, 0},
		{"allowed, depth 0 means not", TrustInput{AllowRedelegation: true, RedelegationCount: ptr(0)}, nil, 0, 0},
		{"count without allow is ignored", TrustInput{RedelegationCount: ptr(2)}, nil, 0, 0},
		{"allowed, depth 1", TrustInput{AllowRedelegation: true, RedelegationCount: ptr(1)}, nil, 1, 0},
		{"redelegation takes one from the parent", TrustInput{AllowRedelegation: true}, []store.Trust{parent}, 1, 0},
		{"terminator", TrustInput{}, []store.Trust{parent}, 0, 0},
		{"parent exhausted", TrustInput{}, []store.Trust{{ID: "p", ProjectID: "proj", RedelegationCount: 0}}, 0, 403},
		{"escalating impersonation", TrustInput{Impersonation: true}, []store.Trust{{ID: "p", ProjectID: "proj", RedelegationCount: 1}}, 0, 403},
		{"a grandparent exhausted", TrustInput{}, []store.Trust{parent, {ID: "g", ProjectID: "proj", RedelegationCount: 0, RoleIDs: []string{"r1"}}}, 0, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := store.Trust{ProjectID: "proj", Impersonation: c.in.Impersonation, RoleIDs: []string{"r1"}}
			err := applyRedelegation(&tr, c.in, c.chain)
			if c.wantErr != 0 {
				wantErr(t, err, c.wantErr, "")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tr.RedelegationCount != c.wantCount {
				t.Errorf("redelegation_count %d, want %d", tr.RedelegationCount, c.wantCount)
			}
			if len(c.chain) > 0 && (tr.RedelegatedTrustID != c.chain[0].ID || tr.ExpiresAt != c.chain[0].ExpiresAt) {
				t.Errorf("redelegated from %q expiring %v; want the parent's id and expiry", tr.RedelegatedTrustID, tr.ExpiresAt)
			}
		})
	}
}

// TestTrustCredentials: the in-process helper later services use.
func TestTrustCredentials(t *testing.T) {
	w := newTrustWorld(t, storetest.New(t))
	ctx := context.Background()
	in := w.input()
	in.RemainingUses = ptr(1)
	tr := w.trust(t, in)
	_, err := w.s.TrustCredentials(ctx, tr.ID, w.alice.User.ID)
	wantErr(t, err, 403, "not a trustee")
	c, err := w.s.TrustCredentials(ctx, tr.ID, w.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	v := valid(t, w.s, c)
	if v.User.ID != w.alice.User.ID || v.Trust == nil || v.ProjectID() != w.demo.ID || !v.HasRole("member") {
		t.Errorf("credentials: user %s trust %+v project %s roles %v", v.User.Name, v.Trust, v.ProjectID(), roleNames(v))
	}
	_, err = w.s.TrustCredentials(ctx, tr.ID, w.bob.ID)
	wantErr(t, err, 401, "No remaining uses")
}

// TestTrustDeletedOnOtherController: a trust deleted through one
// controller ends its tokens on another, through the identity epoch.
func TestTrustDeletedOnOtherController(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db1, db2 := openTwice(t, backend)
			keyDir := t.TempDir()
			ring := func() *KeyRing {
				k, err := LoadKeyRing(keyDir, testKeep)
				if err != nil {
					t.Fatal(err)
				}
				return k
			}
			cfg := Config{HashCost: 4, EpochCheck: time.Millisecond}
			s1 := New(db1, ring(), slog.New(slog.DiscardHandler), cfg)
			s2 := New(db2, ring(), slog.New(slog.DiscardHandler), cfg)
			w := &trustWorld{world: worldOn(t, s1)}
			pw := bobPassword
			var err error
			if w.bob, err = s1.CreateUser(ctx, store.User{Name: "bob", Enabled: true}, &pw); err != nil {
				t.Fatal(err)
			}
			w.alice = w.alice_(t, Scope{ProjectID: w.demo.ID})
			tr := w.trust(t, w.input())
			tok := w.mustBobToken(t, tr.ID)
			valid(t, s2, tok) // cached on s2
			if err := s1.DeleteTrust(ctx, tr.ID); err != nil {
				t.Fatal(err)
			}
			// EpochCheck is 1 ms: s2 looks at the epoch again on a later call.
			deadline := time.Now().Add(5 * time.Second)
			for {
				if _, err := s2.Validate(ctx, tok.Token); err != nil {
					wantErr(t, err, 401, "deleted")
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("the other controller still accepts the token of a deleted trust")
				}
				timer := time.NewTimer(time.Millisecond)
				<-timer.C
			}
		})
	}
}
