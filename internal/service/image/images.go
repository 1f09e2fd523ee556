package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Change is one JSON-patch operation on an image: Op is add, replace or
// remove; Attr is the attribute or property name (the decoded pointer);
// Value is the decoded JSON value (numbers as json.Number), unused by remove.
type Change struct {
	Op    string
	Attr  string
	Value any
}

// Patch operations.
const (
	OpAdd     = "add"
	OpReplace = "replace"
	OpRemove  = "remove"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func needMember(c *auth.Credentials, what string) error {
	if c.IsAdmin() || c.HasRole(auth.RoleMember) {
		return nil
	}
	return oserr.Forbidden("You are not authorized to %s: it needs the member role in your project.", what)
}

// Create registers a queued image from a decoded JSON object of attributes
// and properties, as POST /v2/images takes it, owned by the caller's
// project unless an admin names another owner.
func (s *Service) Create(ctx context.Context, c *auth.Credentials, attrs map[string]any) (store.Image, error) {
	if err := needMember(c, "create images"); err != nil {
		return store.Image{}, err
	}
	lim := s.Limits()
	im, err := s.newImage(caller{c}, attrs, lim)
	if err != nil {
		return im, err
	}
	return im, s.insert(ctx, &im, lim)
}

// newImage builds a queued image from the attributes of a create request,
// with Glance's validation and policy; it touches nothing.
func (s *Service) newImage(k caller, attrs map[string]any, lim Limits) (store.Image, error) {
	now := s.now().UTC()
	im := store.Image{ID: uuid.NewString(), Owner: k.project(), Status: store.ImageQueued, Visibility: VisibilityShared,
		Properties: map[string]string{}, Tags: []string{}, CreatedAt: now, UpdatedAt: now}
	for _, key := range sortedKeys(attrs) {
		v := attrs[key]
		if key == "id" {
			id, ok := v.(string)
			if !ok || !uuidPattern.MatchString(id) {
				return im, badValue("id", v, "an image id is a UUID such as 00000000-1111-2222-3333-444455556666; omit it to get a fresh one")
			}
			im.ID = id
			continue
		}
		if err := checkKey(key); err != nil {
			return im, err
		}
		if err := s.set(k, &im, key, v, lim, true); err != nil {
			return im, err
		}
	}
	return im, nil
}

// insert writes a new image, counting it against its owner's quota.
func (s *Service) insert(ctx context.Context, im *store.Image, lim Limits) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		if u, err := tx.ChangeImageUsage(ctx, im.Owner, 1, 0, lim.ImagesPerProject, -1); errors.Is(err, store.ErrQuota) {
			return oserr.TooLarge("Image quota exceeded: project %s has %d of its %d images and this request adds 1. "+
				"Delete images it no longer needs ('openstack image list --private', then 'openstack image delete ID') or ask an admin to raise the limit.",
				im.Owner, u.Images, lim.ImagesPerProject)
		} else if err != nil {
			return err
		}
		err := tx.CreateImage(ctx, im)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Image with identifier %s already exists (or existed: ids of deleted images are not reused); omit the id to get a fresh one.", im.ID)
		}
		return err
	})
}

