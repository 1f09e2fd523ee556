package volume_test

import (
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"

	"github.com/onestack/onestack/internal/cloudtest"
	svc "github.com/onestack/onestack/internal/service/volume"
)

// BenchmarkVolumeCreate: POST /volumes of a 1 GiB blank volume until GET
// shows it available, through the in-process cloud and its storage pool
// (target: at most 1 s).
func BenchmarkVolumeCreate(b *testing.B) {
	env := cloudtest.New(b)
	sc := cinder(b, env.Admin(b))
	proj := projectID(b, env, env.Token(b, "admin", cloudtest.AdminPassword, "admin"))
	if _, err := env.Cloud.Volume.SetQuotas(ctx, proj, svc.Quotas{"volumes": -1, "gigabytes": -1, "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1}); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		v, err := volumes.Create(ctx, sc, volumes.CreateOpts{Size: 1}, nil).Extract()
		if err != nil {
			b.Fatal(err)
		}
		if got := waitVolume(b, sc, v.ID, "available", "error"); got.Status != "available" {
			b.Fatalf("volume %s is %s", v.ID, got.Status)
		}
		total += time.Since(start)
		n++
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/volume")
}
