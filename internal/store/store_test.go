package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// at is a fixed instant with microsecond precision, as the store keeps it.
var at = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

// write runs fn in a transaction and fails the test on error.
func write(t testing.TB, db *store.DB, fn func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := db.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// read runs fn in a read transaction and fails the test on error.
func read(t testing.TB, db *store.DB, fn func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := db.Read(ctx, func(tx *store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("read: %v", err)
	}
}

// fixture is a small identity graph most tests start from.
type fixture struct {
	domain  store.Domain
	project store.Project
	user    store.User
	group   store.Group
	role    store.Role
	appCred store.AppCred
}

func seed(t testing.TB, db *store.DB) fixture {
	t.Helper()
	f := fixture{
		domain:  store.Domain{ID: "d1", Name: "Dom", Enabled: true, Extra: map[string]any{}, CreatedAt: at},
		project: store.Project{ID: "p1", DomainID: "d1", ParentID: "d1", Name: "proj", Enabled: true, Tags: []string{"a"}, Extra: map[string]any{}, CreatedAt: at},
		user:    store.User{ID: "u1", DomainID: "d1", Name: "alice", Enabled: true, PasswordHash: "h", DefaultProjectID: "p1", Extra: map[string]any{"email": "a@example.org"}, CreatedAt: at},
		group:   store.Group{ID: "g1", DomainID: "d1", Name: "devs", Extra: map[string]any{}, CreatedAt: at},
		role:    store.Role{ID: "r1", Name: "member", Extra: map[string]any{}, CreatedAt: at},
		appCred: store.AppCred{ID: "ac1", UserID: "u1", ProjectID: "p1", Name: "ci", SecretHash: "s", RoleIDs: []string{"r1"}, CreatedAt: at},
	}
	write(t, db, func(ctx context.Context, tx *store.Tx) error {
		return errors.Join(
			tx.CreateDomain(ctx, f.domain),
			tx.CreateProject(ctx, f.project),
			tx.CreateUser(ctx, f.user),
			tx.CreateGroup(ctx, f.group),
			tx.CreateRole(ctx, f.role),
			tx.CreateAppCred(ctx, f.appCred),
			tx.AddGroupMember(ctx, f.group.ID, f.user.ID),
			tx.Grant(ctx, store.Assignment{ActorType: store.ActorUser, ActorID: "u1", TargetType: store.TargetProject, TargetID: "p1", RoleID: "r1"}),
			tx.Grant(ctx, store.Assignment{ActorType: store.ActorGroup, ActorID: "g1", TargetType: store.TargetProject, TargetID: "p1", RoleID: "r1"}),
			tx.Grant(ctx, store.Assignment{ActorType: store.ActorUser, ActorID: "u1", TargetType: store.TargetDomain, TargetID: "d1", RoleID: "r1"}),
		)
	})
	return f
}

// newestMigration is the highest migration number in the source tree.
func newestMigration(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	newest := 0
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			t.Fatalf("migration file %s: want NNNN_what.sql", e.Name())
		}
		newest = max(newest, v)
	}
	return newest
}

// TestMigrationsIdempotent opens a store, writes to it, and opens it again:
// the second Open applies nothing, keeps the data and reports the same version.
func TestMigrationsIdempotent(t *testing.T) {
	want := newestMigration(t)
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			opts := store.Options{}
			if backend == "postgres" {
				opts.URL = storetest.PostgresURL(t)
			} else {
				opts.DataDir = t.TempDir()
			}
			for i := range 3 {
				db, err := store.Open(ctx, opts)
				if err != nil {
					t.Fatalf("open #%d: %v", i+1, err)
				}
				if got := db.Dialect(); got != backend {
					t.Errorf("Dialect() = %q, want %q", got, backend)
				}
				v, err := db.SchemaVersion(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if v != want {
					t.Errorf("open #%d: SchemaVersion = %d, want %d (the newest file in migrations/)", i+1, v, want)
				}
				if i == 0 {
					write(t, db, func(ctx context.Context, tx *store.Tx) error {
						return tx.CreateDomain(ctx, store.Domain{ID: "keep", Name: "Keep", Enabled: true, CreatedAt: at})
					})
				}
				read(t, db, func(ctx context.Context, tx *store.Tx) error {
					_, err := tx.GetDomain(ctx, "keep")
					return err
				})
				// The seeded epoch row must not be re-inserted (that would
				// be a unique violation) nor reset.
				read(t, db, func(ctx context.Context, tx *store.Tx) error {
					e, err := tx.Epoch(ctx, "identity")
					if err == nil && e != 1 {
						err = fmt.Errorf("identity epoch = %d after reopen, want 1", e)
					}
					return err
				})
				db.Close()
			}
		})
	}
}

