package store

// Keypairs: the keypairs table.

import (
	"context"
	"time"
)

// Keypair is a Nova keypair row; keypairs belong to users.
type Keypair struct {
	UserID, Name, Type, PublicKey, Fingerprint string
	CreatedAt                                  time.Time
}

const keypairCols = `user_id, name, type, public_key, fingerprint, created_at`

func scanKeypair(s scanner) (Keypair, error) {
	var k Keypair
	var c int64
	err := s.Scan(&k.UserID, &k.Name, &k.Type, &k.PublicKey, &k.Fingerprint, &c)
	k.CreatedAt = fromMicros(c)
	return k, err
}

// CreateKeypair inserts k; ErrConflict when the user has one of that name.
func (t *Tx) CreateKeypair(ctx context.Context, k Keypair) error {
	_, err := t.exec(ctx, `INSERT INTO keypairs (`+keypairCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.UserID, k.Name, k.Type, k.PublicKey, k.Fingerprint, micros(k.CreatedAt))
	return t.mapErr(err)
}

// GetKeypair reads a user's keypair.
func (t *Tx) GetKeypair(ctx context.Context, userID, name string) (Keypair, error) {
	return one(ctx, t, scanKeypair, `SELECT `+keypairCols+` FROM keypairs WHERE user_id = ? AND name = ?`, userID, name)
}

// ListKeypairs lists a user's keypairs by name, after marker.
func (t *Tx) ListKeypairs(ctx context.Context, userID string, p Page) ([]Keypair, error) {
	w := &where{}
	w.eq("user_id", userID, true)
	if p.Marker != "" {
		w.clauses = append(w.clauses, "name > ?")
		w.args = append(w.args, p.Marker)
	}
	q := `SELECT ` + keypairCols + ` FROM keypairs` + w.sql() + ` ORDER BY name`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		w.args = append(w.args, p.Limit)
	}
	return list(ctx, t, scanKeypair, q, w.args...)
}

// CountKeypairs counts a user's keypairs (for the quota).
func (t *Tx) CountKeypairs(ctx context.Context, userID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM keypairs WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// DeleteKeypair removes a keypair.
func (t *Tx) DeleteKeypair(ctx context.Context, userID, name string) error {
	return t.mapErr(affected(t.exec(ctx, `DELETE FROM keypairs WHERE user_id = ? AND name = ?`, userID, name)))
}
