package rest

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/page"
)

// List parameters every API reads the same way. Each service states its
// own rules (Limits); the words of the errors are the service's.

// Limits is how a service reads the limit query parameter.
type Limits struct {
	// Max bounds a page (Nova's max_limit, 1000); 0: no bound.
	Max int
	// ZeroMeansMax reads limit=0 as Max, as Nova's flavors, key pairs
	// and hypervisors do; otherwise limit=0 asks for an empty page
	// (Nova's servers) or, with Max 0, for no bound (Neutron).
	ZeroMeansMax bool
}

// Limit reads q's limit under l: absent means l.Max; a value above l.Max
// is cut to it; a negative or non-numeric value is a 400.
func Limit(q url.Values, l Limits) (int, error) {
	v, ok := q["limit"]
	if !ok || len(v) == 0 {
		return l.Max, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return 0, oserr.BadRequest("Invalid limit %q: give an integer 0 or greater.", v[0])
	}
	if n == 0 && l.ZeroMeansMax {
		return l.Max, nil
	}
	if l.Max > 0 && n > l.Max {
		return l.Max, nil
	}
	return n, nil
}

// Tags reads the tag filters tags, tags-any, not-tags and not-tags-any:
// comma-separated lists, a parameter may repeat.
func Tags(q url.Values) page.Tags {
	split := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, t := range strings.Split(v, ",") {
				if t != "" {
					out = append(out, t)
				}
			}
		}
		return out
	}
	return page.Tags{All: split("tags"), Any: split("tags-any"), NotAll: split("not-tags"), NotAny: split("not-tags-any")}
}

// TagParams are the names Tags reads, for services that treat every other
// parameter as an attribute filter.
var TagParams = []string{"tags", "tags-any", "not-tags", "not-tags-any"}

// PageLink is the URL of another page of the list at base (the list's
// public URL without a query): q with marker set to marker (dropped when
// empty), and page_reverse=True when reverse (dropped otherwise).
func PageLink(base string, q url.Values, marker string, reverse bool) string {
	next := url.Values{}
	for k, vs := range q {
		if k != "marker" && k != "page_reverse" {
			next[k] = append([]string(nil), vs...)
		}
	}
	if marker != "" {
		next.Set("marker", marker)
	}
	if reverse {
		next.Set("page_reverse", "True")
	}
	if len(next) == 0 {
		return base
	}
	return base + "?" + next.Encode()
}

// NextLinks is Nova's and Cinder's "<collection>_links": a next link when
// the page is full (n items of limit), whose marker is the page's last id.
func NextLinks(base string, q url.Values, n, limit int, last string) []any {
	if n == 0 || limit <= 0 || n < limit {
		return nil
	}
	return []any{map[string]any{"rel": "next", "href": PageLink(base, q, last, false)}}
}

// Fields keeps only the named attributes of m (fields=, repeatable and
// comma-separated); no names keeps everything.
func Fields(m map[string]any, names []string) map[string]any {
	if len(names) == 0 {
		return m
	}
	out := make(map[string]any, len(names))
	for _, f := range names {
		for _, n := range strings.Split(f, ",") {
			if v, ok := m[n]; ok {
				out[n] = v
			}
		}
	}
	return out
}