// TestMigrationsConcurrentOpen starts several controllers against one empty
// database at once, as a cluster does on first boot: exactly one applies
// each migration and all of them open.
func TestMigrationsConcurrentOpen(t *testing.T) {
	want := newestMigration(t)
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			opts := store.Options{}
			if backend == "postgres" {
				opts.URL = storetest.PostgresURL(t)
			} else {
				opts.DataDir = t.TempDir()
			}
			const n = 4
			var wg sync.WaitGroup
			errs := make([]error, n)
			dbs := make([]*store.DB, n)
			for i := range n {
				wg.Go(func() { dbs[i], errs[i] = store.Open(ctx, opts) })
			}
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Errorf("controller %d: open: %v", i, errs[i])
					continue
				}
				v, err := dbs[i].SchemaVersion(ctx)
				if err != nil || v != want {
					t.Errorf("controller %d: SchemaVersion = %d, %v; want %d", i, v, err, want)
				}
				dbs[i].Close()
			}
		})
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := store.Open(context.Background(), store.Options{URL: "mysql://x"})
	if err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("Open(mysql://) = %v, want an error naming the accepted forms", err)
	}
}

// TestRoundTrip checks that what is written reads back unchanged.
func TestRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := seed(t, db)
		exp := at.Add(time.Hour)
		f.user.PasswordExpiresAt = &exp
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateUser(ctx, f.user) })
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			d, err := tx.GetDomain(ctx, "d1")
			if err != nil {
				return err
			}
			p, err := tx.GetProject(ctx, "p1")
			if err != nil {
				return err
			}
			u, err := tx.GetUserByName(ctx, "d1", "alice")
			if err != nil {
				return err
			}
			g, err := tx.GetGroup(ctx, "g1")
			if err != nil {
				return err
			}
			r, err := tx.GetRole(ctx, "r1")
			if err != nil {
				return err
			}
			ac, err := tx.GetAppCredByName(ctx, "u1", "ci")
			if err != nil {
				return err
			}
			for _, c := range []struct {
				name      string
				got, want any
			}{
				{"domain", d, f.domain},
				{"project", p, f.project},
				{"user", u, f.user},
				{"group", g, f.group},
				{"role", r, f.role},
				{"app cred", ac, f.appCred},
			} {
				if diff := cmp.Diff(c.want, c.got); diff != "" {
					t.Errorf("%s read back differs (-written +read):\n%s", c.name, diff)
				}
			}
			return nil
		})
	})
}

