package object

import (
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/store"
)

// ListQuery is a listing's parameters, as Swift's: at most Limit entries
// (the listing limit when 0, none when negative: limit=0 was asked for)
// after Marker and before EndMarker, names
// starting with Prefix; with a Delimiter, names holding it after the
// prefix roll up into one subdir entry each. Path (containers only) lists
// one pseudo-directory: Prefix Path+"/" and Delimiter "/". Reverse lists
// from the top, Marker then bounding from above.
type ListQuery struct {
	Limit                     int
	Marker, EndMarker, Prefix string
	Delimiter                 string
	Path                      *string
	Reverse                   bool
	// NamesOnly lists names without their sizes, etags and types (a
	// plain-text listing), which the store reads faster.
	NamesOnly bool
}

// Entry is one line of a listing: an item, or a subdir (a name prefix up
// to and including the delimiter).
type Entry[T any] struct {
	Subdir string // set for a subdir
	Item   T
}

// after returns the smallest string greater than every string that starts
// with s (s with its last rune incremented), or "" when there is none. It
// stays valid UTF-8, which PostgreSQL needs of a TEXT bound.
func after(s string) string {
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		head := s[:len(s)-size]
		switch {
		case r == utf8.MaxRune:
			s = head
			continue
		case r == 0xD7FF:
			r = 0xE000
		default:
			r++
		}
		return head + string(r)
	}
	return ""
}

// list runs Swift's listing algorithm (the container broker's
// list_objects_iter) over fetch, which returns the items in a name range
// in that range's order.
func list[T any](q ListQuery, limit int, fetch func(store.NameRange) ([]T, error), name func(T) string) ([]Entry[T], error) {
	marker, endMarker := q.Marker, q.EndMarker
	if q.Reverse {
		marker, endMarker = endMarker, marker
	}
	prefix, delim := q.Prefix, q.Delimiter
	pathMode := q.Path != nil
	var path string
	if pathMode {
		prefix = ""
		if *q.Path != "" {
			prefix = strings.TrimRight(*q.Path, "/") + "/"
			path = prefix
		}
		delim = "/"
	}
	endPrefix := ""
	if prefix != "" {
		endPrefix = after(prefix)
	}
	origMarker := marker
	forceGTE := false
	out := make([]Entry[T], 0, min(limit, 1000))
	for len(out) < limit {
		r := store.NameRange{Desc: q.Reverse, Limit: limit - len(out)}
		switch {
		case endMarker != "" && (prefix == "" || endPrefix == "" || endMarker < endPrefix):
			r.Upper = endMarker
		case prefix != "" && endPrefix != "":
			r.Upper = endPrefix
		}
		switch {
		case forceGTE:
			r.Lower, r.LowerIncl = marker, true
			forceGTE = false
		case marker != "" && (prefix == "" || marker >= prefix):
			r.Lower = marker
		case prefix != "":
			r.Lower, r.LowerIncl = prefix, true
		}
		rows, err := fetch(r)
		if err != nil {
			return nil, err
		}
		if delim == "" {
			for _, row := range rows {
				if !strings.HasPrefix(name(row), prefix) {
					break
				}
				out = append(out, Entry[T]{Item: row})
			}
			return out, nil
		}
		requery := false
		for _, row := range rows {
			n := name(row)
			if !strings.HasPrefix(n, prefix) {
				return out, nil
			}
			if q.Reverse {
				endMarker = n
			} else {
				marker = n
			}
			if len(out) >= limit {
				return out, nil
			}
			end := strings.Index(n[len(prefix):], delim)
			if end >= 0 {
				end += len(prefix)
			}
			if pathMode {
				if n == path {
					continue
				}
				if end >= 0 && len(n) > end+len(delim) {
					// Deeper than the path: skip the whole subtree.
					if q.Reverse {
						endMarker = n[:end+len(delim)]
					} else {
						marker = n[:end] + after(delim)
					}
					requery = true
					break
				}
			} else if end >= 0 {
				dir := n[:end+len(delim)]
				if q.Reverse {
					endMarker = dir
				} else {
					marker = n[:end] + after(delim)
					forceGTE = true
				}
				if dir != origMarker {
					out = append(out, Entry[T]{Subdir: dir})
				}
				requery = true
				break
			}
			out = append(out, Entry[T]{Item: row})
		}
		if !requery && len(rows) < r.Limit {
			break
		}
		if len(rows) == 0 {
			break
		}
	}
	return out, nil
}
