package loadbalancer

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/loadbalancer"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// creds are the request's credentials with Octavia's roles mapped onto
// Keystone's (see octaviaRoles).
func creds(r *http.Request) *auth.Credentials { return octaviaRoles(auth.From(r.Context())) }

// decodeRoot reads {"<key>": {...}} strictly into v.
func decodeRoot(r *http.Request, key string, v any) error {
	var root map[string]json.RawMessage
	if err := rest.Decode(r, &root, false); err != nil {
		return err
	}
	raw, ok := root[key]
	if !ok || string(raw) == "null" {
		return oserr.BadRequest("Invalid input for field/attribute %s. Value: 'None'. Mandatory field missing.", key)
	}
	for k := range root {
		if k != key {
			return oserr.BadRequest("Unknown attribute for argument %s: %s", key, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(key, err)
	}
	return nil
}

func decodeErr(key string, err error) error {
	var typ *json.UnmarshalTypeError
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		typ = e
		return oserr.BadRequest("Invalid input for field/attribute %s. Value: '%s'. Wrong type: expected %s.", typ.Field, typ.Value, typ.Type)
	case *json.SyntaxError:
		return oserr.BadRequest("Invalid input for %s: the body is not valid JSON (%v).", key, e)
	}
	msg := err.Error()
	if len(msg) > 20 && msg[:20] == "json: unknown field " {
		return oserr.BadRequest("Unknown attribute for argument %s: %s", key, msg[20:])
	}
	return oserr.BadRequest("Invalid input for %s: %v", key, err)
}

func checkID(kind, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return oserr.NotFound("%s %s not found.", kind, id)
	}
	return nil
}

// ---- load balancers

func (a *API) listLBs(w http.ResponseWriter, r *http.Request) error {
	trees, err := a.svc.Forest(r.Context(), creds(r), projectParam(r))
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(trees))
	for _, t := range trees {
		items = append(items, lbView(t))
	}
	return a.listView(w, r, "loadbalancers", items)
}