// TestListFilters checks the filters services rely on.
func TestListFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return errors.Join(
				tx.CreateUser(ctx, store.User{ID: "u2", DomainID: "d1", Name: "bob", Enabled: false, CreatedAt: at}),
				tx.CreateProject(ctx, store.Project{ID: "p2", DomainID: "d1", ParentID: "p1", Name: "child", Enabled: true, CreatedAt: at}),
			)
		})
		disabled := false
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			ids := func(us []store.User) []string {
				out := []string{}
				for _, u := range us {
					out = append(out, u.ID)
				}
				return out
			}
			for _, c := range []struct {
				name string
				f    store.UserFilter
				want []string
			}{
				{"all, by name", store.UserFilter{}, []string{"u1", "u2"}},
				{"by name", store.UserFilter{Name: "bob"}, []string{"u2"}},
				{"disabled", store.UserFilter{Enabled: &disabled}, []string{"u2"}},
				{"in group", store.UserFilter{GroupID: "g1"}, []string{"u1"}},
				{"other domain", store.UserFilter{DomainID: "nope"}, []string{}},
			} {
				us, err := tx.ListUsers(ctx, c.f)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(c.want, ids(us)); diff != "" {
					t.Errorf("ListUsers %s (-want +got):\n%s", c.name, diff)
				}
			}
			ps, err := tx.ListProjects(ctx, store.ProjectFilter{IDs: []string{}})
			if err != nil {
				return err
			}
			if len(ps) != 0 {
				t.Errorf("ListProjects with an empty id list = %d projects, want none", len(ps))
			}
			ps, err = tx.ListProjects(ctx, store.ProjectFilter{IDs: []string{"p1", "p2", "nope"}})
			if err != nil {
				return err
			}
			if len(ps) != 2 {
				t.Errorf("ListProjects by ids = %d projects, want 2", len(ps))
			}
			n, err := tx.CountChildProjects(ctx, "p1")
			if err != nil {
				return err
			}
			if n != 1 {
				t.Errorf("CountChildProjects(p1) = %d, want 1", n)
			}
			return nil
		})
	})
}

// TestConflicts checks that every uniqueness rule maps to ErrConflict.
func TestConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return tx.CreateDomain(ctx, store.Domain{ID: "d2", Name: "Other", Enabled: true, CreatedAt: at})
		})
		for _, c := range []struct {
			name string
			fn   func(ctx context.Context, tx *store.Tx) error
		}{
			{"domain name", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateDomain(ctx, store.Domain{ID: "dx", Name: "Dom", Enabled: true, CreatedAt: at})
			}},
			{"domain id", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateDomain(ctx, store.Domain{ID: "d1", Name: "Fresh", Enabled: true, CreatedAt: at})
			}},
			{"domain rename onto another", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateDomain(ctx, store.Domain{ID: "d2", Name: "Dom", Enabled: true})
			}},
			{"project name in domain", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateProject(ctx, store.Project{ID: "px", DomainID: "d1", ParentID: "d1", Name: "proj", Enabled: true, CreatedAt: at})
			}},
			{"user name in domain", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateUser(ctx, store.User{ID: "ux", DomainID: "d1", Name: "alice", Enabled: true, CreatedAt: at})
			}},
			{"group name in domain", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateGroup(ctx, store.Group{ID: "gx", DomainID: "d1", Name: "devs", CreatedAt: at})
			}},
			{"global role name", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateRole(ctx, store.Role{ID: "rx", Name: "member", CreatedAt: at})
			}},
			{"app cred name per user", func(ctx context.Context, tx *store.Tx) error {
				return tx.CreateAppCred(ctx, store.AppCred{ID: "acx", UserID: "u1", ProjectID: "p1", Name: "ci", SecretHash: "s", CreatedAt: at})
			}},
			{"region id", func(ctx context.Context, tx *store.Tx) error {
				if err := tx.CreateRegion(ctx, store.Region{ID: "RegionOne"}); err != nil {
					return fmt.Errorf("first region: %w", err)
				}
				return tx.CreateRegion(ctx, store.Region{ID: "RegionOne"})
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				err := db.Write(ctx, func(tx *store.Tx) error { return c.fn(ctx, tx) })
				if !errors.Is(err, store.ErrConflict) {
					t.Fatalf("got %v, want store.ErrConflict", err)
				}
			})
		}
		// The same names elsewhere are fine.
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return errors.Join(
				tx.CreateProject(ctx, store.Project{ID: "p9", DomainID: "d2", ParentID: "d2", Name: "proj", Enabled: true, CreatedAt: at}),
				tx.CreateUser(ctx, store.User{ID: "u9", DomainID: "d2", Name: "alice", Enabled: true, CreatedAt: at}),
				tx.CreateGroup(ctx, store.Group{ID: "g9", DomainID: "d2", Name: "devs", CreatedAt: at}),
				tx.CreateRole(ctx, store.Role{ID: "r9", Name: "member", DomainID: "d2", CreatedAt: at}),
				tx.CreateAppCred(ctx, store.AppCred{ID: "ac9", UserID: "u9", ProjectID: "p9", Name: "ci", SecretHash: "s", CreatedAt: at}),
			)
		})
	})
}

