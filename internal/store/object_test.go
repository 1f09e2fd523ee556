package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// TestObjectStore: containers and objects on both databases, names in
// byte order whatever the database's collation (checked by hand on a
// PostgreSQL database created with ICU_LOCALE 'en-US': without the
// COLLATE "C" rewrite it lists "a" "A" "b" "B"), ranges in both
// directions, counters, the non-empty container conflict and expiry.
func TestObjectStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now()
		write := func(fn func(tx *store.Tx) error) {
			t.Helper()
			if err := db.Write(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		write(func(tx *store.Tx) error {
			if err := tx.PutObjectAccount(ctx, store.ObjectAccount{Name: "AUTH_p", Metadata: map[string]string{"x-account-meta-a": "1"}, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			return tx.CreateObjectContainer(ctx, store.ObjectContainer{Account: "AUTH_p", Name: "c", CreatedAt: now, UpdatedAt: now})
		})
		// Byte order: "B" < "a" < "b" < "é" (0xC3 0xA9) < "日" (0xE6); a
		// locale-aware collation would order them otherwise.
		names := []string{"b", "é", "B", "a", "日", "a/b", "a b", "A"}
		for i, n := range names {
			write(func(tx *store.Tx) error {
				o := store.Object{ID: fmt.Sprintf("%032x", i), Account: "AUTH_p", Container: "c", Name: n, Size: int64(i), ListSize: int64(i),
					ETag: "e", ContentType: "t", Modified: now, Metadata: map[string]string{}}
				if n == "b" {
					o.DeleteAt = now.Unix() - 1
				}
				if err := tx.CreateObject(ctx, o); err != nil {
					return err
				}
				return tx.AddObjectContainerUsage(ctx, "AUTH_p", "c", 1, int64(i))
			})
		}
		want := []string{"A", "B", "a", "a b", "a/b", "b", "é", "日"}
		var got []store.Object
		err := db.Read(ctx, func(tx *store.Tx) (err error) {
			got, err = tx.ListObjects(ctx, "AUTH_p", "c", "", store.NameRange{Limit: 100})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := objNames(got); !slices.Equal(n, want) {
			t.Fatalf("listing order %q, want byte order %q", n, want)
		}
		err = db.Read(ctx, func(tx *store.Tx) (err error) {
			got, err = tx.ListObjects(ctx, "AUTH_p", "c", "", store.NameRange{Lower: "a", Upper: "é", UpperIncl: true, Desc: true, Limit: 3})
			return err
		})
		if n := objNames(got); err != nil || !slices.Equal(n, []string{"é", "b", "a/b"}) {
			t.Errorf("descending range: %q %v", n, err)
		}
		// Counters, totals, conflicts, expiry.
		err = db.Read(ctx, func(tx *store.Tx) error {
			ct, err := tx.GetObjectContainer(ctx, "AUTH_p", "c")
			if err != nil {
				return err
			}
			objs, bytes, err := tx.ObjectContainerTotals(ctx, "AUTH_p", "c")
			if err != nil {
				return err
			}
			if ct.ObjectCount != objs || ct.BytesUsed != bytes || objs != 8 {
				t.Errorf("counters %d/%d, rows %d/%d", ct.ObjectCount, ct.BytesUsed, objs, bytes)
			}
			u, err := tx.ObjectAccountUsage(ctx, "AUTH_p")
			if u != (store.AccountUsage{Containers: 1, Objects: 8, Bytes: 28}) {
				t.Errorf("usage %+v", u)
			}
			due, err := tx.ExpiredObjects(ctx, now.Unix(), 10)
			if len(due) != 1 || due[0].Name != "b" {
				t.Errorf("expired %v", objNames(due))
			}
			have, err := tx.ObjectIDs(ctx, []string{fmt.Sprintf("%032x", 3), "nope"})
			if len(have) != 1 {
				t.Errorf("ids %v", have)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteObjectContainer(ctx, "AUTH_p", "c") })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("deleting a non-empty container: %v", err)
		}
		err = db.Write(ctx, func(tx *store.Tx) error {
			return tx.CreateObject(ctx, store.Object{ID: "dup", Account: "AUTH_p", Container: "c", Name: "a", Modified: now})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("a second object at a name: %v", err)
		}
	})
}

func objNames(os []store.Object) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Name)
	}
	return out
}
