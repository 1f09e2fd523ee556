package compute_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestTagFiltersPageFully: the tag filters are applied before the page is
// cut, so a page is full while more matching servers exist and the next
// link leads to them. Before, a page of limit servers was cut first and
// then filtered: pages came back short and the next link disappeared.
func TestTagFiltersPageFully(t *testing.T) {
	e := newComputeEnv(t, "sqlite")
	var blue []string
	for i := range 8 {
		id := e.boot(t, fmt.Sprintf("tagged-%d", i), "1", nil)
		tag := "red"
		if i%2 == 0 {
			tag = "blue"
			blue = append(blue, id)
		}
		wantStatus(t, e.raw(t, "PUT", "/servers/"+id+"/tags", "2.26", fmt.Sprintf(`{"tags": [%q]}`, tag)), 200)
	}
	slices.Sort(blue)
	for _, c := range []struct{ query string }{{"tags=blue"}, {"tags-any=blue,green"}, {"not-tags=red"}, {"not-tags-any=red,green"}} {
		t.Run(c.query, func(t *testing.T) {
			var got []string
			path := "/servers?limit=2&sort_key=uuid&sort_dir=asc&" + c.query
			for range 10 {
				body := wantStatus(t, e.raw(t, "GET", path, "2.26", ""), 200)
				page := body["servers"].([]any)
				for _, s := range page {
					got = append(got, s.(map[string]any)["id"].(string))
				}
				links, _ := body["servers_links"].([]any)
				if len(links) == 0 {
					break
				}
				if len(page) < 2 {
					t.Errorf("a short page (%d) with a next link", len(page))
				}
				u, _ := url.Parse(links[0].(map[string]any)["href"].(string))
				path = strings.TrimPrefix(u.Path, "/compute/v2.1") + "?" + u.RawQuery
			}
			if !slices.Equal(got, blue) {
				t.Errorf("servers matching %s, page by page: %v, want %v", c.query, got, blue)
			}
		})
	}
}
