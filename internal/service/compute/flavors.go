package compute

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/page"
	"github.com/onestack/onestack/internal/store"
)

// MaxInt is Nova's database integer limit for sizes and quotas.
const MaxInt = 0x7FFFFFFF

// MaxRxTxFactor is Nova's limit on rxtx_factor (the largest SQL float).
const MaxRxTxFactor = 3.40282e+38

// FlavorCreate is a flavor create request, its types already checked by
// the API.
type FlavorCreate struct {
	ID          string // "" for a generated UUID
	Name        string
	RAM         int // MB, ≥ 1
	VCPUs       int // ≥ 1
	Disk        int // GB, ≥ 0
	Ephemeral   int // GB, ≥ 0
	Swap        int // MB, ≥ 0
	RxTxFactor  float64
	IsPublic    bool
	Description *string // 2.55
}

// requireAdmin refuses non-admins with Nova's policy message for rule.
func requireAdmin(c *auth.Credentials, rule string) error {
	if c == nil || !c.IsAdmin() {
		return oserr.Forbidden("Policy doesn't allow %s to be performed; it needs the admin role.", rule)
	}
	return nil
}

// PrintableName reports whether s is a valid Nova name: 1 to 255
// printable characters, not starting or ending with whitespace.
func PrintableName(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > 255 {
		return false
	}
	for _, r := range s {
		if !printable(r) {
			return false
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !unicode.IsSpace(first) && !unicode.IsSpace(last)
}

// printable is Nova's notion: not a control/format/unassigned character
// and, among separators, only horizontal spaces.
func printable(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs)
}

// PrintableText reports whether s has only printable characters (Nova's
// description rule: no newlines or control characters).
func PrintableText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !printable(r) {
			return false
		}
	}
	return true
}

var flavorIDPattern = regexp.MustCompile(`^[a-zA-Z0-9. _-]+$`)

// ValidFlavorID reports whether id is a flavor id a client may choose.
func ValidFlavorID(id string) bool {
	return len(id) >= 1 && len(id) <= 255 && flavorIDPattern.MatchString(id) && id[0] != ' ' && id[len(id)-1] != ' '
}

// Validate checks a flavor create request against Nova's rules.
func (f FlavorCreate) Validate() error {
	if !PrintableName(f.Name) {
		return oserr.BadRequest("Invalid input for field/attribute name: a flavor name is 1 to 255 printable characters and may not start or end with whitespace.")
	}
	if f.ID != "" && !ValidFlavorID(f.ID) {
		return oserr.BadRequest("Invalid input for field/attribute id: %q is not a valid flavor id; use 1 to 255 letters, digits, '.', '_', '-' or inner spaces, or omit it for a generated UUID.", f.ID)
	}
	for _, v := range []struct {
		name     string
		val, min int
		unit     string
	}{{"ram", f.RAM, 1, "MB"}, {"vcpus", f.VCPUs, 1, "vCPUs"}, {"disk", f.Disk, 0, "GB"},
		{"OS-FLV-EXT-DATA:ephemeral", f.Ephemeral, 0, "GB"}, {"swap", f.Swap, 0, "MB"}} {
		if v.val < v.min || v.val > MaxInt {
			return oserr.BadRequest("Invalid input for field/attribute %s: %d is out of range; give an integer from %d to %d (%s).", v.name, v.val, v.min, MaxInt, v.unit)
		}
	}
	if math.IsNaN(f.RxTxFactor) || f.RxTxFactor <= 0 || f.RxTxFactor > MaxRxTxFactor {
		return oserr.BadRequest("Invalid input for field/attribute rxtx_factor: %g is out of range; give a number greater than 0 and at most %g.", f.RxTxFactor, MaxRxTxFactor)
	}
	if f.Description != nil {
		if err := checkDescription(*f.Description); err != nil {
			return err
		}
	}
	return nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > 65535 || !PrintableText(d) {
		return oserr.BadRequest("Invalid input for field/attribute description: a flavor description is at most 65535 printable characters (no newlines or control characters).")
	}
	return nil
}

