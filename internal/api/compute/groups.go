package compute

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// groupRoutes declares os-server-groups.
func (a *API) groupRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/os-server-groups", reader, a.listGroups),
		rest.R("POST", "/v2.1/os-server-groups", member, a.createGroup),
		rest.R("GET", "/v2.1/os-server-groups/{id}", reader, a.showGroup),
		rest.R("DELETE", "/v2.1/os-server-groups/{id}", member, a.deleteGroup),
	}
}

// groupView renders a server group at the request's microversion.
func groupView(r *http.Request, g svc.ServerGroup) map[string]any {
	members := g.Members
	if members == nil {
		members = []string{}
	}
	m := map[string]any{"id": g.ID, "name": g.Name, "members": members}
	if at(r, 64) {
		m["policy"] = g.Policy // 2.64: one policy and its rules
		rules := map[string]any{}
		if v, ok := g.Rules["max_server_per_host"].(float64); ok {
			rules["max_server_per_host"] = int(v)
		}
		m["rules"] = rules
	} else {
		m["policies"] = []string{g.Policy}
		m["metadata"] = map[string]any{}
	}
	if at(r, 13) {
		m["project_id"], m["user_id"] = g.ProjectID, g.UserID // 2.13
	}
	return m
}

// decodeGroupCreate decodes POST /os-server-groups at microversion 2.minor.
func decodeGroupCreate(body []byte, minor int) (svc.GroupCreate, error) {
	var req svc.GroupCreate
	policies := []string{svc.PolicyAffinity, svc.PolicyAntiAffinity}
	if minor >= 15 {
		policies = append(policies, svc.PolicySoftAffinity, svc.PolicySoftAntiAffinity)
	}
	valid := func(p string) bool {
		for _, x := range policies {
			if p == x {
				return true
			}
		}
		return false
	}
	if minor >= 64 {
		m, err := wrapped(body, "server_group", []string{"name", "policy", "rules"}, []string{"name", "policy"})
		if err != nil {
			return req, err
		}
		if req.Name, err = str(m["name"], "name"); err != nil {
			return req, err
		}
		if req.Policy, err = str(m["policy"], "policy"); err != nil {
			return req, err
		}
		if !valid(req.Policy) {
			return req, oserr.BadRequest("Invalid input for field/attribute policy: %q is not one of %v.", req.Policy, policies)
		}
		if raw, ok := m["rules"]; ok {
			rules, err := object(raw, "rules", []string{"max_server_per_host"}, nil)
			if err != nil {
				return req, err
			}
			if v, ok := rules["max_server_per_host"]; ok {
				if req.MaxServerPerHost, err = integer(v, "max_server_per_host", 1, svc.MaxInt); err != nil {
					return req, err
				}
			}
		}
	} else {
		m, err := wrapped(body, "server_group", []string{"name", "policies"}, []string{"name", "policies"})
		if err != nil {
			return req, err
		}
		if req.Name, err = str(m["name"], "name"); err != nil {
			return req, err
		}
		var ps []string
		if json.Unmarshal(m["policies"], &ps) != nil || len(ps) != 1 || !valid(ps[0]) {
			return req, oserr.BadRequest("Invalid input for field/attribute policies: give a list of exactly one of %v, e.g. [\"anti-affinity\"].", policies)
		}
		req.Policy = ps[0]
	}
	if !svc.PrintableName(req.Name) {
		return req, oserr.BadRequest("Invalid input for field/attribute name: a server group name is 1 to 255 printable characters and may not start or end with whitespace.")
	}
	return req, nil
}

func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := decodeGroupCreate(body, mv(r).Minor)
	if err != nil {
		return err
	}
	g, err := a.svc.CreateServerGroup(r.Context(), auth.From(r.Context()), req)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"server_group": groupView(r, g)})
	return nil
}

func (a *API) showGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.svc.ServerGroup(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"server_group": groupView(r, g)})
	return nil
}

func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "all_projects", "limit", "offset"); err != nil {
		return err
	}
	q := r.URL.Query()
	var limit, offset int
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &limit}, {"offset", &offset}} {
		if v, ok := q[p.name]; ok {
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 0 {
				return oserr.BadRequest("Invalid input for query parameters %s: %q is not an integer 0 or greater.", p.name, v[0])
			}
			*p.dst = n
		}
	}
	// Nova lists every project's groups when all_projects is present at
	// all (any value) and the caller is an admin.
	_, all := q["all_projects"]
	gs, err := a.svc.ServerGroups(r.Context(), auth.From(r.Context()), all, limit, offset)
	if err != nil {
		return err
	}
	items := make([]any, len(gs))
	for i, g := range gs {
		items[i] = groupView(r, g)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"server_groups": items})
	return nil
}

func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteServerGroup(r.Context(), auth.From(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
