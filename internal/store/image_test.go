package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func ptr[T any](v T) *T { return &v }

func imageID(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", i) }

func newImage(i int, owner, visibility string) store.Image {
	return store.Image{ID: imageID(i), Owner: owner, Status: store.ImageQueued, Visibility: visibility,
		Name: ptr(fmt.Sprintf("img-%d", i)), Properties: map[string]string{}, Tags: []string{},
		CreatedAt: at.Add(time.Duration(i) * time.Second), UpdatedAt: at.Add(time.Duration(i) * time.Second)}
}

func TestImageCRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		im := newImage(1, "p1", "private")
		im.DiskFormat, im.ContainerFormat, im.MinRAM = ptr("raw"), ptr("bare"), 512
		im.Properties = map[string]string{"os_distro": "debian", "hw_disk_bus": "virtio"}
		im.Tags = []string{"b", "a", "c"}
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.CreateImage(ctx, &im) })

		var got store.Image
		read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
			got, err = tx.GetImage(ctx, im.ID)
			return err
		})
		if diff := cmp.Diff(im, got); diff != "" {
			t.Errorf("read back (-want +got):\n%s", diff)
		}

		// An update at the current revision wins; one at a stale revision
		// is refused, so two writers cannot lose each other's change.
		stale := got
		got.Status, got.Size, got.Checksum = store.ImageActive, ptr(int64(42)), ptr("abc")
		got.Properties = map[string]string{"os_distro": "ubuntu"}
		got.Tags = []string{"z"}
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateImage(ctx, &got) })
		if got.Revision != 2 {
			t.Errorf("revision after update = %d, want 2", got.Revision)
		}
		err := db.Write(context.Background(), func(tx *store.Tx) error { return tx.UpdateImage(context.Background(), &stale) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("update at a stale revision: %v, want ErrConflict", err)
		}
		var again store.Image
		read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
			again, err = tx.GetImage(ctx, im.ID)
			return err
		})
		if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("after update (-want +got):\n%s", diff)
		}

		// Deleted images are gone, and their ids are never reused.
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteImage(ctx, im.ID, at) })
		err = db.Read(context.Background(), func(tx *store.Tx) error {
			_, err := tx.GetImage(context.Background(), im.ID)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted image: %v, want ErrNotFound", err)
		}
		err = db.Write(context.Background(), func(tx *store.Tx) error {
			return tx.UpdateImage(context.Background(), &again)
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update deleted image: %v, want ErrNotFound", err)
		}
		dup := newImage(1, "p1", "private")
		err = db.Write(context.Background(), func(tx *store.Tx) error { return tx.CreateImage(context.Background(), &dup) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("create with a deleted image's id: %v, want ErrConflict", err)
		}
	})
}

func listIDs(t *testing.T, db *store.DB, q store.ImageQuery) []string {
	t.Helper()
	if q.Sort == nil {
		q.Sort = []store.ImageSort{{Key: "created_at"}, {Key: "id"}}
	}
	if q.Limit == 0 {
		q.Limit = 1000
	}
	var ids []string
	read(t, db, func(ctx context.Context, tx *store.Tx) error {
		ims, err := tx.ListImages(ctx, q)
		for _, im := range ims {
			ids = append(ids, im.ID)
		}
		return err
	})
	return ids
}