// TestNotFound checks that reads and writes of missing rows say ErrNotFound.
func TestNotFound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		type op = func(ctx context.Context, tx *store.Tx) error
		get := func(f func(ctx context.Context, tx *store.Tx) (any, error)) op {
			return func(ctx context.Context, tx *store.Tx) error { _, err := f(ctx, tx); return err }
		}
		for _, c := range []struct {
			name string
			fn   op
		}{
			{"GetDomain", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetDomain(ctx, "nope") })},
			{"GetDomainByName", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetDomainByName(ctx, "nope") })},
			{"GetProject", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetProject(ctx, "nope") })},
			{"GetProjectByName", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetProjectByName(ctx, "d1", "nope") })},
			{"GetUser", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetUser(ctx, "nope") })},
			{"GetUserByName in other domain", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetUserByName(ctx, "nope", "alice") })},
			{"GetGroup", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetGroup(ctx, "nope") })},
			{"GetRole", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetRole(ctx, "nope") })},
			{"GetAppCred", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetAppCred(ctx, "nope") })},
			{"GetAppCredByName", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetAppCredByName(ctx, "u1", "nope") })},
			{"GetRegion", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetRegion(ctx, "nope") })},
			{"GetService", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetService(ctx, "nope") })},
			{"GetEndpoint", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.GetEndpoint(ctx, "nope") })},
			{"Epoch", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.Epoch(ctx, "nope") })},
			{"BumpEpoch", get(func(ctx context.Context, tx *store.Tx) (any, error) { return tx.BumpEpoch(ctx, "nope") })},
			{"UpdateDomain", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateDomain(ctx, store.Domain{ID: "nope", Name: "x"})
			}},
			{"UpdateProject", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateProject(ctx, store.Project{ID: "nope", Name: "x"})
			}},
			{"UpdateUser", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateUser(ctx, store.User{ID: "nope", Name: "x"})
			}},
			{"UpdateGroup", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateGroup(ctx, store.Group{ID: "nope", Name: "x"})
			}},
			{"UpdateRole", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateRole(ctx, store.Role{ID: "nope", Name: "x"})
			}},
			{"UpdateRegion", func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRegion(ctx, store.Region{ID: "nope"}) }},
			{"UpdateService", func(ctx context.Context, tx *store.Tx) error { return tx.UpdateService(ctx, store.Service{ID: "nope"}) }},
			{"UpdateEndpoint", func(ctx context.Context, tx *store.Tx) error {
				return tx.UpdateEndpoint(ctx, store.Endpoint{ID: "nope"})
			}},
			{"DeleteDomain", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDomain(ctx, "nope") }},
			{"DeleteProject", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteProject(ctx, "nope") }},
			{"DeleteUser", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteUser(ctx, "nope") }},
			{"DeleteGroup", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteGroup(ctx, "nope") }},
			{"DeleteRole", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRole(ctx, "nope") }},
			{"DeleteAppCred", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAppCred(ctx, "nope") }},
			{"DeleteRegion", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRegion(ctx, "nope") }},
			{"DeleteService", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteService(ctx, "nope") }},
			{"DeleteEndpoint", func(ctx context.Context, tx *store.Tx) error { return tx.DeleteEndpoint(ctx, "nope") }},
			{"Revoke ungranted", func(ctx context.Context, tx *store.Tx) error {
				return tx.Revoke(ctx, store.Assignment{ActorType: store.ActorUser, ActorID: "u1", TargetType: store.TargetSystem, TargetID: store.SystemAll, RoleID: "r1"})
			}},
			{"RemoveGroupMember of non-member", func(ctx context.Context, tx *store.Tx) error { return tx.RemoveGroupMember(ctx, "g1", "nope") }},
			{"RemoveImpliedRole absent", func(ctx context.Context, tx *store.Tx) error { return tx.RemoveImpliedRole(ctx, "r1", "r1") }},
		} {
			t.Run(c.name, func(t *testing.T) {
				ctx := context.Background()
				err := db.Write(ctx, func(tx *store.Tx) error { return c.fn(ctx, tx) })
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("got %v, want store.ErrNotFound", err)
				}
			})
		}
	})
}

