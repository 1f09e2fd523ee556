package identity

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// checkName validates a resource name as Keystone's schemas do.
func checkName(kind, name string, max int) error {
	switch {
	case strings.TrimSpace(name) == "":
		return oserr.BadRequest("Invalid input for field 'name': a %s needs a non-empty name.", kind)
	case !utf8.ValidString(name):
		return oserr.BadRequest("Invalid input for field 'name': the %s name is not valid UTF-8.", kind)
	case utf8.RuneCountInString(name) > max:
		return oserr.BadRequest("Invalid input for field 'name': a %s name has at most %d characters.", kind, max)
	}
	return nil
}

func (s *Service) domainExists(ctx context.Context, tx *store.Tx, id string) error {
	_, err := tx.GetDomain(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return oserr.NotFound("Could not find domain: %s.", id)
	}
	return err
}

// ---- domains

// CreateDomain creates a domain.
func (s *Service) CreateDomain(ctx context.Context, d store.Domain) (store.Domain, error) {
	if err := checkName("domain", d.Name, 64); err != nil {
		return d, err
	}
	if d.ID == "" {
		d.ID = newID()
	}
	d.CreatedAt = s.now()
	return d, s.write(ctx, func(tx *store.Tx) error {
		return conflict(tx.CreateDomain(ctx, d), "domain %s: a domain with this name exists", d.Name)
	})
}

// GetDomain reads a domain.
func (s *Service) GetDomain(ctx context.Context, id string) (d store.Domain, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		d, err = tx.GetDomain(ctx, id)
		return notFound(err, "domain", id)
	})
	return d, err
}

// ListDomains lists domains.
func (s *Service) ListDomains(ctx context.Context, f DomainFilter) (ds []store.Domain, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		ds, err = tx.ListDomains(ctx, store.DomainFilter(f))
		return err
	})
	return ds, err
}

// UpdateDomain applies fn to a domain and saves it; disabling it revokes
// every token scoped to it.
func (s *Service) UpdateDomain(ctx context.Context, id string, fn func(*store.Domain) error) (d store.Domain, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if d, err = tx.GetDomain(ctx, id); err != nil {
			return notFound(err, "domain", id)
		}
		was := d.Enabled
		if err := fn(&d); err != nil {
			return err
		}
		if err := checkName("domain", d.Name, 64); err != nil {
			return err
		}
		if was && !d.Enabled {
			if err := s.revoke(ctx, tx, store.RevokeDomain, id); err != nil {
				return err
			}
		}
		return conflict(tx.UpdateDomain(ctx, d), "domain %s: a domain with this name exists", d.Name)
	})
	return d, err
}

// DeleteDomain deletes a disabled domain with everything in it.
func (s *Service) DeleteDomain(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		d, err := tx.GetDomain(ctx, id)
		if err != nil {
			return notFound(err, "domain", id)
		}
		if d.Enabled {
			return oserr.Forbidden("Cannot delete a domain that is enabled, please disable it first ('openstack domain set --disable %s').", d.Name)
		}
		if err := s.revoke(ctx, tx, store.RevokeDomain, id); err != nil {
			return err
		}
		return tx.DeleteDomain(ctx, id)
	})
}

// ---- projects

// CreateProject creates a project; without a parent it sits at the top of
// its domain (parent_id is the domain id, as Keystone reports).
func (s *Service) CreateProject(ctx context.Context, p store.Project) (store.Project, error) {
	if err := checkName("project", p.Name, 64); err != nil {
		return p, err
	}
	p.ID, p.CreatedAt = newID(), s.now()
	if p.Tags == nil {
		p.Tags = []string{}
	}
	return p, s.write(ctx, func(tx *store.Tx) error {
		if p.ParentID != "" && p.ParentID != p.DomainID {
			parent, err := tx.GetProject(ctx, p.ParentID)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Parent project %s does not exist; check parent_id.", p.ParentID)
			}
			if err != nil {
				return err
			}
			if p.DomainID == "" {
				p.DomainID = parent.DomainID
			}
			if parent.DomainID != p.DomainID {
				return oserr.BadRequest("Parent project %s is in domain %s, not %s; a project and its parent share a domain.", parent.ID, parent.DomainID, p.DomainID)
			}
		}
		if p.DomainID == "" {
			p.DomainID = DefaultDomainID
		}
		if p.ParentID == "" {
			p.ParentID = p.DomainID
		}
		if err := s.domainExists(ctx, tx, p.DomainID); err != nil {
			return err
		}
		return conflict(tx.CreateProject(ctx, p), "project %s: a project with this name exists in domain %s", p.Name, p.DomainID)
	})
}

