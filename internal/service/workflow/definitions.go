package workflow

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// Definition is a workbook, workflow or ad-hoc action with what its
// document holds.
type Definition struct {
	store.WFDefinition
	Tags        []string
	Description string
	// Input is the input signature ("a, b=\"1\"" for workflows, JSON
	// defaults for actions).
	Input string
	// Interface is a workflow's input and output names.
	Interface map[string]any
	Checksum  string
	// IsSystem marks the built-in actions.
	IsSystem bool
}

type defDoc struct {
	Tags        []string       `json:"tags"`
	Description string         `json:"description,omitempty"`
	Input       string         `json:"input"`
	Interface   map[string]any `json:"interface,omitempty"`
	Checksum    string         `json:"checksum,omitempty"`
}

func decodeDef(d store.WFDefinition) Definition {
	var doc defDoc
	_ = json.Unmarshal([]byte(d.Doc), &doc)
	if doc.Tags == nil {
		doc.Tags = []string{}
	}
	return Definition{WFDefinition: d, Tags: doc.Tags, Description: doc.Description, Input: doc.Input, Interface: doc.Interface, Checksum: doc.Checksum}
}

func checksum(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func workflowDoc(wf *spec.Workflow) string {
	in := []any{}
	for _, p := range wf.Input {
		if p.HasDefault {
			in = append(in, map[string]any{p.Name: p.Default})
		} else {
			in = append(in, p.Name)
		}
	}
	out := []any{}
	if m, ok := wf.Output.(map[string]any); ok {
		for _, k := range sortedKeys(m) {
			out = append(out, k)
		}
	}
	tags := wf.Tags
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(defDoc{Tags: tags, Description: wf.Description, Input: spec.WorkflowInput(wf.Input),
		Interface: map[string]any{"input": in, "output": out}, Checksum: checksum(wf.Definition)})
	return string(b)
}

func actionDoc(a *spec.Action) string {
	tags := a.Tags
	if tags == nil {
		tags = []string{}
	}
	b, _ := json.Marshal(defDoc{Tags: tags, Description: a.Description, Input: spec.ActionInput(a.Input), Checksum: checksum(a.Definition)})
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

// IsUUID reports whether s looks like an id rather than a name.
func IsUUID(s string) bool { return uuidRe.MatchString(s) }

var kindNames = map[string]string{store.WFKindWorkflow: "Workflow", store.WFKindWorkbook: "Workbook", store.WFKindAction: "Action"}

// find reads a definition by id or name as c sees it.
func (s *Service) find(ctx context.Context, tx *store.Tx, c *auth.Credentials, kind, identifier, namespace string) (store.WFDefinition, error) {
	notFound := oserr.NotFound("%s not found [name=%s, namespace=%s].", kindNames[kind], identifier, namespace)
	if IsUUID(identifier) {
		d, err := tx.GetWFDefinition(ctx, kind, identifier)
		if errors.Is(err, store.ErrNotFound) {
			return d, oserr.NotFound("%s not found [id=%s].", kindNames[kind], identifier)
		}
		if err != nil {
			return d, err
		}
		if !s.visible(ctx, tx, c, d) {
			return d, oserr.NotFound("%s not found [id=%s].", kindNames[kind], identifier)
		}
		return d, nil
	}
	project := c.ProjectID()
	if c.IsAdmin() {
		project = ""
	}
	defs, err := tx.FindWFDefinitions(ctx, kind, identifier, namespace, project)
	if err != nil {
		return store.WFDefinition{}, err
	}
	if len(defs) == 0 {
		return store.WFDefinition{}, notFound
	}
	for _, d := range defs {
		if d.ProjectID == c.ProjectID() {
			return d, nil
		}
	}
	return defs[0], nil
}

func (s *Service) visible(ctx context.Context, tx *store.Tx, c *auth.Credentials, d store.WFDefinition) bool {
	if c.IsAdmin() || d.ProjectID == c.ProjectID() || d.Scope == ScopePublic {
		return true
	}
	m, err := tx.GetWFMember(ctx, d.ID, c.ProjectID())
	return err == nil && m.Status == "accepted"
}

// owned reads a definition c may change: its own project's (or any, for
// an admin).
func (s *Service) owned(ctx context.Context, tx *store.Tx, c *auth.Credentials, kind, identifier, namespace string) (store.WFDefinition, error) {
	d, err := s.find(ctx, tx, c, kind, identifier, namespace)
	if err != nil {
		return d, err
	}
	if d.ProjectID != c.ProjectID() && !c.IsAdmin() {
		return d, oserr.Forbidden("%s %s belongs to another project; only its owner can change it.", kindNames[kind], d.Name)
	}
	return d, nil
}

// CreateWorkflows stores the workflows of a workflow file.
func (s *Service) CreateWorkflows(ctx context.Context, c *auth.Credentials, text, scope, namespace string) ([]Definition, error) {
	scope, err := checkScope(scope)
	if err != nil {
		return nil, err
	}
	f, err := spec.ParseWorkflows(text, s.specOptions(ctx, c, namespace))
	if err != nil {
		return nil, badDSL(err)
	}
	var out []Definition
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		out = out[:0]
		now := s.now()
		for _, wf := range f.Workflows {
			d := store.WFDefinition{ID: uuid.NewString(), Kind: store.WFKindWorkflow, Name: wf.Name, Namespace: namespace, ProjectID: c.ProjectID(),
				Scope: scope, Definition: wf.Definition, Doc: workflowDoc(wf), CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateWFDefinition(ctx, d); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return oserr.Conflict("Duplicate entry for WorkflowDefinition ['name', 'namespace', 'project_id']: %s, %s, %s", wf.Name, namespace, c.ProjectID())
				}
				return err
			}
			out = append(out, decodeDef(d))
		}
		return nil
	})
	return out, err
}

