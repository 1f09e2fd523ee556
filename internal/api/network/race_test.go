package network_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// TestIPAMRace: 50 ports created at once on a subnet with room for 40
// never share an address; exactly 40 get one and the rest are refused with
// IpAddressGenerationFailure.
func TestIPAMRace(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "race"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		// 10.5.0.0/26 with a pool of 41 addresses: the DHCP port takes one.
		if _, err := subnets.Create(ctx, e.alice, subnets.CreateOpts{NetworkID: n.ID, CIDR: "10.5.0.0/26", IPVersion: gophercloud.IPv4,
			AllocationPools: []subnets.AllocationPool{{Start: "10.5.0.10", End: "10.5.0.50"}}}).Extract(); err != nil {
			t.Fatal(err)
		}
		const racers = 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		ips := map[string]string{}
		codes := map[int]int{}
		var other []string
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.call(t, "POST", "/ports", e.aliceTok, fmt.Sprintf(`{"port":{"network_id":"%s","name":"r%d"}}`, n.ID, i))
				mu.Lock()
				defer mu.Unlock()
				codes[r.Status]++
				switch r.Status {
				case 201:
					p := r.JSON(t)["port"].(map[string]any)
					ip := p["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)
					if prev, dup := ips[ip]; dup {
						t.Errorf("address %s given to %s and %s", ip, prev, p["id"])
					}
					ips[ip] = p["id"].(string)
				case 409:
					if !strings.Contains(string(r.Body), `"type":"IpAddressGenerationFailure"`) {
						other = append(other, string(r.Body))
					}
				default:
					other = append(other, fmt.Sprintf("%d %s", r.Status, r.Body))
				}
			}()
		}
		wg.Wait()
		if codes[201] != 40 || codes[409] != 10 || len(other) > 0 {
			t.Errorf("statuses %v, unexpected answers %v", codes, other)
		}
		// And the store agrees: 41 addresses, all distinct.
		all := listPorts(t, e.admin, ports.ListOpts{NetworkID: n.ID})
		seen := map[string]bool{}
		for _, p := range all {
			for _, f := range p.FixedIPs {
				if seen[f.IPAddress] {
					t.Errorf("address %s held twice", f.IPAddress)
				}
				seen[f.IPAddress] = true
			}
		}
		if len(seen) != 41 {
			t.Errorf("%d addresses held, want 41", len(seen))
		}
	})
}

// TestQuotaRace: with a port quota of 10, 30 creates at once leave exactly
// 10 ports; the others get OverQuota.
func TestQuotaRace(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if r := e.call(t, "PUT", "/quotas/"+e.shopID, e.adminTok, `{"quota":{"port":10,"network":2}}`); r.Status != 200 {
			t.Fatalf("set quota: %d %s", r.Status, r.Body)
		}
		n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "q"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.call(t, "POST", "/ports", e.aliceTok, `{"port":{"network_id":"`+n.ID+`"}}`)
				mu.Lock()
				defer mu.Unlock()
				codes[r.Status]++
				if r.Status == 409 && !strings.Contains(string(r.Body), `"type":"OverQuota"`) {
					t.Errorf("409 that is not OverQuota: %s", r.Body)
				}
			}()
		}
		wg.Wait()
		if codes[201] != 10 || codes[409] != 20 {
			t.Errorf("statuses %v, want 10 created and 20 OverQuota", codes)
		}
		d := e.call(t, "GET", "/quotas/"+e.shopID+"/details.json", e.aliceTok, nil).JSON(t)["quota"].(map[string]any)
		if p := d["port"].(map[string]any); p["limit"].(float64) != 10 || p["used"].(float64) != 10 {
			t.Errorf("details: %v", d)
		}
		if _, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: "q2"}).Extract(); err != nil {
			t.Fatal(err)
		}
		r := e.call(t, "POST", "/networks", e.aliceTok, `{"network":{"name":"q3"}}`)
		if r.Status != 409 || !strings.Contains(string(r.Body), `"message":"Quota exceeded for resources: ['network']."`) {
			t.Errorf("third network: %d %s", r.Status, r.Body)
		}
		def := e.call(t, "GET", "/quotas/"+e.rivalID, e.bobTok, nil).JSON(t)["quota"].(map[string]any)
		want := map[string]float64{"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50, "security_group": 10, "security_group_rule": 100}
		for k, v := range want {
			if def[k] != v {
				t.Errorf("default quota %s = %v, want %v", k, def[k], v)
			}
		}
		if r := e.call(t, "PUT", "/quotas/"+e.shopID, e.aliceTok, `{"quota":{"port":1000}}`); r.Status != 403 {
			t.Errorf("member sets quota: %d", r.Status)
		}
	})
}

// TestSubnetPoolRace: 24 subnets created at once from a pool with room
// for 16 /28s get 16 distinct, non-overlapping prefixes; the other 8 are
// refused with SubnetAllocationError.
func TestSubnetPoolRace(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.call(t, "POST", "/subnetpools", e.aliceTok, `{"subnetpool":{"name":"race","prefixes":["10.90.0.0/24"],"default_prefixlen":28}}`)
		if r.Status != 201 {
			t.Fatalf("pool: %d %s", r.Status, r.Body)
		}
		pool := r.JSON(t)["subnetpool"].(map[string]any)["id"].(string)
		const racers = 24
		nets := make([]string, racers)
		for i := range nets {
			n, err := networks.Create(ctx, e.alice, networks.CreateOpts{Name: fmt.Sprintf("race%d", i)}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			nets[i] = n.ID
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var cidrs []netip.Prefix
		codes := map[int]int{}
		var other []string
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.call(t, "POST", "/subnets", e.aliceTok, fmt.Sprintf(`{"subnet":{"network_id":"%s","ip_version":4,"subnetpool_id":"%s"}}`, nets[i], pool))
				mu.Lock()
				defer mu.Unlock()
				codes[r.Status]++
				switch r.Status {
				case 201:
					cidrs = append(cidrs, netip.MustParsePrefix(r.JSON(t)["subnet"].(map[string]any)["cidr"].(string)))
				case 409:
					if !strings.Contains(string(r.Body), `"type":"SubnetAllocationError"`) {
						other = append(other, string(r.Body))
					}
				default:
					other = append(other, fmt.Sprintf("%d %s", r.Status, r.Body))
				}
			}()
		}
		wg.Wait()
		if codes[201] != 16 || codes[409] != 8 || len(other) > 0 {
			t.Errorf("statuses %v, unexpected answers %v", codes, other)
		}
		whole := netip.MustParsePrefix("10.90.0.0/24")
		for i, a := range cidrs {
			if a.Bits() != 28 || !whole.Contains(a.Addr()) {
				t.Errorf("prefix %s is not a /28 of the pool", a)
			}
			for _, b := range cidrs[:i] {
				if a.Overlaps(b) {
					t.Errorf("prefixes %s and %s overlap", a, b)
				}
			}
		}
	})
}
