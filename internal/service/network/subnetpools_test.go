package network

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestCompactPrefixes(t *testing.T) {
	cases := []struct {
		in, want []string
	}{
		{[]string{"10.0.0.0/24", "10.0.1.0/24"}, []string{"10.0.0.0/23"}},
		{[]string{"10.0.1.0/24", "10.0.2.0/24"}, []string{"10.0.1.0/24", "10.0.2.0/24"}},
		{[]string{"10.0.0.128/25", "10.0.0.0/24", "10.0.0.0/25"}, []string{"10.0.0.0/24"}},
		{[]string{"10.0.3.0/24", "10.0.2.0/24", "10.0.0.0/23"}, []string{"10.0.0.0/22"}},
		{[]string{"1.0.0.0/16", "2.0.0.0/16"}, []string{"1.0.0.0/16", "2.0.0.0/16"}},
		{[]string{"fd00::/64", "fd00:0:0:1::/64"}, []string{"fd00::/63"}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, prefixStrings(compactPrefixes(prefixes(c.in...)))); diff != "" {
			t.Errorf("compact %v (-want +got):\n%s", c.in, diff)
		}
	}
}

func TestAllocatePrefix(t *testing.T) {
	pool := prefixes("10.0.0.0/24", "10.9.0.0/28")
	cases := []struct {
		used []string
		bits int
		want string // "" for exhausted
	}{
		{nil, 26, "10.0.0.0/26"},
		{[]string{"10.0.0.0/26"}, 26, "10.0.0.64/26"},
		{[]string{"10.0.0.64/26"}, 26, "10.0.0.0/26"},
		// Best fit: the /28 block, not a piece of the /24.
		{nil, 28, "10.9.0.0/28"},
		{[]string{"10.9.0.0/28"}, 28, "10.0.0.0/28"},
		{[]string{"10.0.0.0/25", "10.0.0.192/26"}, 26, "10.0.0.128/26"},
		{[]string{"10.0.0.0/25", "10.0.0.128/26"}, 25, ""},
		{nil, 23, ""},
	}
	for _, c := range cases {
		got, ok := allocatePrefix(pool, prefixes(c.used...), c.bits)
		if (c.want == "") == ok || ok && got.String() != c.want {
			t.Errorf("allocate /%d with %v used = %v %v, want %q", c.bits, c.used, got, ok, c.want)
		}
	}
	v6, ok := allocatePrefix(prefixes("fd00::/48"), prefixes("fd00::/64"), 64)
	if !ok || v6.String() != "fd00:0:0:1::/64" {
		t.Errorf("v6: %v %v", v6, ok)
	}
}
