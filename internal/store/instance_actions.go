package store

// Instance actions: the instance_actions and instance_action_events tables.

import (
	"context"
	"database/sql"
	"time"
)

// InstanceAction is one user-visible action on a server.
type InstanceAction struct {
	ID, ServerID, Action, RequestID, ProjectID, UserID, Message string
	StartTime, UpdatedAt                                        time.Time
}

// ActionEvent is one step of an instance action.
type ActionEvent struct {
	ID, ActionID, Event string
	StartTime           time.Time
	FinishTime          *time.Time
	Result              string // "", Success, Error
	Traceback, Host     string
	Details             string
}

// CreateAction inserts an instance action.
func (t *Tx) CreateAction(ctx context.Context, a InstanceAction) error {
	_, err := t.exec(ctx, `INSERT INTO instance_actions (id, server_id, action, request_id, project_id, user_id, message, start_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ServerID, a.Action, a.RequestID, a.ProjectID, a.UserID, a.Message, micros(a.StartTime), micros(a.UpdatedAt))
	return t.mapErr(err)
}

// TouchAction sets an action's message and updated time.
func (t *Tx) TouchAction(ctx context.Context, id, message string, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE instance_actions SET message = ?, updated_at = ? WHERE id = ?`, message, micros(at), id)
	return err
}

func scanAction(s scanner) (InstanceAction, error) {
	var a InstanceAction
	var st, up int64
	err := s.Scan(&a.ID, &a.ServerID, &a.Action, &a.RequestID, &a.ProjectID, &a.UserID, &a.Message, &st, &up)
	a.StartTime, a.UpdatedAt = fromMicros(st), fromMicros(up)
	return a, err
}

const actionCols = `id, server_id, action, request_id, project_id, user_id, message, start_time, updated_at`

// ListActions lists a server's actions, newest first.
func (t *Tx) ListActions(ctx context.Context, serverID string) ([]InstanceAction, error) {
	return list(ctx, t, scanAction, `SELECT `+actionCols+` FROM instance_actions WHERE server_id = ? ORDER BY start_time DESC, id DESC`, serverID)
}

// GetActionByRequest reads a server's action by request id.
func (t *Tx) GetActionByRequest(ctx context.Context, serverID, requestID string) (InstanceAction, error) {
	return one(ctx, t, scanAction, `SELECT `+actionCols+` FROM instance_actions WHERE server_id = ? AND request_id = ?`, serverID, requestID)
}

// LatestAction reads the newest action of a server.
func (t *Tx) LatestAction(ctx context.Context, serverID string) (InstanceAction, error) {
	return one(ctx, t, scanAction, `SELECT `+actionCols+` FROM instance_actions WHERE server_id = ? ORDER BY start_time DESC, id DESC LIMIT 1`, serverID)
}

const eventCols = `id, action_id, event, start_time, finish_time, result, traceback, host, details`

// SaveEvent inserts or updates an action event.
func (t *Tx) SaveEvent(ctx context.Context, e ActionEvent) error {
	_, err := t.exec(ctx, `INSERT INTO instance_action_events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET finish_time = excluded.finish_time, result = excluded.result, traceback = excluded.traceback, host = excluded.host, details = excluded.details`,
		e.ID, e.ActionID, e.Event, micros(e.StartTime), nullMicros(e.FinishTime), e.Result, e.Traceback, e.Host, e.Details)
	return t.mapErr(err)
}

// ListEvents lists an action's events in order.
func (t *Tx) ListEvents(ctx context.Context, actionID string) ([]ActionEvent, error) {
	return list(ctx, t, func(s scanner) (ActionEvent, error) {
		var e ActionEvent
		var st int64
		var fin sql.NullInt64
		err := s.Scan(&e.ID, &e.ActionID, &e.Event, &st, &fin, &e.Result, &e.Traceback, &e.Host, &e.Details)
		e.StartTime, e.FinishTime = fromMicros(st), fromNullMicros(fin)
		return e, err
	}, `SELECT `+eventCols+` FROM instance_action_events WHERE action_id = ? ORDER BY start_time, id`, actionID)
}