// GetProject reads a project.
func (s *Service) GetProject(ctx context.Context, id string) (p store.Project, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		p, err = tx.GetProject(ctx, id)
		return notFound(err, "project", id)
	})
	return p, err
}

// ListProjects lists projects.
func (s *Service) ListProjects(ctx context.Context, f ProjectFilter) (ps []store.Project, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		ps, err = tx.ListProjects(ctx, store.ProjectFilter(f))
		return err
	})
	return ps, err
}

// UpdateProject applies fn to a project and saves it; disabling it revokes
// every token scoped to it.
func (s *Service) UpdateProject(ctx context.Context, id string, fn func(*store.Project) error) (p store.Project, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if p, err = tx.GetProject(ctx, id); err != nil {
			return notFound(err, "project", id)
		}
		was := p.Enabled
		if err := fn(&p); err != nil {
			return err
		}
		if err := checkName("project", p.Name, 64); err != nil {
			return err
		}
		if was && !p.Enabled {
			if err := s.revoke(ctx, tx, store.RevokeProject, id); err != nil {
				return err
			}
		}
		return conflict(tx.UpdateProject(ctx, p), "project %s: a project with this name exists in domain %s", p.Name, p.DomainID)
	})
	return p, err
}

// DeleteProject deletes a project without children, its role assignments
// and application credentials, and revokes tokens scoped to it.
func (s *Service) DeleteProject(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if _, err := tx.GetProject(ctx, id); err != nil {
			return notFound(err, "project", id)
		}
		n, err := tx.CountChildProjects(ctx, id)
		if err != nil {
			return err
		}
		if n > 0 {
			return oserr.Forbidden("Cannot delete project %s: it has %d child projects; delete them first.", id, n)
		}
		if err := s.revoke(ctx, tx, store.RevokeProject, id); err != nil {
			return err
		}
		return tx.DeleteProject(ctx, id)
	})
}

// UserProjects lists the projects on which the user has any role (directly,
// through a group or inherited), for /v3/users/{id}/projects and /v3/auth/projects.
func (s *Service) UserProjects(ctx context.Context, userID string) (ps []store.Project, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListProjects(ctx, store.ProjectFilter{})
		if err != nil {
			return err
		}
		for _, p := range all {
			ids, err := effectiveRoleIDs(ctx, tx, userID, store.TargetProject, p.ID)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				ps = append(ps, p)
			}
		}
		return nil
	})
	return ps, err
}

// UserDomains lists the domains on which the user has a role.
func (s *Service) UserDomains(ctx context.Context, userID string) (ds []store.Domain, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		all, err := tx.ListDomains(ctx, store.DomainFilter{})
		if err != nil {
			return err
		}
		for _, d := range all {
			ids, err := effectiveRoleIDs(ctx, tx, userID, store.TargetDomain, d.ID)
			if err != nil {
				return err
			}
			if len(ids) > 0 && d.Enabled {
				ds = append(ds, d)
			}
		}
		return nil
	})
	return ds, err
}

// UserHasSystemRole reports whether the user holds any role on the system.
func (s *Service) UserHasSystemRole(ctx context.Context, userID string) (ok bool, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		ids, err := effectiveRoleIDs(ctx, tx, userID, store.TargetSystem, store.SystemAll)
		ok = len(ids) > 0
		return err
	})
	return ok, err
}

