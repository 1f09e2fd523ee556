package linux

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/metadata"
)

func TestSGRule(t *testing.T) {
	tests := []struct {
		name string
		rule hostapi.SecurityGroupRule
		want string
		ok   bool
	}{
		{"any egress", hostapi.SecurityGroupRule{Direction: "egress", EtherType: "IPv4"}, "accept", true},
		{"ssh from a prefix", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortMin: intp(22), PortMax: intp(22), RemoteIPPrefix: "10.1.2.0/24"},
			"ip saddr 10.1.2.0/24 meta l4proto tcp tcp dport 22 accept", true},
		{"udp range by number", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "17", PortMin: intp(1000), PortMax: intp(2000)},
			"meta l4proto udp udp dport 1000-2000 accept", true},
		{"icmp echo", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "icmp", PortMin: intp(8), PortMax: intp(0)},
			"meta l4proto icmp icmp type 8 icmp code 0 accept", true},
		{"icmp any", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "icmp"}, "meta l4proto icmp accept", true},
		{"remote group", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", RemoteGroupID: sgID},
			"ip saddr @m-" + sgID + " accept", true},
		{"egress to host", hostapi.SecurityGroupRule{Direction: "egress", EtherType: "IPv4", RemoteIPPrefix: "192.0.2.7"}, "ip daddr 192.0.2.7 accept", true},
		{"whole internet is any", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", RemoteIPPrefix: "0.0.0.0/0"}, "accept", true},
		{"gre by name", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "gre"}, "ip protocol gre accept", true},
		{"protocol 47", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "47"}, "ip protocol 47 accept", true},
		{"ipv6 skipped", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv6"}, "", false},
		{"injection refused", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "tcp; flush ruleset"}, "", false},
		{"v6 prefix on v4 rule", hostapi.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", RemoteIPPrefix: "2001:db8::/32"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sgRule(tt.rule)
			if got != tt.want || ok != tt.ok {
				t.Errorf("sgRule = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestV4Prefixes(t *testing.T) {
	got := v4Prefixes([]string{"10.0.0.5", "10.0.0.0/24", "10.0.1.7", "2001:db8::1", "junk", "10.0.1.7/32", "192.168.1.9/16"})
	want := []string{"10.0.0.0/24", "10.0.1.7", "192.168.0.0/16"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPortAddresses(t *testing.T) {
	p := hostapi.Port{ID: "p", MAC: "FA:16:3E:00:00:01", FixedIPs: []hostapi.FixedIP{{IP: "10.0.0.5"}},
		AllowedAddressPairs: []hostapi.AddressPair{{IP: "10.0.0.0/28", MAC: "fa:16:3e:00:00:02"}, {IP: "10.9.9.9"}, {IP: "2001:db8::5"}}}
	macs, prefixes, err := portAddresses(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fa:16:3e:00:00:01", "fa:16:3e:00:00:02"}, macs); diff != "" {
		t.Errorf("macs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10.0.0.0/28", "10.9.9.9"}, prefixes); diff != "" {
		t.Errorf("prefixes (-want +got):\n%s", diff)
	}
	if _, _, err := portAddresses(hostapi.Port{ID: "p", MAC: "zz"}); err == nil || !strings.Contains(err.Error(), "MAC address") {
		t.Errorf("bad MAC: %v", err)
	}
}

func testView() *netView {
	s := &scenario{p1: testPort("11111111-0000-4000-8000-000000000001", "fa:16:3e:00:00:11", "10.0.0.11", "server-1"),
		p2: testPort("22222222-0000-4000-8000-000000000002", "fa:16:3e:00:00:12", "10.0.0.12", "server-2"), tunnels: map[string]string{}}
	n := s.network("a")
	v := &netView{network: n, subnets: map[string]hostapi.Subnet{}, byMAC: map[string]hostapi.Port{}, byIP: map[string]hostapi.Port{}}
	for _, sub := range n.Subnets {
		v.subnets[sub.ID] = sub
	}
	v.byMAC[s.p1.MAC] = s.p1
	v.byIP["10.0.0.11"] = s.p1
	return v
}

func TestDHCPReply(t *testing.T) {
	v := testView()
	mac := mustMAC("fa:16:3e:00:00:11")
	disc, _ := dhcpv4.NewDiscovery(mac)
	offer, ok := v.reply(disc)
	if !ok || offer.MessageType() != dhcpv4.MessageTypeOffer || offer.YourIPAddr.String() != "10.0.0.11" {
		t.Fatalf("offer = %v, %v", offer, ok)
	}
	if sid := offer.ServerIdentifier(); sid.String() != "10.0.0.2" {
		t.Errorf("server id %v", sid)
	}
	req, _ := dhcpv4.NewRequestFromOffer(offer)
	ack, ok := v.reply(req)
	if !ok || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("ack = %v", ack)
	}
	// A client asking for another address is refused.
	bad, _ := dhcpv4.NewRequestFromOffer(offer, dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP("10.0.0.12"))))
	if nak, ok := v.reply(bad); !ok || nak.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("wrong address: %v", nak)
	}
	// Another host's port, or a stranger: no answer.
	other, _ := dhcpv4.NewDiscovery(mustMAC("fa:16:3e:00:00:12"))
	if r, ok := v.reply(other); ok {
		t.Errorf("answered a port of another host: %v", r)
	}
}

func FuzzDHCPReply(f *testing.F) {
	disc, _ := dhcpv4.NewDiscovery(mustMAC("fa:16:3e:00:00:11"))
	f.Add(disc.ToBytes())
	offer, _ := testView().reply(disc)
	req, _ := dhcpv4.NewRequestFromOffer(offer)
	f.Add(req.ToBytes())
	f.Add([]byte{1, 1, 6, 0})
	v := testView()
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		if r, ok := v.reply(m); ok {
			r.ToBytes()
		}
	})
}

func TestMetadataHandler(t *testing.T) {
	s := &netServer{}
	s.view.Store(testView())
	h := &metadataHandler{s: s, log: discardLog{}, lookup: func(ctx context.Context, id string) (metadata.Instance, error) {
		if id != "server-1" {
			return metadata.Instance{}, errors.New("unexpected server " + id)
		}
		return metadata.Instance{UUID: id, Name: "one"}, nil
	}}
	get := func(remote, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get("10.0.0.11:4000", "/openstack/latest/meta_data.json"); w.Code != 200 || !strings.Contains(w.Body.String(), `"uuid": "server-1"`) && !strings.Contains(w.Body.String(), `"uuid":"server-1"`) {
		t.Errorf("own metadata: %d %s", w.Code, w.Body)
	}
	if w := get("10.0.0.11:4000", "/latest/meta-data/instance-id"); w.Code != 200 {
		t.Errorf("ec2 instance-id: %d %s", w.Code, w.Body)
	}
	for _, remote := range []string{"10.0.0.12:4000", "10.0.0.99:4000", "garbage"} {
		if w := get(remote, "/openstack/latest/meta_data.json"); w.Code != 404 || strings.Contains(w.Body.String(), "server-1") {
			t.Errorf("from %s: %d %s", remote, w.Code, w.Body)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/openstack/latest/meta_data.json", nil)
	r.RemoteAddr = "10.0.0.11:4000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

type discardLog struct{}

func (discardLog) Warn(string, ...any) {}
