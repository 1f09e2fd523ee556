package microversion

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/oserr"
)

var compute = Range{Service: "compute", Legacy: "X-OpenStack-Nova-API-Version", Min: Version{2, 1}, Max: Version{2, 96}}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"2.1", Version{2, 1}, true},
		{"2.96", Version{2, 96}, true},
		{"1.0", Version{1, 0}, true},
		{"2.079", Version{2, 79}, true},
		{"2", Version{}, false},
		{"2.", Version{}, false},
		{".1", Version{}, false},
		{"2.1.1", Version{}, false},
		{"+2.1", Version{}, false},
		{"2.-1", Version{}, false},
		{" 2.1", Version{}, false},
		{"2 .1", Version{}, false},
		{"latest", Version{}, false},
		{"", Version{}, false},
		{"99999999999999999999.1", Version{}, false},
	} {
		got, err := Parse(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		name    string
		headers map[string]string
		want    Version
		status  int
	}{
		{"none: the minimum", nil, Version{2, 1}, 0},
		{"new header", map[string]string{"OpenStack-API-Version": "compute 2.60"}, Version{2, 60}, 0},
		{"latest", map[string]string{"OpenStack-API-Version": "compute latest"}, Version{2, 96}, 0},
		{"case of the service", map[string]string{"OpenStack-API-Version": "Compute 2.3"}, Version{2, 3}, 0},
		{"other service only", map[string]string{"OpenStack-API-Version": "volume 3.5"}, Version{2, 1}, 0},
		{"list", map[string]string{"OpenStack-API-Version": "volume 3.5, compute 2.10"}, Version{2, 10}, 0},
		{"legacy", map[string]string{"X-OpenStack-Nova-API-Version": "2.20"}, Version{2, 20}, 0},
		{"new wins over legacy", map[string]string{"OpenStack-API-Version": "compute 2.30", "X-OpenStack-Nova-API-Version": "2.20"}, Version{2, 30}, 0},
		{"too new", map[string]string{"OpenStack-API-Version": "compute 2.97"}, Version{}, 406},
		{"too old", map[string]string{"OpenStack-API-Version": "compute 2.0"}, Version{}, 406},
		{"malformed", map[string]string{"OpenStack-API-Version": "compute two"}, Version{}, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range c.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			got, err := compute.Negotiate(w, r)
			if c.status != 0 {
				if !oserr.Is(err, c.status) {
					t.Fatalf("Negotiate = %v, %v; want %d", got, err, c.status)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Negotiate = %v, %v; want %v", got, err, c.want)
			}
			if h := w.Header().Get("OpenStack-API-Version"); h != "compute "+c.want.String() {
				t.Errorf("OpenStack-API-Version response header = %q", h)
			}
			if h := w.Header().Get("X-OpenStack-Nova-API-Version"); h != c.want.String() {
				t.Errorf("legacy response header = %q", h)
			}
		})
	}
}

// FuzzParse: Parse never panics, accepts only non-negative versions, and
// what it accepts prints back to an equal version.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2.1", "2.96", "1.0", "2.079", "2", "2.", ".1", "2.1.1", "+2.1", "-2.1", " 2.1", "2.1 ", "\t2.1", "latest", "", "0x2.1", "٢.١", "9223372036854775807.9223372036854775807", "9223372036854775808.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			if v != (Version{}) {
				t.Fatalf("Parse(%q) failed but returned %v", s, v)
			}
			return
		}
		if v.Major < 0 || v.Minor < 0 {
			t.Fatalf("Parse(%q) = %v, a negative version", s, v)
		}
		w, err := Parse(v.String())
		if err != nil || w != v {
			t.Fatalf("Parse(%q) = %v, but Parse(%q) = %v, %v", s, v, v.String(), w, err)
		}
		if v.Less(v) || !v.AtLeast(v) {
			t.Fatalf("%v is less than itself", v)
		}
	})
}

// FuzzNegotiate: any header values give either a version inside the range,
// announced in the response headers, or a 400/406 *oserr.Error.
func FuzzNegotiate(f *testing.F) {
	f.Add("compute 2.60", "")
	f.Add("compute latest", "")
	f.Add("", "2.20")
	f.Add("volume 3.5, compute 2.10", "2.2")
	f.Add("compute 2.97", "")
	f.Add("compute 2.0", "latest")
	f.Add("compute", "x")
	f.Add("compute 2.1 extra", "")
	f.Fuzz(func(t *testing.T, header, legacy string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		// Set the values raw: net/http would refuse some on the wire, but
		// Negotiate must not rely on that.
		r.Header["Openstack-Api-Version"] = []string{header}
		r.Header["X-Openstack-Nova-Api-Version"] = []string{legacy}
		w := httptest.NewRecorder()
		v, err := compute.Negotiate(w, r)
		if err != nil {
			var e *oserr.Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 406) {
				t.Fatalf("Negotiate(%q, %q) error %v, want a 400 or 406 *oserr.Error", header, legacy, err)
			}
			if w.Header().Get("OpenStack-API-Version") != "" {
				t.Fatal("a refused version still set the response header")
			}
			return
		}
		if v.Less(compute.Min) || compute.Max.Less(v) {
			t.Fatalf("Negotiate(%q, %q) = %v, outside %v–%v", header, legacy, v, compute.Min, compute.Max)
		}
		if got := w.Header().Get("OpenStack-API-Version"); got != "compute "+v.String() {
			t.Fatalf("response header %q for version %v", got, v)
		}
		if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "OpenStack-API-Version") {
			t.Fatal("response does not Vary on OpenStack-API-Version")
		}
	})
}