func (a *API) createLB(w http.ResponseWriter, r *http.Request) error {
	var body wireLB
	if err := decodeRoot(r, "loadbalancer", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, err := a.svc.CreateLoadBalancer(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	v := lbView(t)
	if len(in.Listeners) > 0 || len(in.Pools) > 0 {
		v = fullLB(t)
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"loadbalancer": v})
	return nil
}

// fullLB is a single-call create's answer: the children in full.
func fullLB(t *svc.Tree) map[string]any {
	v := lbView(t)
	var ls, ps []any
	for _, id := range childIDs(t, t.Listeners, func(*svc.Listener) bool { return true }) {
		lv := listenerView(t, id)
		var pols []any
		for _, pid := range childIDs(t, t.Policies, func(p *svc.L7Policy) bool { return p.ListenerID == id }) {
			pv := policyView(t, pid)
			var rules []any
			for _, rid := range childIDs(t, t.Rules, func(r *svc.L7Rule) bool { return r.PolicyID == pid }) {
				rules = append(rules, ruleView(t, rid))
			}
			pv["rules"] = orAny(rules)
			pols = append(pols, pv)
		}
		lv["l7policies"] = orAny(pols)
		ls = append(ls, lv)
	}
	for _, id := range childIDs(t, t.Pools, func(*svc.Pool) bool { return true }) {
		pv := poolView(t, id)
		var ms []any
		for _, mid := range childIDs(t, t.Members, func(m *svc.Member) bool { return m.PoolID == id }) {
			ms = append(ms, memberView(t, mid))
		}
		pv["members"] = orAny(ms)
		if h := t.Pools[id].HealthMonitorID; h != "" && t.Monitors[h] != nil {
			pv["healthmonitor"] = monitorView(t, h)
		} else {
			pv["healthmonitor"] = nil
		}
		ps = append(ps, pv)
	}
	v["listeners"], v["pools"] = orAny(ls), orAny(ps)
	return v
}

func (a *API) showLB(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkID("Load Balancer", id); err != nil {
		return err
	}
	t, err := a.svc.Find(r.Context(), creds(r), svc.KindLoadBalancer, id)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"loadbalancer": rest.Fields(lbView(t), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateLB(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkID("Load Balancer", id); err != nil {
		return err
	}
	var body struct {
		Name           *string   `json:"name"`
		Description    *string   `json:"description"`
		AdminStateUp   *bool     `json:"admin_state_up"`
		VIPQoSPolicyID *string   `json:"vip_qos_policy_id"`
		VIPSGIDs       *[]string `json:"vip_sg_ids"`
		Tags           *[]string `json:"tags"`
	}
	if err := decodeRoot(r, "loadbalancer", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, body.Description); err != nil {
		return err
	}
	if err := checkTags(body.Tags); err != nil {
		return err
	}
	t, err := a.svc.UpdateLoadBalancer(r.Context(), creds(r), id, svc.LoadBalancerInput{Name: body.Name, Description: body.Description,
		AdminStateUp: body.AdminStateUp, VIPQoSPolicyID: body.VIPQoSPolicyID, VIPSecurityGroups: body.VIPSGIDs, Tags: body.Tags})
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"loadbalancer": lbView(t)})
	return nil
}

func (a *API) deleteLB(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkID("Load Balancer", id); err != nil {
		return err
	}
	cascade := false
	if v := r.URL.Query().Get("cascade"); v != "" {
		var err error
		if cascade, err = strconv.ParseBool(v); err != nil {
			return oserr.BadRequest("Invalid input for cascade: '%s' is not a boolean.", v)
		}
	}
	if err := a.svc.DeleteLoadBalancer(r.Context(), creds(r), id, cascade); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) lbStatus(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.Find(r.Context(), creds(r), svc.KindLoadBalancer, r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, statusTree(t))
	return nil
}

func (a *API) lbStats(w http.ResponseWriter, r *http.Request) error {
	t, err := a.svc.Find(r.Context(), creds(r), svc.KindLoadBalancer, r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, statsView(a.svc.LoadBalancerStats(t)))
	return nil
}

func (a *API) failoverLB(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Failover(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// lbEvents is onestack's addition: what happened to a load balancer, with
// the reasons of failures.
func (a *API) lbEvents(w http.ResponseWriter, r *http.Request) error {
	evs, err := a.svc.Events(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]any, 0, len(evs))
	for _, e := range evs {
		out = append(out, map[string]any{"id": e.ID, "object_id": nullable(e.ObjectID), "kind": e.Kind, "action": e.Action,
			"message": e.Message, "created_at": e.Time.UTC().Format("2006-01-02T15:04:05.000000")})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"events": out})
	return nil
}

// ---- generic child handlers

// childList lists the objects of one kind the caller may see.
func (a *API) childList(w http.ResponseWriter, r *http.Request, key string, each func(t *svc.Tree) []map[string]any) error {
	trees, err := a.svc.Forest(r.Context(), creds(r), projectParam(r))
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, t := range trees {
		items = append(items, each(t)...)
	}
	return a.listView(w, r, key, items)
}

func (a *API) childShow(w http.ResponseWriter, r *http.Request, kind, key string, view func(*svc.Tree, string) map[string]any) error {
	id := r.PathValue("id")
	t, err := a.svc.Find(r.Context(), creds(r), kind, id)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: rest.Fields(view(t, id), r.URL.Query()["fields"])})
	return nil
}

func (a *API) deleteObject(kind string) rest.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := a.svc.Delete(r.Context(), creds(r), kind, r.PathValue("id")); err != nil {
			return err
		}
		rest.NoContent(w)
		return nil
	}
}

// ---- listeners

func (a *API) listListeners(w http.ResponseWriter, r *http.Request) error {
	return a.childList(w, r, "listeners", func(t *svc.Tree) (out []map[string]any) {
		for _, id := range childIDs(t, t.Listeners, func(*svc.Listener) bool { return true }) {
			out = append(out, listenerView(t, id))
		}
		return out
	})
}

func (a *API) createListener(w http.ResponseWriter, r *http.Request) error {
	var body wireListener
	if err := decodeRoot(r, "listener", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, id, err := a.svc.CreateListener(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"listener": listenerView(t, id)})
	return nil
}

func (a *API) showListener(w http.ResponseWriter, r *http.Request) error {
	return a.childShow(w, r, svc.KindListener, "listener", listenerView)
}

func (a *API) updateListener(w http.ResponseWriter, r *http.Request) error {
	var body wireListener
	if err := decodeRoot(r, "listener", &body); err != nil {
		return err
	}
	if body.Protocol != nil || body.ProtocolPort != nil || body.LoadBalancerID != nil || body.DefaultPool != nil || body.L7Policies != nil {
		return oserr.BadRequest("Unknown attribute for argument listener: protocol, protocol_port, loadbalancer_id, default_pool and l7policies cannot be updated.")
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := a.svc.UpdateListener(r.Context(), creds(r), id, in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"listener": listenerView(t, id)})
	return nil
}

