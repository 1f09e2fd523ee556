package volume

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Type is a volume type with its access list (private types).
type Type struct {
	store.VolumeType
	Projects []string
}

func (s *Service) ensureDefaultType(ctx context.Context) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.GetVolumeTypeByName(ctx, DefaultTypeName)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		now := s.now()
		return tx.PutVolumeType(ctx, store.VolumeType{ID: newUUID(), Name: DefaultTypeName, Description: "Default Volume Type",
			IsPublic: true, ExtraSpecs: map[string]string{}, CreatedAt: now, UpdatedAt: now})
	})
}

// typeVisibleTx reads a type by id (or, failing that, name) that c may use.
func (s *Service) typeVisibleTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, ref string) (store.VolumeType, error) {
	t, err := tx.GetVolumeType(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		t, err = tx.GetVolumeTypeByName(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return t, typeNotFound(ref)
	}
	if err != nil {
		return t, err
	}
	if !t.IsPublic && !c.IsAdmin() {
		ps, err := tx.VolumeTypeAccess(ctx, t.ID)
		if err != nil {
			return t, err
		}
		if !slices.Contains(ps, c.ProjectID()) {
			return t, typeNotFound(ref)
		}
	}
	return t, nil
}

// resolveTypeTx is the type a new volume gets: the named one, or the default.
func (s *Service) resolveTypeTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, ref string) (store.VolumeType, error) {
	if ref == "" {
		ref = DefaultTypeName
	}
	return s.typeVisibleTx(ctx, tx, c, ref)
}

// ListTypes lists the types c may use (admins: all, or only public or
// private ones with isPublic).
func (s *Service) ListTypes(ctx context.Context, c *auth.Credentials, isPublic *bool) ([]Type, error) {
	var out []Type
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		ts, err := tx.ListVolumeTypes(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if isPublic != nil && c.IsAdmin() && t.IsPublic != *isPublic {
				continue
			}
			if !t.IsPublic && !c.IsAdmin() {
				ps, err := tx.VolumeTypeAccess(ctx, t.ID)
				if err != nil {
					return err
				}
				if !slices.Contains(ps, c.ProjectID()) {
					continue
				}
			}
			out = append(out, Type{VolumeType: t})
		}
		return nil
	})
	return out, err
}

// GetType reads a type c may use, by id or name.
func (s *Service) GetType(ctx context.Context, c *auth.Credentials, ref string) (t Type, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		vt, err := s.typeVisibleTx(ctx, tx, c, ref)
		t.VolumeType = vt
		return err
	})
	return t, err
}

// DefaultType is the type volumes get when none is asked for.
func (s *Service) DefaultType(ctx context.Context, c *auth.Credentials) (Type, error) {
	return s.GetType(ctx, c, DefaultTypeName)
}

// TypeSpec creates or updates a type (nil fields: unchanged).
type TypeSpec struct {
	Name, Description *string
	IsPublic          *bool
	ExtraSpecs        map[string]string
}

// CreateType (admin) creates a type.
func (s *Service) CreateType(ctx context.Context, spec TypeSpec) (Type, error) {
	now := s.now()
	t := store.VolumeType{ID: newUUID(), IsPublic: true, ExtraSpecs: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	if spec.Name == nil || *spec.Name == "" {
		return Type{}, oserr.BadRequest("Invalid input received: a volume type needs a name.")
	}
	t.Name = *spec.Name
	if spec.Description != nil {
		t.Description = *spec.Description
	}
	if spec.IsPublic != nil {
		t.IsPublic = *spec.IsPublic
	}
	if spec.ExtraSpecs != nil {
		t.ExtraSpecs = spec.ExtraSpecs
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		err := tx.PutVolumeType(ctx, t)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Volume Type %s already exists.", t.Name)
		}
		return err
	})
	return Type{VolumeType: t}, err
}

// UpdateType (admin) changes a type.
func (s *Service) UpdateType(ctx context.Context, id string, spec TypeSpec, specs func(map[string]string) error) (Type, error) {
	var t store.VolumeType
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		t, err = tx.GetVolumeType(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return typeNotFound(id)
		}
		if err != nil {
			return err
		}
		if spec.Name != nil {
			if *spec.Name == "" {
				return oserr.BadRequest("Invalid input received: a volume type's name cannot be empty.")
			}
			if t.Name == DefaultTypeName && *spec.Name != t.Name {
				return oserr.BadRequest("Invalid input received: the default volume type %s cannot be renamed.", DefaultTypeName)
			}
			t.Name = *spec.Name
		}
		if spec.Description != nil {
			t.Description = *spec.Description
		}
		if spec.IsPublic != nil {
			t.IsPublic = *spec.IsPublic
		}
		t.ExtraSpecs = maps.Clone(t.ExtraSpecs)
		if specs != nil {
			if err := specs(t.ExtraSpecs); err != nil {
				return err
			}
		}
		t.UpdatedAt = s.now()
		err = tx.PutVolumeType(ctx, t)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Volume Type %s already exists.", t.Name)
		}
		return err
	})
	return Type{VolumeType: t}, err
}

// DeleteType (admin) deletes an unused type.
func (s *Service) DeleteType(ctx context.Context, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		t, err := tx.GetVolumeType(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return typeNotFound(id)
		}
		if err != nil {
			return err
		}
		if t.Name == DefaultTypeName {
			return oserr.BadRequest("Invalid volume type: the default volume type %s cannot be deleted.", DefaultTypeName)
		}
		n, err := tx.CountVolumesOfType(ctx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return oserr.BadRequest("Target volume type is still in use: %d volumes have type %s; delete or retype them first.", n, t.Name)
		}
		return tx.DeleteVolumeType(ctx, id)
	})
}

// TypeAccess lists the projects a private type is shared with.
func (s *Service) TypeAccess(ctx context.Context, id string) (ps []string, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		t, err := tx.GetVolumeType(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return typeNotFound(id)
		}
		if err != nil {
			return err
		}
		if t.IsPublic {
			return oserr.NotFound("Volume type %s is public: it has no access list.", id)
		}
		ps, err = tx.VolumeTypeAccess(ctx, id)
		return err
	})
	return ps, err
}

// SetTypeAccess shares (add) or unshares a private type with a project.
func (s *Service) SetTypeAccess(ctx context.Context, id, projectID string, add bool) error {
	if projectID == "" {
		return oserr.BadRequest("Invalid input received: give the project id to share the type with.")
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		t, err := tx.GetVolumeType(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return typeNotFound(id)
		}
		if err != nil {
			return err
		}
		if t.IsPublic {
			return oserr.BadRequest("Invalid volume type: type access modification is not applicable to public volume type %s.", id)
		}
		if add {
			err = tx.AddVolumeTypeAccess(ctx, id, projectID)
			if errors.Is(err, store.ErrConflict) {
				return oserr.Conflict("Volume type access for %s / %s combination already exists.", id, projectID)
			}
			return err
		}
		err = tx.RemoveVolumeTypeAccess(ctx, id, projectID)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Volume type access not found for %s / %s combination.", id, projectID)
		}
		return err
	})
}
