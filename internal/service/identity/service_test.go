package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

const (
	adminPassword = "admin-secret"
	alicePassword = "alice-secret"
)

// testKeep is how many token keys test key rings keep: staged, primary and
// one secondary.
const testKeep = 3

// newService returns an identity service over db with its own key ring and
// a fast bcrypt cost.
func newService(t testing.TB, db *store.DB, cfg Config) *Service {
	t.Helper()
	keys, err := LoadKeyRing(t.TempDir(), testKeep)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HashCost == 0 {
		cfg.HashCost = 4
	}
	return New(db, keys, slog.New(slog.DiscardHandler), cfg)
}

func bootstrapReq(password string) Bootstrap {
	return Bootstrap{
		AdminUser: "admin", AdminProject: "admin", AdminPassword: password, Region: "RegionOne",
		Endpoints: []Endpoint{{Type: "identity", Name: "keystone", URL: "http://127.0.0.1:8000/identity"}},
	}
}

// world is a bootstrapped cloud with a project "demo" and a user alice who
// is a member of it (and has it as her default project).
type world struct {
	s     *Service
	demo  store.Project
	alice store.User
	roles map[string]store.Role // admin, member, reader
}

func newWorld(t testing.TB, db *store.DB, cfg Config) *world {
	t.Helper()
	return worldOn(t, newService(t, db, cfg))
}

func worldOn(t testing.TB, s *Service) *world {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Bootstrap(ctx, bootstrapReq(adminPassword)); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	w := &world{s: s, roles: map[string]store.Role{}}
	for _, name := range []string{"admin", "member", "reader"} {
		rs, err := s.ListRoles(ctx, RoleFilter{Name: name})
		if err != nil || len(rs) != 1 {
			t.Fatalf("role %s: %v, %v", name, rs, err)
		}
		w.roles[name] = rs[0]
	}
	var err error
	if w.demo, err = s.CreateProject(ctx, store.Project{Name: "demo", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	pw := alicePassword
	if w.alice, err = s.CreateUser(ctx, store.User{Name: "alice", Enabled: true, DefaultProjectID: w.demo.ID}, &pw); err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(ctx, w.memberOnDemo()); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) memberOnDemo() store.Assignment {
	return store.Assignment{ActorType: store.ActorUser, ActorID: w.alice.ID, TargetType: store.TargetProject, TargetID: w.demo.ID, RoleID: w.roles["member"].ID}
}

// passwordAuth is a password request for a user of the Default domain.
func passwordAuth(user, password string, sc Scope) AuthRequest {
	return AuthRequest{Methods: []string{"password"}, User: UserSelector{Name: user, DomainName: "Default"}, Password: password, Scope: sc}
}

func tokenAuth(token string, sc Scope) AuthRequest {
	return AuthRequest{Methods: []string{"token"}, Token: token, Scope: sc}
}

func authenticate(t testing.TB, s *Service, req AuthRequest) *auth.Credentials {
	t.Helper()
	c, err := s.Authenticate(context.Background(), req)
	if err != nil {
		t.Fatalf("authenticate %v: %v", req.Methods, err)
	}
	return c
}

// alice returns a token for alice, scoped as sc.
func (w *world) alice_(t testing.TB, sc Scope) *auth.Credentials {
	t.Helper()
	return authenticate(t, w.s, passwordAuth("alice", alicePassword, sc))
}

// wantErr checks that err is an *oserr.Error of the status whose message
// contains substr.
func wantErr(t testing.TB, err error, status int, substr string) {
	t.Helper()
	var e *oserr.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v, want an *oserr.Error with status %d", err, status)
	}
	if e.Status != status || !strings.Contains(e.Message, substr) {
		t.Fatalf("got %d %q, want %d containing %q", e.Status, e.Message, status, substr)
	}
}

func valid(t testing.TB, s *Service, c *auth.Credentials) *auth.Credentials {
	t.Helper()
	v, err := s.Validate(context.Background(), c.Token)
	if err != nil {
		t.Fatalf("token of %s no longer validates: %v", c.User.Name, err)
	}
	return v
}

func invalid(t testing.TB, s *Service, c *auth.Credentials, substr string) {
	t.Helper()
	_, err := s.Validate(context.Background(), c.Token)
	wantErr(t, err, 401, substr)
}

func roleNames(c *auth.Credentials) []string {
	var out []string
	for _, r := range c.Roles {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// fakeClock replaces s.now; set it before the service is used concurrently.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func useFakeClock(s *Service) *fakeClock     { c := &fakeClock{t: time.Now()}; s.now = c.now; return c }
func tokenRoles(c *auth.Credentials) []store.Role {
	out := make([]store.Role, len(c.Roles))
	for i, r := range c.Roles {
		out[i] = store.Role{ID: r.ID, Name: r.Name}
	}
	return out
}

func TestBootstrapIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, Config{})
		for i, c := range []struct {
			password    string
			wantCreated bool
		}{
			{adminPassword, true},
			{adminPassword, false},
			{"", false}, // later starts need no password
		} {
			created, err := s.Bootstrap(ctx, bootstrapReq(c.password))
			if err != nil || created != c.wantCreated {
				t.Fatalf("bootstrap #%d = %v, %v; want created=%v", i+1, created, err, c.wantCreated)
			}
		}
		count := func(name string, n int, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{"domains": 1, "roles": 3, "projects": 1, "users": 1, "services": 1, "endpoints": 3, "implications": 2, "regions": 1}[name]
			if n != want {
				t.Errorf("after three bootstraps: %d %s, want %d", n, name, want)
			}
		}
		ds, err := s.ListDomains(ctx, DomainFilter{})
		count("domains", len(ds), err)
		rs, err := s.ListRoles(ctx, RoleFilter{})
		count("roles", len(rs), err)
		ps, err := s.ListProjects(ctx, ProjectFilter{})
		count("projects", len(ps), err)
		us, err := s.ListUsers(ctx, UserFilter{})
		count("users", len(us), err)
		svs, err := s.ListServices(ctx, "", "")
		count("services", len(svs), err)
		eps, err := s.ListEndpoints(ctx, EndpointFilter{})
		count("endpoints", len(eps), err)
		inf, err := s.ListImplied(ctx, "")
		n := 0
		for _, i := range inf {
			n += len(i.Implies)
		}
		count("implications", n, err)
		regs, err := s.ListRegions(ctx, "")
		count("regions", len(regs), err)

		if _, err := newService(t, db, Config{}).Bootstrap(ctx, Bootstrap{AdminUser: "root", AdminProject: "admin", Region: "RegionOne"}); err == nil {
			t.Error("bootstrap creating a new admin without a password succeeded, want an error")
		}
	})
}

func TestAdminToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := newService(t, db, Config{})
		if _, err := s.Bootstrap(context.Background(), bootstrapReq(adminPassword)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			sel  UserSelector
		}{
			{"by name and domain name", UserSelector{Name: "admin", DomainName: "Default"}},
			{"by name and domain id", UserSelector{Name: "admin", DomainID: DefaultDomainID}},
		} {
			t.Run(c.name, func(t *testing.T) {
				tok := authenticate(t, s, AuthRequest{Methods: []string{"password"}, User: c.sel, Password: adminPassword})
				if tok.Project == nil || tok.Project.Name != "admin" {
					t.Fatalf("token project = %v, want the admin project (the user's default)", tok.Project)
				}
				if diff := cmp.Diff([]string{"admin", "member", "reader"}, roleNames(tok)); diff != "" {
					t.Errorf("roles (-want +got):\n%s", diff)
				}
				if !tok.IsAdminProject || !tok.IsAdmin() {
					t.Errorf("IsAdminProject = %v, IsAdmin = %v; want both", tok.IsAdminProject, tok.IsAdmin())
				}
				if diff := cmp.Diff([]string{"password"}, tok.Methods); diff != "" {
					t.Errorf("methods (-want +got):\n%s", diff)
				}
				if got := tok.Expires.Sub(tok.IssuedAt); got != time.Hour {
					t.Errorf("token lifetime = %v, want the default 1h", got)
				}
				if len(tok.AuditIDs) != 1 || len(tok.AuditIDs[0]) != 22 {
					t.Errorf("audit ids = %q, want one 22-character id", tok.AuditIDs)
				}
				v := valid(t, s, tok)
				if diff := cmp.Diff(tok, v); diff != "" {
					t.Errorf("validated token differs from the issued one (-issued +validated):\n%s", diff)
				}
			})
		}
		t.Run("system scope", func(t *testing.T) {
			tok := authenticate(t, s, passwordAuth("admin", adminPassword, Scope{System: true}))
			if !tok.System || !tok.IsAdmin() {
				t.Errorf("system token: System = %v, roles %v; want system-scoped admin", tok.System, roleNames(tok))
			}
		})
	})
}

