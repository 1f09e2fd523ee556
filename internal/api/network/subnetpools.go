package network

import (
	"encoding/json"
	"net/http"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

// subnetPoolReq is the body of POST and PUT /v2.0/subnetpools (extension
// subnet_allocation; is_default from default-subnetpools). Prefix
// lengths come as numbers or, from older clients, strings of digits.
type subnetPoolReq struct {
	Name             *string         `json:"name"`
	Description      *string         `json:"description"`
	Prefixes         *[]string       `json:"prefixes"`
	DefaultPrefixLen json.RawMessage `json:"default_prefixlen"`
	MinPrefixLen     json.RawMessage `json:"min_prefixlen"`
	MaxPrefixLen     json.RawMessage `json:"max_prefixlen"`
	Shared           *bool           `json:"shared"`
	IsDefault        *bool           `json:"is_default"`
	// DefaultQuota and AddressScopeID are accepted only as null: per-pool
	// quotas and address scopes are not implemented.
	DefaultQuota   json.RawMessage `json:"default_quota"`
	AddressScopeID json.RawMessage `json:"address_scope_id"`
	TenantID       string          `json:"tenant_id"`
	ProjectID      string          `json:"project_id"`
}

func (b *subnetPoolReq) input() (svc.SubnetPoolInput, error) {
	in := svc.SubnetPoolInput{Name: b.Name, Description: b.Description, Prefixes: b.Prefixes, Shared: b.Shared,
		IsDefault: b.IsDefault, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	if len(b.DefaultQuota) > 0 && string(b.DefaultQuota) != "null" {
		return in, oserr.BadRequest("Subnet pool quotas are not supported here: leave default_quota out (or null).")
	}
	if len(b.AddressScopeID) > 0 && string(b.AddressScopeID) != "null" {
		return in, oserr.BadRequest("Address scopes are not supported here: leave address_scope_id out (or null).")
	}
	var err error
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  **int
	}{
		{"default_prefixlen", b.DefaultPrefixLen, &in.DefaultPrefixLen},
		{"min_prefixlen", b.MinPrefixLen, &in.MinPrefixLen},
		{"max_prefixlen", b.MaxPrefixLen, &in.MaxPrefixLen},
	} {
		if *f.dst, err = intOrNull(f.name, f.raw); err != nil {
			return in, err
		}
		if v := *f.dst; v != nil && (*v < 0 || *v > 128) {
			return in, oserr.BadRequest("Invalid input for %s. Reason: '%d' is not in the range 0 to 128.", f.name, *v)
		}
	}
	return in, nil
}

func subnetPoolJSON(p store.SubnetPool) map[string]any {
	m := map[string]any{
		"id": p.ID, "name": p.Name, "description": p.Description, "prefixes": orEmpty(p.Prefixes), "ip_version": p.IPVersion,
		"default_prefixlen": p.DefaultPrefixLen, "min_prefixlen": p.MinPrefixLen, "max_prefixlen": p.MaxPrefixLen,
		"shared": p.Shared, "is_default": p.IsDefault, "default_quota": nil, "address_scope_id": nil,
	}
	return std(m, p.ProjectID, p.Tags, p.Revision, p.CreatedAt, p.UpdatedAt)
}

func (a *API) listSubnetPools(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.svc.ListSubnetPools(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(ps))
	for i, p := range ps {
		items[i] = subnetPoolJSON(p)
	}
	return a.writeList(w, r, "subnetpools", items, true)
}

func (a *API) createSubnetPool(w http.ResponseWriter, r *http.Request) error {
	items, bulk, err := decodeCreate[subnetPoolReq](r, "subnetpool", "subnetpools")
	if err != nil {
		return err
	}
	c := creds(r)
	return createAll(w, r, items, bulk, "subnetpool", "subnetpools", func(b *subnetPoolReq) (string, map[string]any, error) {
		in, err := b.input()
		if err != nil {
			return "", nil, err
		}
		if in.Prefixes == nil {
			return "", nil, oserr.BadRequest("Failed to parse request. Required attribute 'prefixes' not specified")
		}
		p, err := a.svc.CreateSubnetPool(r.Context(), c, in)
		return p.ID, subnetPoolJSON(p), err
	}, func(id string) error { return a.svc.DeleteSubnetPool(r.Context(), c, id, -1) })
}

func (a *API) showSubnetPool(w http.ResponseWriter, r *http.Request) error {
	p, err := a.svc.GetSubnetPool(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "subnetpool", subnetPoolJSON(p))
	return nil
}

func (a *API) updateSubnetPool(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[subnetPoolReq](r, "subnetpool")
	if err != nil {
		return err
	}
	if b.TenantID != "" || b.ProjectID != "" {
		return oserr.BadRequest("Cannot update read-only attribute project_id")
	}
	in, err := b.input()
	if err != nil {
		return err
	}
	p, err := a.svc.UpdateSubnetPool(r.Context(), creds(r), r.PathValue("id"), in, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "subnetpool", subnetPoolJSON(p))
	return nil
}

func (a *API) deleteSubnetPool(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteSubnetPool(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
