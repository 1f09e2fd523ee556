package guestimage

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseKernelDepends(t *testing.T) {
	out := "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n  Suggests: foo\n"
	if got := parseKernelDepends([]byte(out)); got != "linux-image-6.1.0-56-cloud-amd64" {
		t.Errorf("got %q", got)
	}
	if got := parseKernelDepends([]byte("x\n  Depends: libc6\n")); got != "" {
		t.Errorf("got %q for no kernel dependency", got)
	}
}

func TestParsePrintURIs(t *testing.T) {
	out := "'http://deb.debian.org/debian/pool/main/b/busybox/busybox-static_1.35.0-4%2bdeb12u1%2bb1_amd64.deb' busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb 928188 SHA256:3D3FDBE9\n" +
		"W: something apt says\n" +
		"'http://x/zlib1g.deb' zlib1g_1%3a1.2.13.dfsg-1_amd64.deb 86684 \n"
	got, err := parsePrintURIs([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []deb{
		{Package: "busybox-static", Version: "1:1.35.0-4+deb12u1+b1", File: "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb", Size: 928188, SHA256: "3d3fdbe9"},
		{Package: "zlib1g", Version: "1:1.2.13.dfsg-1", File: "zlib1g_1%3a1.2.13.dfsg-1_amd64.deb", Size: 86684},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"'u' ../evil_1_amd64.deb 1 SHA256:00\n",
		"'u' noversion.deb 1 SHA256:00\n",
		"'u' a_1_amd64.deb big SHA256:00\n",
		"'u' _1_amd64.deb 1\n",
	} {
		if _, err := parsePrintURIs([]byte(bad)); err == nil {
			t.Errorf("parsePrintURIs(%q) succeeded", bad)
		}
	}
}

func FuzzParsePrintURIs(f *testing.F) {
	f.Add([]byte("'http://x/a.deb' a_1%3a2_amd64.deb 10 SHA256:ab\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		debs, err := parsePrintURIs(data)
		if err != nil {
			return
		}
		for _, d := range debs {
			// The file name is joined to the cache dir: it must stay in it.
			if d.Package == "" || d.Version == "" || filepath.Base(d.File) != d.File || d.File == ".." {
				t.Fatalf("accepted %+v from %q", d, data)
			}
		}
	})
}