// TestBadCredentialsLookAlike checks that a client cannot tell a wrong
// password from a user that does not exist.
func TestBadCredentialsLookAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, Config{})
		var messages []string
		for _, c := range []struct {
			name string
			req  AuthRequest
		}{
			{"wrong password", passwordAuth("alice", "wrong", Scope{})},
			{"empty password", passwordAuth("alice", "", Scope{})},
			{"unknown user", passwordAuth("mallory", alicePassword, Scope{})},
			{"unknown domain", AuthRequest{Methods: []string{"password"}, User: UserSelector{Name: "alice", DomainName: "Nowhere"}, Password: alicePassword}},
			{"unknown user id", AuthRequest{Methods: []string{"password"}, User: UserSelector{ID: "0123456789abcdef0123456789abcdef"}, Password: alicePassword}},
			{"unknown app cred", AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{ID: "nope", Secret: "x"}}},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := w.s.Authenticate(context.Background(), c.req)
				wantErr(t, err, 401, "")
				messages = append(messages, oserr.From(err).Message)
			})
		}
		for _, m := range messages[1:] {
			if m != messages[0] {
				t.Errorf("401 messages differ, so they tell which part was wrong:\n%q\n%q", messages[0], m)
			}
		}
		// Refusals that are not about guessing do say why.
		_, err := w.s.UpdateUser(context.Background(), w.alice.ID, nil, func(u *store.User) error { u.Enabled = false; return nil })
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.s.Authenticate(context.Background(), passwordAuth("alice", alicePassword, Scope{}))
		wantErr(t, err, 401, "disabled")
	})
}

// TestTokenInvalidation checks each change that must end an existing token.
func TestTokenInvalidation(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, w *world, tok *auth.Credentials) error
		// substr is in the 401 message of the old token.
		substr string
		// after checks what still works, e.g. a new password.
		after func(t *testing.T, w *world)
	}{
		{
			name: "token revoked",
			change: func(t *testing.T, w *world, tok *auth.Credentials) error {
				return w.s.RevokeToken(context.Background(), tok)
			},
			substr: "revoked",
			after:  func(t *testing.T, w *world) { valid(t, w.s, w.alice_(t, Scope{})) },
		},
		{
			name: "user disabled",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				_, err := w.s.UpdateUser(context.Background(), w.alice.ID, nil, func(u *store.User) error { u.Enabled = false; return nil })
				return err
			},
			substr: "revoked",
		},
		{
			name: "password changed by an admin",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				pw := "new-secret"
				_, err := w.s.UpdateUser(context.Background(), w.alice.ID, &pw, func(*store.User) error { return nil })
				return err
			},
			substr: "revoked",
			after: func(t *testing.T, w *world) {
				_, err := w.s.Authenticate(context.Background(), passwordAuth("alice", alicePassword, Scope{}))
				wantErr(t, err, 401, "do not match")
				valid(t, w.s, authenticate(t, w.s, passwordAuth("alice", "new-secret", Scope{})))
			},
		},
		{
			name: "password changed by the user",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				return w.s.ChangePassword(context.Background(), w.alice.ID, alicePassword, "new-secret")
			},
			substr: "revoked",
			after: func(t *testing.T, w *world) {
				valid(t, w.s, authenticate(t, w.s, passwordAuth("alice", "new-secret", Scope{})))
			},
		},
		{
			name: "user deleted",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				return w.s.DeleteUser(context.Background(), w.alice.ID)
			},
			substr: "revoked",
		},
		{
			name: "project deleted",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				return w.s.DeleteProject(context.Background(), w.demo.ID)
			},
			substr: "revoked",
			// Without her default project alice still gets an unscoped token.
			after: func(t *testing.T, w *world) {
				if c := w.alice_(t, Scope{}); c.Project != nil {
					t.Errorf("token after the default project was deleted is scoped to %v, want unscoped", c.Project)
				}
			},
		},
		{
			name: "project disabled",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				_, err := w.s.UpdateProject(context.Background(), w.demo.ID, func(p *store.Project) error { p.Enabled = false; return nil })
				return err
			},
			substr: "revoked",
		},
		{
			name: "role assignment removed",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				return w.s.Revoke(context.Background(), w.memberOnDemo())
			},
			substr: "no role",
		},
		{
			name: "user's domain disabled",
			change: func(t *testing.T, w *world, _ *auth.Credentials) error {
				_, err := w.s.UpdateDomain(context.Background(), DefaultDomainID, func(d *store.Domain) error { d.Enabled = false; return nil })
				return err
			},
			substr: "disabled",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				w := newWorld(t, db, Config{})
				tok := w.alice_(t, Scope{})
				if tok.ProjectID() != w.demo.ID {
					t.Fatalf("alice's token is scoped to %v, want her default project demo", tok.Project)
				}
				if diff := cmp.Diff([]string{"member", "reader"}, roleNames(tok)); diff != "" {
					t.Errorf("alice's roles (-want +got):\n%s", diff)
				}
				valid(t, w.s, tok)
				if err := c.change(t, w, tok); err != nil {
					t.Fatal(err)
				}
				invalid(t, w.s, tok, c.substr)
				if c.after != nil {
					c.after(t, w)
				}
			})
		})
	}
}