// CreateFlavor creates a flavor (admin only). Names and ids are unique.
func (s *Service) CreateFlavor(ctx context.Context, c *auth.Credentials, req FlavorCreate) (store.Flavor, error) {
	if err := requireAdmin(c, "os_compute_api:os-flavor-manage:create"); err != nil {
		return store.Flavor{}, err
	}
	if req.RxTxFactor == 0 {
		req.RxTxFactor = 1
	}
	if err := req.Validate(); err != nil {
		return store.Flavor{}, err
	}
	now := s.Now()
	f := store.Flavor{ID: req.ID, Name: strings.TrimSpace(req.Name), RAM: req.RAM, VCPUs: req.VCPUs, Disk: req.Disk,
		Ephemeral: req.Ephemeral, Swap: req.Swap, RxTxFactor: req.RxTxFactor, IsPublic: req.IsPublic,
		ExtraSpecs: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	if f.ID == "" {
		f.ID = newUUID()
	}
	if req.Description != nil {
		f.Description = *req.Description
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetFlavor(ctx, f.ID); err == nil {
			return oserr.Conflict("Flavor with ID %s already exists; choose another id or omit it for a generated UUID.", f.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.GetFlavorByName(ctx, f.Name); err == nil {
			return oserr.Conflict("Flavor with name %s already exists; choose another name.", f.Name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		err := tx.CreateFlavor(ctx, f)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Flavor with name %s or ID %s already exists; choose another.", f.Name, f.ID)
		}
		return err
	})
	return f, err
}

// flavorVisible loads a flavor the credentials may see: any for admins,
// else public ones and private ones shared with their project.
func (s *Service) flavorVisible(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (store.Flavor, error) {
	f, err := tx.GetFlavor(ctx, id)
	if err == nil && !f.IsPublic && !c.IsAdmin() {
		projects, perr := tx.FlavorAccess(ctx, f.ID)
		if perr != nil {
			return f, perr
		}
		if !slices.Contains(projects, c.ProjectID()) {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return f, oserr.NotFound("Flavor %s could not be found; see 'openstack flavor list'.", id)
	}
	return f, err
}

// Flavor returns a flavor the credentials may see.
func (s *Service) Flavor(ctx context.Context, c *auth.Credentials, id string) (f store.Flavor, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		f, err = s.flavorVisible(ctx, tx, c, id)
		return err
	})
	return f, err
}

// FlavorList is a decoded GET /flavors.
type FlavorList struct {
	// IsPublic is the admin's is_public filter: nil lists every flavor,
	// true public ones (and private ones shared with the admin's project),
	// false private ones. Non-admins always see public flavors and private
	// ones shared with their project, never disabled ones.
	IsPublic *bool
	MinRAM   int
	MinDisk  int
	SortKey  string // a Nova sort key (FlavorSortKeys); default flavorid
	Desc     bool
	Page     page.Request
}

// Flavors lists the flavors the credentials may use, as Nova filters them.
func (s *Service) Flavors(ctx context.Context, c *auth.Credentials, l FlavorList) (fs []store.Flavor, err error) {
	q := store.FlavorQuery{IsPublic: l.IsPublic, AccessProject: c.ProjectID(), MinRAM: l.MinRAM, MinDisk: l.MinDisk,
		SortColumn: flavorSort[l.SortKey], Desc: l.Desc, Page: storePage(l.Page)}
	if !c.IsAdmin() {
		yes := true
		q.IsPublic, q.HideDisabled = &yes, true
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		fs, err = tx.ListFlavorsBy(ctx, q)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.BadRequest("marker [%s] not found; page with the id of a flavor from the previous page.", l.Page.Marker)
		}
		return err
	})
	return fs, err
}

// DeleteFlavor deletes a flavor (admin only); servers keep their copy.
func (s *Service) DeleteFlavor(ctx context.Context, c *auth.Credentials, id string) error {
	if err := requireAdmin(c, "os_compute_api:os-flavor-manage:delete"); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error { return tx.DeleteFlavor(ctx, id) })
	return notFound(err, "Flavor", id)
}

// UpdateFlavorDescription sets a flavor's description (admin only, 2.55).
func (s *Service) UpdateFlavorDescription(ctx context.Context, c *auth.Credentials, id string, desc *string) (f store.Flavor, err error) {
	if err := requireAdmin(c, "os_compute_api:os-flavor-manage:update"); err != nil {
		return f, err
	}
	d := ""
	if desc != nil {
		d = *desc
	}
	if err := checkDescription(d); err != nil {
		return f, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if f, err = tx.GetFlavor(ctx, id); err != nil {
			return notFound(err, "Flavor", id)
		}
		f.Description, f.UpdatedAt = d, s.Now()
		return tx.UpdateFlavor(ctx, f)
	})
	return f, err
}

var extraSpecKey = regexp.MustCompile(`^[a-zA-Z0-9-_:. ]{1,255}$`)

// CheckExtraSpecs validates extra spec keys and values as Nova's schema does.
func CheckExtraSpecs(specs map[string]string) error {
	for k, v := range specs {
		if !extraSpecKey.MatchString(k) {
			return oserr.BadRequest("Invalid input for field/attribute extra_specs: key %q is invalid; keys are 1 to 255 letters, digits, spaces and '-', '_', ':', '.'.", k)
		}
		if utf8.RuneCountInString(v) > 255 {
			return oserr.BadRequest("Invalid input for field/attribute extra_specs: the value of %q is longer than 255 characters.", k)
		}
	}
	return nil
}