// UpdateWorkflows replaces the definitions of the workflows a file names
// (one workflow may be named by id).
func (s *Service) UpdateWorkflows(ctx context.Context, c *auth.Credentials, text, scope, namespace, id string) ([]Definition, error) {
	f, err := spec.ParseWorkflows(text, s.specOptions(ctx, c, namespace))
	if err != nil {
		return nil, badDSL(err)
	}
	if id != "" && len(f.Workflows) > 1 {
		return nil, oserr.BadRequest("A workflow id names one workflow; the definition has %d. Update them by name.", len(f.Workflows))
	}
	var out []Definition
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		out = out[:0]
		for _, wf := range f.Workflows {
			ident := wf.Name
			if id != "" {
				ident = id
			}
			d, err := s.owned(ctx, tx, c, store.WFKindWorkflow, ident, namespace)
			if err != nil {
				return err
			}
			if d.Name != wf.Name {
				return oserr.BadRequest("Workflow %s is named %s in the definition; a workflow cannot be renamed.", d.Name, wf.Name)
			}
			if scope != "" {
				if d.Scope, err = checkScope(scope); err != nil {
					return err
				}
			}
			d.Definition, d.Doc, d.UpdatedAt = wf.Definition, workflowDoc(wf), s.now()
			if err := tx.UpdateWFDefinition(ctx, d); err != nil {
				return err
			}
			out = append(out, decodeDef(d))
		}
		return nil
	})
	return out, err
}

// GetDefinition reads a workflow, workbook or ad-hoc action by id or name.
func (s *Service) GetDefinition(ctx context.Context, c *auth.Credentials, kind, identifier, namespace string) (Definition, error) {
	if kind == store.WFKindAction {
		if a := s.systemAction(identifier); a != nil {
			return *a, nil
		}
	}
	var d store.WFDefinition
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		d, err = s.find(ctx, tx, c, kind, identifier, namespace)
		return err
	})
	return decodeDef(d), err
}

// ListDefinitions lists definitions of kind as c sees them.
func (s *Service) ListDefinitions(ctx context.Context, c *auth.Credentials, kind string, q ListQuery) ([]Definition, error) {
	l := s.page(c, q)
	l.Conds = append(l.Conds, store.WFCond{Col: "kind", Op: "eq", Vals: []any{kind}})
	var rows []store.WFDefinition
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		var err error
		rows, err = tx.ListWFDefinitions(ctx, l)
		return err
	})
	if err != nil {
		return nil, storeErr(err, "the list")
	}
	out := make([]Definition, len(rows))
	for i, r := range rows {
		out[i] = decodeDef(r)
	}
	return out, nil
}

// DeleteWorkflow deletes a workflow no cron trigger starts.
func (s *Service) DeleteWorkflow(ctx context.Context, c *auth.Credentials, identifier, namespace string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		d, err := s.owned(ctx, tx, c, store.WFKindWorkflow, identifier, namespace)
		if err != nil {
			return err
		}
		n, err := tx.CountWFCronTriggersFor(ctx, d.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			return oserr.BadRequest("Can't delete workflow that has cron triggers associated: %d trigger(s) start %s; delete them first.", n, d.Name)
		}
		return tx.DeleteWFDefinition(ctx, d.ID)
	})
}

