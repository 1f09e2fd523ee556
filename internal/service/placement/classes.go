package placement

import (
	"context"
	"errors"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

func classNotFound(name string) error {
	return oserr.NotFound("No such resource class %s.", name)
}

func checkCustomClass(name string) error {
	if !ValidCustomName(name) {
		return oserr.BadRequest("JSON does not validate: resource class name %q is invalid; a custom resource class is CUSTOM_ followed by upper-case letters, digits and underscores, at most 255 characters.", name)
	}
	return nil
}

// ListResourceClasses lists every resource class, standard and custom.
func (s *Service) ListResourceClasses(ctx context.Context) (rcs []store.ResourceClass, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		rcs, err = tx.ListResourceClasses(ctx)
		return err
	})
	return rcs, err
}

// GetResourceClass reads one resource class.
func (s *Service) GetResourceClass(ctx context.Context, name string) (rc store.ResourceClass, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		rc, err = tx.GetResourceClass(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return classNotFound(name)
		}
		return err
	})
	return rc, err
}

// CreateResourceClass creates a custom resource class; 409 when it exists.
func (s *Service) CreateResourceClass(ctx context.Context, name string) (store.ResourceClass, error) {
	rc := store.ResourceClass{Name: name, CreatedAt: s.now()}
	if err := checkCustomClass(name); err != nil {
		return rc, err
	}
	return rc, s.write(ctx, func(tx *store.Tx) error {
		err := tx.CreateResourceClass(ctx, rc)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Conflicting resource class already exists: %s.", name)
		}
		return err
	})
}

// EnsureResourceClass creates a custom resource class unless it exists
// (microversion 1.7's PUT) and reports whether it created it.
func (s *Service) EnsureResourceClass(ctx context.Context, name string) (created bool, err error) {
	if err := checkCustomClass(name); err != nil {
		return false, err
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		created, err = tx.EnsureResourceClass(ctx, store.ResourceClass{Name: name, CreatedAt: s.now()})
		return err
	})
	return created, err
}

// RenameResourceClass renames a custom resource class (microversions 1.2–1.6).
func (s *Service) RenameResourceClass(ctx context.Context, from, to string) (rc store.ResourceClass, err error) {
	if err := checkCustomClass(to); err != nil {
		return rc, err
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetResourceClass(ctx, from)
		if errors.Is(err, store.ErrNotFound) {
			return classNotFound(from)
		} else if err != nil {
			return err
		}
		if cur.Standard {
			return oserr.BadRequest("Cannot update standard resource class %s; create a CUSTOM_ class instead.", from)
		}
		if from == to {
			rc = cur
			return nil
		}
		rc = store.ResourceClass{Name: to, CreatedAt: s.now()}
		err = tx.RenameResourceClass(ctx, from, to, rc.CreatedAt)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Resource class already exists: %s.", to)
		}
		return err
	})
	return rc, err
}

// DeleteResourceClass deletes a custom resource class no inventory uses.
func (s *Service) DeleteResourceClass(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		rc, err := tx.GetResourceClass(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return classNotFound(name)
		} else if err != nil {
			return err
		}
		if rc.Standard {
			return oserr.BadRequest("Error in delete resource class: Cannot delete standard resource class %s.", name)
		}
		inUse, err := tx.ResourceClassInUse(ctx, name)
		if err != nil {
			return err
		}
		if inUse {
			return oserr.Conflict("Error in delete resource class: Cannot delete resource class %s. Class is in use in inventory; remove those inventories first.", name)
		}
		return tx.DeleteResourceClass(ctx, name)
	})
}
