package rest_test

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/page"
)

func TestLimit(t *testing.T) {
	for _, c := range []struct {
		query string
		l     rest.Limits
		want  int
		bad   bool
	}{
		{"", rest.Limits{Max: 1000}, 1000, false},
		{"limit=5", rest.Limits{Max: 1000}, 5, false},
		{"limit=5000", rest.Limits{Max: 1000}, 1000, false},
		{"limit=0", rest.Limits{Max: 1000}, 0, false},
		{"limit=0", rest.Limits{Max: 1000, ZeroMeansMax: true}, 1000, false},
		{"", rest.Limits{}, 0, false},
		{"limit=5000", rest.Limits{}, 5000, false},
		{"limit=-1", rest.Limits{Max: 1000}, 0, true},
		{"limit=ten", rest.Limits{Max: 1000}, 0, true},
	} {
		q, _ := url.ParseQuery(c.query)
		got, err := rest.Limit(q, c.l)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("Limit(%q, %+v) = %d, %v; want %d (error: %v)", c.query, c.l, got, err, c.want, c.bad)
		}
	}
}

func TestPageLinks(t *testing.T) {
	q, _ := url.ParseQuery("limit=2&marker=old&page_reverse=True&name=x")
	if got, want := rest.PageLink("http://h/v2.0/ports", q, "m1", false), "http://h/v2.0/ports?limit=2&marker=m1&name=x"; got != want {
		t.Errorf("next: %s, want %s", got, want)
	}
	if got, want := rest.PageLink("http://h/v2.0/ports", q, "m0", true), "http://h/v2.0/ports?limit=2&marker=m0&name=x&page_reverse=True"; got != want {
		t.Errorf("previous: %s, want %s", got, want)
	}
	if q.Get("marker") != "old" {
		t.Error("PageLink changed the request's query")
	}
	if l := rest.NextLinks("http://h/servers", q, 1, 2, "a"); l != nil {
		t.Errorf("a short page has a next link: %v", l)
	}
	if l := rest.NextLinks("http://h/servers", q, 2, 2, "b"); len(l) != 1 {
		t.Errorf("a full page has no next link")
	}
}

func TestTagsAndFields(t *testing.T) {
	q, _ := url.ParseQuery("tags=a,b&tags=c&tags-any=d&not-tags=e&not-tags-any=f,g")
	want := page.Tags{All: []string{"a", "b", "c"}, Any: []string{"d"}, NotAll: []string{"e"}, NotAny: []string{"f", "g"}}
	if diff := cmp.Diff(want, rest.Tags(q)); diff != "" {
		t.Errorf("Tags (-want +got):\n%s", diff)
	}
	m := map[string]any{"id": 1, "name": "n", "status": "s"}
	if diff := cmp.Diff(map[string]any{"id": 1, "name": "n"}, rest.Fields(m, []string{"id,name", "nope"})); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}
}