func (a *API) listenerStats(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	t, err := a.svc.Find(r.Context(), creds(r), svc.KindListener, id)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, statsView(t.LB.Stats[id]))
	return nil
}

// ---- pools

func (a *API) listPools(w http.ResponseWriter, r *http.Request) error {
	return a.childList(w, r, "pools", func(t *svc.Tree) (out []map[string]any) {
		for _, id := range childIDs(t, t.Pools, func(*svc.Pool) bool { return true }) {
			out = append(out, poolView(t, id))
		}
		return out
	})
}

func (a *API) createPool(w http.ResponseWriter, r *http.Request) error {
	var body wirePool
	if err := decodeRoot(r, "pool", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, id, err := a.svc.CreatePool(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"pool": poolView(t, id)})
	return nil
}

func (a *API) showPool(w http.ResponseWriter, r *http.Request) error {
	return a.childShow(w, r, svc.KindPool, "pool", poolView)
}

func (a *API) updatePool(w http.ResponseWriter, r *http.Request) error {
	var body wirePool
	if err := decodeRoot(r, "pool", &body); err != nil {
		return err
	}
	if body.Protocol != nil || body.LoadBalancerID != nil || body.ListenerID != nil || body.Members != nil || body.HealthMonitor != nil {
		return oserr.BadRequest("Unknown attribute for argument pool: protocol, loadbalancer_id, listener_id, members and healthmonitor cannot be updated.")
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := a.svc.UpdatePool(r.Context(), creds(r), id, in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"pool": poolView(t, id)})
	return nil
}

// ---- members

func (a *API) poolTree(r *http.Request) (*svc.Tree, string, error) {
	pool := r.PathValue("pool")
	t, err := a.svc.Find(r.Context(), creds(r), svc.KindPool, pool)
	return t, pool, err
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	t, pool, err := a.poolTree(r)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, id := range childIDs(t, t.Members, func(m *svc.Member) bool { return m.PoolID == pool }) {
		items = append(items, memberView(t, id))
	}
	return a.listView(w, r, "members", items)
}

func (a *API) createMember(w http.ResponseWriter, r *http.Request) error {
	var body wireMember
	if err := decodeRoot(r, "member", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, id, err := a.svc.CreateMember(r.Context(), creds(r), r.PathValue("pool"), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"member": memberView(t, id)})
	return nil
}

