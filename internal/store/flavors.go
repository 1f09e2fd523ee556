package store

// Flavors: the flavors and flavor_access tables.

import (
	"context"
	"time"
)

// Flavor is a Nova flavor row.
type Flavor struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	RAM         int               `json:"ram"`
	VCPUs       int               `json:"vcpus"`
	Disk        int               `json:"disk"`
	Ephemeral   int               `json:"ephemeral"`
	Swap        int               `json:"swap"`
	RxTxFactor  float64           `json:"rxtx_factor"`
	IsPublic    bool              `json:"is_public"`
	Disabled    bool              `json:"disabled"`
	Description string            `json:"description"`
	ExtraSpecs  map[string]string `json:"extra_specs"`
	CreatedAt   time.Time         `json:"-"`
	UpdatedAt   time.Time         `json:"-"`
}

const flavorCols = `id, name, ram_mb, vcpus, disk_gb, ephemeral_gb, swap_mb, rxtx_factor, is_public, disabled, description, extra_specs, created_at, updated_at`

func scanFlavor(s scanner) (Flavor, error) {
	var f Flavor
	var specs string
	var c, u int64
	err := s.Scan(&f.ID, &f.Name, &f.RAM, &f.VCPUs, &f.Disk, &f.Ephemeral, &f.Swap, &f.RxTxFactor, &f.IsPublic, &f.Disabled, &f.Description, &specs, &c, &u)
	f.ExtraSpecs, f.CreatedAt, f.UpdatedAt = jsonMap(specs), fromMicros(c), fromMicros(u)
	return f, err
}

// CreateFlavor inserts f; ErrConflict when its id or name is taken.
func (t *Tx) CreateFlavor(ctx context.Context, f Flavor) error {
	_, err := t.exec(ctx, `INSERT INTO flavors (`+flavorCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Name, f.RAM, f.VCPUs, f.Disk, f.Ephemeral, f.Swap, f.RxTxFactor, f.IsPublic, f.Disabled, f.Description, toJSON(nonNilMap(f.ExtraSpecs)), micros(f.CreatedAt), micros(f.UpdatedAt))
	return t.mapErr(err)
}

// UpdateFlavor writes the mutable fields of f (description, extra specs).
func (t *Tx) UpdateFlavor(ctx context.Context, f Flavor) error {
	return t.mapErr(affected(t.exec(ctx, `UPDATE flavors SET description = ?, extra_specs = ?, disabled = ?, updated_at = ? WHERE id = ?`,
		f.Description, toJSON(nonNilMap(f.ExtraSpecs)), f.Disabled, micros(f.UpdatedAt), f.ID)))
}

// GetFlavor reads one flavor by id.
func (t *Tx) GetFlavor(ctx context.Context, id string) (Flavor, error) {
	return one(ctx, t, scanFlavor, `SELECT `+flavorCols+` FROM flavors WHERE id = ?`, id)
}

// GetFlavorByName reads one flavor by name.
func (t *Tx) GetFlavorByName(ctx context.Context, name string) (Flavor, error) {
	return one(ctx, t, scanFlavor, `SELECT `+flavorCols+` FROM flavors WHERE name = ?`, name)
}

func flavorSortValue(f Flavor, col string) any {
	switch col {
	case "name":
		return f.Name
	case "ram_mb":
		return f.RAM
	case "vcpus":
		return f.VCPUs
	case "disk_gb":
		return f.Disk
	case "swap_mb":
		return f.Swap
	case "ephemeral_gb":
		return f.Ephemeral
	case "created_at":
		return micros(f.CreatedAt)
	case "rxtx_factor":
		return f.RxTxFactor
	}
	return f.ID
}

// DeleteFlavor removes a flavor; servers keep their snapshot of it.
func (t *Tx) DeleteFlavor(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM flavors WHERE id = ?`, id)))
}

// FlavorAccess lists the projects given access to a private flavor.
func (t *Tx) FlavorAccess(ctx context.Context, flavorID string) ([]string, error) {
	return list(ctx, t, func(s scanner) (string, error) {
		var p string
		return p, s.Scan(&p)
	}, `SELECT project_id FROM flavor_access WHERE flavor_id = ? ORDER BY project_id`, flavorID)
}

// AddFlavorAccess gives a project access; ErrConflict when it already has it.
func (t *Tx) AddFlavorAccess(ctx context.Context, flavorID, projectID string) error {
	_, err := t.exec(ctx, `INSERT INTO flavor_access (flavor_id, project_id) VALUES (?, ?)`, flavorID, projectID)
	return t.mapErr(err)
}

// RemoveFlavorAccess takes access away; ErrNotFound when it had none.
func (t *Tx) RemoveFlavorAccess(ctx context.Context, flavorID, projectID string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM flavor_access WHERE flavor_id = ? AND project_id = ?`, flavorID, projectID)))
}

// FlavorQuery narrows ListFlavorsBy with Nova's filter semantics.
type FlavorQuery struct {
	// IsPublic nil lists public and private flavors (an admin's
	// is_public=None); true lists public flavors plus the private ones
	// AccessProject was given; false lists private flavors only.
	IsPublic      *bool
	AccessProject string
	HideDisabled  bool
	MinRAM        int
	MinDisk       int
	// SortColumn is the column to sort on (see flavorSortable; the compute
	// service maps Nova's sort keys to columns); default id.
	SortColumn string
	Desc       bool
	Page       Page
}

// flavorSortable are the columns ListFlavorsBy sorts on.
var flavorSortable = map[string]bool{"created_at": true, "description": true, "disabled": true, "ephemeral_gb": true,
	"id": true, "is_public": true, "ram_mb": true, "name": true, "disk_gb": true, "rxtx_factor": true,
	"swap_mb": true, "updated_at": true, "vcpus": true}

// ListFlavorsBy lists flavors with Nova's filters and keyset paging after
// the marker flavor. ErrNotFound means the marker does not exist.
func (t *Tx) ListFlavorsBy(ctx context.Context, q FlavorQuery) ([]Flavor, error) {
	w := &where{}
	switch {
	case q.IsPublic == nil:
	case *q.IsPublic && q.AccessProject != "":
		w.clauses = append(w.clauses, "(is_public = ? OR id IN (SELECT flavor_id FROM flavor_access WHERE project_id = ?))")
		w.args = append(w.args, true, q.AccessProject)
	default:
		w.eq("is_public", *q.IsPublic, true)
	}
	if q.HideDisabled {
		w.eq("disabled", false, true)
	}
	if q.MinRAM > 0 {
		w.clauses = append(w.clauses, "ram_mb >= ?")
		w.args = append(w.args, q.MinRAM)
	}
	if q.MinDisk > 0 {
		w.clauses = append(w.clauses, "disk_gb >= ?")
		w.args = append(w.args, q.MinDisk)
	}
	col := q.SortColumn
	if !flavorSortable[col] {
		col = "id"
	}
	if q.Page.Marker != "" {
		m, err := t.GetFlavor(ctx, q.Page.Marker)
		if err != nil {
			return nil, err
		}
		w.after(col, q.Desc, flavorColumnValue(m, col), m.ID)
	}
	sql := `SELECT ` + flavorCols + ` FROM flavors` + w.orderPage(col, q.Desc, q.Page.Limit)
	return list(ctx, t, scanFlavor, sql, w.args...)
}

func flavorColumnValue(f Flavor, col string) any {
	switch col {
	case "description":
		return f.Description
	case "disabled":
		return f.Disabled
	case "is_public":
		return f.IsPublic
	case "updated_at":
		return micros(f.UpdatedAt)
	}
	return flavorSortValue(f, col)
}