// TestRoleRemovalKeepsUnscopedToken: losing the role on a project ends the
// project token but not the user's unscoped token, which carries no roles.
func TestRoleRemovalKeepsUnscopedToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, Config{})
		projTok := w.alice_(t, Scope{ProjectID: w.demo.ID})
		unscoped := w.alice_(t, Scope{Unscoped: true})
		if unscoped.Project != nil || len(unscoped.Roles) != 0 {
			t.Fatalf("unscoped token has project %v and roles %v, want neither", unscoped.Project, unscoped.Roles)
		}
		if err := w.s.Revoke(context.Background(), w.memberOnDemo()); err != nil {
			t.Fatal(err)
		}
		invalid(t, w.s, projTok, "no role")
		valid(t, w.s, unscoped)
		// Nor can she scope to it any more.
		_, err := w.s.Authenticate(context.Background(), tokenAuth(unscoped.Token, Scope{ProjectID: w.demo.ID}))
		wantErr(t, err, 401, "no role")
	})
}

func TestGroupRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, Config{})
		ops, err := w.s.CreateProject(ctx, store.Project{Name: "ops", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.s.Authenticate(ctx, passwordAuth("alice", alicePassword, Scope{ProjectID: ops.ID}))
		wantErr(t, err, 401, "no role")

		g, err := w.s.CreateGroup(ctx, store.Group{Name: "operators"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.s.Grant(ctx, store.Assignment{ActorType: store.ActorGroup, ActorID: g.ID, TargetType: store.TargetProject, TargetID: ops.ID, RoleID: w.roles["reader"].ID}); err != nil {
			t.Fatal(err)
		}
		if err := w.s.AddGroupMember(ctx, g.ID, w.alice.ID); err != nil {
			t.Fatal(err)
		}
		tok := w.alice_(t, Scope{ProjectName: "ops", ProjectDomainName: "Default"})
		if tok.ProjectID() != ops.ID {
			t.Fatalf("token scoped to %v, want ops", tok.Project)
		}
		if diff := cmp.Diff([]string{"reader"}, roleNames(tok)); diff != "" {
			t.Errorf("roles through the group (-want +got):\n%s", diff)
		}
		// A role granted to the group later shows up in the existing token.
		if err := w.s.Grant(ctx, store.Assignment{ActorType: store.ActorGroup, ActorID: g.ID, TargetType: store.TargetProject, TargetID: ops.ID, RoleID: w.roles["member"].ID}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"member", "reader"}, roleNames(valid(t, w.s, tok))); diff != "" {
			t.Errorf("roles after a second group grant (-want +got):\n%s", diff)
		}
		if err := w.s.RemoveGroupMember(ctx, g.ID, w.alice.ID); err != nil {
			t.Fatal(err)
		}
		invalid(t, w.s, tok, "no role")
	})
}

func TestExpiredToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, Config{TokenTTL: 10 * time.Minute})
		clock := useFakeClock(w.s)
		tok := w.alice_(t, Scope{})
		if got := tok.Expires.Sub(tok.IssuedAt); got != 10*time.Minute {
			t.Fatalf("lifetime = %v, want the configured 10m", got)
		}
		clock.advance(10*time.Minute - time.Microsecond)
		valid(t, w.s, tok)
		clock.advance(time.Microsecond)
		invalid(t, w.s, tok, "expired")
		clock.advance(24 * time.Hour)
		invalid(t, w.s, tok, "expired")
		// Nor can an expired token be exchanged for a new one.
		_, err := w.s.Authenticate(context.Background(), tokenAuth(tok.Token, Scope{}))
		wantErr(t, err, 401, "expired")
	})
}

// TestForeignAndDamagedTokens: only tokens this cloud signed validate.
func TestForeignAndDamagedTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, Config{})
		tok := w.alice_(t, Scope{})
		// Another cloud over the same data but with its own keys.
		other := newService(t, db, Config{})
		foreign := authenticate(t, other, passwordAuth("alice", alicePassword, Scope{}))

		flip := []byte(tok.Token)
		flip[len(flip)/2] ^= 1
		for name, token := range map[string]string{
			"signed with an unknown key": foreign.Token,
			"empty":                      "",
			"garbage":                    "not-a-token",
			"one bit flipped":            string(flip),
			"truncated":                  tok.Token[:len(tok.Token)-4],
			"extended":                   tok.Token + "AAAA",
			"huge":                       strings.Repeat("gAAAAA", 1000),
		} {
			t.Run(name, func(t *testing.T) {
				_, err := w.s.Validate(context.Background(), token)
				wantErr(t, err, 401, "invalid")
			})
		}
		valid(t, w.s, tok)
		valid(t, other, foreign)
	})
}

func TestKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, Config{})
		old := w.alice_(t, Scope{})
		if err := w.s.Keys().Rotate(); err != nil {
			t.Fatal(err)
		}
		valid(t, w.s, old) // signed with what is now a secondary key
		newer := w.alice_(t, Scope{})
		valid(t, w.s, newer)
		// Rotations past the keep limit drop the key old was signed with.
		for range testKeep - 2 {
			if err := w.s.Keys().Rotate(); err != nil {
				t.Fatal(err)
			}
		}
		invalid(t, w.s, old, "invalid")
		valid(t, w.s, newer)
	})
}

