package network

import (
	"testing"

	"github.com/onestack/onestack/internal/store"
)

func TestPoolAddr(t *testing.T) {
	pools := []store.IPRange{{Start: "10.0.0.2", End: "10.0.0.4"}, {Start: "10.0.1.250", End: "10.0.2.3"}}
	cases := map[uint64]string{0: "10.0.0.2", 2: "10.0.0.4", 3: "10.0.1.250", 8: "10.0.1.255", 9: "10.0.2.0", 12: "10.0.2.3", 13: ""}
	for k, want := range cases {
		got, ok := poolAddr(pools, k)
		if (want == "") != !ok || ok && got.String() != want {
			t.Errorf("poolAddr(%d) = %v %v, want %q", k, got, ok, want)
		}
	}
	v6 := []store.IPRange{{Start: "fd00::2", End: "fd00::ffff:ffff:ffff:ffff"}}
	if got, _ := poolAddr(v6, 0xfffe); got.String() != "fd00::1:0" {
		t.Errorf("v6 carry: %v", got)
	}
	big := []store.IPRange{{Start: "fd00::", End: "fd00:0:0:1::"}}
	if got, ok := poolAddr(big, 5); !ok || got.String() != "fd00::5" {
		t.Errorf("v6 pool beyond 64 bits: %v %v", got, ok)
	}
}

func TestEUI64(t *testing.T) {
	got, err := eui64("2001:db8:1::/64", "fa:16:3e:12:34:56")
	if err != nil || got != "2001:db8:1:0:f816:3eff:fe12:3456" {
		t.Errorf("eui64: %s %v", got, err)
	}
	if _, err := eui64("2001:db8::/56", "fa:16:3e:12:34:56"); err == nil {
		t.Error("eui64 on a /56")
	}
}