// TestImageListAccess checks who sees what, as Glance's list does.
func TestImageListAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ims := []store.Image{
			newImage(1, "p1", "private"),
			newImage(2, "p1", "shared"),    // p2 accepted
			newImage(3, "p1", "shared"),    // p2 pending
			newImage(4, "p1", "public"),    //
			newImage(5, "p1", "community"), //
			newImage(6, "p2", "private"),   //
			newImage(7, "p2", "community"), //
			newImage(8, "p1", "private"),   // p2 member, but not shared: no access
			newImage(9, "p1", "public"),    // hidden
		}
		ims[8].Hidden = true
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			for i := range ims {
				if err := tx.CreateImage(ctx, &ims[i]); err != nil {
					return err
				}
			}
			for _, m := range []store.ImageMember{
				{ImageID: imageID(2), MemberID: "p2", Status: "accepted", CreatedAt: at, UpdatedAt: at},
				{ImageID: imageID(3), MemberID: "p2", Status: "pending", CreatedAt: at, UpdatedAt: at},
				{ImageID: imageID(8), MemberID: "p2", Status: "accepted", CreatedAt: at, UpdatedAt: at},
			} {
				if err := tx.CreateImageMember(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		ids := func(ns ...int) []string {
			var out []string
			for _, n := range ns {
				out = append(out, imageID(n))
			}
			return out
		}
		for _, tc := range []struct {
			name string
			q    store.ImageQuery
			want []string
		}{
			{"p2 default", store.ImageQuery{Project: "p2", MemberStatus: "accepted"}, ids(2, 4, 6, 7)},
			{"p2 pending shared", store.ImageQuery{Project: "p2", MemberStatus: "pending", Visibility: "shared"}, ids(3)},
			{"p2 all members", store.ImageQuery{Project: "p2", MemberStatus: "all", Visibility: "shared"}, ids(2, 3)},
			{"p2 community", store.ImageQuery{Project: "p2", MemberStatus: "accepted", Visibility: "community"}, ids(5, 7)},
			{"p2 all", store.ImageQuery{Project: "p2", MemberStatus: "accepted", Visibility: "all"}, ids(2, 4, 5, 6, 7)},
			{"p2 hidden", store.ImageQuery{Project: "p2", MemberStatus: "accepted", Hidden: true}, ids(9)},
			{"p3 default", store.ImageQuery{Project: "p3", MemberStatus: "accepted"}, ids(4)},
			{"p1 default", store.ImageQuery{Project: "p1", MemberStatus: "accepted"}, ids(1, 2, 3, 4, 5, 8)},
			{"admin default", store.ImageQuery{AllProjects: true, Project: "admin"}, ids(1, 2, 3, 4, 6, 8)},
			{"admin all", store.ImageQuery{AllProjects: true, Project: "admin", Visibility: "all"}, ids(1, 2, 3, 4, 5, 6, 7, 8)},
			{"admin owner filter", store.ImageQuery{AllProjects: true, Visibility: "all", Owner: ptr("p2")}, ids(6, 7)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, listIDs(t, db, tc.q)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	})
}

func TestImageListFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var ims []store.Image
		for i := 1; i <= 6; i++ {
			im := newImage(i, "p1", "private")
			im.Size = ptr(int64(i * 100))
			im.DiskFormat = ptr([]string{"raw", "qcow2"}[i%2])
			im.Tags = []string{fmt.Sprintf("t%d", i%3), "all"}
			im.Properties = map[string]string{"os_distro": []string{"debian", "ubuntu"}[i%2]}
			if i == 6 {
				im.Status = store.ImageKilled
			}
			ims = append(ims, im)
		}
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			for i := range ims {
				if err := tx.CreateImage(ctx, &ims[i]); err != nil {
					return err
				}
			}
			return nil
		})
		base := store.ImageQuery{AllProjects: true}
		with := func(f func(q *store.ImageQuery)) store.ImageQuery { q := base; f(&q); return q }
		for _, tc := range []struct {
			name string
			q    store.ImageQuery
			want []int
		}{
			{"killed never listed", base, []int{1, 2, 3, 4, 5}},
			{"size range", with(func(q *store.ImageQuery) {
				q.Mins = map[string]int64{"size": 200}
				q.Maxes = map[string]int64{"size": 400}
			}), []int{2, 3, 4}},
			{"size exact", with(func(q *store.ImageQuery) { q.Ints = map[string]int64{"size": 300} }), []int{3}},
			{"disk format", with(func(q *store.ImageQuery) { q.DiskFormats = []string{"raw"} }), []int{2, 4}},
			{"names in", with(func(q *store.ImageQuery) { q.Names = []string{"img-1", "img-5", "nope"} }), []int{1, 5}},
			{"tag", with(func(q *store.ImageQuery) { q.Tags = []string{"t1"} }), []int{1, 4}},
			{"two tags", with(func(q *store.ImageQuery) { q.Tags = []string{"t1", "all"} }), []int{1, 4}},
			{"property", with(func(q *store.ImageQuery) { q.Properties = map[string]string{"os_distro": "ubuntu"} }), []int{1, 3, 5}},
			{"created after", with(func(q *store.ImageQuery) {
				q.Times = []store.TimeFilter{{Column: "created_at", Op: "gt", At: at.Add(3 * time.Second)}}
			}), []int{4, 5}},
			{"status", with(func(q *store.ImageQuery) { q.Statuses = []string{"killed"} }), nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var want []string
				for _, n := range tc.want {
					want = append(want, imageID(n))
				}
				if diff := cmp.Diff(want, listIDs(t, db, tc.q)); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	})
}