// TestWriteRollback checks that a Write whose fn fails or panics leaves
// nothing behind, and that the store stays usable afterwards.
func TestWriteRollback(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Write(ctx, func(tx *store.Tx) error {
			if err := tx.CreateDomain(ctx, store.Domain{ID: "gone", Name: "Gone", Enabled: true, CreatedAt: at}); err != nil {
				return err
			}
			if _, err := tx.BumpEpoch(ctx, "identity"); err != nil {
				return err
			}
			return fmt.Errorf("later step: %w", boom)
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want fn's error back", err)
		}

		func() {
			defer func() {
				if p := recover(); p != "kaboom" {
					t.Errorf("recovered %v, want the panic to propagate", p)
				}
			}()
			_ = db.Write(ctx, func(tx *store.Tx) error {
				if err := tx.CreateDomain(ctx, store.Domain{ID: "gone2", Name: "Gone2", Enabled: true, CreatedAt: at}); err != nil {
					return err
				}
				panic("kaboom")
			})
		}()

		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			for _, id := range []string{"gone", "gone2"} {
				if _, err := tx.GetDomain(ctx, id); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetDomain(%s) after a failed Write = %v, want ErrNotFound", id, err)
				}
			}
			if e, err := tx.Epoch(ctx, "identity"); err != nil || e != 1 {
				t.Errorf("epoch after a failed Write = %d, %v; want 1", e, err)
			}
			return nil
		})
		// The connection was returned in a usable state.
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return tx.CreateDomain(ctx, store.Domain{ID: "gone", Name: "Gone", Enabled: true, CreatedAt: at})
		})
	})
}

// TestReadIsReadOnly checks that a Read transaction cannot change data.
func TestReadIsReadOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		err := db.Read(ctx, func(tx *store.Tx) error {
			return tx.CreateDomain(ctx, store.Domain{ID: "ro", Name: "RO", Enabled: true, CreatedAt: at})
		})
		if err == nil {
			t.Fatal("CreateDomain inside Read succeeded, want an error")
		}
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			if _, err := tx.GetDomain(ctx, "ro"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetDomain after a write in Read = %v, want ErrNotFound", err)
			}
			return nil
		})
	})
}

// TestConcurrentEpochBumps has many goroutines advance the epoch at once;
// the store must serialise them so no increment is lost.
func TestConcurrentEpochBumps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const n = 64
		var start int64
		read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
			start, err = tx.Epoch(ctx, "identity")
			return err
		})
		var wg sync.WaitGroup
		errs := make(chan error, n)
		seen := make(chan int64, n)
		for range n {
			wg.Go(func() {
				var v int64
				err := db.Write(ctx, func(tx *store.Tx) error {
					var err error
					v, err = tx.BumpEpoch(ctx, "identity")
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				seen <- v
			})
			// Readers run alongside the writers.
			wg.Go(func() {
				if err := db.Read(ctx, func(tx *store.Tx) error { _, err := tx.Epoch(ctx, "identity"); return err }); err != nil {
					errs <- fmt.Errorf("read: %w", err)
				}
			})
		}
		wg.Wait()
		close(errs)
		close(seen)
		for err := range errs {
			t.Error(err)
		}
		// Each bump returned a distinct value: the one it wrote.
		distinct := map[int64]bool{}
		for v := range seen {
			if distinct[v] {
				t.Errorf("two bumps returned epoch %d", v)
			}
			distinct[v] = true
		}
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			got, err := tx.Epoch(ctx, "identity")
			if err != nil {
				return err
			}
			if got != start+n {
				t.Errorf("epoch after %d concurrent bumps = %d, want %d", n, got, start+n)
			}
			return nil
		})
	})
}

