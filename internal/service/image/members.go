package image

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// onlyShared is Glance's 403 for member operations on an image that is not shared.
func onlyShared(verb string, im *store.Image) error {
	return oserr.Forbidden("Not allowed to %s members for image %s: Only shared images have members; its visibility is %s "+
		"(make it shared with 'openstack image set --shared %s').", verb, im.ID, im.Visibility, im.ID)
}

// memberImage reads an image the caller sees for a member operation.
func (s *Service) memberImage(ctx context.Context, tx *store.Tx, k caller, id string) (store.Image, error) {
	return s.visible(ctx, tx, k, id)
}

// AddMember shares a shared image with a project, whose membership starts
// pending until that project accepts it.
func (s *Service) AddMember(ctx context.Context, c *auth.Credentials, id, member string) (m store.ImageMember, err error) {
	k := caller{c}
	member = strings.TrimSpace(member)
	if member == "" || len(member) > 255 {
		return m, oserr.BadRequest("Invalid member: give the id of the project to share image %s with, at most 255 characters.", id)
	}
	lim := s.Limits()
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		im, err := s.memberImage(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if !k.canWrite(&im) {
			return oserr.Forbidden("Not allowed to create members for image %s: only its owner (project %s) or an admin may share it.", id, im.Owner)
		}
		if im.Visibility != VisibilityShared {
			return onlyShared("create", &im)
		}
		n, err := tx.CountImageMembers(ctx, id)
		if err != nil {
			return err
		}
		if lim.MembersPerImage >= 0 && n >= lim.MembersPerImage {
			return oserr.TooLarge("Attempted to add %d image members, but the maximum is %d: remove members image %s no longer needs.", n+1, lim.MembersPerImage, id)
		}
		now := s.now()
		m = store.ImageMember{ImageID: id, MemberID: member, Status: MemberPending, CreatedAt: now, UpdatedAt: now}
		err = tx.CreateImageMember(ctx, m)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Member %s is duplicated for image %s: it is a member already.", member, id)
		}
		return err
	})
	return m, err
}

// Members lists an image's members: all of them for its owner, only the
// caller's own membership for a member.
func (s *Service) Members(ctx context.Context, c *auth.Credentials, id string) (ms []store.ImageMember, err error) {
	k := caller{c}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		im, err := s.memberImage(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if im.Visibility != VisibilityShared {
			return onlyShared("list", &im)
		}
		only := ""
		if !k.owns(&im) {
			only = k.project()
		}
		ms, err = tx.ListImageMembers(ctx, id, only)
		return err
	})
	return ms, err
}

// Member returns one membership, seen by the image's owner or the member.
func (s *Service) Member(ctx context.Context, c *auth.Credentials, id, member string) (m store.ImageMember, err error) {
	k := caller{c}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		im, err := s.memberImage(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if im.Visibility != VisibilityShared {
			return onlyShared("show", &im)
		}
		if !k.owns(&im) && member != k.project() {
			return memberNotFound(id, member)
		}
		m, err = tx.GetImageMember(ctx, id, member)
		if errors.Is(err, store.ErrNotFound) {
			return memberNotFound(id, member)
		}
		return err
	})
	return m, err
}

func memberNotFound(id, member string) error {
	return oserr.NotFound("%s not found in the member list of the image %s; list them with 'openstack image member list %s'.", member, id, id)
}

// UpdateMember sets a membership's status; only the member project (or an
// admin) decides whether it accepts an image shared with it.
func (s *Service) UpdateMember(ctx context.Context, c *auth.Credentials, id, member, status string) (m store.ImageMember, err error) {
	k := caller{c}
	if !slices.Contains(MemberStatuses, status) {
		return m, oserr.BadRequest(`Incorrect request: Status must be "pending", "accepted" or "rejected", not %q.`, status)
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		im, err := s.memberImage(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if im.Visibility != VisibilityShared {
			return onlyShared("update", &im)
		}
		m, err = tx.GetImageMember(ctx, id, member)
		if errors.Is(err, store.ErrNotFound) {
			return memberNotFound(id, member)
		}
		if err != nil {
			return err
		}
		if member != k.project() && !k.admin() {
			return oserr.Forbidden("Not allowed to update members for image %s: only the member project %s decides whether it accepts the image.", id, member)
		}
		m.Status, m.UpdatedAt = status, s.now()
		return tx.UpdateImageMember(ctx, m)
	})
	return m, err
}

// DeleteMember stops sharing an image with a project.
func (s *Service) DeleteMember(ctx context.Context, c *auth.Credentials, id, member string) error {
	k := caller{c}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		im, err := s.memberImage(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if !k.canWrite(&im) {
			return oserr.Forbidden("Not allowed to delete members for image %s: only its owner (project %s) or an admin may.", id, im.Owner)
		}
		if im.Visibility != VisibilityShared {
			return onlyShared("delete", &im)
		}
		err = tx.DeleteImageMember(ctx, id, member)
		if errors.Is(err, store.ErrNotFound) {
			return memberNotFound(id, member)
		}
		return err
	})
}