func (a *API) batchMembers(w http.ResponseWriter, r *http.Request) error {
	ins, err := decodeBatch(r)
	if err != nil {
		return err
	}
	additive, _ := strconv.ParseBool(r.URL.Query().Get("additive_only"))
	if err := a.svc.BatchMembers(r.Context(), creds(r), r.PathValue("pool"), ins, additive); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// decodeBatch reads a batch member update: {"members": [...]}.
func decodeBatch(r *http.Request) ([]svc.MemberInput, error) {
	var body struct {
		Members []wireMember `json:"members"`
	}
	if err := rest.Decode(r, &body, true); err != nil {
		return nil, err
	}
	if body.Members == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute members. Value: 'None'. Mandatory field missing.")
	}
	ins := []svc.MemberInput{}
	for _, m := range body.Members {
		in, err := m.input()
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	return ins, nil
}

func (a *API) showMember(w http.ResponseWriter, r *http.Request) error {
	t, pool, err := a.poolTree(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if m := t.Members[id]; m == nil || m.PoolID != pool {
		return oserr.NotFound("Member %s not found.", id)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"member": rest.Fields(memberView(t, id), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	var body wireMember
	if err := decodeRoot(r, "member", &body); err != nil {
		return err
	}
	if body.Address != nil || body.ProtocolPort != nil || body.SubnetID != nil {
		return oserr.BadRequest("Unknown attribute for argument member: address, protocol_port and subnet_id cannot be updated.")
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := a.svc.UpdateMember(r.Context(), creds(r), r.PathValue("pool"), id, in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"member": memberView(t, id)})
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	t, pool, err := a.poolTree(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if m := t.Members[id]; m == nil || m.PoolID != pool {
		return oserr.NotFound("Member %s not found.", id)
	}
	if err := a.svc.Delete(r.Context(), creds(r), svc.KindMember, id); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- health monitors

func (a *API) listMonitors(w http.ResponseWriter, r *http.Request) error {
	return a.childList(w, r, "healthmonitors", func(t *svc.Tree) (out []map[string]any) {
		for _, id := range childIDs(t, t.Monitors, func(*svc.HealthMonitor) bool { return true }) {
			out = append(out, monitorView(t, id))
		}
		return out
	})
}

func (a *API) createMonitor(w http.ResponseWriter, r *http.Request) error {
	var body wireMonitor
	if err := decodeRoot(r, "healthmonitor", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, id, err := a.svc.CreateHealthMonitor(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"healthmonitor": monitorView(t, id)})
	return nil
}

func (a *API) showMonitor(w http.ResponseWriter, r *http.Request) error {
	return a.childShow(w, r, svc.KindHealthMonitor, "healthmonitor", monitorView)
}

func (a *API) updateMonitor(w http.ResponseWriter, r *http.Request) error {
	var body wireMonitor
	if err := decodeRoot(r, "healthmonitor", &body); err != nil {
		return err
	}
	if body.Type != nil || body.PoolID != nil {
		return oserr.BadRequest("Unknown attribute for argument healthmonitor: type and pool_id cannot be updated.")
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := a.svc.UpdateHealthMonitor(r.Context(), creds(r), id, in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"healthmonitor": monitorView(t, id)})
	return nil
}

// ---- L7 policies and rules

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request) error {
	return a.childList(w, r, "l7policies", func(t *svc.Tree) (out []map[string]any) {
		for _, id := range childIDs(t, t.Policies, func(*svc.L7Policy) bool { return true }) {
			out = append(out, policyView(t, id))
		}
		return out
	})
}

func (a *API) createPolicy(w http.ResponseWriter, r *http.Request) error {
	var body wirePolicy
	if err := decodeRoot(r, "l7policy", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, id, err := a.svc.CreateL7Policy(r.Context(), creds(r), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"l7policy": policyView(t, id)})
	return nil
}

func (a *API) showPolicy(w http.ResponseWriter, r *http.Request) error {
	return a.childShow(w, r, svc.KindL7Policy, "l7policy", policyView)
}

func (a *API) updatePolicy(w http.ResponseWriter, r *http.Request) error {
	var body wirePolicy
	if err := decodeRoot(r, "l7policy", &body); err != nil {
		return err
	}
	if body.ListenerID != nil || body.Rules != nil || body.RedirectPool != nil {
		return oserr.BadRequest("Unknown attribute for argument l7policy: listener_id, rules and redirect_pool cannot be updated.")
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := a.svc.UpdateL7Policy(r.Context(), creds(r), id, in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"l7policy": policyView(t, id)})
	return nil
}

func (a *API) policyTree(r *http.Request) (*svc.Tree, string, error) {
	p := r.PathValue("policy")
	t, err := a.svc.Find(r.Context(), creds(r), svc.KindL7Policy, p)
	return t, p, err
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request) error {
	t, p, err := a.policyTree(r)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, id := range childIDs(t, t.Rules, func(x *svc.L7Rule) bool { return x.PolicyID == p }) {
		items = append(items, ruleView(t, id))
	}
	return a.listView(w, r, "rules", items)
}

func (a *API) createRule(w http.ResponseWriter, r *http.Request) error {
	var body wireRule
	if err := decodeRoot(r, "rule", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	t, id, err := a.svc.CreateL7Rule(r.Context(), creds(r), r.PathValue("policy"), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"rule": ruleView(t, id)})
	return nil
}

func (a *API) showRule(w http.ResponseWriter, r *http.Request) error {
	t, p, err := a.policyTree(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if x := t.Rules[id]; x == nil || x.PolicyID != p {
		return oserr.NotFound("L7 Rule %s not found.", id)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"rule": rest.Fields(ruleView(t, id), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateRule(w http.ResponseWriter, r *http.Request) error {
	var body wireRule
	if err := decodeRoot(r, "rule", &body); err != nil {
		return err
	}
	in, err := body.input()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := a.svc.UpdateL7Rule(r.Context(), creds(r), r.PathValue("policy"), id, in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"rule": ruleView(t, id)})
	return nil
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request) error {
	t, p, err := a.policyTree(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if x := t.Rules[id]; x == nil || x.PolicyID != p {
		return oserr.NotFound("L7 Rule %s not found.", id)
	}
	if err := a.svc.Delete(r.Context(), creds(r), svc.KindL7Rule, id); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
