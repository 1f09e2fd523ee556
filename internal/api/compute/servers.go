package compute

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	pagination "github.com/onestack/onestack/internal/page"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// Nova's time formats: resources use Z, usage and actions microseconds.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func usageTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000")
}

// hostID is Nova's opaque per-project host id: sha224(project + host).
func hostID(projectID, host string) string {
	if host == "" {
		return ""
	}
	h := sha256.Sum224([]byte(projectID + host))
	return hex.EncodeToString(h[:])
}

// serverView renders a server as GET /servers/{id} does at the request's
// microversion, with admin-only fields for admins.
func (a *API) serverView(r *http.Request, v store.Server, hostStatus string, addrs []svc.Address) map[string]any {
	c := auth.From(r.Context())
	isAdmin := c.IsAdmin()
	m := map[string]any{
		"id": v.ID, "name": v.Name, "status": svc.Status(v.VMState, v.TaskState),
		"tenant_id": v.ProjectID, "user_id": v.UserID, "metadata": v.Metadata,
		"hostId": hostID(v.ProjectID, v.Host), "created": ts(v.CreatedAt), "updated": ts(v.UpdatedAt),
		"addresses": addressesView(addrs), "accessIPv4": v.AccessIPv4, "accessIPv6": v.AccessIPv6,
		"links": a.links("servers/" + v.ID), "OS-DCF:diskConfig": diskConfigOf(v),
		"OS-EXT-AZ:availability_zone": v.Zone, "config_drive": configDrive(v.ConfigDrive),
		"key_name": nullable(v.KeyName), "OS-SRV-USG:launched_at": usageTS(v.LaunchedAt),
		"OS-SRV-USG:terminated_at": usageTS(v.TerminatedAt),
		"OS-EXT-STS:task_state":    nullable(v.TaskState), "OS-EXT-STS:vm_state": v.VMState,
		"OS-EXT-STS:power_state":               v.PowerState,
		"os-extended-volumes:volumes_attached": volumesAttached(r, v),
	}
	switch m["status"] {
	case "ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING":
		m["progress"] = v.Progress // Nova shows progress only while it means something
	}
	if v.ImageID != "" {
		m["image"] = map[string]any{"id": v.ImageID, "links": []any{map[string]any{"rel": "bookmark", "href": a.base + "/images/" + v.ImageID}}}
	} else {
		m["image"] = ""
	}
	if at(r, 47) {
		extra := v.Flavor.ExtraSpecs // shown to owners too, Nova's default policy
		if extra == nil {
			extra = map[string]string{}
		}
		m["flavor"] = map[string]any{"original_name": v.Flavor.Name, "vcpus": v.Flavor.VCPUs, "ram": v.Flavor.RAM,
			"disk": v.Flavor.Disk, "ephemeral": v.Flavor.Ephemeral, "swap": v.Flavor.Swap, "extra_specs": extra}
	} else {
		m["flavor"] = map[string]any{"id": v.Flavor.ID, "links": []any{map[string]any{"rel": "bookmark", "href": a.base + "/flavors/" + v.Flavor.ID}}}
	}
	if isAdmin {
		m["OS-EXT-SRV-ATTR:host"] = nullable(v.Host)
		m["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nullable(v.Host)
		m["OS-EXT-SRV-ATTR:instance_name"] = "instance-" + v.ID[:8]
		if at(r, 3) {
			m["OS-EXT-SRV-ATTR:reservation_id"] = v.ReservationID
			m["OS-EXT-SRV-ATTR:launch_index"] = v.LaunchIndex
			m["OS-EXT-SRV-ATTR:hostname"] = v.Hostname
			m["OS-EXT-SRV-ATTR:kernel_id"] = ""
			m["OS-EXT-SRV-ATTR:ramdisk_id"] = ""
			m["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda"
			m["OS-EXT-SRV-ATTR:user_data"] = nullable(v.UserData)
		}
	}
	if at(r, 9) {
		m["locked"] = v.Locked
	}
	if at(r, 16) && isAdmin && v.Host != "" { // admin-only by Nova's default policy
		m["host_status"] = hostStatus
	}
	if at(r, 19) {
		if v.Description != nil {
			m["description"] = *v.Description
		} else {
			m["description"] = nil
		}
	}
	if at(r, 26) {
		tags := v.Tags
		if tags == nil {
			tags = []string{}
		}
		m["tags"] = tags
	}
	if at(r, 63) {
		m["trusted_image_certificates"] = nil // no certificate validation of images
	}
	if at(r, 71) {
		groups := []string{}
		if v.GroupID != "" {
			groups = append(groups, v.GroupID)
		}
		m["server_groups"] = groups
	}
	if at(r, 73) {
		m["locked_reason"] = nullable(v.LockedReason)
	}
	if v.Fault != nil && (v.VMState == svc.VMError || v.VMState == svc.VMDeleted) {
		f := map[string]any{"code": v.Fault.Code, "message": v.Fault.Message, "created": ts(v.Fault.Created)}
		if isAdmin || v.Fault.Code != 500 {
			f["details"] = v.Fault.Details
		}
		m["fault"] = f
	}
	return m
}

func diskConfigOf(v store.Server) string {
	if v.DiskConfig == "" {
		return "MANUAL"
	}
	return v.DiskConfig
}

// diskConfigField validates OS-DCF:diskConfig: AUTO or MANUAL.
func diskConfigField(v *string) (string, error) {
	if v == nil {
		return "", nil
	}
	if *v != "AUTO" && *v != "MANUAL" {
		return "", oserr.BadRequest("Invalid input for field/attribute OS-DCF:diskConfig: %q is not one of 'AUTO', 'MANUAL'.", *v)
	}
	return *v, nil
}

// accessIP validates an accessIPv4/accessIPv6 value and returns it in
// canonical form ("" clears it).
func accessIP(field, v string, six bool) (string, error) {
	if v == "" {
		return "", nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Is6() != six || a.Zone() != "" {
		kind := "IPv4"
		if six {
			kind = "IPv6"
		}
		return "", oserr.BadRequest("Invalid input for field/attribute %s: %q is not a valid %s address.", field, v, kind)
	}
	return a.String(), nil
}

// checkMetadata applies Nova's schema: keys of 1 to 255 characters, values up to 255.
func checkMetadata(m map[string]string) error {
	for k, v := range m {
		if k == "" || utf8.RuneCountInString(k) > 255 || utf8.RuneCountInString(v) > 255 {
			return oserr.BadRequest("Invalid input for field/attribute metadata: keys are 1 to 255 characters and values at most 255 (key %.40q).", k)
		}
	}
	return nil
}

// updateView is the server in a PUT /servers/{id} or rebuild response:
// before 2.75 it lacks the extension attributes GET shows.
func (a *API) updateView(r *http.Request, v store.Server) map[string]any {
	m := a.serverView(r, v, "", a.addresses(r, []store.Server{v})[v.ID])
	if at(r, 75) {
		delete(m, "OS-EXT-SRV-ATTR:user_data") // Nova leaves it out of update and rebuild
		return m
	}
	for k := range m {
		if strings.HasPrefix(k, "OS-EXT-") || strings.HasPrefix(k, "OS-SRV-USG:") {
			delete(m, k)
		}
	}
	// Nor do its addresses have the OS-EXT-IPS attributes: addr and
	// version only.
	if nets, ok := m["addresses"].(map[string]any); ok {
		for name, list := range nets {
			items, _ := list.([]any)
			basic := make([]any, 0, len(items))
			for _, it := range items {
				if a, ok := it.(map[string]any); ok {
					basic = append(basic, map[string]any{"version": a["version"], "addr": a["addr"]})
				}
			}
			nets[name] = basic
		}
	}
	for _, k := range []string{"config_drive", "key_name", "os-extended-volumes:volumes_attached", "host_status", "fault"} {
		delete(m, k)
	}
	return m
}

func configDrive(b bool) string {
	if b {
		return "True"
	}
	return ""
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// hostStatus is Nova's host_status: UP, DOWN, MAINTENANCE (disabled) or UNKNOWN.
func (a *API) hostStatus(r *http.Request, hosts map[string]store.ComputeHost, host string) string {
	h, ok := hosts[host]
	switch {
	case host == "":
		return ""
	case !ok:
		return "UNKNOWN"
	case !a.svc.HostUp(h):
		return "DOWN"
	case !h.Enabled:
		return "MAINTENANCE"
	}
	return "UP"
}

// hostMap reads the hosts of a page of servers, for host_status (admins,
// 2.16 and later): the page's hosts only, so a page costs the same with
// 100 or 10,000 hosts.
func (a *API) hostMap(r *http.Request, servers []store.Server) map[string]store.ComputeHost {
	if !at(r, 16) || !auth.From(r.Context()).IsAdmin() {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, v := range servers {
		if v.Host != "" && !seen[v.Host] {
			seen[v.Host] = true
			names = append(names, v.Host)
		}
	}
	hs, err := a.svc.HostsNamed(r.Context(), names)
	if err != nil {
		return nil
	}
	m := make(map[string]store.ComputeHost, len(hs))
	for _, h := range hs {
		m[h.Host] = h
	}
	return m
}

func (a *API) showServer(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	hosts := map[string]store.ComputeHost{}
	if at(r, 16) && auth.From(r.Context()).IsAdmin() && v.Host != "" {
		// One host, not the fleet: show stays flat at 10,000 hosts.
		if h, err := a.svc.HostByName(r.Context(), v.Host); err == nil {
			hosts[h.Host] = h
		}
	}
	addrs := a.addresses(r, []store.Server{v})
	rest.WriteJSON(w, http.StatusOK, map[string]any{"server": a.serverView(r, v, a.hostStatus(r, hosts, v.Host), addrs[v.ID])})
	return nil
}

// ---- create

type createBody struct {
	Server *struct {
		Name             *string           `json:"name"`
		Description      *string           `json:"description"`
		ImageRef         *string           `json:"imageRef"`
		FlavorRef        any               `json:"flavorRef"`
		Networks         json.RawMessage   `json:"networks"`
		KeyName          *string           `json:"key_name"`
		UserData         *string           `json:"user_data"`
		Metadata         map[string]string `json:"metadata"`
		AvailabilityZone *string           `json:"availability_zone"`
		Host             *string           `json:"host"`
		MinCount         any               `json:"min_count"`
		MaxCount         any               `json:"max_count"`
		ReturnResID      any               `json:"return_reservation_id"`
		Tags             []string          `json:"tags"`
		ConfigDrive      any               `json:"config_drive"`
		AccessIPv4       *string           `json:"accessIPv4"`
		AccessIPv6       *string           `json:"accessIPv6"`
		AdminPass        *string           `json:"adminPass"`
		SecurityGroups   []map[string]any  `json:"security_groups"`
		BDMv2            []map[string]any  `json:"block_device_mapping_v2"`
		Personality      []map[string]any  `json:"personality"`
		DiskConfig       *string           `json:"OS-DCF:diskConfig"`
	} `json:"server"`
	Hints  map[string]any `json:"os:scheduler_hints"`
	Hints2 map[string]any `json:"OS-SCH-HNT:scheduler_hints"`
}

// intField reads Nova's integer-or-numeric-string fields.
func intField(v any, name string, def int) (int, error) {
	switch x := v.(type) {
	case nil:
		return def, nil
	case float64:
		if x == float64(int(x)) && x >= 1 {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil && n >= 1 {
			return n, nil
		}
	}
	return 0, oserr.BadRequest("Invalid input for field/attribute %s: %v is not an integer ≥ 1.", name, v)
}

func boolField(v any, name string) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off", "":
			return false, nil
		}
	}
	return false, oserr.BadRequest("Invalid input for field/attribute %s: %v is not a boolean.", name, v)
}

func (a *API) createServer(w http.ResponseWriter, r *http.Request) error {
	var b createBody
	if err := rest.Decode(r, &b, false); err != nil {
		return err
	}
	s := b.Server
	if s == nil {
		return oserr.BadRequest("The request body needs a \"server\" object.")
	}
	c := auth.From(r.Context())
	req := svc.CreateRequest{Metadata: s.Metadata, Tags: s.Tags}
	if s.Name == nil {
		return oserr.BadRequest("Invalid input for field/attribute server: 'name' is a required property.")
	}
	req.Name = *s.Name
	if s.Description != nil {
		if !at(r, 19) {
			return oserr.BadRequest("Invalid input for field/attribute server: description needs microversion 2.19 or later.")
		}
		req.Description = s.Description
	}
	if s.ImageRef != nil && (*s.ImageRef != "" || len(s.BDMv2) == 0) { // "" with a root volume: boot from volume
		ref := *s.ImageRef
		if i := strings.LastIndex(ref, "/"); i >= 0 {
			ref = ref[i+1:]
		}
		if _, err := uuid.Parse(ref); err != nil {
			return oserr.BadRequest("Invalid imageRef provided: %q is not an image id.", *s.ImageRef)
		}
		req.ImageRef = ref
	}
	switch f := s.FlavorRef.(type) {
	case string:
		req.FlavorRef = f
	case float64:
		req.FlavorRef = strconv.Itoa(int(f))
	default:
		return oserr.BadRequest("Invalid input for field/attribute server: 'flavorRef' is a required property.")
	}
	if len(s.BDMv2) > 0 {
		bds, err := decodeBlockDevices(s.BDMv2, mv(r).Minor)
		if err != nil {
			return err
		}
		req.BlockDevices = bds
	}
	if s.Personality != nil && at(r, 57) {
		return oserr.BadRequest("Invalid input for field/attribute server: personality was removed in microversion 2.57; use user_data.")
	}
	if len(s.Personality) > 0 {
		return oserr.BadRequest("Personality files are not supported; pass files with user_data or a config drive.")
	}
	if len(s.SecurityGroups) > 0 {
		for _, sg := range s.SecurityGroups {
			if sg["name"] != "default" {
				return oserr.BadRequest("Security group %q cannot be given at boot yet: servers boot in the default group; add others to the server's port afterwards (openstack port set --security-group).", sg["name"])
			}
		}
	}
	// networks: before 2.37 optional (absent = all available = none here);
	// from 2.37 required, "auto" or "none" or a list.
	switch raw := strings.TrimSpace(string(s.Networks)); {
	case raw == "" || raw == "null":
		if at(r, 37) {
			return oserr.BadRequest("Invalid input for field/attribute server: 'networks' is a required property (microversion 2.37+); use \"none\" or \"auto\".")
		}
		req.Networks = svc.NetworksUnset
	case raw == `"auto"`:
		if !at(r, 37) {
			return oserr.BadRequest("networks \"auto\" needs microversion 2.37 or later.")
		}
		req.Networks = svc.NetworksAuto
	case raw == `"none"`:
		if !at(r, 37) {
			return oserr.BadRequest("networks \"none\" needs microversion 2.37 or later.")
		}
		req.Networks = svc.NetworksNone
	case strings.HasPrefix(raw, "["):
		nets, err := networkRequests(s.Networks)
		if err != nil {
			return err
		}
		req.Networks, req.NetworkRequests = svc.NetworksList, nets
		if len(nets) == 0 {
			req.Networks = svc.NetworksUnset
		}
	default:
		return oserr.BadRequest("Invalid input for field/attribute networks: use \"auto\", \"none\" or a list.")
	}
	if s.KeyName != nil {
		req.KeyName = *s.KeyName
	}
	dc, err := diskConfigField(s.DiskConfig)
	if err != nil {
		return err
	}
	req.DiskConfig = dc
	if s.UserData != nil {
		if _, err := base64.StdEncoding.DecodeString(*s.UserData); err != nil {
			return oserr.BadRequest("Invalid input for field/attribute user_data: it must be base64-encoded.")
		}
		if len(*s.UserData) > 65535 {
			return oserr.BadRequest("Invalid input for field/attribute user_data: at most 65535 bytes (base64) are allowed.")
		}
		req.UserData = *s.UserData
	}
	if s.AvailabilityZone != nil {
		req.Zone = *s.AvailabilityZone
	}
	if s.Host != nil {
		if !at(r, 74) {
			return oserr.BadRequest("Invalid input for field/attribute server: host needs microversion 2.74 or later.")
		}
		req.Host = *s.Host
	}
	if req.MinCount, err = intField(s.MinCount, "min_count", 1); err != nil {
		return err
	}
	if req.MaxCount, err = intField(s.MaxCount, "max_count", req.MinCount); err != nil {
		return err
	}
	if req.MaxCount < req.MinCount {
		return oserr.BadRequest("min_count (%d) must be <= max_count (%d).", req.MinCount, req.MaxCount)
	}
	if len(req.Tags) > 0 && !at(r, 52) {
		return oserr.BadRequest("Invalid input for field/attribute server: tags at create need microversion 2.52 or later.")
	}
	if req.ConfigDrive, err = boolField(s.ConfigDrive, "config_drive"); err != nil {
		return err
	}
	returnRes, err := boolField(s.ReturnResID, "return_reservation_id")
	if err != nil {
		return err
	}
	if s.AccessIPv4 != nil {
		if req.AccessIPv4, err = accessIP("accessIPv4", *s.AccessIPv4, false); err != nil {
			return err
		}
	}
	if s.AccessIPv6 != nil {
		if req.AccessIPv6, err = accessIP("accessIPv6", *s.AccessIPv6, true); err != nil {
			return err
		}
	}
	if err := checkMetadata(req.Metadata); err != nil {
		return err
	}
	hints := b.Hints
	if hints == nil {
		hints = b.Hints2
	}
	if g, ok := hints["group"].(string); ok {
		req.GroupID = g
	}
	servers, err := a.svc.Create(r.Context(), c, req)
	if err != nil {
		return err
	}
	if returnRes || len(servers) > 1 && returnRes {
		rest.WriteJSON(w, http.StatusAccepted, map[string]any{"reservation_id": servers[0].ReservationID})
		return nil
	}
	v := servers[0]
	pass := ""
	if s.AdminPass != nil {
		pass = *s.AdminPass
	} else {
		pass = randomPassword()
	}
	w.Header().Set("Location", a.base+"/v2.1/servers/"+v.ID)
	rest.WriteJSON(w, http.StatusAccepted, map[string]any{"server": map[string]any{
		"id": v.ID, "links": a.links("servers/" + v.ID), "OS-DCF:diskConfig": diskConfigOf(v),
		"security_groups": []any{map[string]any{"name": "default"}}, "adminPass": pass,
	}})
	return nil
}

func randomPassword() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ---- list

func (a *API) listServers(w http.ResponseWriter, r *http.Request) error {
	return a.list(w, r, false)
}

func (a *API) listServersDetail(w http.ResponseWriter, r *http.Request) error {
	return a.list(w, r, true)
}

func (a *API) list(w http.ResponseWriter, r *http.Request, detail bool) error {
	c := auth.From(r.Context())
	q := r.URL.Query()
	req := svc.ListRequest{NameRegex: q.Get("name"), IPRegex: q.Get("ip"), IP6Regex: q.Get("ip6")}
	f := &req.Filter
	isAdmin := c.IsAdmin()
	if v := q.Get("all_tenants"); isAdmin && q.Has("all_tenants") && v != "0" && !strings.EqualFold(v, "false") {
		req.AllProjects = true
	}
	if isAdmin {
		// As Nova: project_id/tenant_id filter only with all_tenants;
		// without it an admin lists their own project.
		if req.AllProjects {
			f.ProjectID = q.Get("project_id")
			if f.ProjectID == "" {
				f.ProjectID = q.Get("tenant_id")
			}
		}
		f.Host = q.Get("host")
	}
	f.UserID = q.Get("user_id")
	f.ImageID = q.Get("image")
	f.FlavorID = q.Get("flavor")
	f.Zone = q.Get("availability_zone")
	f.ReservationID = q.Get("reservation_id")
	if st := q.Get("status"); st != "" {
		f.VMStates = svc.StatusVMStates(strings.ToUpper(st))
		if f.VMStates == nil {
			if at(r, 38) {
				return oserr.BadRequest("Invalid status value %q; use ACTIVE, BUILD, SHUTOFF, ERROR, …", st)
			}
			f.VMStates = []string{} // Nova before 2.38: an unknown status matches nothing
		}
		if strings.EqualFold(st, "DELETED") {
			if !isAdmin {
				f.VMStates = []string{}
			}
			f.IncludeDeleted = true
		}
	}
	if v := q.Get("deleted"); isAdmin && (v == "true" || v == "True" || v == "1") {
		f.OnlyDeleted = true
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"changes-since", &f.ChangesSince}, {"changes-before", &f.ChangesBefore}} {
		if v := q.Get(p.name); v != "" {
			if p.name == "changes-before" && !at(r, 66) {
				continue
			}
			t, err := parseTime(v)
			if err != nil {
				return oserr.BadRequest("Invalid filter %s=%s: give an ISO 8601 time.", p.name, v)
			}
			*p.dst = &t
		}
	}
	if f.ChangesSince != nil && f.ChangesBefore != nil && f.ChangesSince.After(*f.ChangesBefore) {
		return oserr.BadRequest("The value of changes-since must be earlier than or equal to changes-before.")
	}
	if f.ChangesSince != nil && !f.OnlyDeleted {
		f.IncludeDeleted = true // Nova lists deleted servers changed since then
	}
	if v := q.Get("locked"); v != "" && at(r, 73) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return oserr.BadRequest("Invalid filter locked=%s: use true or false.", v)
		}
		f.Locked = &b
	}
	if k := q.Get("sort_key"); k != "" {
		if !svc.ServerSortKey(k) {
			return oserr.BadRequest("Invalid sort_key %q.", k)
		}
		f.SortKey = k
	}
	f.Desc = q.Get("sort_dir") != "asc"
	limit, err := rest.Limit(q, rest.Limits{Max: maxLimit})
	if err != nil {
		return err
	}
	f.Page = pagination.Request{Limit: limit, Marker: q.Get("marker")}
	req.Tags = rest.Tags(q)
	var servers []store.Server
	if limit > 0 { // limit=0 is an empty page, as Nova
		var err error
		if servers, err = a.svc.List(r.Context(), c, req); err != nil {
			return err
		}
	}
	hosts := map[string]store.ComputeHost{}
	var addrs map[string][]svc.Address
	if detail {
		hosts = a.hostMap(r, servers)
		addrs = a.addresses(r, servers)
	}
	items := make([]any, 0, len(servers))
	for _, v := range servers {
		if detail {
			items = append(items, a.serverView(r, v, a.hostStatus(r, hosts, v.Host), addrs[v.ID]))
		} else {
			items = append(items, map[string]any{"id": v.ID, "name": v.Name, "links": a.links("servers/" + v.ID)})
		}
	}
	body := map[string]any{"servers": items}
	if len(servers) > 0 {
		path := "servers"
		if detail {
			path = "servers/detail"
		}
		if links := a.nextLinks(r, path, len(servers), limit, servers[len(servers)-1].ID); links != nil {
			body["servers_links"] = links
		}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

func parseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time")
}

// ---- update, delete

func (a *API) updateServer(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Server map[string]json.RawMessage `json:"server"`
	}
	if err := rest.Decode(r, &b, false); err != nil {
		return err
	}
	if b.Server == nil {
		return oserr.BadRequest("The request body needs a \"server\" object.")
	}
	var u svc.ServerUpdate
	for k, raw := range b.Server {
		switch k {
		case "name", "accessIPv4", "accessIPv6":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return oserr.BadRequest("Invalid input for field/attribute %s: expected a string.", k)
			}
			switch k {
			case "name":
				u.Name = &s
			case "accessIPv4", "accessIPv6":
				ip, err := accessIP(k, s, k == "accessIPv6")
				if err != nil {
					return err
				}
				if k == "accessIPv4" {
					u.AccessIPv4 = &ip
				} else {
					u.AccessIPv6 = &ip
				}
			}
		case "description":
			if !at(r, 19) {
				return oserr.BadRequest("Invalid input for field/attribute server: description needs microversion 2.19 or later.")
			}
			var s *string
			if err := json.Unmarshal(raw, &s); err != nil {
				return oserr.BadRequest("Invalid input for field/attribute description: expected a string or null.")
			}
			u.Description = &s
		case "OS-DCF:diskConfig":
			var d *string
			if err := json.Unmarshal(raw, &d); err != nil || d == nil {
				return oserr.BadRequest("Invalid input for field/attribute OS-DCF:diskConfig: expected AUTO or MANUAL.")
			}
			dc, err := diskConfigField(d)
			if err != nil {
				return err
			}
			u.DiskConfig = &dc
		default:
			return oserr.BadRequest("Invalid input for field/attribute server: additional property %q is not allowed.", k)
		}
	}
	v, err := a.svc.Update(r.Context(), auth.From(r.Context()), r.PathValue("id"), u)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"server": a.updateView(r, v)})
	return nil
}

