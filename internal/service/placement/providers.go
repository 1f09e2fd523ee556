package placement

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

func checkProviderName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return oserr.BadRequest("JSON does not validate: 'name' must be a non-empty string; name the resource provider, e.g. after its host.")
	case !utf8.ValidString(name):
		return oserr.BadRequest("JSON does not validate: 'name' is not valid UTF-8.")
	case utf8.RuneCountInString(name) > 200:
		return oserr.BadRequest("JSON does not validate: 'name' is longer than 200 characters; use a shorter name.")
	}
	return nil
}

func duplicateProvider(err error, what string) error {
	if errors.Is(err, store.ErrConflict) {
		return oserr.Conflict("Conflicting resource provider %s already exists; choose another.", what).WithType(CodeDuplicateName)
	}
	return err
}

// CreateProvider creates a resource provider; uuid is generated when empty,
// parent is "" for a root.
func (s *Service) CreateProvider(ctx context.Context, id, name, parent string) (store.Provider, error) {
	if err := checkProviderName(name); err != nil {
		return store.Provider{}, err
	}
	if id == "" {
		id = uuid.NewString()
	}
	now := s.now()
	p := store.Provider{UUID: id, Name: name, ParentUUID: parent, RootUUID: id, CreatedAt: now, UpdatedAt: now}
	err := s.write(ctx, func(tx *store.Tx) error {
		if parent != "" {
			par, err := tx.GetProvider(ctx, parent)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Unable to create resource provider %q, %s: the parent resource provider %s does not exist; create it first or name another parent_provider_uuid.", name, id, parent)
			} else if err != nil {
				return err
			}
			p.RootUUID = par.RootUUID
		}
		if _, err := tx.GetProvider(ctx, id); err == nil {
			return duplicateProvider(store.ErrConflict, "uuid: "+id)
		}
		return duplicateProvider(tx.CreateProvider(ctx, p), "name: "+name)
	})
	return p, err
}

// GetProvider reads a resource provider.
func (s *Service) GetProvider(ctx context.Context, id string) (p store.Provider, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		p, err = getProvider(ctx, tx, id)
		return err
	})
	return p, err
}

// ListProviders lists resource providers matching f. Unknown resource
// classes and traits in f are a 400, as Placement answers them.
func (s *Service) ListProviders(ctx context.Context, f ProviderFilter) (ps []store.Provider, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		var classes, traits []string
		for rc := range f.Resources {
			classes = append(classes, rc)
		}
		for _, set := range f.RequiredTraits {
			traits = append(traits, set...)
		}
		traits = append(traits, f.ForbiddenTraits...)
		if err := checkExist(ctx, tx, classes, traits); err != nil {
			return err
		}
		ps, err = tx.ListProviders(ctx, store.ProviderFilter(f))
		return err
	})
	return ps, err
}

// checkExist returns a 400 naming the first unknown class or trait.
func checkExist(ctx context.Context, tx *store.Tx, classes, traits []string) error {
	missing, err := tx.MissingResourceClasses(ctx, classes)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return oserr.BadRequest("Invalid resource class in resources parameter: No such resource class %s; list them with GET /resource_classes or create a CUSTOM_ one.", strings.Join(missing, ", "))
	}
	missing, err = tx.MissingTraits(ctx, traits)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return oserr.BadRequest("No such trait(s): %s; list them with GET /traits or create a CUSTOM_ one with PUT /traits/{name}.", strings.Join(missing, ", "))
	}
	return nil
}

// ProviderUpdate is what PUT /resource_providers/{uuid} may change.
type ProviderUpdate struct {
	Name string
	// Parent, when not nil, is the new parent ("" to make the provider a root).
	Parent *string
	// Reparent allows changing or removing an existing parent (microversion 1.37).
	Reparent bool
}

// UpdateProvider renames and re-parents a provider.
func (s *Service) UpdateProvider(ctx context.Context, id string, u ProviderUpdate) (p store.Provider, err error) {
	if err := checkProviderName(u.Name); err != nil {
		return p, err
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		p, err = getProvider(ctx, tx, id)
		if err != nil {
			return err
		}
		p.Name, p.UpdatedAt = u.Name, s.now()
		var subtree []string
		if u.Parent != nil && *u.Parent != p.ParentUUID {
			newParent := *u.Parent
			if p.ParentUUID != "" && !u.Reparent {
				if newParent == "" {
					return oserr.BadRequest("Unable to save resource provider %s: un-parenting a provider is not allowed before microversion 1.37; send OpenStack-API-Version: placement 1.37.", id)
				}
				return oserr.BadRequest("Unable to save resource provider %s: re-parenting a provider is not allowed before microversion 1.37; send OpenStack-API-Version: placement 1.37.", id)
			}
			// The provider's subtree moves with it; the new parent may not be in it.
			tree, err := tx.ListProviders(ctx, store.ProviderFilter{InTree: id})
			if err != nil {
				return err
			}
			subtree = descendants(tree, id)
			root := id
			if newParent != "" {
				if newParent == id || slices.Contains(subtree, newParent) {
					return oserr.BadRequest("Unable to save resource provider %s: creating a loop in the provider tree is not allowed; choose a parent outside its subtree.", id)
				}
				par, err := tx.GetProvider(ctx, newParent)
				if errors.Is(err, store.ErrNotFound) {
					return oserr.BadRequest("Unable to save resource provider %s: the parent resource provider %s does not exist.", id, newParent)
				} else if err != nil {
					return err
				}
				root = par.RootUUID
			}
			p.ParentUUID, p.RootUUID = newParent, root
		}
		if err := duplicateProvider(tx.UpdateProvider(ctx, p), p.Name); err != nil {
			return err
		}
		return tx.SetRoot(ctx, subtree, p.RootUUID)
	})
	return p, err
}

// descendants returns the UUIDs below id among the providers of its tree.
func descendants(tree []store.Provider, id string) []string {
	children := map[string][]string{}
	for _, p := range tree {
		children[p.ParentUUID] = append(children[p.ParentUUID], p.UUID)
	}
	var out []string
	queue := []string{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// DeleteProvider deletes a provider that has no children and no allocations.
func (s *Service) DeleteProvider(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := getProvider(ctx, tx, id); err != nil {
			return err
		}
		n, err := tx.CountChildProviders(ctx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return oserr.Conflict("Unable to delete parent resource provider %s: It has child resource providers; delete them first.", id).WithType(CodeCannotDeleteParent)
		}
		used, err := tx.ProviderHasAllocations(ctx, id)
		if err != nil {
			return err
		}
		if used {
			return oserr.Conflict("Unable to delete resource provider %s: Resource provider has allocations; delete the consumers' allocations first (GET /resource_providers/%s/allocations lists them).", id, id).WithType(CodeProviderInUse)
		}
		return tx.DeleteProvider(ctx, id)
	})
}
