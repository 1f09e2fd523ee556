package object

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Account metadata with meaning.
const (
	AccountQuotaBytes  = "x-account-meta-quota-bytes"
	AccountTempURLKey  = "x-account-meta-temp-url-key"
	AccountTempURLKey2 = "x-account-meta-temp-url-key-2"
)

// AccountInfo is an account as HEAD and GET show it. An account that was
// never written exists for its owner with nothing in it (Swift's
// account_autocreate).
type AccountInfo struct {
	Name                 string
	Metadata             map[string]string
	Usage                store.AccountUsage
	CreatedAt, UpdatedAt time.Time
	// Owner: the caller may see owner-only metadata.
	Owner bool
}

func (s *Service) readAccount(ctx context.Context, tx *store.Tx, name string) (AccountInfo, error) {
	a, err := tx.GetObjectAccount(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a = store.ObjectAccount{Name: name, Metadata: map[string]string{}, CreatedAt: s.now(), UpdatedAt: s.now()}
	case err != nil:
		return AccountInfo{}, err
	}
	u, err := tx.ObjectAccountUsage(ctx, name)
	if err != nil {
		return AccountInfo{}, err
	}
	return AccountInfo{Name: name, Metadata: a.Metadata, Usage: u, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}, nil
}

// Account returns an account's metadata and usage (HEAD).
func (s *Service) Account(ctx context.Context, c *Caller, account string, read bool) (AccountInfo, error) {
	g, err := authorize(c, account, opAccount, "", read)
	if err != nil {
		return AccountInfo{}, err
	}
	var info AccountInfo
	err = s.db.Read(ctx, func(tx *store.Tx) (err error) {
		info, err = s.readAccount(ctx, tx, account)
		return err
	})
	info.Owner = g.Owner
	return info, err
}

// ListContainers returns an account with one page of its containers.
func (s *Service) ListContainers(ctx context.Context, c *Caller, account string, q ListQuery) (AccountInfo, []Entry[store.ObjectContainer], error) {
	info, err := s.Account(ctx, c, account, true)
	if err != nil {
		return info, nil, err
	}
	if q.Limit < 0 {
		return info, nil, nil // limit=0
	}
	limit := q.Limit
	if limit == 0 || limit > AccountListingLimit {
		limit = AccountListingLimit
	}
	q.Path = nil
	var out []Entry[store.ObjectContainer]
	err = s.db.Read(ctx, func(tx *store.Tx) (err error) {
		out, err = list(q, limit, func(r store.NameRange) ([]store.ObjectContainer, error) {
			return tx.ListObjectContainers(ctx, account, r)
		}, func(c store.ObjectContainer) string { return c.Name })
		return err
	})
	return info, out, err
}

// UpdateAccount changes an account's metadata (POST, or the account part of
// a container PUT): change maps lower-case header names to values, "" to
// remove. The quota can only be set by a reseller admin.
func (s *Service) UpdateAccount(ctx context.Context, c *Caller, account string, change Meta) error {
	g, err := authorize(c, account, opAccount, "", false)
	if err != nil {
		return err
	}
	if v, ok := change[AccountQuotaBytes]; ok {
		if !c.Anonymous() && !hasAnyRole(c.Creds, []string{ResellerAdminRole}) {
			return oserr.Forbidden("Only a reseller admin (role %s) may set or remove the account's quota (X-Account-Meta-Quota-Bytes).", ResellerAdminRole)
		}
		if v != "" && !digits(v) {
			return textErr(400, "Invalid bytes quota: X-Account-Meta-Quota-Bytes must be a whole number of bytes, got %q.", v)
		}
	}
	if !g.Owner {
		return oserr.Forbidden("Only the account's owner may change its metadata.")
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.GetObjectAccount(ctx, account)
		switch {
		case errors.Is(err, store.ErrNotFound):
			a = store.ObjectAccount{Name: account, CreatedAt: s.now()}
		case err != nil:
			return err
		}
		a.Metadata = apply(a.Metadata, change)
		if err := checkStoredMeta("account", a.Metadata); err != nil {
			return err
		}
		a.UpdatedAt = s.now()
		return tx.PutObjectAccount(ctx, a)
	})
}

// ensureAccount creates the account row if missing (a container PUT
// auto-creates its account, as Swift's account_autocreate).
func (s *Service) ensureAccount(ctx context.Context, tx *store.Tx, account string) error {
	if _, err := tx.GetObjectAccount(ctx, account); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.now()
	return tx.PutObjectAccount(ctx, store.ObjectAccount{Name: account, CreatedAt: now, UpdatedAt: now})
}

// Keys are the TempURL keys signatures are checked against.
type Keys struct{ Account, Container []string }

// TempURLKeys returns the TempURL keys of an account and of one of its
// containers ("" for none): what signatures are checked against.
func (s *Service) TempURLKeys(ctx context.Context, account, container string) (keys Keys, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		a, err := tx.GetObjectAccount(ctx, account)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, k := range []string{AccountTempURLKey, AccountTempURLKey2} {
			if v := a.Metadata[k]; v != "" {
				keys.Account = append(keys.Account, v)
			}
		}
		if container == "" {
			return nil
		}
		ct, err := tx.GetObjectContainer(ctx, account, container)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		for _, k := range []string{ContainerTempURLKey, ContainerTempURLKey2} {
			if v := ct.Metadata[k]; v != "" {
				keys.Container = append(keys.Container, v)
			}
		}
		return nil
	})
	return keys, err
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
