package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/engine"
)

// cronParser reads the five-field patterns croniter reads (minute hour
// day-of-month month day-of-week) and the @hourly-style descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParsePattern checks a cron pattern.
func ParsePattern(p string) (cron.Schedule, error) {
	if len(strings.Fields(p)) == 6 {
		return nil, oserr.BadRequest("The specified pattern is not valid: %s: six-field patterns (with seconds) are not supported; use minute hour day month weekday.", p)
	}
	s, err := cronParser.Parse(p)
	if err != nil {
		return nil, oserr.BadRequest("The specified pattern is not valid: %s: %v.", p, err)
	}
	return s, nil
}

// CronInput creates a cron trigger.
type CronInput struct {
	Name                     string
	WorkflowID, WorkflowName string
	Namespace                string
	Input, Params            map[string]any
	Pattern                  string
	FirstExecutionTime       string
	RemainingExecutions      *int64
	Scope                    string
}

// CronTrigger is a cron trigger with its decoded input and params.
type CronTrigger struct {
	store.WFCronTrigger
	Input, Params map[string]any
}

func cronView(t store.WFCronTrigger) CronTrigger {
	return CronTrigger{WFCronTrigger: t, Input: engine.DecodeMap(t.WorkflowInput), Params: engine.DecodeMap(t.WorkflowParams)}
}

// CreateCronTrigger schedules a workflow as Mistral does: by pattern,
// from first_execution_time (at least a minute ahead), remaining
// executions times (one when there is a first time and no pattern).
func (s *Service) CreateCronTrigger(ctx context.Context, c *auth.Credentials, in CronInput) (CronTrigger, error) {
	if in.Name == "" {
		return CronTrigger{}, oserr.BadRequest("The cron trigger needs a name.")
	}
	scope, err := checkScope(in.Scope)
	if err != nil {
		return CronTrigger{}, err
	}
	if in.Pattern == "" && in.FirstExecutionTime == "" {
		return CronTrigger{}, oserr.BadRequest("Pattern or first_execution_time must be specified.")
	}
	if in.RemainingExecutions != nil && *in.RemainingExecutions < 1 {
		return CronTrigger{}, oserr.BadRequest("remaining_executions must be 1 or more.")
	}
	now := s.now()
	var first *time.Time
	if in.FirstExecutionTime != "" {
		t, err := time.Parse("2006-01-02 15:04", strings.TrimSpace(in.FirstExecutionTime))
		if err != nil {
			if t, err = time.Parse("2006-01-02 15:04:05", strings.TrimSpace(in.FirstExecutionTime)); err != nil {
				return CronTrigger{}, oserr.BadRequest("first_execution_time %q is not a time; write YYYY-MM-DD HH:MM (UTC).", in.FirstExecutionTime)
			}
		}
		if t.Before(now.Add(time.Minute)) {
			return CronTrigger{}, oserr.BadRequest("first_execution_time must be at least 1 minute in the future.")
		}
		if in.Pattern == "" && in.RemainingExecutions != nil && *in.RemainingExecutions > 1 {
			return CronTrigger{}, oserr.BadRequest("Pattern must be provided if count is superior to 1.")
		}
		first = &t
	}
	var next time.Time
	if in.Pattern != "" {
		sched, err := ParsePattern(in.Pattern)
		if err != nil {
			return CronTrigger{}, err
		}
		next = sched.Next(now)
	}
	remaining := in.RemainingExecutions
	if first != nil {
		next = *first
		if in.Pattern == "" && remaining == nil {
			one := int64(1)
			remaining = &one
		}
	}
	doc, err := s.delegate(ctx, c)
	if err != nil {
		return CronTrigger{}, err
	}
	var out store.WFCronTrigger
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		ident := in.WorkflowID
		if ident == "" {
			ident = in.WorkflowName
		}
		if ident == "" {
			return oserr.BadRequest("workflow_name or workflow_id must be provided.")
		}
		def, err := s.find(ctx, tx, c, store.WFKindWorkflow, ident, in.Namespace)
		if err != nil {
			return err
		}
		wf, err := wfSpec(def)
		if err != nil {
			return err
		}
		input := in.Input
		if input == nil {
			input = map[string]any{}
		}
		if _, err := engine.CheckInput(wf, input); err != nil {
			return engineErr(err)
		}
		params := in.Params
		if params == nil {
			params = map[string]any{}
		}
		out = store.WFCronTrigger{ID: uuid.NewString(), Name: in.Name, ProjectID: c.ProjectID(), UserID: c.User.ID, Scope: scope, Pattern: in.Pattern,
			WorkflowID: def.ID, WorkflowName: def.Name, Namespace: def.Namespace, WorkflowInput: jsonString(input), WorkflowParams: jsonString(params),
			FirstExecutionTime: first, NextExecutionTime: next, RemainingExecutions: remaining, Auth: jsonString(doc), CreatedAt: now, UpdatedAt: now}
		out.Signature = cronSignature(out)
		if err := tx.CreateWFCronTrigger(ctx, out); errors.Is(err, store.ErrConflict) {
			if others, err := tx.FindWFCronTrigger(ctx, in.Name, c.ProjectID()); err == nil && len(others) == 0 {
				return oserr.Conflict("Duplicate entry for cron trigger: another trigger of project %s starts %s with the same input, parameters, pattern, first execution time and count; change one of them.", c.ProjectID(), def.Name)
			}
			return oserr.Conflict("Duplicate entry for cron trigger ['name', 'project_id']: %s, %s", in.Name, c.ProjectID())
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		if s.deleg != nil {
			_ = s.deleg.Revoke(ctx, doc)
		}
		return CronTrigger{}, err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return cronView(out), nil
}

func (s *Service) findCron(ctx context.Context, tx *store.Tx, c *auth.Credentials, ident string) (store.WFCronTrigger, error) {
	if IsUUID(ident) {
		t, err := tx.GetWFCronTrigger(ctx, ident)
		if errors.Is(err, store.ErrNotFound) || err == nil && !canSee(c, t.ProjectID) && t.Scope != ScopePublic {
			return t, oserr.NotFound("Cron trigger not found [id=%s].", ident)
		}
		return t, err
	}
	project := c.ProjectID()
	if c.IsAdmin() {
		project = ""
	}
	ts, err := tx.FindWFCronTrigger(ctx, ident, project)
	if err != nil {
		return store.WFCronTrigger{}, err
	}
	for _, t := range ts {
		if t.ProjectID == c.ProjectID() {
			return t, nil
		}
	}
	if len(ts) > 0 {
		return ts[0], nil
	}
	return store.WFCronTrigger{}, oserr.NotFound("Cron trigger not found [name=%s].", ident)
}

// GetCronTrigger reads a trigger by name or id.
func (s *Service) GetCronTrigger(ctx context.Context, c *auth.Credentials, ident string) (CronTrigger, error) {
	var t store.WFCronTrigger
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		t, err = s.findCron(ctx, tx, c, ident)
		return err
	})
	return cronView(t), err
}