// TestStagedKey: a controller that has not reloaded its keys yet still
// validates tokens signed by one that rotated, because the new primary was
// its staged key.
func TestStagedKey(t *testing.T) {
	db := storetest.New(t)
	dir := t.TempDir()
	ring := func() *KeyRing {
		k, err := LoadKeyRing(dir, testKeep)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a := New(db, ring(), slog.New(slog.DiscardHandler), Config{HashCost: 4})
	b := New(db, ring(), slog.New(slog.DiscardHandler), Config{HashCost: 4})
	w := worldOn(t, a)
	if err := a.Keys().Rotate(); err != nil {
		t.Fatal(err)
	}
	tok := w.alice_(t, Scope{})
	valid(t, b, tok)
}

func TestAppCreds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, Config{})
		clock := useFakeClock(w.s)
		owner := w.alice_(t, Scope{})

		_, _, err := w.s.CreateAppCred(ctx, w.alice.ID, w.demo.ID, tokenRoles(owner), AppCredInput{Name: "greedy", RoleNames: []string{"admin"}})
		wantErr(t, err, 403, "admin")

		ac, secret, err := w.s.CreateAppCred(ctx, w.alice.ID, w.demo.ID, tokenRoles(owner), AppCredInput{Name: "ci", RoleNames: []string{"reader"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{w.roles["reader"].ID}, ac.RoleIDs); diff != "" {
			t.Errorf("delegated roles (-want +got):\n%s", diff)
		}
		if ac.Unrestricted {
			t.Error("a credential is unrestricted unless asked for")
		}
		_, _, err = w.s.CreateAppCred(ctx, w.alice.ID, w.demo.ID, tokenRoles(owner), AppCredInput{Name: "ci"})
		wantErr(t, err, 409, "ci")

		byID := AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{ID: ac.ID, Secret: secret}}
		byName := AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{Name: "ci", Secret: secret, User: UserSelector{Name: "alice", DomainID: DefaultDomainID}}}
		var toks []*auth.Credentials
		for _, req := range []AuthRequest{byID, byName} {
			tok := authenticate(t, w.s, req)
			if tok.ProjectID() != w.demo.ID {
				t.Errorf("app cred token scoped to %v, want demo", tok.Project)
			}
			if diff := cmp.Diff([]string{"reader"}, roleNames(tok)); diff != "" {
				t.Errorf("app cred token roles (-want +got):\n%s", diff)
			}
			if tok.AppCred == nil || tok.AppCred.ID != ac.ID || tok.User.ID != w.alice.ID {
				t.Errorf("app cred token: AppCred %+v, user %s; want credential %s of alice", tok.AppCred, tok.User.ID, ac.ID)
			}
			if diff := cmp.Diff([]string{"application_credential"}, tok.Methods); diff != "" {
				t.Errorf("methods (-want +got):\n%s", diff)
			}
			toks = append(toks, valid(t, w.s, tok))
		}

		wrong := byID
		wrong.AppCred = &AppCredAuth{ID: ac.ID, Secret: "guess"}
		_, err = w.s.Authenticate(ctx, wrong)
		wantErr(t, err, 401, "do not match")

		withScope := byID
		withScope.Scope = Scope{ProjectID: w.demo.ID}
		_, err = w.s.Authenticate(ctx, withScope)
		wantErr(t, err, 401, "already scoped")

		// A restricted credential's token cannot be exchanged for another scope.
		for _, sc := range []Scope{{}, {ProjectID: w.demo.ID}, {Unscoped: true}} {
			_, err = w.s.Authenticate(ctx, tokenAuth(toks[0].Token, sc))
			wantErr(t, err, 403, "cannot be rescoped")
		}

		// Its tokens never outlive the credential.
		clock.advance(time.Minute)
		exp := clock.now().Add(10 * time.Minute).Truncate(time.Microsecond)
		short, shortSecret, err := w.s.CreateAppCred(ctx, w.alice.ID, w.demo.ID, tokenRoles(owner), AppCredInput{Name: "short", ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		st := authenticate(t, w.s, AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{ID: short.ID, Secret: shortSecret}})
		if !st.Expires.Equal(exp) {
			t.Errorf("token of a credential expiring at %v expires at %v", exp, st.Expires)
		}
		if diff := cmp.Diff([]string{"member", "reader"}, roleNames(st)); diff != "" {
			t.Errorf("credential without a role list delegates the token's roles (-want +got):\n%s", diff)
		}
		clock.advance(10 * time.Minute)
		_, err = w.s.Authenticate(ctx, AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{ID: short.ID, Secret: shortSecret}})
		wantErr(t, err, 401, "expired")

		// Deleting the credential ends its tokens and its use.
		if err := w.s.DeleteAppCred(ctx, w.alice.ID, ac.ID); err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			invalid(t, w.s, tok, "")
		}
		_, err = w.s.Authenticate(ctx, byID)
		wantErr(t, err, 401, "do not match")
		valid(t, w.s, owner)
	})
}

// TestAppCredFollowsOwnerRoles: a credential delegates roles the user holds;
// when the user loses them, so do the credential's tokens.
func TestAppCredFollowsOwnerRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, Config{})
		owner := w.alice_(t, Scope{})
		ac, secret, err := w.s.CreateAppCred(ctx, w.alice.ID, w.demo.ID, tokenRoles(owner), AppCredInput{Name: "ci", RoleNames: []string{"reader"}})
		if err != nil {
			t.Fatal(err)
		}
		tok := authenticate(t, w.s, AuthRequest{Methods: []string{"application_credential"}, AppCred: &AppCredAuth{ID: ac.ID, Secret: secret}})
		if err := w.s.Revoke(ctx, w.memberOnDemo()); err != nil {
			t.Fatal(err)
		}
		invalid(t, w.s, tok, "no role")
	})
}