// CreateWorkbook stores a workbook with its workflows and actions.
func (s *Service) CreateWorkbook(ctx context.Context, c *auth.Credentials, text, scope, namespace string) (Definition, error) {
	return s.saveWorkbook(ctx, c, text, scope, namespace, false)
}

// UpdateWorkbook replaces a workbook and its workflows and actions.
func (s *Service) UpdateWorkbook(ctx context.Context, c *auth.Credentials, text, scope, namespace string) (Definition, error) {
	return s.saveWorkbook(ctx, c, text, scope, namespace, true)
}

func (s *Service) saveWorkbook(ctx context.Context, c *auth.Credentials, text, scope, namespace string, update bool) (Definition, error) {
	if !update || scope != "" {
		var err error
		if scope, err = checkScope(scope); err != nil {
			return Definition{}, err
		}
	}
	wb, err := spec.ParseWorkbook(text, s.specOptions(ctx, c, namespace))
	if err != nil {
		return Definition{}, badDSL(err)
	}
	var out Definition
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		now := s.now()
		tags := wb.Tags
		if tags == nil {
			tags = []string{}
		}
		doc, _ := json.Marshal(defDoc{Tags: tags, Description: wb.Description, Checksum: checksum(text)})
		d := store.WFDefinition{ID: uuid.NewString(), Kind: store.WFKindWorkbook, Name: wb.Name, Namespace: namespace, ProjectID: c.ProjectID(),
			Scope: scope, Definition: text, Doc: string(doc), CreatedAt: now, UpdatedAt: now}
		if update {
			old, err := s.owned(ctx, tx, c, store.WFKindWorkbook, wb.Name, namespace)
			if err != nil {
				return err
			}
			if scope == "" {
				scope = old.Scope
			}
			d.ID, d.ProjectID, d.CreatedAt, d.Scope = old.ID, old.ProjectID, old.CreatedAt, scope
			if err := tx.UpdateWFDefinition(ctx, d); err != nil {
				return err
			}
		} else if err := tx.CreateWFDefinition(ctx, d); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return oserr.Conflict("Duplicate entry for WorkbookDefinition ['name', 'namespace', 'project_id']: %s, %s, %s", wb.Name, namespace, c.ProjectID())
			}
			return err
		}
		// As Mistral: the workbook's workflows and actions are created or
		// updated in place (their ids stay), and outlive the workbook.
		upsert := func(kind, name, def, doc string) error {
			w := store.WFDefinition{ID: uuid.NewString(), Kind: kind, Name: name, Namespace: namespace, ProjectID: d.ProjectID,
				Scope: scope, Workbook: wb.Name, Definition: def, Doc: doc, CreatedAt: now, UpdatedAt: now}
			olds, err := tx.FindWFDefinitions(ctx, kind, name, namespace, d.ProjectID)
			if err != nil {
				return err
			}
			for _, o := range olds {
				if o.ProjectID == d.ProjectID {
					o.Scope, o.Workbook, o.Definition, o.Doc, o.UpdatedAt = scope, wb.Name, def, doc, now
					return tx.UpdateWFDefinition(ctx, o)
				}
			}
			return tx.CreateWFDefinition(ctx, w)
		}
		for _, a := range wb.Actions {
			if s.eng.Actions().Get(a.Name) != nil {
				return oserr.Conflict("Action %s is a system action; choose another name.", a.Name)
			}
			if err := upsert(store.WFKindAction, a.Name, a.Definition, actionDoc(a)); err != nil {
				return err
			}
		}
		for _, wf := range wb.Workflows {
			if err := upsert(store.WFKindWorkflow, wf.Name, wf.Definition, workflowDoc(wf)); err != nil {
				return err
			}
		}
		out = decodeDef(d)
		return nil
	})
	return out, err
}

// DeleteWorkbook deletes a workbook; its workflows and actions stay, as in
// Mistral (delete them by name).
func (s *Service) DeleteWorkbook(ctx context.Context, c *auth.Credentials, name, namespace string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		d, err := s.owned(ctx, tx, c, store.WFKindWorkbook, name, namespace)
		if err != nil {
			return err
		}
		return tx.DeleteWFDefinition(ctx, d.ID)
	})
}

