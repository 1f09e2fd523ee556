package page_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/page"
)

func TestWindow(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	for _, c := range []struct {
		name string
		r    page.Request
		want []string
		err  error
	}{
		{"everything", page.Request{}, items, nil},
		{"first page", page.Request{Limit: 2}, []string{"a", "b"}, nil},
		{"after a marker", page.Request{Limit: 2, Marker: "b"}, []string{"c", "d"}, nil},
		{"short last page", page.Request{Limit: 2, Marker: "d"}, []string{"e"}, nil},
		// The next link of a full last page names the last item: its page
		// is empty, not an error (Neutron answered 500 here).
		{"marker is the last item", page.Request{Limit: 1, Marker: "e"}, []string{}, nil},
		{"marker is the last item, no limit", page.Request{Marker: "e"}, []string{}, nil},
		{"reverse from a marker", page.Request{Limit: 2, Marker: "d", Reverse: true}, []string{"b", "c"}, nil},
		{"reverse does not wrap", page.Request{Limit: 3, Marker: "b", Reverse: true}, []string{"a"}, nil},
		{"reverse before the first", page.Request{Limit: 3, Marker: "a", Reverse: true}, []string{}, nil},
		{"reverse without a marker is the last page", page.Request{Limit: 2, Reverse: true}, []string{"d", "e"}, nil},
		{"unknown marker", page.Request{Limit: 2, Marker: "zz"}, nil, page.ErrMarker},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := page.Window(items, id, c.r)
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if c.err == nil {
				if got == nil {
					got = []string{}
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("page (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestWindowWalk follows next links (marker = last item) and previous
// links (reverse from the first item) over every size and page size: the
// pages cover the list exactly once, in order, both ways.
func TestWindowWalk(t *testing.T) {
	id := func(n int) string { return string(rune('A' + n)) }
	for n := 0; n <= 7; n++ {
		items := make([]int, n)
		for i := range items {
			items[i] = i
		}
		for limit := 1; limit <= 8; limit++ {
			var seen []int
			r := page.Request{Limit: limit}
			for range n + 2 {
				p, err := page.Window(items, id, r)
				if err != nil {
					t.Fatalf("n=%d limit=%d: %v", n, limit, err)
				}
				seen = append(seen, p...)
				if len(p) < limit {
					break
				}
				r.Marker = id(p[len(p)-1])
			}
			if len(seen) != n || (n > 0 && !cmp.Equal(items, seen)) {
				t.Errorf("n=%d limit=%d forward walk: %v", n, limit, seen)
			}
			var back []int
			r = page.Request{Limit: limit, Reverse: true}
			for range n + 2 {
				p, err := page.Window(items, id, r)
				if err != nil {
					t.Fatalf("n=%d limit=%d reverse: %v", n, limit, err)
				}
				back = append(append([]int{}, p...), back...)
				if len(p) < limit || len(p) == 0 {
					break
				}
				r.Marker = id(p[0])
			}
			if len(back) != n || (n > 0 && !cmp.Equal(items, back)) {
				t.Errorf("n=%d limit=%d reverse walk: %v", n, limit, back)
			}
		}
	}
}

func TestTags(t *testing.T) {
	have := []string{"red", "blue"}
	for _, c := range []struct {
		name string
		f    page.Tags
		want bool
	}{
		{"no filter", page.Tags{}, true},
		{"all of", page.Tags{All: []string{"red", "blue"}}, true},
		{"all of, one missing", page.Tags{All: []string{"red", "green"}}, false},
		{"any of", page.Tags{Any: []string{"green", "blue"}}, true},
		{"any of, none", page.Tags{Any: []string{"green"}}, false},
		{"not all of: has both", page.Tags{NotAll: []string{"red", "blue"}}, false},
		{"not all of: has one", page.Tags{NotAll: []string{"red", "green"}}, true},
		{"not any of: has one", page.Tags{NotAny: []string{"green", "red"}}, false},
		{"not any of: has none", page.Tags{NotAny: []string{"green"}}, true},
		{"combined", page.Tags{All: []string{"red"}, NotAny: []string{"green"}}, true},
	} {
		if got := c.f.Match(have); got != c.want {
			t.Errorf("%s: Match(%v) = %v, want %v", c.name, have, got, c.want)
		}
	}
	if !(page.Tags{}).IsZero() || (page.Tags{Any: []string{"x"}}).IsZero() {
		t.Error("IsZero")
	}
}