// set writes one attribute or property from a JSON value, with Glance's
// validation and policy. creating is true for POST, false for PATCH.
func (s *Service) set(k caller, im *store.Image, key string, v any, lim Limits, creating bool) error {
	var err error
	switch key {
	case "name":
		im.Name, err = str(key, v, true, 255)
	case "visibility":
		var vis *string
		if vis, err = enum(key, v, false, Visibilities); err == nil {
			if *vis == VisibilityPublic && im.Visibility != VisibilityPublic && !k.admin() {
				return oserr.Forbidden("You are not authorized to complete publicize_image action: only an admin may make an image public; " +
					"share it with 'shared' (and image members) or 'community' instead.")
			}
			im.Visibility = *vis
		}
	case "protected":
		im.Protected, err = boolean(key, v)
	case "os_hidden":
		im.Hidden, err = boolean(key, v)
	case "min_ram":
		im.MinRAM, err = integer(key, v)
	case "min_disk":
		im.MinDisk, err = integer(key, v)
	case "disk_format", "container_format":
		allowed := DiskFormats
		if key == "container_format" {
			allowed = ContainerFormats
		}
		var f *string
		if f, err = enum(key, v, true, allowed); err == nil {
			if !creating && im.Status != store.ImageQueued {
				return oserr.Forbidden("Attribute %s can be only replaced for a queued image; image %s is %s. Create a new image to change its format.", key, im.ID, im.Status)
			}
			if key == "disk_format" {
				im.DiskFormat = f
			} else {
				im.ContainerFormat = f
			}
		}
	case "owner":
		var o *string
		if o, err = str(key, v, true, 255); err == nil {
			owner := ""
			if o != nil {
				owner = *o
			}
			if owner != im.Owner && !k.admin() {
				if creating {
					return oserr.Forbidden("You are not permitted to create images owned by '%s': a project creates its own images; omit 'owner'.", owner)
				}
				return oserr.Forbidden("Owner can't be updated by non admin; ask an admin to transfer image %s.", im.ID)
			}
			im.Owner = owner
		}
	case "tags":
		im.Tags, err = tagList(key, v, lim.TagsPerImage)
	default:
		var pv *string
		if pv, err = propertyValue(key, v); err == nil {
			if pv == nil {
				delete(im.Properties, key)
				return nil
			}
			if _, had := im.Properties[key]; !had && lim.PropertiesPerImage >= 0 && len(im.Properties) >= lim.PropertiesPerImage {
				return oserr.TooLarge("Attempted to add %d image properties, but the maximum is %d: remove properties image %s no longer needs.",
					len(im.Properties)+1, lim.PropertiesPerImage, im.ID)
			}
			im.Properties[key] = *pv
		}
	}
	return err
}

// Get returns an image the caller may see; 404 for one it may not.
func (s *Service) Get(ctx context.Context, c *auth.Credentials, id string) (im store.Image, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		im, err = s.visible(ctx, tx, caller{c}, id)
		return err
	})
	return im, err
}

// List returns one page of the images the caller sees, with lq's filters
// and sort, and whether more follow. markerID, when set, must name an image the caller sees.
func (s *Service) List(ctx context.Context, c *auth.Credentials, lq ListQuery, markerID string) (ims []store.Image, more bool, err error) {
	k := caller{c}
	q := lq.query()
	q.AllProjects, q.Project = k.admin(), k.project()
	if q.MemberStatus == "" {
		q.MemberStatus = MemberAccepted
	}
	limit := q.Limit
	q.Limit = limit + 1
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		if markerID != "" {
			m, err := s.visible(ctx, tx, k, markerID)
			if oserr.Is(err, 404) {
				return oserr.BadRequest("No image found with ID %s to start the page after (marker); drop the marker to start from the first page.", markerID)
			}
			if err != nil {
				return err
			}
			q.Marker = &m
		}
		ims, err = tx.ListImages(ctx, q)
		return err
	})
	if len(ims) > limit {
		ims, more = ims[:limit], true
	}
	return ims, more, err
}

// Update applies JSON-patch changes to an image in one transaction: all of
// them or none.
func (s *Service) Update(ctx context.Context, c *auth.Credentials, id string, changes []Change) (store.Image, error) {
	k := caller{c}
	for _, ch := range changes {
		if err := checkKey(ch.Attr); err != nil {
			return store.Image{}, err
		}
		if ch.Op != OpAdd && ch.Op != OpReplace && ch.Op != OpRemove {
			return store.Image{}, oserr.BadRequest("Invalid operation: `%s`. It must be one of the following: add, remove, replace.", ch.Op)
		}
	}
	lim := s.Limits()
	return s.modifyVisible(ctx, k, id, func(tx *store.Tx, im *store.Image) error {
		if !k.canWrite(im) {
			return notOwner(k, im)
		}
		return s.apply(k, im, changes, lim)
	})
}

