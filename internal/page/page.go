// Package page is the list vocabulary every service shares, below the
// HTTP layer: which page a client asked for (limit, marker, direction),
// sort keys, tag filters, and the window of an in-memory list that a
// service filtered itself. The API packages read these from query strings
// with internal/api/rest's list helpers; the services and the store take
// them as they are. It imports nothing of onestack.
package page

import (
	"errors"
	"slices"
)

// Request is one page of a list as a client asked for it.
type Request struct {
	// Limit is the most items to return; 0 means no bound (the API layer
	// has already applied its service's default and maximum).
	Limit int
	// Marker is the id of the item the page starts after (or, with
	// Reverse, ends before); "" starts at the beginning (or the end).
	Marker string
	// Reverse asks for the page before Marker (Neutron's page_reverse),
	// still returned in the list's order.
	Reverse bool
}

// Key is one sort key: an attribute name and its direction.
type Key struct {
	Name string
	Desc bool
}

// ErrMarker is returned when the marker names no item of the list.
var ErrMarker = errors.New("marker not found")

// Window returns the part of items (filtered and sorted already) that r
// asks for, as Neutron pages a list: up to Limit items after the marker,
// or with Reverse up to Limit items before it (before the end when there
// is no marker). A marker past the last item gives an empty page, never
// an error; a marker that names no item gives ErrMarker.
func Window[T any](items []T, id func(T) string, r Request) ([]T, error) {
	i := 0
	if r.Reverse {
		i = len(items)
	}
	if r.Marker != "" {
		i = slices.IndexFunc(items, func(it T) bool { return id(it) == r.Marker })
		if i < 0 {
			return nil, ErrMarker
		}
		if !r.Reverse {
			i++ // the page starts after the marker
		}
	}
	if r.Reverse {
		from := 0
		if r.Limit > 0 {
			from = max(i-r.Limit, 0)
		}
		return items[from:i], nil
	}
	to := len(items)
	if r.Limit > 0 {
		to = min(i+r.Limit, len(items))
	}
	return items[i:to], nil
}

// Tags filters by tags as Nova, Neutron and Keystone do: an item matches
// when it has every tag of All, at least one of Any, not every tag of
// NotAll, and none of NotAny. Empty lists do not filter.
type Tags struct {
	All, Any, NotAll, NotAny []string
}

// IsZero reports whether t filters nothing.
func (t Tags) IsZero() bool {
	return len(t.All) == 0 && len(t.Any) == 0 && len(t.NotAll) == 0 && len(t.NotAny) == 0
}

// Match reports whether an item with the tags have passes t.
func (t Tags) Match(have []string) bool {
	has := func(tag string) bool { return slices.Contains(have, tag) }
	for _, tag := range t.All {
		if !has(tag) {
			return false
		}
	}
	if len(t.Any) > 0 && !slices.ContainsFunc(t.Any, has) {
		return false
	}
	if len(t.NotAll) > 0 {
		all := true
		for _, tag := range t.NotAll {
			all = all && has(tag)
		}
		if all {
			return false
		}
	}
	return !slices.ContainsFunc(t.NotAny, has)
}