// FlavorExtraSpecs returns a visible flavor's extra specs.
func (s *Service) FlavorExtraSpecs(ctx context.Context, c *auth.Credentials, id string) (map[string]string, error) {
	f, err := s.Flavor(ctx, c, id)
	if err != nil {
		return nil, err
	}
	return f.ExtraSpecs, nil
}

// SetFlavorExtraSpecs merges specs into a flavor's extra specs (admin only).
func (s *Service) SetFlavorExtraSpecs(ctx context.Context, c *auth.Credentials, id string, specs map[string]string) (map[string]string, error) {
	if err := requireAdmin(c, "os_compute_api:os-flavor-extra-specs:create"); err != nil {
		return nil, err
	}
	if err := CheckExtraSpecs(specs); err != nil {
		return nil, err
	}
	var out map[string]string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFlavor(ctx, id)
		if err != nil {
			return notFound(err, "Flavor", id)
		}
		if f.ExtraSpecs == nil {
			f.ExtraSpecs = map[string]string{}
		}
		for k, v := range specs {
			f.ExtraSpecs[k] = v
		}
		f.UpdatedAt = s.Now()
		out = f.ExtraSpecs
		return tx.UpdateFlavor(ctx, f)
	})
	return out, err
}

// DeleteFlavorExtraSpec removes one extra spec (admin only).
func (s *Service) DeleteFlavorExtraSpec(ctx context.Context, c *auth.Credentials, id, key string) error {
	if err := requireAdmin(c, "os_compute_api:os-flavor-extra-specs:delete"); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFlavor(ctx, id)
		if err != nil {
			return notFound(err, "Flavor", id)
		}
		if _, ok := f.ExtraSpecs[key]; !ok {
			return oserr.NotFound("Flavor %s has no extra specs with key %s.", id, key)
		}
		delete(f.ExtraSpecs, key)
		f.UpdatedAt = s.Now()
		return tx.UpdateFlavor(ctx, f)
	})
}

// FlavorAccess lists the projects a private flavor is shared with (admin only).
func (s *Service) FlavorAccess(ctx context.Context, c *auth.Credentials, id string) (projects []string, err error) {
	if err := requireAdmin(c, "os_compute_api:os-flavor-access"); err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFlavor(ctx, id)
		if err != nil {
			return notFound(err, "Flavor", id)
		}
		if f.IsPublic {
			return oserr.NotFound("Access list not available for public flavors: flavor %s is usable by every project.", id)
		}
		projects, err = tx.FlavorAccess(ctx, id)
		return err
	})
	return projects, err
}

// AddFlavorAccess shares a private flavor with a project (admin only).
// refusePublic (microversion 2.7+) refuses public flavors with 409;
// before 2.7 Nova recorded the access anyway.
func (s *Service) AddFlavorAccess(ctx context.Context, c *auth.Credentials, id, project string, refusePublic bool) (projects []string, err error) {
	if err := requireAdmin(c, "os_compute_api:os-flavor-access:add_tenant_access"); err != nil {
		return nil, err
	}
	if err := checkProjectRef(project); err != nil {
		return nil, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		f, err := tx.GetFlavor(ctx, id)
		if err != nil {
			return notFound(err, "Flavor", id)
		}
		if f.IsPublic && refusePublic {
			return oserr.Conflict("Can not add access to a public flavor: flavor %s is already usable by every project.", id)
		}
		if err := tx.AddFlavorAccess(ctx, id, project); errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Flavor access already exists for flavor %s and project %s combination.", id, project)
		} else if err != nil {
			return err
		}
		projects, err = tx.FlavorAccess(ctx, id)
		return err
	})
	return projects, err
}

// RemoveFlavorAccess stops sharing a flavor with a project (admin only).
func (s *Service) RemoveFlavorAccess(ctx context.Context, c *auth.Credentials, id, project string) (projects []string, err error) {
	if err := requireAdmin(c, "os_compute_api:os-flavor-access:remove_tenant_access"); err != nil {
		return nil, err
	}
	if err := checkProjectRef(project); err != nil {
		return nil, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetFlavor(ctx, id); err != nil {
			return notFound(err, "Flavor", id)
		}
		if err := tx.RemoveFlavorAccess(ctx, id, project); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Flavor access not found for %s / %s combination.", id, project)
		} else if err != nil {
			return err
		}
		projects, err = tx.FlavorAccess(ctx, id)
		return err
	})
	return projects, err
}

func checkProjectRef(p string) error {
	if p == "" || len(p) > 255 {
		return oserr.BadRequest("Invalid input for field/attribute tenant: give a project id of 1 to 255 characters.")
	}
	return nil
}