// apply applies JSON-patch changes to im in order, with Glance's rules:
// core attributes cannot be removed, replace and remove need an existing
// property, add sets one whether or not it exists. It touches nothing but im.
func (s *Service) apply(k caller, im *store.Image, changes []Change, lim Limits) error {
	for _, ch := range changes {
		if err := checkKey(ch.Attr); err != nil {
			return err
		}
		core := slices.Contains(Core, ch.Attr)
		_, exists := im.Properties[ch.Attr]
		switch {
		case ch.Op != OpAdd && ch.Op != OpReplace && ch.Op != OpRemove:
			return oserr.BadRequest("Invalid operation: `%s`. It must be one of the following: add, remove, replace.", ch.Op)
		case ch.Op == OpRemove && core:
			return oserr.Forbidden("Property %s may not be removed; replace its value instead.", ch.Attr)
		case ch.Op == OpRemove && !exists, ch.Op == OpReplace && !core && !exists:
			return oserr.Conflict("Property %s does not exist on image %s; use the add operation to create it.", ch.Attr, im.ID)
		case ch.Op == OpRemove:
			delete(im.Properties, ch.Attr)
		default:
			if err := s.set(k, im, ch.Attr, ch.Value, lim, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// modifyVisible is modify for an image the caller must see (404 if not).
func (s *Service) modifyVisible(ctx context.Context, k caller, id string, fn func(tx *store.Tx, im *store.Image) error) (store.Image, error) {
	im, err := s.modify(ctx, id, func(tx *store.Tx, im *store.Image) error {
		ok, err := s.canSee(ctx, tx, k, im)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(id)
		}
		return fn(tx, im)
	})
	if errors.Is(err, store.ErrNotFound) {
		return im, notFound(id)
	}
	return im, err
}

// Delete deletes an image and its data, giving back its quota. Protected
// images are refused with 403 until unprotected.
func (s *Service) Delete(ctx context.Context, c *auth.Credentials, id string) error {
	k := caller{c}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		im, err := s.visible(ctx, tx, k, id)
		if oserr.Is(err, 404) {
			return oserr.NotFound("Failed to find image %s to delete; check the id with 'openstack image list'.", id)
		}
		if err != nil {
			return err
		}
		if !k.canWrite(&im) {
			return notOwner(k, &im)
		}
		if im.Protected {
			return oserr.Forbidden("Image %s is protected and cannot be deleted; unprotect it first ('openstack image set --unprotected %s').", id, id)
		}
		if _, err := tx.ChangeImageUsage(ctx, im.Owner, -1, -(storedBytes(&im) + im.ReservedBytes), -1, -1); err != nil {
			return err
		}
		return tx.DeleteImage(ctx, id, s.now())
	})
	if err != nil {
		return err
	}
	if err := s.files.Remove(id); err != nil {
		// The record is gone; a stray file only costs disk. Say where it is.
		s.log.Error("remove data of deleted image; delete the file by hand", "image_id", id, "path", s.files.Path(id), "error", err)
	}
	return nil
}

// storedBytes is the size im's stored data counts against its owner's quota.
func storedBytes(im *store.Image) int64 {
	if im.Size != nil && (im.Status == store.ImageActive || im.Status == store.ImageDeactivated) {
		return *im.Size
	}
	return 0
}

// AddTag adds a tag to an image; adding a tag it has changes nothing.
func (s *Service) AddTag(ctx context.Context, c *auth.Credentials, id, tag string) error {
	if err := checkTag(tag); err != nil {
		return err
	}
	k := caller{c}
	lim := s.Limits()
	_, err := s.modifyVisible(ctx, k, id, func(tx *store.Tx, im *store.Image) error {
		if !k.canWrite(im) {
			return oserr.Forbidden("Not allowed to update tags for image %s: only its owner (project %s) or an admin may.", id, im.Owner)
		}
		if slices.Contains(im.Tags, tag) {
			return errUnchanged
		}
		if lim.TagsPerImage >= 0 && len(im.Tags) >= lim.TagsPerImage {
			return tooManyTags(len(im.Tags)+1, lim.TagsPerImage)
		}
		im.Tags = append(im.Tags, tag)
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// DeleteTag removes a tag from an image; 404 when it does not have it.
func (s *Service) DeleteTag(ctx context.Context, c *auth.Credentials, id, tag string) error {
	k := caller{c}
	_, err := s.modifyVisible(ctx, k, id, func(tx *store.Tx, im *store.Image) error {
		if !k.canWrite(im) {
			return oserr.Forbidden("Not allowed to update tags for image %s: only its owner (project %s) or an admin may.", id, im.Owner)
		}
		i := slices.Index(im.Tags, tag)
		if i < 0 {
			return oserr.NotFound("Tag %s not found on image %s; its tags are: %s.", tag, id, strings.Join(im.Tags, ", "))
		}
		im.Tags = slices.Delete(im.Tags, i, i+1)
		return nil
	})
	return err
}

// Deactivate makes an active image's data unavailable to all but admins.
func (s *Service) Deactivate(ctx context.Context, c *auth.Credentials, id string) error {
	return s.setActive(ctx, c, id, false)
}

// Reactivate makes a deactivated image active again.
func (s *Service) Reactivate(ctx context.Context, c *auth.Credentials, id string) error {
	return s.setActive(ctx, c, id, true)
}

func (s *Service) setActive(ctx context.Context, c *auth.Credentials, id string, active bool) error {
	k := caller{c}
	verb, from, to := "deactivate", store.ImageActive, store.ImageDeactivated
	if active {
		verb, from, to = "reactivate", store.ImageDeactivated, store.ImageActive
	}
	_, err := s.modifyVisible(ctx, k, id, func(tx *store.Tx, im *store.Image) error {
		if !k.canWrite(im) {
			return notOwner(k, im)
		}
		switch im.Status {
		case to:
			return errUnchanged
		case from:
			im.Status = to
			return nil
		}
		return oserr.Forbidden("Not allowed to %s image in status '%s': only %s or %s images can be %sd.", verb, im.Status, from, to, verb)
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	return err
}

// Usage is a project's image usage with the limits it is held to.
type Usage struct {
	Images, Bytes int64
	Limits        Limits
}

// Usage returns the caller's project's image usage.
func (s *Service) Usage(ctx context.Context, c *auth.Credentials) (Usage, error) {
	var u store.ImageUsage
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		u, err = tx.GetImageUsage(ctx, c.ProjectID())
		return err
	})
	return Usage{Images: u.Images, Bytes: u.Bytes, Limits: s.Limits()}, err
}

// quotaBytes is the 413 for an upload its owner's byte quota cannot hold.
func quotaBytes(im *store.Image, u store.ImageUsage, add int64, lim Limits) error {
	return oserr.TooLarge("Image storage quota exceeded: project %s stores %s of its %s limit and this upload needs %s more. "+
		"Delete images it no longer needs ('openstack image list --private', then 'openstack image delete ID') or ask an admin to raise the limit.",
		im.Owner, bytesText(u.Bytes), bytesText(lim.BytesPerProject), bytesText(add))
}

func bytesText(n int64) string {
	switch {
	case n >= GiB:
		return fmt.Sprintf("%.1f GiB (%d bytes)", float64(n)/GiB, n)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/(1<<20), n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// taskTTL is how long a finished import task is kept, as Glance.
const taskTTL = 48 * time.Hour

// Task statuses.
const (
	TaskProcessing = "processing"
	TaskSuccess    = "success"
	TaskFailure    = "failure"
)

// Tasks lists the import tasks of an image the caller owns.
func (s *Service) Tasks(ctx context.Context, c *auth.Credentials, id string) (ts []store.ImageTask, err error) {
	k := caller{c}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		im, err := s.visible(ctx, tx, k, id)
		if err != nil {
			return err
		}
		if !k.owns(&im) {
			return oserr.Forbidden("Not allowed to list the tasks of image %s: only its owner (project %s) or an admin may.", id, im.Owner)
		}
		ts, err = tx.ListImageTasks(ctx, id)
		return err
	})
	return ts, err
}