func (a *API) deleteServer(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.Delete(r.Context(), auth.From(r.Context()), r.PathValue("id"), false); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- metadata

func (a *API) metaBody(r *http.Request, key string) (map[string]string, error) {
	var b map[string]map[string]any
	if err := rest.Decode(r, &b, false); err != nil {
		return nil, err
	}
	m, ok := b[key]
	if !ok {
		return nil, oserr.BadRequest("The request body needs a %q object.", key)
	}
	out := map[string]string{}
	for k, v := range m {
		s, ok := v.(string)
		if !ok || k == "" || len(k) > 255 || len(s) > 255 {
			return nil, oserr.BadRequest("Invalid metadata %q: keys and values are strings of 1 to 255 characters.", k)
		}
		out[k] = s
	}
	return out, nil
}

func (a *API) writeMeta(w http.ResponseWriter, v store.Server) error {
	rest.WriteJSON(w, http.StatusOK, map[string]any{"metadata": v.Metadata})
	return nil
}

func (a *API) listMetadata(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeMeta(w, v)
}

func (a *API) mergeMetadata(w http.ResponseWriter, r *http.Request) error {
	m, err := a.metaBody(r, "metadata")
	if err != nil {
		return err
	}
	v, err := a.svc.SetMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), m, false, "")
	if err != nil {
		return err
	}
	return a.writeMeta(w, v)
}

