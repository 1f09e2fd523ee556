// Package microversion parses and negotiates OpenStack API microversions
// (the OpenStack-API-Version header and its legacy per-service forms), as
// Nova, Cinder and Placement use them.
package microversion

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
)

// Version is a microversion such as 2.79.
type Version struct{ Major, Minor int }

// String formats v as "2.79".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

// AtLeast reports whether v is o or newer; handlers gate fields with it.
func (v Version) AtLeast(o Version) bool { return !v.Less(o) }

// Parse reads "2.79". It rejects anything else, including "2.079" forms
// with a sign or spaces.
func Parse(s string) (Version, error) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return Version{}, fmt.Errorf("microversion %q is not of the form MAJOR.MINOR", s)
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 || strings.ContainsAny(s, "+- ") {
		return Version{}, fmt.Errorf("microversion %q is not of the form MAJOR.MINOR", s)
	}
	return Version{a, b}, nil
}

// Range is what a service supports.
type Range struct {
	Service string // the name in OpenStack-API-Version, e.g. "compute"
	Legacy  string // the legacy header, e.g. "X-OpenStack-Nova-API-Version", or ""
	Min     Version
	Max     Version
}

// Negotiate reads the requested version from r (the minimum when absent,
// the maximum for "latest"), sets the response headers on w and returns the
// version to serve, or a 406 *oserr.Error naming the supported range.
func (rg Range) Negotiate(w http.ResponseWriter, r *http.Request) (Version, error) {
	want := ""
	for _, h := range r.Header.Values("OpenStack-API-Version") {
		for _, part := range strings.Split(h, ",") {
			f := strings.Fields(part)
			if len(f) == 2 && strings.EqualFold(f[0], rg.Service) {
				want = f[1]
			}
		}
	}
	if want == "" && rg.Legacy != "" {
		want = strings.TrimSpace(r.Header.Get(rg.Legacy))
	}
	v := rg.Min
	switch {
	case want == "":
	case strings.EqualFold(want, "latest"):
		v = rg.Max
	default:
		p, err := Parse(want)
		if err != nil {
			return Version{}, oserr.BadRequest("Invalid OpenStack-API-Version header: %v; send e.g. \"%s %s\".", err, rg.Service, rg.Max)
		}
		if p.Less(rg.Min) || rg.Max.Less(p) {
			return Version{}, oserr.NotAcceptable("Version %s is not supported by the API. Minimum is %s and maximum is %s.", p, rg.Min, rg.Max)
		}
		v = p
	}
	w.Header().Set("OpenStack-API-Version", rg.Service+" "+v.String())
	w.Header().Add("Vary", "OpenStack-API-Version")
	if rg.Legacy != "" {
		w.Header().Set(rg.Legacy, v.String())
		w.Header().Add("Vary", rg.Legacy)
	}
	return v, nil
}