// ListCronTriggers lists triggers.
func (s *Service) ListCronTriggers(ctx context.Context, c *auth.Credentials, q ListQuery) ([]CronTrigger, error) {
	l := s.page(c, q)
	var rows []store.WFCronTrigger
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.ListWFCronTriggers(ctx, l)
		return err
	})
	out := make([]CronTrigger, len(rows))
	for i, r := range rows {
		out[i] = cronView(r)
	}
	return out, storeErr(err, "the list")
}

// DeleteCronTrigger deletes a trigger and ends its delegation.
func (s *Service) DeleteCronTrigger(ctx context.Context, c *auth.Credentials, ident string) error {
	var t store.WFCronTrigger
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = s.findCron(ctx, tx, c, ident); err != nil {
			return err
		}
		if t.ProjectID != c.ProjectID() && !c.IsAdmin() {
			return oserr.NotFound("Cron trigger not found [name=%s].", ident)
		}
		return tx.DeleteWFCronTrigger(ctx, t.ID)
	})
	if err == nil && s.deleg != nil {
		if rerr := s.deleg.Revoke(ctx, engine.DecodeMap(t.Auth)); rerr != nil {
			s.log.Warn("end the delegation of a deleted cron trigger", "trigger", t.Name, "error", rerr)
		}
	}
	return err
}

// cronLoop fires due triggers: each tick once, across controllers.
func (s *Service) cronLoop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.wake:
		}
		if err := s.FireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("fire cron triggers", "error", err)
		}
		wait := s.cfg.CronPoll
		var due *time.Time
		_ = s.db.Read(ctx, func(tx *store.Tx) error {
			var err error
			due, err = tx.NextWFCronDue(ctx)
			return err
		})
		if due != nil {
			if d := due.Sub(s.now()); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// FireDue fires every due trigger once (the cron loop calls it; tests too).
func (s *Service) FireDue(ctx context.Context) error {
	var due []store.WFCronTrigger
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.DueWFCronTriggers(ctx, s.now(), 100)
		return err
	})
	if err != nil {
		return err
	}
	for _, t := range due {
		if err := s.fire(ctx, t); err != nil {
			s.log.Error("fire cron trigger", "trigger", t.Name, "trigger_id", t.ID, "error", err)
		}
	}
	return nil
}

