package object

import (
	"context"
	"errors"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Container metadata with meaning.
const (
	ContainerRead        = "x-container-read"
	ContainerWrite       = "x-container-write"
	ContainerQuotaBytes  = "x-container-meta-quota-bytes"
	ContainerQuotaCount  = "x-container-meta-quota-count"
	ContainerTempURLKey  = "x-container-meta-temp-url-key"
	ContainerTempURLKey2 = "x-container-meta-temp-url-key-2"
	VersionsLocation     = "x-versions-location"
	HistoryLocation      = "x-history-location"
	// versionsMode records which of the two a container's versions
	// location was set with ("stack" or "history").
	versionsMode = "x-versions-mode"
)

// ownerOnly is container metadata only owners see (Swift hides ACLs and
// TempURL keys from ACL users).
var ownerOnly = []string{ContainerRead, ContainerWrite, ContainerTempURLKey, ContainerTempURLKey2}

// ContainerInfo is a container as HEAD and GET show it.
type ContainerInfo struct {
	store.ObjectContainer
	// Owner: the caller may see owner-only metadata.
	Owner bool
}

// Visible returns the metadata the caller may see.
func (c ContainerInfo) Visible() map[string]string {
	out := make(map[string]string, len(c.Metadata))
	for k, v := range c.Metadata {
		if k == versionsMode {
			continue
		}
		if !c.Owner && containsFold(ownerOnly, k) {
			continue
		}
		out[k] = v
	}
	if mode := c.Metadata[versionsMode]; mode == "history" {
		if v, ok := out[VersionsLocation]; ok {
			delete(out, VersionsLocation)
			out[HistoryLocation] = v
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// checkContainerMeta validates the metadata with meaning in a container
// change and normalises it in place.
func checkContainerMeta(change Meta) error {
	for _, h := range []string{ContainerRead, ContainerWrite} {
		if v, ok := change[h]; ok && v != "" {
			clean, err := CleanACL(h, v)
			if err != nil {
				return err
			}
			change[h] = clean
		}
	}
	if v := change[ContainerQuotaBytes]; v != "" && !digits(v) {
		return textErr(400, "Invalid bytes quota: X-Container-Meta-Quota-Bytes must be a whole number of bytes, got %q.", v)
	}
	if v := change[ContainerQuotaCount]; v != "" && !digits(v) {
		return textErr(400, "Invalid count quota: X-Container-Meta-Quota-Count must be a whole number of objects, got %q.", v)
	}
	for _, h := range []string{"x-container-sync-to", "x-container-sync-key"} {
		if v := change[h]; v != "" {
			return textErr(400, "Container sync is not served by this cloud: remove the %s header.", h)
		}
	}
	v, vok := change[VersionsLocation]
	hv, hok := change[HistoryLocation]
	if vok && hok && v != "" && hv != "" {
		return textErr(400, "Only one of X-Versions-Location or X-History-Location may be provided")
	}
	if hok {
		delete(change, HistoryLocation)
		change[VersionsLocation] = hv
		change[versionsMode] = "history"
		if hv == "" {
			change[versionsMode] = ""
		}
	} else if vok {
		change[versionsMode] = "stack"
		if v == "" {
			change[versionsMode] = ""
		}
	}
	if v := change[VersionsLocation]; v != "" {
		if err := CheckContainerName(v); err != nil {
			return textErr(400, "X-Versions-Location must be the name of a container in the same account: %s", oserr.From(err).Message)
		}
	}
	return nil
}

// container reads a container, 404 when it does not exist.
func getContainer(ctx context.Context, tx *store.Tx, account, name string) (store.ObjectContainer, error) {
	c, err := tx.GetObjectContainer(ctx, account, name)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound("Container %s does not exist in account %s; create it with PUT (openstack container create %s).", name, account, name)
	}
	return c, err
}

// access authorises o on a container, reading its ACLs; the container may
// not exist (nil), which only its owner learns.
func (s *Service) access(ctx context.Context, c *Caller, account, container string, o op, read bool) (grant, *store.ObjectContainer, error) {
	var ct *store.ObjectContainer
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		got, err := tx.GetObjectContainer(ctx, account, container)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		ct = &got
		return nil
	})
	if err != nil {
		return grant{}, nil, err
	}
	acl := ""
	if ct != nil {
		switch o {
		case opContainerRead, opObjectRead:
			acl = ct.Metadata[ContainerRead]
		case opObjectWrite:
			acl = ct.Metadata[ContainerWrite]
		}
	}
	if c != nil && c.Signed && c.SignedContainer != "" && c.SignedContainer != container {
		return grant{}, nil, oserr.Unauthorized("The signature was made with container %s's key; it does not reach container %s.", c.SignedContainer, container)
	}
	// As Swift's proxy, the ACL is only consulted when the caller is not
	// authorised without it: an owner stays an owner on a public container.
	g, err := authorize(c, account, o, "", read)
	if err != nil && acl != "" {
		g, err = authorize(c, account, o, acl, read)
	}
	return g, ct, err
}

// Container returns a container's metadata and counters (HEAD).
func (s *Service) Container(ctx context.Context, c *Caller, account, name string) (ContainerInfo, error) {
	g, ct, err := s.access(ctx, c, account, name, opContainerRead, true)
	if err != nil {
		return ContainerInfo{}, err
	}
	if ct == nil {
		return ContainerInfo{}, notFound("Container %s does not exist in account %s.", name, account)
	}
	return ContainerInfo{ObjectContainer: *ct, Owner: g.Owner}, nil
}

// ListObjects returns a container with one page of its objects.
func (s *Service) ListObjects(ctx context.Context, c *Caller, account, name string, q ListQuery) (ContainerInfo, []Entry[store.ObjectEntry], error) {
	info, err := s.Container(ctx, c, account, name)
	if err != nil {
		return info, nil, err
	}
	if q.Limit < 0 {
		return info, nil, nil // limit=0
	}
	limit := q.Limit
	if limit == 0 || limit > ContainerListingLimit {
		limit = ContainerListingLimit
	}
	var out []Entry[store.ObjectEntry]
	err = s.db.Read(ctx, func(tx *store.Tx) (err error) {
		out, err = list(q, limit, func(r store.NameRange) ([]store.ObjectEntry, error) {
			return tx.ListObjectEntries(ctx, account, name, r, q.NamesOnly)
		}, func(o store.ObjectEntry) string { return o.Name })
		return err
	})
	return info, out, err
}

// PutContainer creates a container, or updates the metadata of an existing
// one (Swift's PUT does both). It reports whether it created it.
func (s *Service) PutContainer(ctx context.Context, c *Caller, account, name string, change Meta) (created bool, err error) {
	if err := CheckContainerName(name); err != nil {
		return false, err
	}
	g, _, err := s.access(ctx, c, account, name, opContainerWrite, false)
	if err != nil {
		return false, err
	}
	if !g.Owner {
		return false, oserr.Forbidden("Only the account's owner may create containers.")
	}
	if err := checkContainerMeta(change); err != nil {
		return false, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		created = false
		if err := s.ensureAccount(ctx, tx, account); err != nil {
			return err
		}
		ct, err := tx.GetObjectContainer(ctx, account, name)
		if errors.Is(err, store.ErrNotFound) {
			now := s.now()
			ct = store.ObjectContainer{Account: account, Name: name, Metadata: apply(nil, change), CreatedAt: now, UpdatedAt: now}
			if err := checkStoredMeta("container", ct.Metadata); err != nil {
				return err
			}
			created = true
			return tx.CreateObjectContainer(ctx, ct)
		}
		if err != nil {
			return err
		}
		if len(change) == 0 {
			return nil
		}
		ct.Metadata = apply(ct.Metadata, change)
		if err := checkStoredMeta("container", ct.Metadata); err != nil {
			return err
		}
		ct.UpdatedAt = s.now()
		return tx.UpdateObjectContainerMetadata(ctx, ct)
	})
	return created, err
}

