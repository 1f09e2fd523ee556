package scheduler

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/store"
)

// fleet builds an in-memory snapshot of n enabled, up hosts with the given
// free RAM each.
func fleet(n int, freeRAM int64) *snapshot {
	snap := &snapshot{byName: map[string]*host{}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("host-%d", i+1)
		h := &host{
			rec:   store.ComputeHost{ID: fmt.Sprintf("uuid-%d", i), Host: name, Enabled: true, HeartbeatAt: time.Now()},
			up:    true,
			zone:  "nova",
			hasRP: true,
			prov: Provider{Free: map[string]int64{"VCPU": 64, "MEMORY_MB": freeRAM, "DISK_GB": 1000},
				MaxUnit: map[string]int64{"VCPU": 16, "MEMORY_MB": 65536, "DISK_GB": 1000}},
		}
		snap.hosts = append(snap.hosts, h)
		snap.byName[name] = h
	}
	return snap
}

func testScheduler(snap *snapshot) *Scheduler {
	return &Scheduler{cfg: Config{Candidates: 16}, snap: snap, snapAt: time.Now(), rng: rand.New(rand.NewPCG(1, 2))}
}

func server(ram, vcpus int) store.Server {
	return store.Server{ID: "s", Flavor: store.Flavor{RAM: ram, VCPUs: vcpus, Disk: 1}}
}

func TestDecideExplains(t *testing.T) {
	snap := fleet(3, 2048)
	snap.hosts[0].rec.Enabled, snap.hosts[0].rec.DisabledReason = false, "maintenance"
	snap.hosts[1].prov.Free["MEMORY_MB"] = 4096
	s := testScheduler(snap)
	v := server(8192, 2)
	d := s.decide(v, request(v), nil, nil, true, "")
	if d.chosen != nil {
		t.Fatalf("chose %s for 8192 MB; no host has it", d.chosen.rec.Host)
	}
	msg := d.explain(v, request(v))
	for _, want := range []string{"No valid host was found for 8192 MB RAM, 2 vCPU", "3 hosts considered", "1 disabled (host-1: 'maintenance'", "2 lacked RAM (best: host-2, 4096 MB free)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("explanation %q lacks %q", msg, want)
		}
	}
}

func TestDecideSpreadsAndPacks(t *testing.T) {
	snap := fleet(4, 4096)
	snap.hosts[2].prov.Free["MEMORY_MB"] = 8192
	snap.hosts[3].prov.Free["MEMORY_MB"] = 1024
	v := server(512, 1)
	if d := testScheduler(snap).decide(v, request(v), nil, nil, false, ""); d.chosen.rec.Host != "host-3" {
		t.Errorf("spread chose %s, want host-3 (most free RAM)", d.chosen.rec.Host)
	}
	pack := testScheduler(snap)
	pack.cfg.Pack = true
	if d := pack.decide(v, request(v), nil, nil, false, ""); d.chosen.rec.Host != "host-4" {
		t.Errorf("pack chose %s, want host-4 (least free RAM that fits)", d.chosen.rec.Host)
	}
}

func TestDecideGroups(t *testing.T) {
	snap := fleet(3, 4096)
	v := server(512, 1)
	anti := &store.ServerGroup{Policy: "anti-affinity", Rules: map[string]any{}}
	members := map[string]string{"a": "host-1", "b": "host-2"}
	d := testScheduler(snap).decide(v, request(v), anti, members, false, "")
	if d.chosen == nil || d.chosen.rec.Host != "host-3" {
		t.Fatalf("anti-affinity chose %v, want host-3", d.chosen)
	}
	aff := &store.ServerGroup{Policy: "affinity", Rules: map[string]any{}}
	d = testScheduler(snap).decide(v, request(v), aff, map[string]string{"a": "host-2"}, false, "")
	if d.chosen == nil || d.chosen.rec.Host != "host-2" {
		t.Fatalf("affinity chose %v, want host-2", d.chosen)
	}
}

// BenchmarkDecide measures one scheduling decision over fleets of growing
// size; the scan stops after Candidates fitting hosts, so the cost stays
// flat (compare the ns/op of the sub-benchmarks).
func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			// Most hosts are full, as in a busy cloud: 1 in 10 fits.
			snap := fleet(n, 256)
			for i := 0; i < n; i += 10 {
				snap.hosts[i].prov.Free["MEMORY_MB"] = 4096
			}
			s := testScheduler(snap)
			v := server(1024, 1)
			want := request(v)
			for b.Loop() {
				if d := s.decide(v, want, nil, nil, false, ""); d.chosen == nil {
					b.Fatal("no host chosen")
				}
			}
		})
	}
}
