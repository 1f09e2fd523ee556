package network

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/network"
	"github.com/onestack/onestack/internal/store"
)

type sgReq struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Stateful    *bool   `json:"stateful"`
	TenantID    string  `json:"tenant_id"`
	ProjectID   string  `json:"project_id"`
}

func ruleJSON(r store.SecurityGroupRule) map[string]any {
	m := map[string]any{
		"id": r.ID, "security_group_id": r.SecurityGroupID, "direction": r.Direction, "ethertype": r.EtherType,
		"protocol": nullString(r.Protocol), "port_range_min": nil, "port_range_max": nil,
		"remote_ip_prefix": nullString(r.RemoteIPPrefix), "remote_group_id": nullString(r.RemoteGroupID),
		"description": r.Description,
	}
	if r.PortMin != nil {
		m["port_range_min"] = *r.PortMin
	}
	if r.PortMax != nil {
		m["port_range_max"] = *r.PortMax
	}
	m = std(m, r.ProjectID, nil, r.Revision, r.CreatedAt, r.UpdatedAt)
	delete(m, "tags") // rules carry no tags in Neutron
	return m
}

func sgJSON(g svc.SecurityGroupView) map[string]any {
	rules := []map[string]any{}
	for _, r := range g.Rules {
		rules = append(rules, ruleJSON(r))
	}
	m := map[string]any{"id": g.ID, "name": g.Name, "description": g.Description, "stateful": g.Stateful,
		"security_group_rules": rules}
	return std(m, g.ProjectID, g.Tags, g.Revision, g.CreatedAt, g.UpdatedAt)
}

func (a *API) listSecurityGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.svc.ListSecurityGroups(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(gs))
	for i, g := range gs {
		items[i] = sgJSON(g)
	}
	return a.writeList(w, r, "security-groups", items, true)
}

func (a *API) createSecurityGroup(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody[sgReq](r, "security_group")
	if err != nil {
		return err
	}
	in := svc.SecurityGroupInput{Name: b.Name, Description: b.Description, Stateful: b.Stateful, ProjectID: b.ProjectID}
	if in.ProjectID == "" {
		in.ProjectID = b.TenantID
	}
	g, err := a.svc.CreateSecurityGroup(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusCreated, "security_group", sgJSON(g))
	return nil
}

func (a *API) showSecurityGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.svc.GetSecurityGroup(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "security_group", sgJSON(g))
	return nil
}

func (a *API) updateSecurityGroup(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	b, err := decodeBody[sgReq](r, "security_group")
	if err != nil {
		return err
	}
	g, err := a.svc.UpdateSecurityGroup(r.Context(), creds(r), r.PathValue("id"), svc.SecurityGroupInput{Name: b.Name, Description: b.Description, Stateful: b.Stateful}, rev)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "security_group", sgJSON(g))
	return nil
}

func (a *API) deleteSecurityGroup(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteSecurityGroup(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type ruleReq struct {
	SecurityGroupID string          `json:"security_group_id"`
	Direction       string          `json:"direction"`
	EtherType       string          `json:"ethertype"`
	Protocol        json.RawMessage `json:"protocol"`
	PortMin         json.RawMessage `json:"port_range_min"`
	PortMax         json.RawMessage `json:"port_range_max"`
	RemoteIPPrefix  *string         `json:"remote_ip_prefix"`
	RemoteGroupID   *string         `json:"remote_group_id"`
	Description     *string         `json:"description"`
	TenantID        string          `json:"tenant_id"`
	ProjectID       string          `json:"project_id"`
}

// intOrNull reads a port range bound: a number, a string of digits or null.
func intOrNull(field string, raw json.RawMessage) (*int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return &n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := strconv.Atoi(s); err == nil {
			return &v, nil
		}
	}
	return nil, oserr.BadRequest("Invalid input for %s. Reason: '%s' is not an integer.", field, raw)
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeBody[ruleReq](r, "security_group_rule")
	if err != nil {
		return err
	}
	if b.SecurityGroupID == "" {
		return oserr.BadRequest("Failed to parse request. Required attribute 'security_group_id' not specified")
	}
	in := svc.RuleInput{SecurityGroupID: b.SecurityGroupID, Direction: b.Direction, EtherType: b.EtherType}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.RemoteIPPrefix != nil {
		in.RemoteIPPrefix = *b.RemoteIPPrefix
	}
	if b.RemoteGroupID != nil {
		in.RemoteGroupID = *b.RemoteGroupID
	}
	if len(b.Protocol) > 0 && string(b.Protocol) != "null" {
		var s string
		if err := json.Unmarshal(b.Protocol, &s); err != nil {
			var n int
			if err := json.Unmarshal(b.Protocol, &n); err != nil {
				return oserr.BadRequest("Invalid input for protocol. Reason: '%s' is not a protocol name or number.", b.Protocol)
			}
			s = strconv.Itoa(n)
		}
		in.Protocol = s
	}
	if in.PortMin, err = intOrNull("port_range_min", b.PortMin); err != nil {
		return err
	}
	if in.PortMax, err = intOrNull("port_range_max", b.PortMax); err != nil {
		return err
	}
	rule, err := a.svc.CreateSecurityGroupRule(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusCreated, "security_group_rule", ruleJSON(rule))
	return nil
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.svc.ListSecurityGroupRules(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := make([]map[string]any, len(rs))
	for i, x := range rs {
		items[i] = ruleJSON(x)
	}
	return a.writeList(w, r, "security-group-rules", items, true)
}

func (a *API) showRule(w http.ResponseWriter, r *http.Request) error {
	x, err := a.svc.GetSecurityGroupRule(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	showOne(w, r, http.StatusOK, "security_group_rule", ruleJSON(x))
	return nil
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) error {
	rev, err := ifMatch(r)
	if err != nil {
		return err
	}
	if err := a.svc.DeleteSecurityGroupRule(r.Context(), creds(r), r.PathValue("id"), rev); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
