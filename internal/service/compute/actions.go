package compute

import (
	"context"
	"errors"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/reqid"
	"github.com/onestack/onestack/internal/store"
)

// startAction records a user's action on a server (os-instance-actions).
func (s *Service) startAction(ctx context.Context, tx *store.Tx, c *auth.Credentials, serverID, action string) (store.InstanceAction, error) {
	now := s.Now()
	rid := reqid.From(ctx)
	if rid == "" {
		rid = reqid.New()
	}
	a := store.InstanceAction{ID: newUUID(), ServerID: serverID, Action: action, RequestID: rid,
		ProjectID: c.ProjectID(), UserID: c.User.ID, StartTime: now, UpdatedAt: now}
	return a, tx.CreateAction(ctx, a)
}

// Event records one step of the server's latest action. result is
// "Success" or "Error"; details explain an error in words a user can act on.
func (s *Service) Event(ctx context.Context, tx *store.Tx, serverID, event, host, result, details string, started time.Time) error {
	a, err := tx.LatestAction(ctx, serverID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.Now()
	e := store.ActionEvent{ID: newUUID(), ActionID: a.ID, Event: event, StartTime: started, FinishTime: &now,
		Result: result, Host: host, Details: details}
	if result == "Error" {
		e.Traceback = details
		if err := tx.TouchAction(ctx, a.ID, "Error", now); err != nil {
			return err
		}
	} else if err := tx.TouchAction(ctx, a.ID, a.Message, now); err != nil {
		return err
	}
	return tx.SaveEvent(ctx, e)
}

// ActionWithEvents is an instance action and its events.
type ActionWithEvents struct {
	store.InstanceAction
	Events []store.ActionEvent
}

// Actions lists a server's actions (deleted servers too, as Nova does since 2.21).
func (s *Service) Actions(ctx context.Context, c *auth.Credentials, serverID string) (out []store.InstanceAction, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := s.visible(ctx, tx, c, serverID, true); err != nil {
			return err
		}
		out, err = tx.ListActions(ctx, serverID)
		return err
	})
	return out, err
}

// Action returns one action, by request id, with its events.
func (s *Service) Action(ctx context.Context, c *auth.Credentials, serverID, requestID string) (out ActionWithEvents, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		if _, err := s.visible(ctx, tx, c, serverID, true); err != nil {
			return err
		}
		a, err := tx.GetActionByRequest(ctx, serverID, requestID)
		if err != nil {
			return notFound(err, "Action for request", requestID+" on instance "+serverID)
		}
		out.InstanceAction = a
		out.Events, err = tx.ListEvents(ctx, a.ID)
		return err
	})
	return out, err
}