// fire starts a trigger's execution and moves it to its next tick in one
// transaction; another controller that fires the same tick loses the
// compare-and-set and starts nothing. Missed ticks are not made up: the
// next tick is the first after now, as Mistral does after a pause.
func (s *Service) fire(ctx context.Context, t store.WFCronTrigger) error {
	doc := engine.DecodeMap(t.Auth)
	var c *auth.Credentials
	var credErr error
	if s.deleg != nil {
		c, credErr = s.deleg.Credentials(ctx, doc)
	}
	now := s.now()
	remaining := t.RemainingExecutions
	if remaining != nil {
		r := *remaining - 1
		remaining = &r
	}
	var next time.Time
	if t.Pattern != "" {
		sched, err := ParsePattern(t.Pattern)
		if err != nil {
			return err
		}
		from := now
		if t.NextExecutionTime.After(from) {
			from = t.NextExecutionTime
		}
		next = sched.Next(from)
	} else {
		next = t.NextExecutionTime
	}
	var execID string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		ok, err := tx.AdvanceWFCronTrigger(ctx, t.ID, t.NextExecutionTime, next, remaining, now)
		if err != nil || !ok {
			return err
		}
		if remaining != nil && *remaining <= 0 {
			if err := tx.DeleteWFCronTrigger(ctx, t.ID); err != nil {
				return err
			}
		}
		if credErr != nil {
			s.log.Warn("cron trigger cannot act for its owner; the tick is skipped", "trigger", t.Name, "error", credErr)
			return nil
		}
		def, err := tx.GetWFDefinition(ctx, store.WFKindWorkflow, t.WorkflowID)
		if err != nil {
			s.log.Warn("cron trigger's workflow is gone; the tick is skipped", "trigger", t.Name, "error", err)
			return nil
		}
		req := engine.StartRequest{WorkflowID: def.ID, WorkflowName: def.Name, Namespace: def.Namespace, Workbook: def.Workbook,
			Definition: def.Definition, Description: fmt.Sprintf("Workflow execution created by cron trigger '(%s)'.", t.ID),
			Input: engine.DecodeMap(t.WorkflowInput), Params: engine.DecodeMap(t.WorkflowParams), ProjectID: t.ProjectID, UserID: t.UserID, Auth: doc}
		if c != nil {
			req.OpenStack = openstackContext(c)
		}
		if name, ok := req.Params["env"].(string); ok {
			envs, err := tx.FindWFEnvironment(ctx, name, t.ProjectID)
			if err != nil {
				return err
			}
			if len(envs) > 0 {
				req.Params["env"] = engine.DecodeMap(envs[0].Variables)
			}
		}
		execID, err = s.eng.StartTx(ctx, tx, req)
		if err != nil {
			var ie *engine.InputError
			if errors.As(err, &ie) {
				s.log.Warn("cron trigger's execution refused; the tick is skipped", "trigger", t.Name, "error", ie.Msg)
				return nil
			}
			return err
		}
		fault.Point(fault.WorkflowCronFiring)
		return nil
	})
	if err == nil && execID != "" {
		fault.Point(fault.WorkflowCronFired)
		s.log.Info("cron trigger fired", "trigger", t.Name, "execution_id", execID, "tick", t.NextExecutionTime, "delay", now.Sub(t.NextExecutionTime))
	}
	return err
}

// cronSignature hashes what a trigger starts and when.
func cronSignature(t store.WFCronTrigger) string {
	first, rem := "", ""
	if t.FirstExecutionTime != nil {
		first = t.FirstExecutionTime.UTC().Format(time.RFC3339)
	}
	if t.RemainingExecutions != nil {
		rem = fmt.Sprint(*t.RemainingExecutions)
	}
	h := sha256.Sum256([]byte(strings.Join([]string{t.WorkflowID, t.Pattern, t.WorkflowInput, t.WorkflowParams, first, rem}, "\x00")))
	return hex.EncodeToString(h[:])
}

func jsonString(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "{}"
	}
	return strings.TrimRight(b.String(), "\n")
}