// TestImageListPages walks every sort in pages and checks the pages join
// into the full order, NULLs and ties included: keyset pagination never
// skips or repeats a row.
func TestImageListPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var all []store.Image
		for i := 1; i <= 23; i++ {
			im := newImage(i, "p1", "private")
			if i%4 == 0 {
				im.Name = nil
			} else {
				im.Name = ptr(fmt.Sprintf("n%d", i%5)) // ties
			}
			if i%3 != 0 {
				im.Size = ptr(int64(i % 4 * 10))
			}
			im.CreatedAt = at.Add(time.Duration(i%6) * time.Second) // ties
			all = append(all, im)
		}
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			for i := range all {
				if err := tx.CreateImage(ctx, &all[i]); err != nil {
					return err
				}
			}
			return nil
		})
		sortKeys := [][]store.ImageSort{
			{{Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
			{{Key: "name"}, {Key: "id"}},
			{{Key: "size", Desc: true}, {Key: "created_at", Desc: true}, {Key: "id", Desc: true}},
			{{Key: "name", Desc: false}, {Key: "size", Desc: true}, {Key: "id", Desc: false}},
			{{Key: "id"}},
		}
		for _, sk := range sortKeys {
			t.Run(fmt.Sprint(sk), func(t *testing.T) {
				want := listIDs(t, db, store.ImageQuery{AllProjects: true, Sort: sk})
				if len(want) != len(all) {
					t.Fatalf("full list has %d images, want %d", len(want), len(all))
				}
				checkOrder(t, all, want, sk)
				var got []string
				var marker *store.Image
				for page := 0; page < 30; page++ {
					var ims []store.Image
					read(t, db, func(ctx context.Context, tx *store.Tx) (err error) {
						ims, err = tx.ListImages(ctx, store.ImageQuery{AllProjects: true, Sort: sk, Marker: marker, Limit: 4})
						return err
					})
					for _, im := range ims {
						got = append(got, im.ID)
					}
					if len(ims) < 4 {
						break
					}
					marker = &ims[len(ims)-1]
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("pages joined (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// checkOrder checks ids are sorted by sk, NULLs first as the lowest values.
func checkOrder(t *testing.T, all []store.Image, ids []string, sk []store.ImageSort) {
	t.Helper()
	byID := map[string]store.Image{}
	for _, im := range all {
		byID[im.ID] = im
	}
	val := func(im store.Image, key string) string {
		switch key {
		case "name":
			if im.Name == nil {
				return ""
			}
			return *im.Name
		case "size":
			if im.Size == nil {
				return "-1"
			}
			return fmt.Sprintf("%020d", *im.Size)
		case "created_at":
			return fmt.Sprintf("%020d", im.CreatedAt.UnixMicro())
		}
		return im.ID
	}
	less := func(a, b store.Image) int {
		for _, s := range sk {
			va, vb := val(a, s.Key), val(b, s.Key)
			if va == "-1" {
				va = ""
			}
			if vb == "-1" {
				vb = ""
			}
			if va != vb {
				c := 1
				if va < vb {
					c = -1
				}
				if s.Desc {
					c = -c
				}
				return c
			}
		}
		return 0
	}
	want := slices.Clone(ids)
	sort.SliceStable(want, func(i, j int) bool { return less(byID[want[i]], byID[want[j]]) < 0 })
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("list is not in %v order (-want +got):\n%s", sk, diff)
	}
}

func TestImageMembersAndTasks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		im := newImage(1, "p1", "shared")
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.CreateImage(ctx, &im) })
		m := store.ImageMember{ImageID: im.ID, MemberID: "p2", Status: "pending", CreatedAt: at, UpdatedAt: at}
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.CreateImageMember(ctx, m) })
		err := db.Write(context.Background(), func(tx *store.Tx) error { return tx.CreateImageMember(context.Background(), m) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate member: %v, want ErrConflict", err)
		}
		m.Status, m.UpdatedAt = "accepted", at.Add(time.Second)
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateImageMember(ctx, m) })
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			got, err := tx.ListImageMembers(ctx, im.ID, "")
			if diff := cmp.Diff([]store.ImageMember{m}, got); diff != "" {
				t.Errorf("members (-want +got):\n%s", diff)
			}
			if none, _ := tx.ListImageMembers(ctx, im.ID, "p3"); len(none) != 0 {
				t.Errorf("members filtered to p3 = %v, want none", none)
			}
			return err
		})
		task := store.ImageTask{ID: "t1", ImageID: im.ID, Type: "api_image_import", Status: "processing", Owner: "p1",
			UserID: "u1", RequestID: "req-1", Input: map[string]any{"image_id": im.ID}, Result: map[string]any{},
			CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour)}
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.CreateImageTask(ctx, task) })
		task.Status, task.Message = "success", "Copied 1 MiB"
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateImageTask(ctx, task) })
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			got, err := tx.ListImageTasks(ctx, im.ID)
			if diff := cmp.Diff([]store.ImageTask{task}, got); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
			return err
		})
		// Deleting the image drops its members.
		write(t, db, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteImage(ctx, im.ID, at) })
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			got, err := tx.ListImageMembers(ctx, im.ID, "")
			if len(got) != 0 {
				t.Errorf("members of a deleted image = %v", got)
			}
			return err
		})
	})
}

