package network

// Tags: the tags of networks, subnets, ports, routers, floating IPs,
// security groups and subnet pools.

import (
	"context"
	"slices"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Tag kinds: the collection names of resources with tags.
var tagKinds = []string{"networks", "subnets", "ports", "routers", "floatingips", "security-groups", "security_groups", "subnetpools"}

// ValidTagKind reports whether a collection carries tags.
func ValidTagKind(kind string) bool { return slices.Contains(tagKinds, kind) }

// Tags applies fn to the tags of one resource c owns and saves them when
// fn returns true; it returns the tags.
func (s *Service) Tags(ctx context.Context, c *auth.Credentials, kind, id string, write bool, fn func(tags []string) ([]string, error)) ([]string, error) {
	var out []string
	run := s.read
	if write {
		run = s.write
	}
	err := run(ctx, func(tx *store.Tx) error {
		var tags *[]string
		var rev *int64
		var save func() error
		var owner string
		var visible bool
		switch kind {
		case "networks":
			v, err := tx.GetNetwork(ctx, id)
			if err != nil {
				return mapNotFound(err, networkNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, canSeeNetwork(c, v)
			save = func() error { return tx.PutNetwork(ctx, &v, false) }
		case "subnets":
			v, err := tx.GetSubnet(ctx, id)
			if err != nil {
				return mapNotFound(err, subnetNotFound(id))
			}
			n, _ := tx.GetNetwork(ctx, v.NetworkID)
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, canSeeSubnet(c, v, n)
			save = func() error { return tx.PutSubnet(ctx, &v, false) }
		case "ports":
			v, err := tx.GetPort(ctx, id)
			if err != nil {
				return mapNotFound(err, portNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutPort(ctx, &v, false) }
		case "routers":
			v, err := tx.GetRouter(ctx, id)
			if err != nil {
				return mapNotFound(err, routerNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutRouter(ctx, &v, false) }
		case "floatingips":
			v, err := tx.GetFloatingIP(ctx, id)
			if err != nil {
				return mapNotFound(err, fipNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutFloatingIP(ctx, &v, false) }
		case "security-groups", "security_groups":
			v, err := tx.GetSecurityGroup(ctx, id)
			if err != nil {
				return mapNotFound(err, sgNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, owns(c, v.ProjectID)
			save = func() error { return tx.PutSecurityGroup(ctx, &v, false) }
		case "subnetpools":
			v, err := tx.GetSubnetPool(ctx, id)
			if err != nil {
				return mapNotFound(err, subnetPoolNotFound(id))
			}
			tags, rev, owner, visible = &v.Tags, &v.Revision, v.ProjectID, canSeePool(c, v)
			save = func() error { return tx.PutSubnetPool(ctx, &v, false) }
		default:
			return oserr.NotFound("The resource could not be found.")
		}
		if !visible {
			return oserr.NotFound("The resource could not be found.")
		}
		if write && !owns(c, owner) {
			return forbidden("update_" + kind + "_tags")
		}
		old := slices.Clone(*tags)
		next, err := fn(old)
		if err != nil {
			return err
		}
		for _, t := range next {
			if err := checkTag(t); err != nil {
				return err
			}
		}
		if len(next) > 60 {
			return badRequest("Invalid input for tags: at most 60 tags per resource.")
		}
		out = next
		if !write || slices.Equal(old, next) {
			return nil
		}
		*tags = next
		*rev++
		return save()
	})
	return out, err
}
