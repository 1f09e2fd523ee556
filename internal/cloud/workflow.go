package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	wfapi "github.com/onestack/onestack/internal/api/workflow"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	idsvc "github.com/onestack/onestack/internal/service/identity"
	wfsvc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/action"
	"github.com/onestack/onestack/internal/workflow/engine"
)

// workflowService names the workflow service's type in cloud.go.
type workflowService = wfsvc.Service

// wireWorkflow builds Mistral: the workflow service and its engine, the
// standard actions and the OpenStack actions (which call this cloud's own
// APIs in process, as the workflow's user), its API under /workflow
// (catalog type workflowv2, name mistral) and its loops (the engine's
// workers and the cron triggers). It is wired last: the OpenStack actions
// reach every API mounted before it.
func (c *Cloud) wireWorkflow(ctx context.Context) error {
	endpoints := map[string]string{}
	for _, s := range c.Services {
		endpoints[s.Type] = s.URL
	}
	actions := action.Std(action.Config{CallbackURL: c.cfg.PublicURL + wfapi.Prefix + "/v2", AllowLoopback: true})
	actions = append(actions, action.OpenStack(action.OpenStackConfig{API: func() http.Handler { return c.handler }, Endpoints: endpoints,
		Region: c.cfg.Region})...)
	svc := wfsvc.New(c.DB, &trustDelegation{id: c.Identity, v: c.Identity}, actions, c.cfg.Log.With("service", "workflow"), wfsvc.Config{Engine: engine.Config{Unavailable: action.Unavailable}})
	if err := svc.Bootstrap(ctx); err != nil {
		return fmt.Errorf("store the system workflows: %w", err)
	}
	c.Workflow = svc
	c.mount(wfapi.New(svc, c.env()).Service())
	c.loops = append(c.loops, svc.Run)
	return nil
}

// trustDelegation lets workflows act for their users through Keystone
// trusts (OS-TRUST), as Mistral does: the user (trustor) delegates the
// roles of its token on its project to the cloud's "mistral" user
// (trustee) with impersonation, so the workflow's calls are the user's
// and carry no more rights; the identity service re-checks the trust at
// every token (deleted, expired, the trustor lost a role). Each execution
// started by a user gets its own trust, ended when the execution succeeds,
// is cancelled or is deleted (a failed one keeps it, for a rerun); each
// cron trigger gets one, ended when the trigger is deleted. A token issued
// for an application credential may not create trusts (Keystone's rule):
// its executions act with the token itself while it is valid.
type trustDelegation struct {
	id *idsvc.Service
	v  auth.Validator

	mu      sync.Mutex
	trustee string
}

// trusteeName is the user workflows' trusts delegate to.
const trusteeName = "mistral"

// trusteeID finds or creates the trustee: a user without a password (no
// one logs in as it) in the Default domain.
func (d *trustDelegation) trusteeID(ctx context.Context) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.trustee != "" {
		if u, err := d.id.GetUser(ctx, d.trustee); err == nil && u.Enabled {
			return d.trustee, nil
		}
	}
	for range 2 {
		us, err := d.id.ListUsers(ctx, idsvc.UserFilter{DomainID: idsvc.DefaultDomainID, Name: trusteeName})
		if err != nil {
			return "", err
		}
		if len(us) > 0 {
			d.trustee = us[0].ID
			return d.trustee, nil
		}
		_, err = d.id.CreateUser(ctx, store.User{DomainID: idsvc.DefaultDomainID, Name: trusteeName, Enabled: true,
			Extra: map[string]any{"description": "Workflows (Mistral) act for their users through trusts to this user; it has no password."}}, nil)
		if err != nil && !oserr.Is(err, http.StatusConflict) {
			return "", fmt.Errorf("create the workflow service's trustee user: %w", err)
		}
	}
	return "", fmt.Errorf("cannot find or create the %s user", trusteeName)
}

func (d *trustDelegation) Delegate(ctx context.Context, c *auth.Credentials) (map[string]any, error) {
	if c.AppCred != nil || slices.Contains(c.Methods, "application_credential") || c.Project == nil {
		return map[string]any{"token": c.Token, "user_id": c.User.ID, "project_id": c.ProjectID()}, nil
	}
	trustee, err := d.trusteeID(ctx)
	if err != nil {
		return nil, err
	}
	var roles []idsvc.TrustRole
	for _, r := range c.Roles {
		roles = append(roles, idsvc.TrustRole{ID: r.ID, Name: r.Name})
	}
	t, err := d.id.CreateTrust(ctx, c, idsvc.TrustInput{TrustorUserID: c.User.ID, TrusteeUserID: trustee, ProjectID: c.ProjectID(),
		Impersonation: true, Roles: roles})
	if err != nil {
		return nil, fmt.Errorf("delegate your roles to the workflow service (a trust): %w", err)
	}
	return map[string]any{"trust_id": t.ID, "trustee_id": trustee, "user_id": c.User.ID, "project_id": c.ProjectID()}, nil
}

func (d *trustDelegation) Credentials(ctx context.Context, doc map[string]any) (*auth.Credentials, error) {
	if trust, _ := doc["trust_id"].(string); trust != "" {
		trustee, _ := doc["trustee_id"].(string)
		c, err := d.id.TrustCredentials(ctx, trust, trustee)
		if err != nil {
			return nil, fmt.Errorf("the trust that lets the workflow act for its user no longer holds (%s)", userMessage(err))
		}
		return c, nil
	}
	tok, _ := doc["token"].(string)
	if tok == "" {
		return nil, fmt.Errorf("the workflow has no delegation to act for its user")
	}
	c, err := d.v.Validate(ctx, tok)
	if err != nil {
		return nil, fmt.Errorf("the token the workflow was started with is no longer valid (%s); start it again with a password token, which lets the workflow act through a trust", userMessage(err))
	}
	return c, nil
}

func (d *trustDelegation) Revoke(ctx context.Context, doc map[string]any) error {
	trust, _ := doc["trust_id"].(string)
	if trust == "" {
		return nil
	}
	if err := d.id.DeleteTrust(ctx, trust); err != nil && !oserr.Is(err, http.StatusNotFound) {
		return err
	}
	return nil
}

// userMessage is an error's message for a user.
func userMessage(err error) string {
	var e *oserr.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return strings.TrimPrefix(err.Error(), "401 ")
}