func TestImageTransfers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		im := newImage(1, "p1", "private")
		im.Status, im.Transfer, im.Worker, im.HeartbeatAt, im.ReservedBytes = store.ImageSaving, store.TransferUpload, "w1", at, 64
		idle := newImage(2, "p1", "private")
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.CreateImage(ctx, &idle); err != nil {
				return err
			}
			return tx.CreateImage(ctx, &im)
		})
		stale := func(before time.Time) []string {
			var ids []string
			read(t, db, func(ctx context.Context, tx *store.Tx) error {
				ims, err := tx.ListStaleImageTransfers(ctx, before)
				for _, im := range ims {
					ids = append(ids, im.ID)
				}
				return err
			})
			return ids
		}
		if got := stale(at); len(got) != 0 {
			t.Errorf("stale before the heartbeat: %v, want none", got)
		}
		if got := stale(at.Add(time.Second)); !slices.Equal(got, []string{im.ID}) {
			t.Errorf("stale after the heartbeat: %v, want [%s]", got, im.ID)
		}
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			return tx.HeartbeatImage(ctx, im.ID, "w1", at.Add(time.Minute), 128)
		})
		if got := stale(at.Add(time.Second)); len(got) != 0 {
			t.Errorf("stale after a new heartbeat: %v, want none", got)
		}
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			return tx.HeartbeatImage(context.Background(), im.ID, "w2", at, 0)
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("heartbeat by another worker: %v, want ErrNotFound", err)
		}
	})
}

// TestImageUsageRace has many writers race to take quota; the conditional
// update lets exactly the limit through, on both databases.
func TestImageUsageRace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const limit, writers = 10, 25
		var wg sync.WaitGroup
		var mu sync.Mutex
		granted, refused := 0, 0
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.Write(context.Background(), func(tx *store.Tx) error {
					_, err := tx.ChangeImageUsage(context.Background(), "p1", 1, 100, limit, 1000)
					return err
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					granted++
				case errors.Is(err, store.ErrQuota):
					refused++
				default:
					t.Errorf("change usage: %v", err)
				}
			}()
		}
		wg.Wait()
		if granted != limit || refused != writers-limit {
			t.Errorf("granted %d, refused %d; want %d and %d", granted, refused, limit, writers-limit)
		}
		read(t, db, func(ctx context.Context, tx *store.Tx) error {
			u, err := tx.GetImageUsage(ctx, "p1")
			if u != (store.ImageUsage{Images: limit, Bytes: limit * 100}) {
				t.Errorf("usage = %+v, want %d images and %d bytes", u, limit, limit*100)
			}
			return err
		})
		// Decreases always pass; the bytes limit is checked on its own.
		write(t, db, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.ChangeImageUsage(ctx, "p1", -1, -100, limit, 1000)
			return err
		})
		err := db.Write(context.Background(), func(tx *store.Tx) error {
			u, err := tx.ChangeImageUsage(context.Background(), "p1", 0, 200, -1, 1000)
			if u.Bytes != 900 {
				t.Errorf("usage on refusal = %+v, want 900 bytes", u)
			}
			return err
		})
		if !errors.Is(err, store.ErrQuota) {
			t.Errorf("bytes past the limit: %v, want ErrQuota", err)
		}
	})
}