func (a *API) replaceMetadata(w http.ResponseWriter, r *http.Request) error {
	m, err := a.metaBody(r, "metadata")
	if err != nil {
		return err
	}
	v, err := a.svc.SetMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), m, true, "")
	if err != nil {
		return err
	}
	return a.writeMeta(w, v)
}

func (a *API) showMetadataItem(w http.ResponseWriter, r *http.Request) error {
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	val, ok := v.Metadata[key]
	if !ok {
		return oserr.NotFound("Metadata item %s was not found.", key)
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{key: val}})
	return nil
}

func (a *API) setMetadataItem(w http.ResponseWriter, r *http.Request) error {
	m, err := a.metaBody(r, "meta")
	if err != nil {
		return err
	}
	key := r.PathValue("key")
	if _, ok := m[key]; !ok || len(m) != 1 {
		return oserr.BadRequest("The body must set exactly the item named in the URL (%s).", key)
	}
	if _, err := a.svc.SetMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), m, false, ""); err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"meta": m})
	return nil
}

func (a *API) deleteMetadataItem(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.svc.SetMetadata(r.Context(), auth.From(r.Context()), r.PathValue("id"), nil, false, r.PathValue("key")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

// ---- tags (2.26)

func needs(r *http.Request, minor int, what string) error {
	if !at(r, minor) {
		return oserr.NotFound("%s needs microversion 2.%d or later.", what, minor)
	}
	return nil
}

func (a *API) listTags(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 26, "Server tags"); err != nil {
		return err
	}
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	tags := v.Tags
	sort.Strings(tags)
	rest.WriteJSON(w, http.StatusOK, map[string]any{"tags": tags})
	return nil
}

func checkTagName(t string) error {
	if t == "" || len(t) > 60 || strings.ContainsAny(t, "/,") {
		return oserr.BadRequest("Invalid tag %q: tags are 1 to 60 characters without '/' or ','.", t)
	}
	return nil
}

func (a *API) replaceTags(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 26, "Server tags"); err != nil {
		return err
	}
	var b struct {
		Tags []string `json:"tags"`
	}
	if err := rest.Decode(r, &b, true); err != nil {
		return err
	}
	for _, t := range b.Tags {
		if err := checkTagName(t); err != nil {
			return err
		}
	}
	v, err := a.svc.SetTags(r.Context(), auth.From(r.Context()), r.PathValue("id"), b.Tags, "", "")
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"tags": v.Tags})
	return nil
}

