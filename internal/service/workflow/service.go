// Package workflow is Mistral's domain: workbooks, workflows and ad-hoc
// actions with their scopes, namespaces and members; executions, tasks and
// action executions; cron triggers and environments. It runs the durable
// step engine (internal/workflow/engine) and its cron loop.
//
// It is a service: it imports the store, the engine, the workflow
// language and the auth plumbing, never an API package. It acts for users
// through a Delegation the wiring gives it (Keystone trusts), so a
// workflow never calls an API with more rights than its user.
package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// Delegation is how workflows act for their users after the request that
// started them: a cron trigger fires hours after its creator's token
// expired. The wiring implements it with Keystone trusts.
type Delegation interface {
	// Delegate records that workflows started by c may act for c, with c's
	// roles on c's project and no more, and returns the document that
	// says how (kept with executions and cron triggers, never shown).
	Delegate(ctx context.Context, c *auth.Credentials) (map[string]any, error)
	// Credentials turns such a document into credentials to act with.
	Credentials(ctx context.Context, doc map[string]any) (*auth.Credentials, error)
	// Revoke ends a delegation (its cron trigger was deleted).
	Revoke(ctx context.Context, doc map[string]any) error
}

// Config tunes the service.
type Config struct {
	Engine engine.Config
	// MaxLimit caps list pages (Mistral's [api] max_limit).
	MaxLimit int
	// CronPoll is how often the cron loop looks for due triggers when it
	// knows of none sooner (1 s).
	CronPoll time.Duration
}

// Service is Mistral.
type Service struct {
	db    *store.DB
	eng   *engine.Engine
	deleg Delegation
	log   *slog.Logger
	cfg   Config
	now   func() time.Time
	wake  chan struct{}
}

// New returns the service over db, running actions.
func New(db *store.DB, deleg Delegation, actions []*engine.Action, log *slog.Logger, cfg Config) *Service {
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = 1000
	}
	if cfg.CronPoll <= 0 {
		cfg.CronPoll = 250 * time.Millisecond
	}
	ecfg := cfg.Engine
	if ecfg.Credentials == nil && deleg != nil {
		ecfg.Credentials = deleg.Credentials
	}
	if ecfg.Finished == nil && deleg != nil {
		// An execution's own delegation ends with it, unless it failed:
		// a failed execution may be rerun.
		ecfg.Finished = func(ctx context.Context, id, state string, doc map[string]any) {
			if state == engine.Error || doc[perExecution] != true {
				return
			}
			if err := deleg.Revoke(ctx, doc); err != nil {
				log.Warn("end the delegation of a finished execution", "execution_id", id, "error", err)
			}
		}
	}
	now := ecfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{db: db, deleg: deleg, log: log, cfg: cfg, now: func() time.Time { return now().UTC() }, wake: make(chan struct{}, 1)}
	s.eng = engine.New(db, engine.NewRegistry(actions...), log, ecfg)
	return s
}

// Engine is the step engine the service runs.
func (s *Service) Engine() *engine.Engine { return s.eng }

// Run runs the engine and the cron loop until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.eng.Run(ctx) })
	g.Go(func() error { return s.cronLoop(ctx) })
	return g.Wait()
}

// specOptions validate definitions against the engine's functions and the
// actions the caller can see.
func (s *Service) specOptions(ctx context.Context, c *auth.Credentials, namespace string) spec.Options {
	return spec.Options{
		Validate: s.eng.Evaluator().Validate,
		ActionKnown: func(name string) bool {
			if s.eng.Actions().Get(name) != nil || s.cfg.Engine.Unavailable != nil && s.cfg.Engine.Unavailable(name) != "" {
				return true
			}
			found := false
			_ = s.db.Read(ctx, func(tx *store.Tx) error {
				_, err := engine.FindDefinition(ctx, tx, store.WFKindAction, name, namespace, c.ProjectID(), "")
				found = err == nil
				return nil
			})
			return found
		},
	}
}

// badDSL turns a definition error into Mistral's 400.
func badDSL(err error) error {
	var se *spec.Error
	if errors.As(err, &se) {
		return oserr.BadRequest("Invalid DSL: %s", se.Error())
	}
	return err
}

// storeErr maps store errors that slipped through.
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return oserr.NotFound("%s not found.", what)
	case errors.Is(err, store.ErrConflict):
		return oserr.Conflict("Duplicate entry for %s.", what)
	case errors.Is(err, store.ErrBadQuery):
		return oserr.BadRequest("%s", strings.TrimPrefix(err.Error(), "bad query: "))
	}
	return err
}

// engineErr maps the engine's errors to API errors.
func engineErr(err error) error {
	var ie *engine.InputError
	var se *engine.StateError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return oserr.BadRequest("%s", ie.Msg)
	case errors.As(err, &se):
		return oserr.BadRequest("%s", se.Msg)
	}
	return err
}

// Scope values.
const (
	ScopePrivate = "private"
	ScopePublic  = "public"
)

func checkScope(scope string) (string, error) {
	switch scope {
	case "":
		return ScopePrivate, nil
	case ScopePrivate, ScopePublic:
		return scope, nil
	}
	return "", oserr.BadRequest("Invalid scope %q; use private or public.", scope)
}

// Filter is one condition of a list: a field, an operator (eq, neq, in,
// nin, gt, gte, lt, lte, has) and its values.
type Filter struct {
	Field  string
	Op     string
	Values []any
}

// ListQuery is a list request: filters, sort, page, and whose rows.
type ListQuery struct {
	Filters []Filter
	SortKey string
	Desc    bool
	IDDesc  bool
	Marker  string
	Limit   int
	All     bool // all_projects (admins)
	Project string
	Fields  []string
}

// page makes the store's list request of q for c: admins with
// all_projects see every project, others their own and public rows.
func (s *Service) page(c *auth.Credentials, q ListQuery) store.WFList {
	l := store.WFList{Sort: q.SortKey, Desc: q.Desc, IDDesc: q.IDDesc, Marker: q.Marker, Limit: q.Limit}
	for _, f := range q.Filters {
		l.Conds = append(l.Conds, store.WFCond{Col: f.Field, Op: f.Op, Vals: f.Values})
	}
	if l.Limit <= 0 || l.Limit > s.cfg.MaxLimit {
		l.Limit = s.cfg.MaxLimit
	}
	switch {
	case c.IsAdmin() && (q.All || q.Project != ""):
		if q.Project != "" {
			l.Conds = append(l.Conds, store.WFCond{Col: "project_id", Op: "eq", Vals: []any{q.Project}})
		}
	default:
		l.Visible = c.ProjectID()
		if q.Project != "" && q.Project != c.ProjectID() {
			l.Conds = append(l.Conds, store.WFCond{Col: "project_id", Op: "eq", Vals: []any{q.Project}})
		}
	}
	return l
}

// MaxLimit is the largest page.
func (s *Service) MaxLimit() int { return s.cfg.MaxLimit }

func fmtTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

var _ = fmt.Sprintf