// TestRevocations checks the upsert and the expiry filter.
func TestRevocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := at
		rev := func(kind, value string, issued, expires time.Duration) store.Revocation {
			return store.Revocation{Kind: kind, Value: value, IssuedBefore: now.Add(issued), ExpiresAt: now.Add(expires)}
		}
		steps := []struct {
			name string
			add  []store.Revocation
			want []store.Revocation
		}{
			{
				name: "first",
				add:  []store.Revocation{rev(store.RevokeUser, "u1", 0, time.Hour)},
				want: []store.Revocation{rev(store.RevokeUser, "u1", 0, time.Hour)},
			},
			{
				name: "same kind and value again: one row, later cut-off",
				add:  []store.Revocation{rev(store.RevokeUser, "u1", time.Minute, 2*time.Hour)},
				want: []store.Revocation{rev(store.RevokeUser, "u1", time.Minute, 2*time.Hour)},
			},
			{
				// Controllers' clocks differ: a revocation arriving with an
				// older cut-off must not un-revoke tokens the newer one covers.
				name: "an older cut-off does not shrink the revocation",
				add:  []store.Revocation{rev(store.RevokeUser, "u1", -time.Minute, time.Hour)},
				want: []store.Revocation{rev(store.RevokeUser, "u1", time.Minute, 2*time.Hour)},
			},
			{
				name: "same value, other kind: separate row",
				add:  []store.Revocation{rev(store.RevokeProject, "u1", 0, time.Hour)},
				want: []store.Revocation{
					rev(store.RevokeProject, "u1", 0, time.Hour),
					rev(store.RevokeUser, "u1", time.Minute, 2*time.Hour),
				},
			},
			{
				name: "expired ones are not listed",
				add:  []store.Revocation{rev(store.RevokeAudit, "old", -2*time.Hour, -time.Second), rev(store.RevokeAudit, "edge", -time.Hour, 0)},
				want: []store.Revocation{
					rev(store.RevokeProject, "u1", 0, time.Hour),
					rev(store.RevokeUser, "u1", time.Minute, 2*time.Hour),
				},
			},
		}
		for _, s := range steps {
			write(t, db, func(ctx context.Context, tx *store.Tx) error {
				for _, r := range s.add {
					if err := tx.AddRevocation(ctx, r); err != nil {
						return err
					}
				}
				return nil
			})
			read(t, db, func(ctx context.Context, tx *store.Tx) error {
				got, err := tx.ListRevocations(ctx, now)
				if err != nil {
					return err
				}
				sortRevs(got)
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("%s: ListRevocations (-want +got):\n%s", s.name, diff)
				}
				return nil
			})
		}
		// Pruning removes exactly the expired rows.
		var before, after int
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			all, err := tx.ListRevocations(ctx, time.Time{})
			before = len(all)
			if err != nil {
				return err
			}
			if err := tx.PruneRevocations(ctx, now); err != nil {
				return err
			}
			all, err = tx.ListRevocations(ctx, time.Time{})
			after = len(all)
			return err
		})
		if before != 4 || after != 2 {
			t.Errorf("revocations before/after prune = %d/%d, want 4/2", before, after)
		}
	})
}