func (a *API) deleteTags(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 26, "Server tags"); err != nil {
		return err
	}
	if _, err := a.svc.SetTags(r.Context(), auth.From(r.Context()), r.PathValue("id"), []string{}, "", ""); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}

func (a *API) checkTag(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 26, "Server tags"); err != nil {
		return err
	}
	v, err := a.svc.Get(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	for _, t := range v.Tags {
		if t == r.PathValue("tag") {
			rest.NoContent(w)
			return nil
		}
	}
	return oserr.NotFound("Tag %s was not found on server %s.", r.PathValue("tag"), v.ID)
}

func (a *API) addTag(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 26, "Server tags"); err != nil {
		return err
	}
	tag := r.PathValue("tag")
	if err := checkTagName(tag); err != nil {
		return err
	}
	v, err := a.svc.SetTags(r.Context(), auth.From(r.Context()), r.PathValue("id"), nil, tag, "")
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.base+"/v2.1/servers/"+v.ID+"/tags/"+tag)
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (a *API) deleteTag(w http.ResponseWriter, r *http.Request) error {
	if err := needs(r, 26, "Server tags"); err != nil {
		return err
	}
	if _, err := a.svc.SetTags(r.Context(), auth.From(r.Context()), r.PathValue("id"), nil, "", r.PathValue("tag")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