// CreateActions stores the ad-hoc actions of an action file.
func (s *Service) CreateActions(ctx context.Context, c *auth.Credentials, text, scope, namespace string) ([]Definition, error) {
	scope, err := checkScope(scope)
	if err != nil {
		return nil, err
	}
	acts, err := spec.ParseActions(text, s.specOptions(ctx, c, namespace))
	if err != nil {
		return nil, badDSL(err)
	}
	var out []Definition
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		out = out[:0]
		now := s.now()
		for _, a := range acts {
			if s.eng.Actions().Get(a.Name) != nil {
				return oserr.Conflict("Duplicate entry for Action ['name', 'namespace', 'project_id']: %s is a system action; choose another name.", a.Name)
			}
			d := store.WFDefinition{ID: uuid.NewString(), Kind: store.WFKindAction, Name: a.Name, Namespace: namespace, ProjectID: c.ProjectID(),
				Scope: scope, Definition: a.Definition, Doc: actionDoc(a), CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateWFDefinition(ctx, d); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return oserr.Conflict("Duplicate entry for Action ['name', 'namespace', 'project_id']: %s, %s, %s", a.Name, namespace, c.ProjectID())
				}
				return err
			}
			out = append(out, decodeDef(d))
		}
		return nil
	})
	return out, err
}

// UpdateActions replaces ad-hoc actions by name (or one by id).
func (s *Service) UpdateActions(ctx context.Context, c *auth.Credentials, text, scope, namespace, id string) ([]Definition, error) {
	acts, err := spec.ParseActions(text, s.specOptions(ctx, c, namespace))
	if err != nil {
		return nil, badDSL(err)
	}
	var out []Definition
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		out = out[:0]
		for _, a := range acts {
			if s.eng.Actions().Get(a.Name) != nil {
				return oserr.BadRequest("Attempt to modify a system action: %s", a.Name)
			}
			ident := a.Name
			if id != "" {
				ident = id
			}
			d, err := s.owned(ctx, tx, c, store.WFKindAction, ident, namespace)
			if err != nil {
				return err
			}
			if scope != "" {
				if d.Scope, err = checkScope(scope); err != nil {
					return err
				}
			}
			d.Definition, d.Doc, d.UpdatedAt = a.Definition, actionDoc(a), s.now()
			if err := tx.UpdateWFDefinition(ctx, d); err != nil {
				return err
			}
			out = append(out, decodeDef(d))
		}
		return nil
	})
	return out, err
}

// DeleteAction deletes an ad-hoc action (system actions stay).
func (s *Service) DeleteAction(ctx context.Context, c *auth.Credentials, identifier, namespace string) error {
	if s.systemAction(identifier) != nil {
		return oserr.BadRequest("Attempt to delete a system action: %s", identifier)
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		d, err := s.owned(ctx, tx, c, store.WFKindAction, identifier, namespace)
		if err != nil {
			return err
		}
		return tx.DeleteWFDefinition(ctx, d.ID)
	})
}

// systemProject is the project system actions are listed under.
const systemProject = "<default-project>"

var actionNS = uuid.MustParse("6f1c5b2e-7d0a-4c3e-9b58-1e2f3a4b5c6d")

// SystemActions lists the built-in actions as definitions.
func (s *Service) SystemActions() []Definition {
	var out []Definition
	for _, a := range s.eng.Actions().All() {
		out = append(out, systemDef(a))
	}
	return out
}

func systemDef(a *engine.Action) Definition {
	return Definition{WFDefinition: store.WFDefinition{ID: uuid.NewSHA1(actionNS, []byte(a.Name)).String(), Kind: store.WFKindAction, Name: a.Name,
		ProjectID: systemProject, Scope: ScopePublic, Definition: ""}, Tags: []string{}, Description: a.Description, Input: a.Input(), IsSystem: true}
}

func (s *Service) systemAction(identifier string) *Definition {
	if a := s.eng.Actions().Get(identifier); a != nil {
		d := systemDef(a)
		return &d
	}
	if IsUUID(identifier) {
		for _, a := range s.eng.Actions().All() {
			if d := systemDef(a); d.ID == identifier {
				return &d
			}
		}
	}
	return nil
}

// Member is a project a workflow is shared with.
type Member = store.WFMember

