package compute

import (
	"maps"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/page"
	"github.com/onestack/onestack/internal/store"
)

// The vocabulary of Nova's list requests beyond package page's: sort keys
// and filters. The API decodes a request into these; the service maps
// them to the store's queries (Nova's sort keys to columns, above all).

// storePage is the keyset page of r for the store. Nova's lists have no
// page_reverse, so r.Reverse is never set here.
func storePage(r page.Request) store.Page { return store.Page{Limit: r.Limit, Marker: r.Marker} }

// flavorSort maps Nova's flavor sort keys to columns. Nova's "id" is its
// internal autoincrement, i.e. creation order; vcpu_weight is not stored
// and sorts like the flavor id.
var flavorSort = map[string]string{
	"created_at": "created_at", "description": "description", "disabled": "disabled",
	"ephemeral_gb": "ephemeral_gb", "flavorid": "id", "id": "created_at", "is_public": "is_public",
	"memory_mb": "ram_mb", "name": "name", "root_gb": "disk_gb", "rxtx_factor": "rxtx_factor",
	"swap": "swap_mb", "updated_at": "updated_at", "vcpu_weight": "id", "vcpus": "vcpus",
}

// FlavorSortKeys lists the sort keys a flavor list accepts, as Nova names
// them, in order.
func FlavorSortKeys() []string { return slices.Sorted(maps.Keys(flavorSort)) }

// serverSort maps Nova's server sort keys to columns.
var serverSort = map[string]string{"created_at": "created_at", "updated_at": "updated_at", "display_name": "name", "name": "name",
	"hostname": "hostname", "host": "host", "vm_state": "vm_state", "task_state": "task_state", "power_state": "power_state",
	"uuid": "id", "availability_zone": "zone", "launched_at": "launched_at", "terminated_at": "terminated_at", "project_id": "project_id",
	"user_id": "user_id", "key_name": "key_name", "image_ref": "image_id", "locked": "locked", "display_description": "description"}

// ServerSortKey reports whether a server list can sort on Nova's key k.
func ServerSortKey(k string) bool { _, ok := serverSort[k]; return ok }

// ServerFilter narrows List. Zero values match everything.
type ServerFilter struct {
	ProjectID      string // "" with AllProjects for admins
	UserID         string
	Name           string // SQL LIKE pattern, already escaped; "" for any
	VMStates       []string
	Host           string
	FlavorID       string
	ImageID        string
	Zone           string
	ReservationID  string
	ChangesSince   *time.Time
	ChangesBefore  *time.Time
	Locked         *bool
	IncludeDeleted bool
	OnlyDeleted    bool
	SortKey        string // a Nova sort key (ServerSortKey); default created_at
	Desc           bool
	Page           page.Request
}

// query is f as the store's query.
func (f ServerFilter) query() store.ServerFilter {
	return store.ServerFilter{ProjectID: f.ProjectID, UserID: f.UserID, Name: f.Name, VMStates: f.VMStates, Host: f.Host,
		FlavorID: f.FlavorID, ImageID: f.ImageID, Zone: f.Zone, ReservationID: f.ReservationID,
		ChangesSince: f.ChangesSince, ChangesBefore: f.ChangesBefore, Locked: f.Locked,
		IncludeDeleted: f.IncludeDeleted, OnlyDeleted: f.OnlyDeleted,
		SortColumn: serverSort[f.SortKey], Desc: f.Desc, Page: storePage(f.Page)}
}

// MigrationFilter narrows Migrations; zero values match everything.
type MigrationFilter struct {
	Host          string // source or destination
	SourceCompute string
	Status        string
	ServerID      string
	Type          string
	ChangesSince  *time.Time
	ChangesBefore *time.Time
	Limit         int
}

// query is f as the store's query, after the marker move (nil: from the start).
func (f MigrationFilter) query(marker *store.MigrationRecord) store.MigrationFilter {
	return store.MigrationFilter{Host: f.Host, SourceCompute: f.SourceCompute, Status: f.Status, ServerID: f.ServerID,
		Type: f.Type, ChangesSince: f.ChangesSince, ChangesBefore: f.ChangesBefore, Marker: marker, Limit: f.Limit}
}