// UpdateContainer changes a container's metadata (POST).
func (s *Service) UpdateContainer(ctx context.Context, c *Caller, account, name string, change Meta) error {
	g, ct, err := s.access(ctx, c, account, name, opContainerWrite, false)
	if err != nil {
		return err
	}
	if !g.Owner {
		return oserr.Forbidden("Only the account's owner may change a container's metadata.")
	}
	if ct == nil {
		return notFound("Container %s does not exist in account %s.", name, account)
	}
	if err := checkContainerMeta(change); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		ct, err := getContainer(ctx, tx, account, name)
		if err != nil {
			return err
		}
		ct.Metadata = apply(ct.Metadata, change)
		if err := checkStoredMeta("container", ct.Metadata); err != nil {
			return err
		}
		ct.UpdatedAt = s.now()
		return tx.UpdateObjectContainerMetadata(ctx, ct)
	})
}

// DeleteContainer removes an empty container: 409 when it holds objects.
func (s *Service) DeleteContainer(ctx context.Context, c *Caller, account, name string) error {
	g, ct, err := s.access(ctx, c, account, name, opContainerWrite, false)
	if err != nil {
		return err
	}
	if !g.Owner {
		return oserr.Forbidden("Only the account's owner may delete containers.")
	}
	if ct == nil {
		return notFound("Container %s does not exist in account %s.", name, account)
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		err := tx.DeleteObjectContainer(ctx, account, name)
		switch {
		case errors.Is(err, store.ErrConflict):
			n, _, _ := tx.ObjectContainerTotals(ctx, account, name)
			return oserr.Conflict("Container %s is not empty (%d objects); delete its objects first (openstack object delete, or swift delete %s).", name, n, name)
		case errors.Is(err, store.ErrNotFound):
			return notFound("Container %s does not exist in account %s.", name, account)
		}
		return err
	})
}

// ContainerMetadata reads a container's metadata without authorising
// anyone (CORS preflights are answered from it); nil when it does not
// exist.
func (s *Service) ContainerMetadata(ctx context.Context, account, name string) (map[string]string, error) {
	var md map[string]string
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		ct, err := tx.GetObjectContainer(ctx, account, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		md = ct.Metadata
		return err
	})
	return md, err
}
