package compute_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/store"
)

// TestHostStatus checks Nova's host_status on show and on a list page (read
// from the page's own hosts): UP for a live enabled host, MAINTENANCE for a
// disabled one, and absent before microversion 2.16.
func TestHostStatus(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	ids := []string{e.boot(t, "a", "1", nil), e.boot(t, "b", "1", nil), e.boot(t, "c", "1", nil)}
	hostOf := map[string]string{}
	for _, id := range ids {
		e.waitStatus(t, id, "ACTIVE")
	}
	ctx := context.Background()
	var disabled string
	err := e.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			v, err := tx.GetServer(ctx, id)
			if err != nil {
				return err
			}
			hostOf[id] = v.Host
		}
		h, err := tx.GetHostByName(ctx, hostOf[ids[0]])
		if err != nil {
			return err
		}
		h.Enabled, h.DisabledReason, h.StatusChangedAt = false, "test", time.Now()
		disabled = h.Host
		return tx.SetHostStatus(ctx, h)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{}
	for _, id := range ids {
		want[id] = "UP"
		if hostOf[id] == disabled {
			want[id] = "MAINTENANCE"
		}
	}
	for _, tc := range []struct {
		version string
		want    map[string]any
	}{
		{"2.79", want},
		{"2.15", map[string]any{ids[0]: nil, ids[1]: nil, ids[2]: nil}},
	} {
		got := map[string]any{}
		r := e.Do(t, "GET", "/compute/v2.1/servers/detail?limit=2", e.nova.TokenID, nil, "OpenStack-API-Version", "compute "+tc.version)
		for marker := ""; ; {
			page, _ := r.JSON(t)["servers"].([]any)
			for _, s := range page {
				m := s.(map[string]any)
				got[m["id"].(string)] = m["host_status"]
				marker = m["id"].(string)
			}
			if len(page) < 2 {
				break
			}
			r = e.Do(t, "GET", "/compute/v2.1/servers/detail?limit=2&marker="+marker, e.nova.TokenID, nil, "OpenStack-API-Version", "compute "+tc.version)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("list at %s: host_status (-want +got):\n%s", tc.version, diff)
		}
		for _, id := range ids {
			r := e.Do(t, "GET", "/compute/v2.1/servers/"+id, e.nova.TokenID, nil, "OpenStack-API-Version", "compute "+tc.version)
			s, _ := r.JSON(t)["server"].(map[string]any)
			if s["host_status"] != tc.want[id] {
				t.Errorf("show %s at %s: host_status %v, want %v", id, tc.version, s["host_status"], tc.want[id])
			}
		}
	}
}