// ---- users

// CheckPasswordInput rejects passwords bcrypt cannot hash faithfully.
func CheckPasswordInput(pw string) error {
	if len(pw) > 72 {
		return oserr.BadRequest("Invalid input for field 'password': at most 72 bytes are allowed.")
	}
	return nil
}

// CreateUser creates a user, hashing password when given.
func (s *Service) CreateUser(ctx context.Context, u store.User, password *string) (store.User, error) {
	if err := checkName("user", u.Name, 255); err != nil {
		return u, err
	}
	if u.DomainID == "" {
		u.DomainID = DefaultDomainID
	}
	if password != nil {
		if err := CheckPasswordInput(*password); err != nil {
			return u, err
		}
		h, err := s.hashSecret(*password)
		if err != nil {
			return u, err
		}
		u.PasswordHash = h
	}
	u.ID, u.CreatedAt = newID(), s.now()
	return u, s.write(ctx, func(tx *store.Tx) error {
		if err := s.domainExists(ctx, tx, u.DomainID); err != nil {
			return err
		}
		if err := s.checkDefaultProject(ctx, tx, u.DefaultProjectID); err != nil {
			return err
		}
		return conflict(tx.CreateUser(ctx, u), "user %s: a user with this name exists in domain %s", u.Name, u.DomainID)
	})
}

func (s *Service) checkDefaultProject(ctx context.Context, tx *store.Tx, id string) error {
	if id == "" {
		return nil
	}
	if _, err := tx.GetProject(ctx, id); errors.Is(err, store.ErrNotFound) {
		return oserr.BadRequest("Default project %s does not exist; check default_project_id.", id)
	} else {
		return err
	}
}

// GetUser reads a user.
func (s *Service) GetUser(ctx context.Context, id string) (u store.User, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		u, err = tx.GetUser(ctx, id)
		return notFound(err, "user", id)
	})
	return u, err
}

// ListUsers lists users.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) (us []store.User, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		us, err = tx.ListUsers(ctx, store.UserFilter(f))
		return err
	})
	return us, err
}

// UpdateUser applies fn to a user and saves it. A new password (non-nil)
// is hashed; disabling the user or changing its password revokes its tokens.
func (s *Service) UpdateUser(ctx context.Context, id string, password *string, fn func(*store.User) error) (u store.User, err error) {
	var hash string
	if password != nil {
		if err := CheckPasswordInput(*password); err != nil {
			return u, err
		}
		if hash, err = s.hashSecret(*password); err != nil {
			return u, err
		}
	}
	err = s.write(ctx, func(tx *store.Tx) error {
		if u, err = tx.GetUser(ctx, id); err != nil {
			return notFound(err, "user", id)
		}
		was := u.Enabled
		if err := fn(&u); err != nil {
			return err
		}
		if err := checkName("user", u.Name, 255); err != nil {
			return err
		}
		if err := s.checkDefaultProject(ctx, tx, u.DefaultProjectID); err != nil {
			return err
		}
		if password != nil {
			u.PasswordHash, u.PasswordExpiresAt = hash, nil
		}
		if (was && !u.Enabled) || password != nil {
			if err := s.revoke(ctx, tx, store.RevokeUser, id); err != nil {
				return err
			}
		}
		return conflict(tx.UpdateUser(ctx, u), "user %s: a user with this name exists in domain %s", u.Name, u.DomainID)
	})
	return u, err
}

// ChangePassword is the self-service password change: it needs the
// original password.
func (s *Service) ChangePassword(ctx context.Context, id, original, password string) error {
	if err := CheckPasswordInput(password); err != nil {
		return err
	}
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	if !checkSecret(u.PasswordHash, original) {
		return oserr.Unauthorized("The original password is wrong; check it and try again.")
	}
	_, err = s.UpdateUser(ctx, id, &password, func(*store.User) error { return nil })
	return err
}

