package loadbalancer

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/loadbalancer"
)

// ---- quotas: Octavia answers each limit under its current and its old
// name (load_balancer and loadbalancer, health_monitor and healthmonitor).

var quotaNames = map[string][]string{
	svc.KindLoadBalancer: {"load_balancer", "loadbalancer"}, svc.KindListener: {"listener"}, svc.KindPool: {"pool"},
	svc.KindHealthMonitor: {"health_monitor", "healthmonitor"}, svc.KindMember: {"member"}, svc.KindL7Policy: {"l7policy"},
	svc.KindL7Rule: {"l7rule"},
}

func quotaView(q map[string]int) map[string]any {
	out := map[string]any{}
	for kind, ns := range quotaNames {
		for _, n := range ns {
			out[n] = q[kind]
		}
	}
	return out
}

func (a *API) listQuotas(w http.ResponseWriter, r *http.Request) error {
	qs, err := a.svc.QuotaProjects(r.Context(), creds(r), projectParam(r))
	if err != nil {
		return err
	}
	out := []any{}
	for p, q := range qs {
		v := quotaView(q)
		v["project_id"] = p
		out = append(out, v)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quotas": out, "quotas_links": []any{}})
	return nil
}

func (a *API) quotaDefaults(w http.ResponseWriter, r *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota": quotaView(svc.DefaultQuota())})
	return nil
}

func (a *API) showQuota(w http.ResponseWriter, r *http.Request) error {
	q, err := a.svc.QuotaOf(r.Context(), creds(r), r.PathValue("project"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"quota": quotaView(q)})
	return nil
}

func (a *API) setQuota(w http.ResponseWriter, r *http.Request) error {
	var body map[string]*wsInt
	if err := decodeRoot(r, "quota", &body); err != nil {
		return err
	}
	in, err := quotaInput(body)
	if err != nil {
		return err
	}
	q, err := a.svc.SetQuota(r.Context(), r.PathValue("project"), in)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusAccepted, map[string]any{"quota": quotaView(q)})
	return nil
}

// quotaInput maps a quota body's names (each limit has two: Octavia's old
// and new) to the service's kinds; null leaves a limit as it is.
func quotaInput(body map[string]*wsInt) (map[string]*int, error) {
	in := map[string]*int{}
	for k, wv := range body {
		v := ip(wv)
		kind := ""
		for kk, ns := range quotaNames {
			for _, n := range ns {
				if n == k {
					kind = kk
				}
			}
		}
		if kind == "" {
			return nil, oserr.BadRequest("Unknown attribute for argument quota: %s", k)
		}
		if v == nil {
			continue
		}
		if prev, dup := in[kind]; dup && prev != nil && *prev != *v {
			return nil, oserr.BadRequest("Invalid input for quota %s: its two names were given different values.", k)
		}
		in[kind] = v
	}
	return in, nil
}