func TestRescope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, Config{})
		clock := useFakeClock(w.s)
		unscoped := w.alice_(t, Scope{Unscoped: true})
		clock.advance(10 * time.Minute)

		scoped := authenticate(t, w.s, tokenAuth(unscoped.Token, Scope{ProjectName: "demo", ProjectDomainID: DefaultDomainID}))
		if scoped.ProjectID() != w.demo.ID {
			t.Fatalf("rescoped token is scoped to %v, want demo", scoped.Project)
		}
		if !scoped.Expires.Equal(unscoped.Expires) {
			t.Errorf("rescoped token expires at %v, want its parent's %v", scoped.Expires, unscoped.Expires)
		}
		if !scoped.IssuedAt.After(unscoped.IssuedAt) {
			t.Errorf("rescoped token issued at %v, not after its parent (%v)", scoped.IssuedAt, unscoped.IssuedAt)
		}
		if len(scoped.AuditIDs) != 2 || scoped.AuditIDs[1] != unscoped.AuditIDs[0] || scoped.AuditIDs[0] == unscoped.AuditIDs[0] {
			t.Errorf("audit ids = %q, want a new id then the parent's %q", scoped.AuditIDs, unscoped.AuditIDs[0])
		}
		if diff := cmp.Diff([]string{"password", "token"}, scoped.Methods); diff != "" {
			t.Errorf("methods (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"member", "reader"}, roleNames(scoped)); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}

		// Without a scope the copy keeps the parent's scope.
		again := authenticate(t, w.s, tokenAuth(scoped.Token, Scope{}))
		if again.ProjectID() != w.demo.ID || !again.Expires.Equal(unscoped.Expires) {
			t.Errorf("token copied without scope: project %v, expires %v; want demo and %v", again.Project, again.Expires, unscoped.Expires)
		}

		// To a project without a role: refused.
		admin, err := w.s.ListProjects(ctx, ProjectFilter{Name: "admin"})
		if err != nil || len(admin) != 1 {
			t.Fatal(admin, err)
		}
		_, err = w.s.Authenticate(ctx, tokenAuth(unscoped.Token, Scope{ProjectID: admin[0].ID}))
		wantErr(t, err, 401, "no role")

		// Revoking the original token ends every token derived from it,
		// however many times it was rescoped (Keystone's audit chain).
		if err := w.s.RevokeToken(ctx, unscoped); err != nil {
			t.Fatal(err)
		}
		invalid(t, w.s, unscoped, "revoked")
		invalid(t, w.s, scoped, "revoked")
		invalid(t, w.s, again, "revoked")
		_, err = w.s.Authenticate(ctx, tokenAuth(unscoped.Token, Scope{ProjectID: w.demo.ID}))
		wantErr(t, err, 401, "revoked")
	})
}

// TestRevokeRescopedTokenOnly: revoking a rescoped token leaves its parent.
func TestRevokeRescopedTokenOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db, Config{})
		parent := w.alice_(t, Scope{Unscoped: true})
		child := authenticate(t, w.s, tokenAuth(parent.Token, Scope{ProjectID: w.demo.ID}))
		sibling := authenticate(t, w.s, tokenAuth(parent.Token, Scope{ProjectID: w.demo.ID}))
		if err := w.s.RevokeToken(context.Background(), child); err != nil {
			t.Fatal(err)
		}
		invalid(t, w.s, child, "revoked")
		valid(t, w.s, parent)
		valid(t, w.s, sibling)
	})
}

func TestImpliedRoleCycles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(t, db, Config{})
		ids := map[string]string{}
		for _, n := range []string{"a", "b", "c"} {
			r, err := s.CreateRole(ctx, store.Role{Name: n})
			if err != nil {
				t.Fatal(err)
			}
			ids[n] = r.ID
		}
		for _, c := range []struct {
			prior, implied string
			status         int // 0: allowed
		}{
			{"a", "b", 0},
			{"b", "c", 0},
			{"a", "c", 0}, // redundant, not a cycle
			{"a", "b", 0}, // again
			{"c", "a", 403},
			{"b", "a", 403},
			{"c", "b", 403},
			{"a", "a", 403},
		} {
			_, err := s.AddImpliedRole(ctx, ids[c.prior], ids[c.implied])
			if c.status == 0 {
				if err != nil {
					t.Errorf("%s implies %s: %v", c.prior, c.implied, err)
				}
				continue
			}
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status != c.status || !strings.Contains(e.Message, "cycle") {
				t.Errorf("%s implies %s = %v, want %d naming the cycle", c.prior, c.implied, err, c.status)
			}
		}
		_, err := s.AddImpliedRole(ctx, ids["a"], "nope")
		wantErr(t, err, 404, "nope")
	})
}

