package image

import (
	"slices"
	"time"

	"github.com/onestack/onestack/internal/store"
)

// The vocabulary of Glance's image list: filters, sort keys and the page
// size. The API decodes GET /v2/images into a ListQuery; List converts it
// to the store's query and adds what only the service decides (who is
// asking, the marker image).

// SortKeys returns the keys an image list can be sorted by, as Glance
// allows: each is a column the store sorts on.
func SortKeys() []string { return slices.Clone(store.ImageSortKeys) }

// Sort is one sort key of a list.
type Sort struct {
	Key  string // one of SortKeys
	Desc bool
}

// TimeFilter compares created_at or updated_at with a time.
type TimeFilter struct {
	Column string // created_at | updated_at
	Op     string // eq, neq, gt, gte, lt, lte
	At     time.Time
}

// ListQuery is a decoded image list: its filters, sort and page size.
type ListQuery struct {
	// MemberStatus is the status a shared image's membership must have
	// ("all" for any; "" for accepted).
	MemberStatus string
	// Visibility: "" is Glance's default (no community images but one's
	// own), "all" is every visibility, else exactly that one.
	Visibility string
	// Hidden selects os_hidden images instead of visible ones.
	Hidden bool

	IDs, Names, Statuses, DiskFormats, ContainerFormats []string // nil: any
	Owner                                               *string
	Protected                                           *bool
	Checksum, OSHashValue                               *string
	// Ints are exact matches on integer columns (size, min_disk, min_ram,
	// virtual_size); Mins and Maxes are inclusive bounds on them.
	Ints, Mins, Maxes map[string]int64
	Times             []TimeFilter
	// Tags must all be on the image; Properties must all match.
	Tags       []string
	Properties map[string]string

	// Sort ends with id.
	Sort  []Sort
	Limit int
}

// query is q as the store's query, without the caller's access fields and
// the marker.
func (q ListQuery) query() store.ImageQuery {
	sq := store.ImageQuery{MemberStatus: q.MemberStatus, Visibility: q.Visibility, Hidden: q.Hidden,
		IDs: q.IDs, Names: q.Names, Statuses: q.Statuses, DiskFormats: q.DiskFormats, ContainerFormats: q.ContainerFormats,
		Owner: q.Owner, Protected: q.Protected, Checksum: q.Checksum, OSHashValue: q.OSHashValue,
		Ints: q.Ints, Mins: q.Mins, Maxes: q.Maxes, Tags: q.Tags, Properties: q.Properties, Limit: q.Limit}
	for _, t := range q.Times {
		sq.Times = append(sq.Times, store.TimeFilter(t))
	}
	for _, s := range q.Sort {
		sq.Sort = append(sq.Sort, store.ImageSort(s))
	}
	return sq
}