// DeleteUser deletes a user and revokes its tokens.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if err := s.revoke(ctx, tx, store.RevokeUser, id); err != nil {
			return err
		}
		return notFound(tx.DeleteUser(ctx, id), "user", id)
	})
}

// ---- groups

// CreateGroup creates a group.
func (s *Service) CreateGroup(ctx context.Context, g store.Group) (store.Group, error) {
	if err := checkName("group", g.Name, 64); err != nil {
		return g, err
	}
	if g.DomainID == "" {
		g.DomainID = DefaultDomainID
	}
	g.ID, g.CreatedAt = newID(), s.now()
	return g, s.write(ctx, func(tx *store.Tx) error {
		if err := s.domainExists(ctx, tx, g.DomainID); err != nil {
			return err
		}
		return conflict(tx.CreateGroup(ctx, g), "group %s: a group with this name exists in domain %s", g.Name, g.DomainID)
	})
}

// GetGroup reads a group.
func (s *Service) GetGroup(ctx context.Context, id string) (g store.Group, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		g, err = tx.GetGroup(ctx, id)
		return notFound(err, "group", id)
	})
	return g, err
}

// ListGroups lists groups.
func (s *Service) ListGroups(ctx context.Context, f GroupFilter) (gs []store.Group, err error) {
	err = s.read(ctx, func(tx *store.Tx) error {
		gs, err = tx.ListGroups(ctx, store.GroupFilter(f))
		return err
	})
	return gs, err
}

// UpdateGroup applies fn to a group and saves it.
func (s *Service) UpdateGroup(ctx context.Context, id string, fn func(*store.Group) error) (g store.Group, err error) {
	err = s.write(ctx, func(tx *store.Tx) error {
		if g, err = tx.GetGroup(ctx, id); err != nil {
			return notFound(err, "group", id)
		}
		if err := fn(&g); err != nil {
			return err
		}
		if err := checkName("group", g.Name, 64); err != nil {
			return err
		}
		return conflict(tx.UpdateGroup(ctx, g), "group %s: a group with this name exists in domain %s", g.Name, g.DomainID)
	})
	return g, err
}

// DeleteGroup deletes a group.
func (s *Service) DeleteGroup(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *store.Tx) error { return notFound(tx.DeleteGroup(ctx, id), "group", id) })
}

func (s *Service) groupAndUser(ctx context.Context, tx *store.Tx, groupID, userID string) error {
	if _, err := tx.GetGroup(ctx, groupID); err != nil {
		return notFound(err, "group", groupID)
	}
	if _, err := tx.GetUser(ctx, userID); err != nil {
		return notFound(err, "user", userID)
	}
	return nil
}

// AddGroupMember adds a user to a group.
func (s *Service) AddGroupMember(ctx context.Context, groupID, userID string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if err := s.groupAndUser(ctx, tx, groupID, userID); err != nil {
			return err
		}
		return tx.AddGroupMember(ctx, groupID, userID)
	})
}

// RemoveGroupMember removes a user from a group.
func (s *Service) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return s.write(ctx, func(tx *store.Tx) error {
		if err := s.groupAndUser(ctx, tx, groupID, userID); err != nil {
			return err
		}
		if err := tx.RemoveGroupMember(ctx, groupID, userID); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("User %s is not a member of group %s.", userID, groupID)
		} else {
			return err
		}
	})
}

// IsGroupMember checks membership; 404 when the user is not in the group.
func (s *Service) IsGroupMember(ctx context.Context, groupID, userID string) error {
	return s.read(ctx, func(tx *store.Tx) error {
		if err := s.groupAndUser(ctx, tx, groupID, userID); err != nil {
			return err
		}
		ok, err := tx.IsGroupMember(ctx, groupID, userID)
		if err == nil && !ok {
			return oserr.NotFound("User %s is not a member of group %s.", userID, groupID)
		}
		return err
	})
}