// AddMember shares a private workflow of c's project with another project.
func (s *Service) AddMember(ctx context.Context, c *auth.Credentials, resourceID, resourceType, member string) (Member, error) {
	if resourceType != "workflow" {
		return Member{}, oserr.BadRequest("Only workflows can be shared, not %s.", resourceType)
	}
	if member == "" {
		return Member{}, oserr.BadRequest("member_id is required: the project to share the workflow with.")
	}
	var m Member
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		d, err := s.find(ctx, tx, c, store.WFKindWorkflow, resourceID, "")
		if err != nil {
			return err
		}
		if d.ProjectID != c.ProjectID() {
			return oserr.NotFound("Workflow not found [id=%s].", resourceID)
		}
		if d.Scope != ScopePrivate {
			return oserr.BadRequest("Only private resource could be shared: workflow %s is public already.", d.Name)
		}
		if member == c.ProjectID() {
			return oserr.BadRequest("Workflow %s belongs to project %s already; share it with another project.", d.Name, member)
		}
		now := s.now()
		m = Member{ID: uuid.NewString(), ResourceID: d.ID, ResourceType: resourceType, ProjectID: d.ProjectID, MemberID: member, Status: "pending",
			CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateWFMember(ctx, m); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return oserr.Conflict("Duplicate entry for ResourceMember ['resource_id', 'resource_type', 'member_id']: %s, %s, %s", d.ID, resourceType, member)
			}
			return err
		}
		return nil
	})
	return m, err
}

// memberView reads the workflow and the members c may see: its owner
// sees all, a member only itself.
func (s *Service) memberView(ctx context.Context, tx *store.Tx, c *auth.Credentials, resourceID string) (store.WFDefinition, string, error) {
	d, err := tx.GetWFDefinition(ctx, store.WFKindWorkflow, resourceID)
	if errors.Is(err, store.ErrNotFound) {
		return d, "", oserr.NotFound("Workflow not found [id=%s].", resourceID)
	}
	if err != nil {
		return d, "", err
	}
	if d.ProjectID == c.ProjectID() || c.IsAdmin() {
		return d, "", nil
	}
	return d, c.ProjectID(), nil
}

// ListMembers lists a workflow's members.
func (s *Service) ListMembers(ctx context.Context, c *auth.Credentials, resourceID string) ([]Member, error) {
	var out []Member
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		_, only, err := s.memberView(ctx, tx, c, resourceID)
		if err != nil {
			return err
		}
		out, err = tx.ListWFMembers(ctx, resourceID, only)
		return err
	})
	return out, err
}

// GetMember reads one membership.
func (s *Service) GetMember(ctx context.Context, c *auth.Credentials, resourceID, member string) (Member, error) {
	var m Member
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		_, only, err := s.memberView(ctx, tx, c, resourceID)
		if err != nil {
			return err
		}
		if only != "" && only != member {
			return oserr.NotFound("Resource member not found [resource_id=%s, member_id=%s].", resourceID, member)
		}
		m, err = tx.GetWFMember(ctx, resourceID, member)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Resource member not found [resource_id=%s, member_id=%s].", resourceID, member)
		}
		return err
	})
	return m, err
}

// UpdateMember accepts or rejects a share (by the member project).
func (s *Service) UpdateMember(ctx context.Context, c *auth.Credentials, resourceID, member, status string) (Member, error) {
	if status != "accepted" && status != "rejected" && status != "pending" {
		return Member{}, oserr.BadRequest("Invalid status %q; use accepted or rejected.", status)
	}
	var m Member
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if member != c.ProjectID() {
			return oserr.NotFound("Resource member not found [resource_id=%s, member_id=%s]; only the member project answers a share.", resourceID, member)
		}
		var err error
		m, err = tx.GetWFMember(ctx, resourceID, member)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Resource member not found [resource_id=%s, member_id=%s].", resourceID, member)
		}
		if err != nil {
			return err
		}
		m.Status, m.UpdatedAt = status, s.now()
		return tx.UpdateWFMember(ctx, m)
	})
	return m, err
}

// DeleteMember stops sharing a workflow with a project (by its owner).
func (s *Service) DeleteMember(ctx context.Context, c *auth.Credentials, resourceID, member string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		d, err := tx.GetWFDefinition(ctx, store.WFKindWorkflow, resourceID)
		if errors.Is(err, store.ErrNotFound) || err == nil && d.ProjectID != c.ProjectID() && !c.IsAdmin() {
			return oserr.NotFound("Workflow not found [id=%s].", resourceID)
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteWFMember(ctx, resourceID, member); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Resource member not found [resource_id=%s, member_id=%s].", resourceID, member)
		} else if err != nil {
			return err
		}
		return nil
	})
}

var _ = fmt.Sprint

// wfSpec parses a stored workflow definition.
func wfSpec(d store.WFDefinition) (*spec.Workflow, error) {
	wf, err := spec.ParseWorkflow(d.Definition, d.Name, d.Workbook)
	if err != nil {
		return nil, oserr.BadRequest("The definition of workflow %s does not parse: %v", d.Name, err)
	}
	return wf, nil
}
