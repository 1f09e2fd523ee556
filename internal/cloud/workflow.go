package cloud

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	wfapi "github.com/onestack/onestack/internal/api/workflow"
	"github.com/onestack/onestack/internal/auth"
	wfsvc "github.com/onestack/onestack/internal/service/workflow"
	"github.com/onestack/onestack/internal/workflow/action"
)

// workflowService names the workflow service's type in cloud.go.
type workflowService = wfsvc.Service

// wireWorkflow builds Mistral: the workflow service and its engine, the
// standard actions and the OpenStack actions (which call this cloud's own
// APIs in process, as the workflow's user), its API under /workflow
// (catalog type workflowv2, name mistral) and its loops (the engine's
// workers and the cron triggers). It is wired last: the OpenStack actions
// reach every API mounted before it.
func (c *Cloud) wireWorkflow(context.Context) error {
	endpoints := map[string]string{}
	for _, s := range c.Services {
		endpoints[s.Type] = s.URL
	}
	actions := action.Std(action.Config{CallbackURL: c.cfg.PublicURL + wfapi.Prefix + "/v2", AllowLoopback: true})
	actions = append(actions, action.OpenStack(action.OpenStackConfig{API: func() http.Handler { return c.handler }, Endpoints: endpoints,
		Region: c.cfg.Region})...)
	svc := wfsvc.New(c.DB, tokenDelegation{v: c.Identity}, actions, c.cfg.Log.With("service", "workflow"), wfsvc.Config{})
	c.Workflow = svc
	c.mount(wfapi.New(svc, c.env()).Service())
	c.loops = append(c.loops, svc.Run)
	return nil
}

// tokenDelegation lets workflows act with the token of the user who
// started them, as long as it is valid: the interim delegation until the
// identity service's trusts (OS-TRUST) are wired in. A cron trigger or a
// long execution outliving the token fails its OpenStack actions with a
// message saying so.
type tokenDelegation struct{ v auth.Validator }

func (d tokenDelegation) Delegate(_ context.Context, c *auth.Credentials) (map[string]any, error) {
	return map[string]any{"token": c.Token, "user_id": c.User.ID, "project_id": c.ProjectID()}, nil
}

func (d tokenDelegation) Credentials(ctx context.Context, doc map[string]any) (*auth.Credentials, error) {
	tok, _ := doc["token"].(string)
	if tok == "" {
		return nil, fmt.Errorf("the workflow has no delegation to act for its user")
	}
	c, err := d.v.Validate(ctx, tok)
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, " "); i > 0 {
			msg = msg[i+1:]
		}
		return nil, fmt.Errorf("the token the workflow was started with is no longer valid (%s); start it again", msg)
	}
	return c, nil
}

func (d tokenDelegation) Revoke(context.Context, map[string]any) error { return nil }