// openTwice opens two stores over one database, as two controllers would.
func openTwice(t *testing.T, backend string) (*store.DB, *store.DB) {
	t.Helper()
	ctx := context.Background()
	opts := store.Options{Log: slog.New(slog.DiscardHandler)}
	if backend == "postgres" {
		opts.URL = storetest.PostgresURL(t)
	} else {
		opts.DataDir = t.TempDir()
	}
	var dbs [2]*store.DB
	for i := range dbs {
		db, err := store.Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs[0], dbs[1]
}

// TestTwoControllers runs two services over one database with a shared key
// directory: a change made through one is enforced by the other within
// EpochCheck, without any call between them.
func TestTwoControllers(t *testing.T) {
	const epochCheck = 10 * time.Millisecond
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
			cfg := Config{HashCost: 4, EpochCheck: epochCheck}
			s1 := New(db1, ring(), slog.New(slog.DiscardHandler), cfg)
			s2 := New(db2, ring(), slog.New(slog.DiscardHandler), cfg)
			w := worldOn(t, s1)

			// refusedBy polls s2 until it refuses c, for at most a bound
			// far above EpochCheck.
			refusedBy := func(what string, c *auth.Credentials) {
				t.Helper()
				const bound = 5 * time.Second
				start := time.Now()
				tick := time.NewTicker(epochCheck / 4)
				defer tick.Stop()
				deadline := time.NewTimer(bound)
				defer deadline.Stop()
				for {
					_, err := s2.Validate(ctx, c.Token)
					if err != nil {
						wantErr(t, err, 401, "")
						t.Logf("%s: refused by the other controller after %v", what, time.Since(start))
						return
					}
					select {
					case <-tick.C:
					case <-deadline.C:
						t.Fatalf("%s: the other controller still accepts the token after %v (EpochCheck %v)", what, bound, epochCheck)
					}
				}
			}

			tok := w.alice_(t, Scope{})
			unscoped := w.alice_(t, Scope{Unscoped: true})
			valid(t, s2, tok) // warms s2's caches
			valid(t, s2, unscoped)

			// A role removed on s1 (no revocation event, only the epoch).
			if err := s1.Revoke(ctx, w.memberOnDemo()); err != nil {
				t.Fatal(err)
			}
			refusedBy("role removed", tok)
			valid(t, s2, unscoped)

			// A user disabled on s1 (a revocation event).
			if _, err := s1.UpdateUser(ctx, w.alice.ID, nil, func(u *store.User) error { u.Enabled = false; return nil }); err != nil {
				t.Fatal(err)
			}
			refusedBy("user disabled", unscoped)
			_, err := s2.Authenticate(ctx, passwordAuth("alice", alicePassword, Scope{}))
			wantErr(t, err, 401, "disabled")

			// And the other way round: a token revoked on s2 is refused by s1.
			admin := authenticate(t, s2, passwordAuth("admin", adminPassword, Scope{}))
			valid(t, s1, admin)
			if err := s2.RevokeToken(ctx, admin); err != nil {
				t.Fatal(err)
			}
			s1, s2 = s2, s1
			refusedBy("token revoked on the other controller", admin)
		})
	}
}

// TestRoleRevocationRacesValidation revokes a role while validations of a
// token that depends on it are in flight. Once the revocation has returned
// and the in-flight validations are done, the token must be refused: a
// validation that read the old assignments must not leave them cached.
func TestRoleRevocationRacesValidation(t *testing.T) {
	db := storetest.New(t)
	w := newWorld(t, db, Config{})
	ctx := context.Background()
	rounds := 100
	if testing.Short() {
		rounds = 5
	}
	for round := range rounds {
		if err := w.s.Grant(ctx, w.memberOnDemo()); err != nil {
			t.Fatal(err)
		}
		tok := w.alice_(t, Scope{ProjectID: w.demo.ID})
		// An unrelated change empties the authorisation cache, so the
		// validators below compute it afresh while the role is removed.
		if _, err := w.s.UpdateProject(ctx, w.demo.ID, func(p *store.Project) error {
			p.Description = fmt.Sprint("round ", round)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = w.s.Validate(ctx, tok.Token)
				}
			})
		}
		if err := w.s.Revoke(ctx, w.memberOnDemo()); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if _, err := w.s.Validate(ctx, tok.Token); err == nil {
			t.Fatalf("round %d: token still validates after its only role was removed (stale authorisation cached)", round)
		}
	}
}
