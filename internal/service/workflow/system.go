package workflow

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// systemWorkflows are the public workflows every project sees, as
// Mistral ships std.create_instance and std.delete_instance (these are
// onestack's own).
const systemWorkflows = `---
version: '2.0'

std.create_instance:
  description: Creates a server, waits until it is ACTIVE and outputs its id; a server that fails is deleted.
  input:
    - name
    - image_id
    - flavor_id
    - key_name: null
    - security_groups: null
    - nics: null
  output:
    id: <% $.vm_id %>
  tasks:
    create_vm:
      action: nova.servers_create
      input:
        name: <% $.name %>
        image: <% $.image_id %>
        flavor: <% $.flavor_id %>
        key_name: <% $.key_name %>
        security_groups: <% $.security_groups %>
        nics: <% $.nics %>
      publish:
        vm_id: <% task().result.id %>
      on-success: wait_for_active
    wait_for_active:
      action: nova.servers_get server=<% $.vm_id %>
      fail-on: <% task().result.status != ACTIVE %>
      retry:
        count: 120
        delay: 5
        break-on: <% task().result.status = ERROR %>
      on-error: delete_failed
    delete_failed:
      action: nova.servers_delete server=<% $.vm_id %>
      on-complete:
        - fail msg="server <% $.vm_id %> did not become ACTIVE"

std.delete_instance:
  description: Deletes a server.
  input:
    - instance_id
  tasks:
    delete_vm:
      action: nova.servers_delete server=<% $.instance_id %>
`

// Bootstrap stores the system workflows (or updates them to this
// version's text); several controllers may run it at once.
func (s *Service) Bootstrap(ctx context.Context) error {
	f, err := spec.ParseWorkflows(systemWorkflows, spec.Options{Validate: s.eng.Evaluator().Validate})
	if err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		now := s.now()
		for _, wf := range f.Workflows {
			doc := workflowDoc(wf)
			defs, err := tx.FindWFDefinitions(ctx, store.WFKindWorkflow, wf.Name, "", "")
			if err != nil {
				return err
			}
			var cur *store.WFDefinition
			for i := range defs {
				if defs[i].ProjectID == systemProject {
					cur = &defs[i]
				}
			}
			if cur == nil {
				d := store.WFDefinition{ID: uuid.NewString(), Kind: store.WFKindWorkflow, Name: wf.Name, ProjectID: systemProject, Scope: ScopePublic,
					Definition: wf.Definition, Doc: doc, CreatedAt: now, UpdatedAt: now}
				if err := tx.CreateWFDefinition(ctx, d); err != nil && !errors.Is(err, store.ErrConflict) {
					return err
				}
				continue
			}
			if cur.Definition != wf.Definition {
				cur.Definition, cur.Doc, cur.UpdatedAt = wf.Definition, doc, now
				if err := tx.UpdateWFDefinition(ctx, *cur); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
