package network_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestPagingEveryCollection walks every paged Neutron collection with
// limit/marker forward (following "next" links as gophercloud and the
// CLI do) and with page_reverse backward (following "previous" links), at
// several page sizes. Each walk must return every item once, in the
// list's order, with no error: a next link whose marker is the last item
// (a count that is a multiple of the page size) answers an empty page,
// where it answered 500 before.
func TestPagingEveryCollection(t *testing.T) {
	e := newEnv(t, "sqlite")
	tok := e.adminTok
	post := func(path string, body string) map[string]any {
		t.Helper()
		r := e.call(t, "POST", path, tok, body)
		if r.Status != 201 {
			t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
		}
		return r.JSON(t)
	}
	id := func(m map[string]any, member string) string { return m[member].(map[string]any)["id"].(string) }
	var nets []string
	for i := range 3 {
		nets = append(nets, id(post("/networks", fmt.Sprintf(`{"network":{"name":"n%d"}}`, i)), "network"))
	}
	for i, n := range nets {
		post("/subnets", fmt.Sprintf(`{"subnet":{"network_id":%q,"ip_version":4,"cidr":"10.%d.0.0/24"}}`, n, i))
		post("/ports", fmt.Sprintf(`{"port":{"network_id":%q}}`, n))
	}
	pub := e.call(t, "GET", "/networks?name=public", tok, nil).JSON(t)["networks"].([]any)[0].(map[string]any)["id"].(string)
	for i := range 3 {
		post("/routers", fmt.Sprintf(`{"router":{"name":"r%d"}}`, i))
		post("/floatingips", fmt.Sprintf(`{"floatingip":{"floating_network_id":%q}}`, pub))
		post("/security-groups", fmt.Sprintf(`{"security_group":{"name":"sg%d"}}`, i))
		post("/subnetpools", fmt.Sprintf(`{"subnetpool":{"name":"p%d","prefixes":["10.%d.0.0/16"]}}`, i, 100+i))
	}

	for _, coll := range []string{"networks", "subnets", "ports", "routers", "floatingips", "security-groups", "security-group-rules", "subnetpools"} {
		t.Run(coll, func(t *testing.T) {
			key := strings.ReplaceAll(coll, "-", "_")
			get := func(path string) ([]string, map[string]string) {
				t.Helper()
				r := e.call(t, "GET", path, tok, nil)
				if r.Status != 200 {
					t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
				}
				body := r.JSON(t)
				var ids []string
				for _, it := range body[key].([]any) {
					ids = append(ids, it.(map[string]any)["id"].(string))
				}
				links := map[string]string{}
				if ls, ok := body[key+"_links"].([]any); ok {
					for _, l := range ls {
						m := l.(map[string]any)
						u, err := url.Parse(m["href"].(string))
						if err != nil || !strings.HasPrefix(u.Path, "/network/v2.0/"+coll) {
							t.Fatalf("link %v", m)
						}
						links[m["rel"].(string)] = strings.TrimPrefix(u.Path, "/network/v2.0") + "?" + u.RawQuery
					}
				}
				return ids, links
			}
			all, _ := get("/" + coll + "?sort_key=id&sort_dir=asc")
			if len(all) < 3 {
				t.Fatalf("only %d %s to page over", len(all), coll)
			}
			for _, limit := range []int{1, 2, len(all)} {
				var seen []string
				path := fmt.Sprintf("/%s?sort_key=id&sort_dir=asc&limit=%d", coll, limit)
				for range len(all) + 2 {
					ids, links := get(path)
					seen = append(seen, ids...)
					next, ok := links["next"]
					if !ok {
						break
					}
					path = next
				}
				if !slices.Equal(seen, all) {
					t.Errorf("limit %d forward: %v, want %v", limit, seen, all)
				}
				var back []string
				path = fmt.Sprintf("/%s?sort_key=id&sort_dir=asc&limit=%d&page_reverse=True", coll, limit)
				for range len(all) + 2 {
					ids, links := get(path)
					back = append(slices.Clone(ids), back...)
					prev, ok := links["previous"]
					if !ok {
						break
					}
					path = prev
				}
				if !slices.Equal(back, all) {
					t.Errorf("limit %d backward: %v, want %v", limit, back, all)
				}
			}
			// The exact request of the bug: the last item as the marker.
			if ids, _ := get(fmt.Sprintf("/%s?sort_key=id&sort_dir=asc&limit=1&marker=%s", coll, all[len(all)-1])); len(ids) != 0 {
				t.Errorf("a page after the last item: %v", ids)
			}
			if r := e.call(t, "GET", "/"+coll+"?limit=1&marker=00000000-0000-0000-0000-000000000000", tok, nil); r.Status != 404 {
				t.Errorf("unknown marker: %d %s", r.Status, r.Body)
			}
		})
	}
}