func sortRevs(rs []store.Revocation) {
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			if rs[j].Kind+"/"+rs[j].Value < rs[i].Kind+"/"+rs[i].Value {
				rs[i], rs[j] = rs[j], rs[i]
			}
		}
	}
}

// TestCascades checks that deleting a user, project, group, role or domain
// takes what hangs off it along, and nothing else.
func TestCascades(t *testing.T) {
	type counts struct {
		UserAssignments, GroupAssignments, ProjectAssignments int
		Members, AppCreds, ImpliedEdges                       int
	}
	count := func(t *testing.T, db *store.DB) counts {
		var c counts
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			as, err := tx.ListAssignments(ctx, store.AssignmentFilter{})
			if err != nil {
				return err
			}
			for _, a := range as {
				switch {
				case a.ActorType == store.ActorUser && a.TargetType == store.TargetProject:
					c.UserAssignments++
					c.ProjectAssignments++
				case a.ActorType == store.ActorUser:
					c.UserAssignments++
				case a.TargetType == store.TargetProject:
					c.GroupAssignments++
					c.ProjectAssignments++
				default:
					c.GroupAssignments++
				}
			}
			members, err := tx.ListUsers(ctx, store.UserFilter{GroupID: "g1"})
			if err != nil {
				return err
			}
			c.Members = len(members)
			for _, id := range []string{"ac1", "ac2"} {
				if _, err := tx.GetAppCred(ctx, id); err == nil {
					c.AppCreds++
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			edges, err := tx.ListImpliedRoles(ctx)
			c.ImpliedEdges = len(edges)
			return err
		})
		return c
	}
	// Besides seed(): user u2 in g1 with its own app cred on p2, a second
	// project p2 with a group assignment, role r2 implied by r1.
	setup := func(t *testing.T, db *store.DB) {
		seed(t, db)
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return errors.Join(
				tx.CreateUser(ctx, store.User{ID: "u2", DomainID: "d1", Name: "bob", Enabled: true, CreatedAt: at}),
				tx.CreateProject(ctx, store.Project{ID: "p2", DomainID: "d1", ParentID: "d1", Name: "proj2", Enabled: true, CreatedAt: at}),
				tx.CreateRole(ctx, store.Role{ID: "r2", Name: "reader", CreatedAt: at}),
				tx.AddImpliedRole(ctx, "r1", "r2"),
				tx.AddGroupMember(ctx, "g1", "u2"),
				tx.CreateAppCred(ctx, store.AppCred{ID: "ac2", UserID: "u2", ProjectID: "p2", Name: "ci", SecretHash: "s", CreatedAt: at}),
				tx.Grant(ctx, store.Assignment{ActorType: store.ActorGroup, ActorID: "g1", TargetType: store.TargetProject, TargetID: "p2", RoleID: "r2"}),
				tx.Grant(ctx, store.Assignment{ActorType: store.ActorUser, ActorID: "u2", TargetType: store.TargetProject, TargetID: "p2", RoleID: "r2"}),
			)
		})
	}
	base := counts{UserAssignments: 3, GroupAssignments: 2, ProjectAssignments: 4, Members: 2, AppCreds: 2, ImpliedEdges: 1}
	for _, c := range []struct {
		name   string
		delete func(ctx context.Context, tx *store.Tx) error
		want   counts
		gone   func(ctx context.Context, tx *store.Tx) error // must be ErrNotFound afterwards
	}{
		{
			name:   "user",
			delete: func(ctx context.Context, tx *store.Tx) error { return tx.DeleteUser(ctx, "u1") },
			// u1's two assignments (p1, d1), its membership and ac1 go.
			want: counts{UserAssignments: 1, GroupAssignments: 2, ProjectAssignments: 3, Members: 1, AppCreds: 1, ImpliedEdges: 1},
			gone: func(ctx context.Context, tx *store.Tx) error { _, err := tx.GetUser(ctx, "u1"); return err },
		},
		{
			name:   "project",
			delete: func(ctx context.Context, tx *store.Tx) error { return tx.DeleteProject(ctx, "p1") },
			// The user and group assignments on p1 and ac1 (on p1) go.
			want: counts{UserAssignments: 2, GroupAssignments: 1, ProjectAssignments: 2, Members: 2, AppCreds: 1, ImpliedEdges: 1},
			gone: func(ctx context.Context, tx *store.Tx) error { _, err := tx.GetProject(ctx, "p1"); return err },
		},
		{
			name:   "group",
			delete: func(ctx context.Context, tx *store.Tx) error { return tx.DeleteGroup(ctx, "g1") },
			want:   counts{UserAssignments: 3, GroupAssignments: 0, ProjectAssignments: 2, Members: 0, AppCreds: 2, ImpliedEdges: 1},
			gone:   func(ctx context.Context, tx *store.Tx) error { _, err := tx.GetGroup(ctx, "g1"); return err },
		},
		{
			name:   "role",
			delete: func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRole(ctx, "r2") },
			want:   counts{UserAssignments: 2, GroupAssignments: 1, ProjectAssignments: 2, Members: 2, AppCreds: 2, ImpliedEdges: 0},
			gone:   func(ctx context.Context, tx *store.Tx) error { _, err := tx.GetRole(ctx, "r2"); return err },
		},
		{
			name:   "domain",
			delete: func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDomain(ctx, "d1") },
			want:   counts{ImpliedEdges: 1},
			gone: func(ctx context.Context, tx *store.Tx) error {
				for _, f := range []func() error{
					func() error { _, err := tx.GetDomain(ctx, "d1"); return err },
					func() error { _, err := tx.GetProject(ctx, "p2"); return err },
					func() error { _, err := tx.GetUser(ctx, "u2"); return err },
					func() error { _, err := tx.GetGroup(ctx, "g1"); return err },
				} {
					if err := f(); !errors.Is(err, store.ErrNotFound) {
						return err
					}
				}
				return store.ErrNotFound
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				setup(t, db)
				if diff := cmp.Diff(base, count(t, db)); diff != "" {
					t.Fatalf("fixture counts (-want +got):\n%s", diff)
				}
				write(t, db, c.delete)
				if diff := cmp.Diff(c.want, count(t, db)); diff != "" {
					t.Errorf("after deleting the %s (-want +got):\n%s", c.name, diff)
				}
				ctx := context.Background()
				if err := db.Read(ctx, func(tx *store.Tx) error { return c.gone(ctx, tx) }); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("deleted rows still readable: %v", err)
				}
			})
		})
	}
}