func (a *API) resetQuota(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.ResetQuota(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- providers

func (a *API) providers(w http.ResponseWriter, r *http.Request) error {
	var items []map[string]any
	for _, p := range svc.Providers() {
		items = append(items, map[string]any{"name": p.Name, "description": p.Description})
	}
	out := []any{}
	for _, it := range items {
		out = append(out, rest.Fields(it, r.URL.Query()["fields"]))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"providers": out})
	return nil
}

func caps(w http.ResponseWriter, r *http.Request, key string, cs []svc.Capability) error {
	if err := svc.CheckProvider(r.PathValue("provider")); err != nil {
		return err
	}
	out := []any{}
	for _, c := range cs {
		out = append(out, rest.Fields(map[string]any{"name": c.Name, "description": c.Description}, r.URL.Query()["fields"]))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{key: out})
	return nil
}

func (a *API) flavorCaps(w http.ResponseWriter, r *http.Request) error {
	return caps(w, r, "flavor_capabilities", svc.FlavorCapabilities)
}

func (a *API) zoneCaps(w http.ResponseWriter, r *http.Request) error {
	return caps(w, r, "availability_zone_capabilities", svc.ZoneCapabilities)
}

// ---- flavor profiles and flavors

func fpView(f svc.FlavorProfile) map[string]any {
	return map[string]any{"id": f.ID, "name": f.Name, "provider_name": f.ProviderName, "flavor_data": f.FlavorData}
}

type wireFlavorProfile struct {
	Name         *string `json:"name"`
	ProviderName *string `json:"provider_name"`
	FlavorData   *string `json:"flavor_data"`
}

func (a *API) listFlavorProfiles(w http.ResponseWriter, r *http.Request) error {
	fs, err := a.svc.FlavorProfiles(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := []map[string]any{}
	for _, f := range fs {
		items = append(items, fpView(f))
	}
	return a.opList(w, r, "flavorprofiles", items)
}

// opList lists operator objects (they have no created_at: sorted by name).
func (a *API) opList(w http.ResponseWriter, r *http.Request, key string, items []map[string]any) error {
	// Octavia's default order: by id (availability zones, which have
	// none, by name).
	q := r.URL.Query()
	if q.Get("sort") == "" && q.Get("sort_key") == "" && len(items) > 0 {
		if _, ok := items[0]["id"]; ok {
			q.Set("sort", "id:asc")
		} else {
			q.Set("sort", "name:asc")
		}
		r.URL.RawQuery = q.Encode()
	}
	return a.listView(w, r, key, items)
}

func (a *API) createFlavorProfile(w http.ResponseWriter, r *http.Request) error {
	var body wireFlavorProfile
	if err := decodeRoot(r, "flavorprofile", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, nil); err != nil {
		return err
	}
	f, err := a.svc.CreateFlavorProfile(r.Context(), creds(r), svc.FlavorProfileInput{Name: body.Name, ProviderName: body.ProviderName, FlavorData: body.FlavorData})
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"flavorprofile": fpView(f)})
	return nil
}

func (a *API) showFlavorProfile(w http.ResponseWriter, r *http.Request) error {
	f, err := a.svc.GetFlavorProfile(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavorprofile": rest.Fields(fpView(f), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateFlavorProfile(w http.ResponseWriter, r *http.Request) error {
	var body wireFlavorProfile
	if err := decodeRoot(r, "flavorprofile", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, nil); err != nil {
		return err
	}
	f, err := a.svc.UpdateFlavorProfile(r.Context(), creds(r), r.PathValue("id"), svc.FlavorProfileInput{Name: body.Name, ProviderName: body.ProviderName, FlavorData: body.FlavorData})
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavorprofile": fpView(f)})
	return nil
}

func (a *API) deleteFlavorProfile(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteFlavorProfile(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func flavorView(f svc.Flavor) map[string]any {
	return map[string]any{"id": f.ID, "name": f.Name, "description": f.Description, "enabled": f.Enabled, "flavor_profile_id": f.FlavorProfileID}
}

type wireFlavor struct {
	Name            *string `json:"name"`
	Description     *string `json:"description"`
	FlavorProfileID *string `json:"flavor_profile_id"`
	Enabled         *bool   `json:"enabled"`
}

func (a *API) listFlavors(w http.ResponseWriter, r *http.Request) error {
	fs, err := a.svc.Flavors(r.Context())
	if err != nil {
		return err
	}
	items := []map[string]any{}
	for _, f := range fs {
		items = append(items, flavorView(f))
	}
	return a.opList(w, r, "flavors", items)
}

func (a *API) createFlavor(w http.ResponseWriter, r *http.Request) error {
	var body wireFlavor
	if err := decodeRoot(r, "flavor", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, body.Description); err != nil {
		return err
	}
	f, err := a.svc.CreateFlavor(r.Context(), creds(r), svc.FlavorInput(body))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"flavor": flavorView(f)})
	return nil
}

func (a *API) showFlavor(w http.ResponseWriter, r *http.Request) error {
	f, err := a.svc.GetFlavor(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavor": rest.Fields(flavorView(f), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateFlavor(w http.ResponseWriter, r *http.Request) error {
	var body wireFlavor
	if err := decodeRoot(r, "flavor", &body); err != nil {
		return err
	}
	if body.FlavorProfileID != nil {
		return oserr.BadRequest("Unknown attribute for argument flavor: flavor_profile_id cannot be updated.")
	}
	if err := checkNames(body.Name, body.Description); err != nil {
		return err
	}
	f, err := a.svc.UpdateFlavor(r.Context(), creds(r), r.PathValue("id"), svc.FlavorInput(body))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"flavor": flavorView(f)})
	return nil
}

