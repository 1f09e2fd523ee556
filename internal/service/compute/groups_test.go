package compute_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

func TestServerGroups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := opsService(t, db)

		g, err := s.CreateServerGroup(ctx, opsAlice, compute.GroupCreate{Name: "web", Policy: "anti-affinity", MaxServerPerHost: 2})
		if err != nil {
			t.Fatal(err)
		}
		if g.ProjectID != "p-shop" || g.UserID != "u-alice" || g.Rules["max_server_per_host"] != float64(2) || len(g.Members) != 0 {
			t.Errorf("created group: %+v", g)
		}
		for _, tc := range []struct {
			name string
			req  compute.GroupCreate
			msg  string
		}{
			{"rules need anti-affinity", compute.GroupCreate{Name: "x", Policy: "affinity", MaxServerPerHost: 2}, "Only anti-affinity"},
			{"unknown policy", compute.GroupCreate{Name: "x", Policy: "spread"}, "policy"},
			{"bad name", compute.GroupCreate{Name: " x", Policy: "affinity"}, "name"},
		} {
			_, err := s.CreateServerGroup(ctx, opsAlice, tc.req)
			if e := wantStatus(t, err, 400); !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%s: %q", tc.name, e.Message)
			}
		}

		// Members are the group's live servers.
		f := store.Flavor{ID: "1", Name: "small", RAM: 512, VCPUs: 1, Disk: 1}
		v1 := opsServer(t, db, "p-shop", "web-1", "host-a", g.ID, f)
		v2 := opsServer(t, db, "p-shop", "web-2", "host-b", g.ID, f)
		gone := opsServer(t, db, "p-shop", "web-3", "host-b", g.ID, f)
		err = db.Write(ctx, func(tx *store.Tx) error {
			gone.Deleted = true
			return tx.UpdateServer(ctx, &gone, 0)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ServerGroup(ctx, opsBob, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{v1.ID, v2.ID}, got.Members, sortStrings); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		// Other projects get 404, admins see it.
		_, err = s.ServerGroup(ctx, opsMallory, g.ID)
		wantStatus(t, err, 404)
		if _, err := s.ServerGroup(ctx, opsAdmin, g.ID); err != nil {
			t.Error(err)
		}

		if _, err := s.CreateServerGroup(ctx, opsMallory, compute.GroupCreate{Name: "db", Policy: "soft-affinity"}); err != nil {
			t.Fatal(err)
		}
		mine, _ := s.ServerGroups(ctx, opsAlice, true, 0, 0) // all_projects is ignored for non-admins
		all, _ := s.ServerGroups(ctx, opsAdmin, true, 0, 0)
		adminOwn, _ := s.ServerGroups(ctx, opsAdmin, false, 0, 0)
		if len(mine) != 1 || len(all) != 2 || len(adminOwn) != 0 {
			t.Errorf("lists: mine %d, all %d, admin's own %d", len(mine), len(all), len(adminOwn))
		}
		if len(mine) == 1 && len(mine[0].Members) != 2 {
			t.Errorf("listed members: %v", mine[0].Members)
		}
		p1, _ := s.ServerGroups(ctx, opsAdmin, true, 1, 0)
		p2, _ := s.ServerGroups(ctx, opsAdmin, true, 1, 1)
		p3, _ := s.ServerGroups(ctx, opsAdmin, true, 1, 2)
		if len(p1) != 1 || len(p2) != 1 || len(p3) != 0 || p1[0].ID == p2[0].ID {
			t.Errorf("limit/offset pages: %v %v %v", p1, p2, p3)
		}

		// Quota server_groups.
		if _, err := s.SetLimits(ctx, "p-shop", map[string]int64{"server_groups": 1}); err != nil {
			t.Fatal(err)
		}
		_, err = s.CreateServerGroup(ctx, opsBob, compute.GroupCreate{Name: "more", Policy: "affinity"})
		if e := wantStatus(t, err, 403); !strings.Contains(e.Message, "Quota exceeded, too many server groups") {
			t.Errorf("quota message: %q", e.Message)
		}

		wantStatus(t, s.DeleteServerGroup(ctx, opsMallory, g.ID), 404)
		if err := s.DeleteServerGroup(ctx, opsBob, g.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.ServerGroup(ctx, opsAlice, g.ID)
		wantStatus(t, err, 404)
	})
}