// TestIdempotentLinks checks that granting, adding a member and adding an
// implication twice are not errors and leave one row.
func TestIdempotentLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		seed(t, db)
		a := store.Assignment{ActorType: store.ActorUser, ActorID: "u1", TargetType: store.TargetProject, TargetID: "p1", RoleID: "r1"}
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return errors.Join(tx.Grant(ctx, a), tx.AddGroupMember(ctx, "g1", "u1"), tx.AddImpliedRole(ctx, "r1", "r1"), tx.AddImpliedRole(ctx, "r1", "r1"))
		})
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			as, err := tx.ListAssignments(ctx, store.AssignmentFilter{ActorType: store.ActorUser, ActorIDs: []string{"u1"}, TargetType: store.TargetProject, TargetID: "p1"})
			if err != nil {
				return err
			}
			if diff := cmp.Diff([]store.Assignment{a}, as); diff != "" {
				t.Errorf("assignments after granting twice (-want +got):\n%s", diff)
			}
			ok, err := tx.IsGroupMember(ctx, "g1", "u1")
			if err != nil || !ok {
				t.Errorf("IsGroupMember = %v, %v; want true", ok, err)
			}
			edges, err := tx.ListImpliedRoles(ctx)
			if err != nil || len(edges) != 1 {
				t.Errorf("ListImpliedRoles = %v, %v; want one edge", edges, err)
			}
			return nil
		})
	})
}
