package metadata

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// needTools skips when the ISO tools are missing, except in CI, where the
// host packages are part of the contract and a skip would hide a gap.
func needTools(t testing.TB) {
	t.Helper()
	for _, name := range []string{"genisoimage", "isoinfo"} {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed (package genisoimage): %v", name, err)
			}
			t.Skipf("%s not installed (package genisoimage): %v", name, err)
		}
	}
}

func isoinfo(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("isoinfo", args...).Output()
	if err != nil {
		t.Fatalf("isoinfo %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// isoFiles lists the regular files of an ISO under the given name
// extension (-R Rock Ridge, -J Joliet), without the leading "/".
func isoFiles(t *testing.T, iso, ext string, dirs map[string]bool) []string {
	var files []string
	for line := range strings.Lines(string(isoinfo(t, ext, "-f", "-i", iso))) {
		p := strings.TrimPrefix(strings.TrimSpace(line), "/")
		if p != "" && !dirs[p] {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	return files
}

func TestWriteConfigDrive(t *testing.T) {
	needTools(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // to see the staging directory go away
	dir := t.TempDir()
	iso := filepath.Join(dir, "disk.config")
	if err := os.WriteFile(iso, []byte("an older drive"), 0o600); err != nil {
		t.Fatal(err)
	}

	inst := testInstance()
	inst.AdminPass = "s3cret"
	inst.Network = &NetworkData{
		Links:    []Link{{ID: "tap0", VIFID: "port-1", Type: "phy", MTU: new(1450), EthernetMACAddress: "fa:16:3e:00:00:01"}},
		Networks: []Network{{ID: "network0", Type: "ipv4_dhcp", Link: "tap0", NetworkID: "net-1"}},
	}
	inst.VendorData = map[string]any{"k": "v"}
	if err := WriteConfigDrive(t.Context(), inst, iso); err != nil {
		t.Fatal(err)
	}

	info := string(isoinfo(t, "-d", "-i", iso))
	for _, want := range []string{"Volume id: config-2", "Publisher id: onestack", "Joliet", "Rock Ridge"} {
		if !strings.Contains(info, want) {
			t.Errorf("isoinfo -d lacks %q:\n%s", want, info)
		}
	}

	want, err := Files(inst)
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{"ec2": true, "openstack": true}
	for p := range want {
		dirs[filepath.Dir(p)] = true
	}
	wantPaths := slices.Sorted(maps.Keys(want))
	if diff := cmp.Diff(wantPaths, isoFiles(t, iso, "-R", dirs)); diff != "" {
		t.Errorf("Rock Ridge files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantPaths, isoFiles(t, iso, "-J", dirs)); diff != "" {
		t.Errorf("Joliet files (-want +got):\n%s", diff)
	}

	for _, p := range wantPaths {
		got := isoinfo(t, "-R", "-i", iso, "-x", "/"+p)
		if filepath.Base(p) != "meta_data.json" {
			if !bytes.Equal(got, want[p]) {
				t.Errorf("%s = %q, want %q", p, got, want[p])
			}
			continue
		}
		// random_seed is fresh in every render: compare the rest.
		var g, w map[string]any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: %v: %q", p, err, got)
		}
		if err := json.Unmarshal(want[p], &w); err != nil {
			t.Fatal(err)
		}
		delete(g, "random_seed")
		delete(w, "random_seed")
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("%s (-want +got):\n%s", p, diff)
		}
	}

	fi, err := os.Stat(iso)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("image mode %v, want 0600 (it holds user data)", mode)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Errorf("image directory holds %d entries, want only the image", len(left))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}
}

func TestWriteConfigDriveFailures(t *testing.T) {
	needTools(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T) context.Context
		wantErr string
	}{{
		name: "genisoimage missing",
		setup: func(t *testing.T) context.Context {
			t.Setenv("PATH", t.TempDir())
			return t.Context()
		},
		wantErr: "apt-get install genisoimage",
	}, {
		name: "cancelled",
		setup: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		},
		wantErr: "context canceled",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			iso := filepath.Join(dir, "disk.config")
			if err := os.WriteFile(iso, []byte("an older drive"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := WriteConfigDrive(tt.setup(t), testInstance(), iso)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if got, _ := os.ReadFile(iso); string(got) != "an older drive" {
				t.Errorf("failed build changed the existing drive: %q", got)
			}
			if left, _ := os.ReadDir(dir); len(left) != 1 {
				t.Errorf("failed build left %d entries, want only the old drive", len(left))
			}
		})
	}

	t.Run("bad vendor data", func(t *testing.T) {
		iso := filepath.Join(t.TempDir(), "disk.config")
		err := WriteConfigDrive(t.Context(), Instance{UUID: "u", VendorData: map[string]any{"f": func() {}}}, iso)
		if err == nil || !strings.Contains(err.Error(), "vendor_data") {
			t.Fatalf("err = %v, want one naming vendor_data", err)
		}
		if _, err := os.Stat(iso); !os.IsNotExist(err) {
			t.Errorf("image written despite the error: %v", err)
		}
	})
}

func BenchmarkWriteConfigDrive(b *testing.B) {
	needTools(b)
	iso := filepath.Join(b.TempDir(), "disk.config")
	inst := testInstance()
	for b.Loop() {
		if err := WriteConfigDrive(b.Context(), inst, iso); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/drive")
}
