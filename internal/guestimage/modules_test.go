package guestimage

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseModinfo(t *testing.T) {
	data := []byte("license=GPL\x00\x00\x00depends=virtio,virtio_ring\x00alias=a1\x00alias=a2\x00garbage\x00=novalue\x00name=virtio_blk\x00")
	got := parseModinfo(data)
	want := map[string][]string{
		"license": {"GPL"},
		"depends": {"virtio,virtio_ring"},
		"alias":   {"a1", "a2"},
		"name":    {"virtio_blk"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseModinfo (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"virtio", "virtio_ring"}, dependsOf(got)); diff != "" {
		t.Errorf("dependsOf (-want +got):\n%s", diff)
	}
	if deps := dependsOf(map[string][]string{"depends": {""}}); len(deps) != 0 {
		t.Errorf("empty depends= gave %q", deps)
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("depends=a,b\x00name=c\x00"))
	f.Add([]byte("\x00\x00="))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k, vs := range parseModinfo(data) {
			if k == "" || strings.Contains(k, "\x00") {
				t.Fatalf("bad key %q", k)
			}
			for _, v := range vs {
				if strings.Contains(v, "\x00") {
					t.Fatalf("value with NUL %q", v)
				}
			}
		}
	})
}

func TestModName(t *testing.T) {
	for in, want := range map[string]string{
		"/lib/modules/x/kernel/drivers/char/hw_random/virtio-rng.ko": "virtio_rng",
		"nls_iso8859-1": "nls_iso8859_1",
		"virtio_blk.ko": "virtio_blk",
	} {
		if got := modName(in); got != want {
			t.Errorf("modName(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeModules is a module tree: name -> depends= value.
func fakeModules(deps map[string]string) (map[string]string, func(string) (map[string][]string, error)) {
	idx := map[string]string{}
	for n := range deps {
		idx[n] = "/fake/" + n + ".ko"
	}
	read := func(path string) (map[string][]string, error) {
		d, ok := deps[modName(path)]
		if !ok {
			return nil, fmt.Errorf("no module %s", path)
		}
		return map[string][]string{"depends": {d}}, nil
	}
	return idx, read
}

func TestResolveModules(t *testing.T) {
	tree := map[string]string{
		"virtio_ring": "", "virtio": "",
		"virtio_pci_modern_dev": "", "virtio_pci_legacy_dev": "",
		"virtio_pci": "virtio_pci_modern_dev,virtio_ring,virtio,virtio_pci_legacy_dev",
		"virtio_blk": "virtio,virtio_ring",
		"failover":   "", "net_failover": "failover",
		"virtio_net": "net_failover,virtio,virtio_ring",
		"fat":        "", "vfat": "fat",
		"cycle_a": "cycle_b", "cycle_b": "cycle_a",
		"needs_ghost": "ghost",
		"needs_ext4":  "ext4",
	}
	idx, read := fakeModules(tree)
	builtin := map[string]bool{"ext4": true, "crc32c": true}
	tests := []struct {
		name    string
		wanted  []string
		want    []string
		wantErr string
	}{
		{
			name:   "dependencies first, in the order wanted names them",
			wanted: []string{"virtio_pci", "virtio-blk", "virtio_net", "vfat"},
			want: []string{"virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_ring", "virtio_pci",
				"virtio_blk", "failover", "net_failover", "virtio_net", "fat", "vfat"},
		},
		{name: "a leaf alone", wanted: []string{"fat"}, want: []string{"fat"}},
		{name: "built-in wanted module is skipped", wanted: []string{"crc32c", "fat"}, want: []string{"fat"}},
		{name: "built-in dependency is skipped", wanted: []string{"needs_ext4"}, want: []string{"needs_ext4"}},
		{name: "cycle", wanted: []string{"cycle_a"}, wantErr: "cycle"},
		{name: "missing dependency", wanted: []string{"needs_ghost"}, wantErr: "ghost (needed by needs_ghost)"},
		{name: "missing module", wanted: []string{"nope"}, wantErr: "module nope is neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mods, err := resolveModules(idx, builtin, tt.wanted, read)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range mods {
				got = append(got, m.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			// Whatever the order, each module follows its dependencies.
			pos := map[string]int{}
			for i, m := range mods {
				pos[m.Name] = i
			}
			for _, m := range mods {
				for _, d := range m.Depends {
					if p, ok := pos[d]; ok && p > pos[m.Name] {
						t.Errorf("%s loads before its dependency %s", m.Name, d)
					}
				}
			}
		})
	}
}
