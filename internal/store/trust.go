package store

import (
	"context"
	"database/sql"
	"time"
)

// Trust is a Keystone trust row (OS-TRUST).
type Trust struct {
	ID, TrustorUserID, TrusteeUserID string
	// ProjectID is "" for a trust that delegates no project.
	ProjectID     string
	Impersonation bool
	// ExpiresAt is nil for a trust without an expiry.
	ExpiresAt *time.Time
	// RemainingUses is nil for a trust that issues any number of tokens.
	RemainingUses *int
	// RedelegatedTrustID is the trust this one was redelegated from, or "".
	RedelegatedTrustID string
	RedelegationCount  int
	RoleIDs            []string
	Extra              map[string]any
	CreatedAt          time.Time
}

const trustCols = `id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, remaining_uses,
	redelegated_trust_id, redelegation_count, roles, extra, created_at`

func scanTrust(s scanner) (Trust, error) {
	var tr Trust
	var project sql.NullString
	var exp, uses sql.NullInt64
	var roles, ex string
	var created int64
	err := s.Scan(&tr.ID, &tr.TrustorUserID, &tr.TrusteeUserID, &project, &tr.Impersonation, &exp, &uses,
		&tr.RedelegatedTrustID, &tr.RedelegationCount, &roles, &ex, &created)
	tr.ProjectID, tr.ExpiresAt = project.String, fromNullMicros(exp)
	if uses.Valid {
		n := int(uses.Int64)
		tr.RemainingUses = &n
	}
	tr.RoleIDs, tr.Extra, tr.CreatedAt = stringList(roles), extra(ex), fromMicros(created)
	return tr, err
}

// CreateTrust inserts tr; ErrConflict when a trust with the same trustor,
// trustee, project, impersonation and expiry exists.
func (t *Tx) CreateTrust(ctx context.Context, tr Trust) error {
	project := sql.NullString{String: tr.ProjectID, Valid: tr.ProjectID != ""}
	var uses sql.NullInt64
	if tr.RemainingUses != nil {
		uses = sql.NullInt64{Int64: int64(*tr.RemainingUses), Valid: true}
	}
	_, err := t.exec(ctx, `INSERT INTO trusts (`+trustCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tr.ID, tr.TrustorUserID, tr.TrusteeUserID, project, tr.Impersonation, nullMicros(tr.ExpiresAt), uses,
		tr.RedelegatedTrustID, tr.RedelegationCount, toJSON(tr.RoleIDs), toJSON(tr.Extra), micros(tr.CreatedAt))
	return t.mapErr(err)
}

// GetTrust reads one trust by id, whatever its expiry and remaining uses.
func (t *Tx) GetTrust(ctx context.Context, id string) (Trust, error) {
	return one(ctx, t, scanTrust, `SELECT `+trustCols+` FROM trusts WHERE id = ?`, id)
}

// TrustFilter narrows ListTrusts; empty fields match all.
type TrustFilter struct {
	TrustorUserID, TrusteeUserID, RedelegatedTrustID string
}

// ListTrusts lists trusts in creation order.
func (t *Tx) ListTrusts(ctx context.Context, f TrustFilter) ([]Trust, error) {
	w := &where{}
	w.eq("trustor_user_id", f.TrustorUserID, f.TrustorUserID != "").
		eq("trustee_user_id", f.TrusteeUserID, f.TrusteeUserID != "").
		eq("redelegated_trust_id", f.RedelegatedTrustID, f.RedelegatedTrustID != "")
	return list(ctx, t, scanTrust, `SELECT `+trustCols+` FROM trusts`+w.sql()+` ORDER BY created_at, id`, w.args...)
}

// ConsumeTrustUse takes one use of a limited trust in a single statement, so
// racing token requests can never take more uses than the trust has. It
// reports false when the trust is limited and has no use left; an unlimited
// trust is left unchanged and reports true. ErrNotFound when there is no
// such trust.
func (t *Tx) ConsumeTrustUse(ctx context.Context, id string) (bool, error) {
	res, err := t.exec(ctx, `UPDATE trusts SET remaining_uses = remaining_uses - 1 WHERE id = ? AND remaining_uses > 0`, id)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	tr, err := t.GetTrust(ctx, id)
	if err != nil {
		return false, err
	}
	return tr.RemainingUses == nil, nil
}

// DeleteTrust removes one trust.
func (t *Tx) DeleteTrust(ctx context.Context, id string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM trusts WHERE id = ?`, id)))
}

// deleteTrustsOf removes the trusts a user gives or receives.
func (t *Tx) deleteTrustsOf(ctx context.Context, userID string) error {
	_, err := t.exec(ctx, `DELETE FROM trusts WHERE trustor_user_id = ? OR trustee_user_id = ?`, userID, userID)
	return err
}

// deleteTrustsOn removes the trusts that delegate roles on a project.
func (t *Tx) deleteTrustsOn(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `DELETE FROM trusts WHERE project_id = ?`, projectID)
	return err
}
