package placement

import (
	"net/http"
	"time"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/placement"
	"github.com/onestack/onestack/internal/store"
)

// inventoryFields is one inventory record on the wire; every field but
// total is optional and takes Placement's default.
type inventoryFields struct {
	Total           *int64   `json:"total"`
	Reserved        *int64   `json:"reserved"`
	MinUnit         *int64   `json:"min_unit"`
	MaxUnit         *int64   `json:"max_unit"`
	StepSize        *int64   `json:"step_size"`
	AllocationRatio *float64 `json:"allocation_ratio"`
	// Generation is required in PUT .../inventories/{rc}, optional in POST
	// and ignored inside PUT .../inventories.
	Generation *int64 `json:"resource_provider_generation"`
	// ResourceClass is POST .../inventories only.
	ResourceClass *string `json:"resource_class,omitempty"`
}

func (f inventoryFields) inventory(class string) (svc.Inventory, error) {
	if f.Total == nil {
		return svc.Inventory{}, oserr.BadRequest("JSON does not validate: 'total' is a required property of the %s inventory.", class)
	}
	i := svc.DefaultInventory(*f.Total)
	for _, p := range []struct {
		dst *int64
		src *int64
	}{{&i.Reserved, f.Reserved}, {&i.MinUnit, f.MinUnit}, {&i.MaxUnit, f.MaxUnit}, {&i.StepSize, f.StepSize}} {
		if p.src != nil {
			*p.dst = *p.src
		}
	}
	if f.AllocationRatio != nil {
		i.AllocationRatio = *f.AllocationRatio
	}
	return i, nil
}

// decodeInventories reads PUT .../inventories:
// {"resource_provider_generation": N, "inventories": {"VCPU": {...}, ...}}.
func decodeInventories(b []byte) (int64, map[string]svc.Inventory, error) {
	var body struct {
		Generation  *int64                      `json:"resource_provider_generation"`
		Inventories *map[string]inventoryFields `json:"inventories"`
	}
	if err := decodeStrict(b, &body); err != nil {
		return 0, nil, err
	}
	if body.Generation == nil || body.Inventories == nil {
		return 0, nil, oserr.BadRequest("JSON does not validate: 'resource_provider_generation' and 'inventories' are required properties.")
	}
	out := make(map[string]svc.Inventory, len(*body.Inventories))
	for rc, f := range *body.Inventories {
		if !svc.ValidClassName(rc) {
			return 0, nil, oserr.BadRequest("JSON does not validate: resource class %q does not match '^[A-Z0-9_]+$'.", rc)
		}
		if f.ResourceClass != nil {
			return 0, nil, oserr.BadRequest("JSON does not validate: Additional properties are not allowed ('resource_class' was unexpected) in the %s inventory.", rc)
		}
		i, err := f.inventory(rc)
		if err != nil {
			return 0, nil, err
		}
		out[rc] = i
	}
	return *body.Generation, out, nil
}

// decodeInventory reads POST .../inventories (create true: resource_class
// required, generation optional) or PUT .../inventories/{rc} (generation
// required).
func decodeInventory(b []byte, create bool) (class string, gen *int64, inv svc.Inventory, err error) {
	var f inventoryFields
	if err := decodeStrict(b, &f); err != nil {
		return "", nil, inv, err
	}
	if create {
		if f.ResourceClass == nil {
			return "", nil, inv, oserr.BadRequest("JSON does not validate: 'resource_class' is a required property.")
		}
		class = *f.ResourceClass
		if !svc.ValidClassName(class) {
			return "", nil, inv, oserr.BadRequest("JSON does not validate: resource class %q does not match '^[A-Z0-9_]+$'.", class)
		}
	} else {
		if f.ResourceClass != nil {
			return "", nil, inv, oserr.BadRequest("JSON does not validate: Additional properties are not allowed ('resource_class' was unexpected); the class is in the URL.")
		}
		if f.Generation == nil {
			return "", nil, inv, oserr.BadRequest("JSON does not validate: 'resource_provider_generation' is a required property.")
		}
	}
	inv, err = f.inventory(class)
	return class, f.Generation, inv, err
}

func inventoryJSON(i store.Inventory) map[string]any {
	return map[string]any{"total": i.Total, "reserved": i.Reserved, "min_unit": i.MinUnit, "max_unit": i.MaxUnit,
		"step_size": i.StepSize, "allocation_ratio": i.AllocationRatio}
}

func inventoriesJSON(p store.Provider, invs []store.Inventory) (map[string]any, time.Time) {
	m := make(map[string]any, len(invs))
	var modified time.Time
	for _, i := range invs {
		m[i.ResourceClass] = inventoryJSON(i)
		modified = latest(modified, i.UpdatedAt)
	}
	return map[string]any{"resource_provider_generation": p.Generation, "inventories": m}, modified
}

func (a *API) getInventories(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	p, invs, err := a.svc.Inventories(r.Context(), r.PathValue("uuid"))
	if err != nil {
		return err
	}
	body, modified := inventoriesJSON(p, invs)
	return reply(w, v, http.StatusOK, body, modified)
}

func (a *API) getInventory(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	id, class := r.PathValue("uuid"), r.PathValue("resource_class")
	p, invs, err := a.svc.Inventories(r.Context(), id)
	if err != nil {
		return err
	}
	for _, i := range invs {
		if i.ResourceClass == class {
			body := inventoryJSON(i)
			body["resource_provider_generation"] = p.Generation
			return reply(w, v, http.StatusOK, body, i.UpdatedAt)
		}
	}
	return oserr.NotFound("No inventory of class %s for %s.", class, id)
}

func (a *API) setInventories(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	gen, invs, err := decodeInventories(b)
	if err != nil {
		return err
	}
	p, out, err := a.svc.SetInventories(r.Context(), r.PathValue("uuid"), gen, invs, v.AtLeast(mv(26)))
	if err != nil {
		return err
	}
	body, modified := inventoriesJSON(p, out)
	return reply(w, v, http.StatusOK, body, modified)
}

func (a *API) createInventory(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	class, gen, inv, err := decodeInventory(b, true)
	if err != nil {
		return err
	}
	id := r.PathValue("uuid")
	p, out, err := a.svc.PutInventory(r.Context(), id, class, gen, inv, true, v.AtLeast(mv(26)))
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/resource_providers/"+id+"/inventories/"+class)
	body := inventoryJSON(out)
	body["resource_provider_generation"] = p.Generation
	return reply(w, v, http.StatusCreated, body, out.UpdatedAt)
}

func (a *API) updateInventory(w http.ResponseWriter, r *http.Request, v microversion.Version) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	_, gen, inv, err := decodeInventory(b, false)
	if err != nil {
		return err
	}
	class := r.PathValue("resource_class")
	p, out, err := a.svc.PutInventory(r.Context(), r.PathValue("uuid"), class, gen, inv, false, v.AtLeast(mv(26)))
	if err != nil {
		return err
	}
	body := inventoryJSON(out)
	body["resource_provider_generation"] = p.Generation
	return reply(w, v, http.StatusOK, body, out.UpdatedAt)
}

func (a *API) deleteInventory(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	if err := a.svc.DeleteInventory(r.Context(), r.PathValue("uuid"), r.PathValue("resource_class")); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) deleteInventories(w http.ResponseWriter, r *http.Request, _ microversion.Version) error {
	if err := a.svc.DeleteInventories(r.Context(), r.PathValue("uuid")); err != nil {
		return err
	}
	return noContent(w)
}
