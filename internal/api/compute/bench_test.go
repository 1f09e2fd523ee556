package compute_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloud"
	"github.com/onestack/onestack/internal/cloudtest"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	"github.com/onestack/onestack/internal/store"
)

// BenchmarkBoot boots servers one after another on fake hosts through the
// HTTP API and reports the create call's latency (p50, p99) and the time
// from the call to ACTIVE (p50, p99). Run with -benchtime=200x or so.
func BenchmarkBoot(b *testing.B) {
	env := cloudtest.NewWith(b, cloudtest.Options{Hosts: 10, Size: cloud.FakeHostSize{VCPUs: 1024, MemoryMB: 1 << 22, DiskGB: 1 << 20}})
	ctx := context.Background()
	tok := env.Token(b, "admin", cloudtest.AdminPassword, "admin")
	var imageID string
	{
		r := env.Do(b, "POST", "/image/v2/images", tok, []byte(`{"name": "b", "disk_format": "raw", "container_format": "bare"}`))
		var im struct{ ID string }
		_ = json.Unmarshal(r.Body, &im)
		imageID = im.ID
		if up := env.Do(b, "PUT", "/image/v2/images/"+imageID+"/file", tok, []byte("x"), "Content-Type", "application/octet-stream"); up.Status != 204 {
			b.Fatalf("upload: %d %s", up.Status, up.Body)
		}
	}
	err := env.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		now := time.Now()
		if err := tx.CreateFlavor(ctx, store.Flavor{ID: "1", Name: "small", RAM: 512, VCPUs: 1, Disk: 1, IsPublic: true, RxTxFactor: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		ps, err := env.Cloud.Identity.ListProjects(ctx, idsvc.ProjectFilter{Name: "admin"})
		if err != nil {
			return err
		}
		for _, r := range []string{"instances", "cores", "ram"} {
			if err := tx.SetQuota(ctx, ps[0].ID, r, -1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"server": {"name": "bench", "imageRef": "` + imageID + `", "flavorRef": "1", "networks": "none"}}`)
	var api, active []time.Duration
	for b.Loop() {
		start := time.Now()
		r := env.Do(b, "POST", "/compute/v2.1/servers", tok, body, "OpenStack-API-Version", "compute 2.79")
		api = append(api, time.Since(start))
		if r.Status != 202 {
			b.Fatalf("create: %d %s", r.Status, r.Body)
		}
		var created struct{ Server struct{ ID string } }
		_ = json.Unmarshal(r.Body, &created)
		for deadline := time.Now().Add(10 * time.Second); ; {
			var v store.Server
			if err := env.Cloud.DB.Read(ctx, func(tx *store.Tx) error {
				var err error
				v, err = tx.GetServer(ctx, created.Server.ID)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			if v.VMState == "active" {
				active = append(active, time.Since(start))
				break
			}
			if v.VMState == "error" || time.Now().After(deadline) {
				b.Fatalf("server %s: %s %v", v.ID, v.VMState, v.Fault)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	pct := func(d []time.Duration, p float64) float64 {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return float64(s[int(float64(len(s)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(api, 0.5), "create-p50-ms")
	b.ReportMetric(pct(api, 0.99), "create-p99-ms")
	b.ReportMetric(pct(active, 0.5), "active-p50-ms")
	b.ReportMetric(pct(active, 0.99), "active-p99-ms")
}

// BenchmarkListDetailManyHosts times an admin's GET /servers/detail page of
// 100 servers at microversion 2.79 (host_status shown) in a fleet of 5,000
// hosts: the page reads its own hosts, so its cost does not grow with the
// fleet (reading every host for each page cost O(hosts)).
func BenchmarkListDetailManyHosts(b *testing.B) {
	const hosts, servers, page = 5000, 100, 100
	env := cloudtest.New(b)
	ctx := context.Background()
	tok := env.Token(b, "admin", cloudtest.AdminPassword, "admin")
	ps, err := env.Cloud.Identity.ListProjects(ctx, idsvc.ProjectFilter{Name: "admin"})
	if err != nil || len(ps) == 0 {
		b.Fatalf("admin project: %v", err)
	}
	err = env.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		now := time.Now()
		for i := range hosts {
			name := fmt.Sprintf("fleet-%04d", i)
			if _, err := tx.UpsertHost(ctx, store.ComputeHost{ID: "id-" + name, Host: name, Enabled: true, HeartbeatAt: now,
				StatusChangedAt: now, CreatedAt: now, HypervisorType: "fake", CPUInfo: "{}", VCPUs: 16, MemoryMB: 32768, DiskGB: 100}); err != nil {
				return err
			}
		}
		f := store.Flavor{ID: "1", Name: "small", RAM: 512, VCPUs: 1, Disk: 1, IsPublic: true, RxTxFactor: 1}
		for i := range servers {
			v := store.Server{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), ProjectID: ps[0].ID, UserID: "u", Name: "s",
				Flavor: f, Host: fmt.Sprintf("fleet-%04d", i*hosts/servers), VMState: "active", PowerState: 1, DesiredPower: "running",
				CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateServer(ctx, &v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/compute/v2.1/servers/detail?limit=%d", page)
	r := env.Do(b, "GET", path, tok, nil, "OpenStack-API-Version", "compute 2.79")
	var got struct {
		Servers []struct {
			HostStatus string `json:"host_status"`
		}
	}
	if err := json.Unmarshal(r.Body, &got); err != nil || len(got.Servers) != page {
		b.Fatalf("list: %d %v %.200s", r.Status, err, r.Body)
	}
	for _, v := range got.Servers {
		if v.HostStatus != "UP" {
			b.Fatalf("host_status %q, want UP", v.HostStatus)
		}
	}
	for b.Loop() {
		r := env.Do(b, "GET", path, tok, nil, "OpenStack-API-Version", "compute 2.79")
		if r.Status != 200 {
			b.Fatalf("list: %d %s", r.Status, r.Body)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/page")
}