func (a *API) deleteFlavor(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteFlavor(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- availability zone profiles and zones

func zpView(z svc.ZoneProfile) map[string]any {
	return map[string]any{"id": z.ID, "name": z.Name, "provider_name": z.ProviderName, "availability_zone_data": z.ZoneData}
}

type wireZoneProfile struct {
	Name         *string `json:"name"`
	ProviderName *string `json:"provider_name"`
	ZoneData     *string `json:"availability_zone_data"`
}

func (a *API) listZoneProfiles(w http.ResponseWriter, r *http.Request) error {
	zs, err := a.svc.ZoneProfiles(r.Context(), creds(r))
	if err != nil {
		return err
	}
	items := []map[string]any{}
	for _, z := range zs {
		items = append(items, zpView(z))
	}
	return a.opList(w, r, "availability_zone_profiles", items)
}

func (a *API) createZoneProfile(w http.ResponseWriter, r *http.Request) error {
	var body wireZoneProfile
	if err := decodeRoot(r, "availability_zone_profile", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, nil); err != nil {
		return err
	}
	z, err := a.svc.CreateZoneProfile(r.Context(), creds(r), svc.ZoneProfileInput(body))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"availability_zone_profile": zpView(z)})
	return nil
}

func (a *API) showZoneProfile(w http.ResponseWriter, r *http.Request) error {
	z, err := a.svc.GetZoneProfile(r.Context(), creds(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availability_zone_profile": rest.Fields(zpView(z), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateZoneProfile(w http.ResponseWriter, r *http.Request) error {
	var body wireZoneProfile
	if err := decodeRoot(r, "availability_zone_profile", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, nil); err != nil {
		return err
	}
	z, err := a.svc.UpdateZoneProfile(r.Context(), creds(r), r.PathValue("id"), svc.ZoneProfileInput(body))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availability_zone_profile": zpView(z)})
	return nil
}

func (a *API) deleteZoneProfile(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteZoneProfile(r.Context(), creds(r), r.PathValue("id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func zoneView(z svc.Zone) map[string]any {
	return map[string]any{"name": z.Name, "description": z.Description, "enabled": z.Enabled, "availability_zone_profile_id": z.ProfileID}
}

type wireZone struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	ProfileID   *string `json:"availability_zone_profile_id"`
	Enabled     *bool   `json:"enabled"`
}

func (a *API) listZones(w http.ResponseWriter, r *http.Request) error {
	zs, err := a.svc.Zones(r.Context())
	if err != nil {
		return err
	}
	items := []map[string]any{}
	for _, z := range zs {
		items = append(items, zoneView(z))
	}
	return a.opList(w, r, "availability_zones", items)
}

func (a *API) createZone(w http.ResponseWriter, r *http.Request) error {
	var body wireZone
	if err := decodeRoot(r, "availability_zone", &body); err != nil {
		return err
	}
	if err := checkNames(body.Name, body.Description); err != nil {
		return err
	}
	z, err := a.svc.CreateZone(r.Context(), creds(r), svc.ZoneInput(body))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusCreated, map[string]any{"availability_zone": zoneView(z)})
	return nil
}

func (a *API) showZone(w http.ResponseWriter, r *http.Request) error {
	z, err := a.svc.GetZone(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availability_zone": rest.Fields(zoneView(z), r.URL.Query()["fields"])})
	return nil
}

func (a *API) updateZone(w http.ResponseWriter, r *http.Request) error {
	var body wireZone
	if err := decodeRoot(r, "availability_zone", &body); err != nil {
		return err
	}
	if body.Name != nil || body.ProfileID != nil {
		return oserr.BadRequest("Unknown attribute for argument availability_zone: name and availability_zone_profile_id cannot be updated.")
	}
	if err := checkNames(nil, body.Description); err != nil {
		return err
	}
	z, err := a.svc.UpdateZone(r.Context(), creds(r), r.PathValue("name"), svc.ZoneInput(body))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"availability_zone": zoneView(z)})
	return nil
}

func (a *API) deleteZone(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteZone(r.Context(), creds(r), r.PathValue("name")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- amphorae: onestack runs no amphora guests; each load balancer's
// HAProxy instance on its host is shown as one STANDALONE amphora, whose
// id is derived from the load balancer's.

var amphoraSpace = uuid.MustParse("6ba7b812-9dad-11d1-80b4-00c04fd430c8")

// amphoraID names the HAProxy instance of a load balancer: a new one
// after each failover, as Octavia replaces its amphora.
func amphoraID(lb *svc.LoadBalancer) string {
	name := "amphora:" + lb.ID
	if lb.Failovers > 0 {
		name += fmt.Sprintf(":%d", lb.Failovers)
	}
	return uuid.NewSHA1(amphoraSpace, []byte(name)).String()
}

func amphoraView(t *svc.Tree) map[string]any {
	status := "ALLOCATED"
	if t.LB.ProvisioningStatus == svc.Error {
		status = "ERROR"
	}
	return map[string]any{"id": amphoraID(t.LB), "loadbalancer_id": t.LB.ID, "compute_id": nil, "lb_network_ip": nil,
		// HAProxy binds the VIP port itself: it is both the VRRP and HA port.
		"vrrp_ip": nullable(t.LB.VIPAddress), "ha_ip": t.LB.VIPAddress, "vrrp_port_id": nullable(t.LB.VIPPortID), "ha_port_id": t.LB.VIPPortID, "cert_expiration": nil,
		"cert_busy": false, "role": "STANDALONE", "status": status, "vrrp_interface": nil, "vrrp_id": nil, "vrrp_priority": nil,
		"cached_zone": nil, "created_at": stamp(t.LB.CreatedAt), "updated_at": stamp(t.LB.UpdatedAt), "image_id": nil,
		"compute_flavor": nil, "host": nullable(t.LB.Host)}
}

func (a *API) amphoraTree(r *http.Request) (*svc.Tree, error) {
	trees, err := a.svc.Forest(r.Context(), creds(r), "")
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	for _, t := range trees {
		if amphoraID(t.LB) == id {
			return t, nil
		}
	}
	return nil, oserr.NotFound("Amphora %s not found.", id)
}

func (a *API) listAmphorae(w http.ResponseWriter, r *http.Request) error {
	trees, err := a.svc.Forest(r.Context(), creds(r), "")
	if err != nil {
		return err
	}
	items := []map[string]any{}
	for _, t := range trees {
		items = append(items, amphoraView(t))
	}
	return a.listView(w, r, "amphorae", items)
}

func (a *API) showAmphora(w http.ResponseWriter, r *http.Request) error {
	t, err := a.amphoraTree(r)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"amphora": rest.Fields(amphoraView(t), r.URL.Query()["fields"])})
	return nil
}

func (a *API) amphoraStats(w http.ResponseWriter, r *http.Request) error {
	t, err := a.amphoraTree(r)
	if err != nil {
		return err
	}
	out := []any{}
	for _, id := range childIDs(t, t.Listeners, func(*svc.Listener) bool { return true }) {
		s := t.LB.Stats[id]
		out = append(out, map[string]any{"id": amphoraID(t.LB), "loadbalancer_id": t.LB.ID, "listener_id": id,
			"bytes_in": s.BytesIn, "bytes_out": s.BytesOut, "active_connections": s.ActiveConnections,
			"total_connections": s.TotalConnections, "request_errors": s.RequestErrors})
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"amphora_stats": out})
	return nil
}

func (a *API) failoverAmphora(w http.ResponseWriter, r *http.Request) error {
	t, err := a.amphoraTree(r)
	if err != nil {
		return err
	}
	if err := a.svc.Failover(r.Context(), creds(r), t.LB.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// configAmphora re-applies the load balancer's configuration on its host
// (a failover onto the same host when it is the only one).
func (a *API) configAmphora(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.amphoraTree(r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
