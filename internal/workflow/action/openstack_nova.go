package action

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"

	"github.com/onestack/onestack/internal/exprvalue"
)

// serverAction posts a server action ({"reboot": {...}}) to
// /servers/{server}/action.
func serverAction(name, sig string, body func(in map[string]any) any) osAction {
	return osAction{name, "compute", sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/servers/{server}/action", in)
		if err != nil {
			return nil, err
		}
		v, _, err := c.do(ctx, "POST", p, nil, body(in), nil)
		return v, err
	}}
}

// novaServerCreate builds a server create as novaclient does: image and
// flavor by id (or object), meta, userdata base64-encoded, security groups
// by name, nics as networks (net-id, port-id, v4-fixed-ip; "auto" or
// "none" with microversion 2.37), scheduler hints beside the server.
func novaServerCreate(ctx context.Context, c *osClient, in map[string]any) (any, error) {
	s := map[string]any{"name": in["name"], "imageRef": idOf(in["image"]), "flavorRef": idOf(in["flavor"])}
	if in["flavor"] == nil {
		return nil, fmt.Errorf("flavor is required")
	}
	ren := map[string]string{"meta": "metadata", "key_name": "key_name", "availability_zone": "availability_zone", "min_count": "min_count",
		"max_count": "max_count", "block_device_mapping_v2": "block_device_mapping_v2", "config_drive": "config_drive",
		"admin_pass": "adminPass", "access_ip_v4": "accessIPv4", "access_ip_v6": "accessIPv6", "hostname": "hostname",
		"disk_config": "OS-DCF:diskConfig", "description": "description", "tags": "tags"}
	for k, n := range ren {
		if v, ok := in[k]; ok && v != nil {
			s[n] = v
		}
	}
	if ud, ok := in["userdata"].(string); ok && ud != "" {
		s["user_data"] = base64.StdEncoding.EncodeToString([]byte(ud))
	}
	if sgs, ok := in["security_groups"].([]any); ok {
		var l []any
		for _, g := range sgs {
			l = append(l, map[string]any{"name": idOf(g)})
		}
		s["security_groups"] = l
	}
	hdr := map[string]string{}
	switch n := in["nics"].(type) {
	case string:
		s["networks"] = n
		hdr["X-OpenStack-Nova-API-Version"] = "2.37"
	case []any:
		var nets []any
		for _, x := range n {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("nics must list mappings with net-id, port-id or v4-fixed-ip")
			}
			net := map[string]any{}
			if v := idOf(m["net-id"]); v != "" {
				net["uuid"] = v
			}
			if v := idOf(m["port-id"]); v != "" {
				net["port"] = v
			}
			if v, ok := m["v4-fixed-ip"]; ok && v != nil {
				net["fixed_ip"] = v
			}
			if v, ok := m["v6-fixed-ip"]; ok && v != nil {
				net["fixed_ip"] = v
			}
			nets = append(nets, net)
		}
		s["networks"] = nets
	}
	if in["block_device_mapping_v2"] != nil && s["imageRef"] == "" {
		delete(s, "imageRef")
	}
	body := map[string]any{"server": s}
	if h, ok := in["scheduler_hints"].(map[string]any); ok {
		body["os:scheduler_hints"] = h
	}
	v, _, err := c.do(ctx, "POST", "/servers", nil, body, hdr)
	return field(v, "server"), err
}

func novaFind(ctx context.Context, c *osClient, in map[string]any) (any, error) {
	q := url.Values{}
	if n, ok := in["name"].(string); ok {
		q.Set("name", "^"+regexpQuote(n)+"$")
	}
	v, _, err := c.do(ctx, "GET", "/servers/detail", q, nil, nil)
	if err != nil {
		return nil, err
	}
	items, _ := field(v, "servers").([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		match := true
		for k, want := range in {
			if exprvalue.Str(m[k]) != exprvalue.Str(want) {
				match = false
				break
			}
		}
		if match {
			return m, nil
		}
	}
	return nil, fmt.Errorf("No Server matching %s.", exprvalue.Str(in))
}

func regexpQuote(s string) string {
	var out []rune
	for _, r := range s {
		switch r {
		case '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '^', '$', '\\':
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

var novaActions = []osAction{
	{"nova.servers_create", "compute", "name, image, flavor, meta=null, files=null, reservation_id=false, min_count=null, max_count=null, security_groups=null, userdata=null, key_name=null, availability_zone=null, block_device_mapping=null, block_device_mapping_v2=null, nics=null, scheduler_hints=null, config_drive=null, disk_config=null, admin_pass=null, access_ip_v4=null, access_ip_v6=null, trusted_image_certificates=null, host=null, hypervisor_hostname=null, hostname=null, **kwargs", novaServerCreate},
	get("nova.servers_get", "compute", "server", "/servers/{server}", "server"),
	del("nova.servers_delete", "compute", "server", "/servers/{server}"),
	list("nova.servers_list", "compute", "detailed=true, search_opts=null, marker=null, limit=null, sort_keys=null, sort_dirs=null", "/servers/detail", "servers"),
	{"nova.servers_find", "compute", "**kwargs", novaFind},
	serverAction("nova.servers_reboot", "server, reboot_type=\"SOFT\"", func(in map[string]any) any {
		return map[string]any{"reboot": map[string]any{"type": in["reboot_type"]}}
	}),
	serverAction("nova.servers_start", "server", func(map[string]any) any { return map[string]any{"os-start": nil} }),
	serverAction("nova.servers_stop", "server", func(map[string]any) any { return map[string]any{"os-stop": nil} }),
	serverAction("nova.servers_pause", "server", func(map[string]any) any { return map[string]any{"pause": nil} }),
	serverAction("nova.servers_unpause", "server", func(map[string]any) any { return map[string]any{"unpause": nil} }),
	serverAction("nova.servers_suspend", "server", func(map[string]any) any { return map[string]any{"suspend": nil} }),
	serverAction("nova.servers_resume", "server", func(map[string]any) any { return map[string]any{"resume": nil} }),
	serverAction("nova.servers_lock", "server, reason=null", func(in map[string]any) any { return map[string]any{"lock": nil} }),
	serverAction("nova.servers_unlock", "server", func(map[string]any) any { return map[string]any{"unlock": nil} }),
	serverAction("nova.servers_shelve", "server", func(map[string]any) any { return map[string]any{"shelve": nil} }),
	serverAction("nova.servers_unshelve", "server, availability_zone=null, host=null", func(map[string]any) any { return map[string]any{"unshelve": nil} }),
	serverAction("nova.servers_resize", "server, flavor, disk_config=null, **kwargs", func(in map[string]any) any {
		return map[string]any{"resize": map[string]any{"flavorRef": idOf(in["flavor"])}}
	}),
	serverAction("nova.servers_confirm_resize", "server", func(map[string]any) any { return map[string]any{"confirmResize": nil} }),
	serverAction("nova.servers_revert_resize", "server", func(map[string]any) any { return map[string]any{"revertResize": nil} }),
	serverAction("nova.servers_add_security_group", "server, security_group", func(in map[string]any) any {
		return map[string]any{"addSecurityGroup": map[string]any{"name": idOf(in["security_group"])}}
	}),
	serverAction("nova.servers_remove_security_group", "server, security_group", func(in map[string]any) any {
		return map[string]any{"removeSecurityGroup": map[string]any{"name": idOf(in["security_group"])}}
	}),
	serverAction("nova.servers_rebuild", "server, image, password=null, disk_config=null, preserve_ephemeral=false, name=null, meta=null, files=null, **kwargs", func(in map[string]any) any {
		r := map[string]any{"imageRef": idOf(in["image"])}
		if in["name"] != nil {
			r["name"] = in["name"]
		}
		if in["password"] != nil {
			r["adminPass"] = in["password"]
		}
		if in["meta"] != nil {
			r["metadata"] = in["meta"]
		}
		return map[string]any{"rebuild": r}
	}),
	{"nova.servers_get_console_output", "compute", "server, length=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/servers/{server}/action", in)
		if err != nil {
			return nil, err
		}
		v, _, err := c.do(ctx, "POST", p, nil, map[string]any{"os-getConsoleOutput": map[string]any{"length": in["length"]}}, nil)
		return field(v, "output"), err
	}},
	{"nova.servers_create_image", "compute", "server, image_name, metadata=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/servers/{server}/action", in)
		if err != nil {
			return nil, err
		}
		body := map[string]any{"createImage": map[string]any{"name": in["image_name"], "metadata": orEmpty(in["metadata"])}}
		v, _, err := c.do(ctx, "POST", p, nil, body, map[string]string{"X-OpenStack-Nova-API-Version": "2.45"})
		return field(v, "image_id"), err
	}},
	send("nova.servers_update", "compute", "server, name=null, description=null, hostname=null", "PUT", "/servers/{server}", "server",
		wrap("server", []string{"name", "description", "hostname"}, nil)),
	send("nova.servers_set_meta", "compute", "server, metadata", "POST", "/servers/{server}/metadata", "metadata",
		wrap("", []string{"metadata"}, nil)),
	{"nova.servers_delete_meta", "compute", "server, keys", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		keys, _ := in["keys"].([]any)
		for _, k := range keys {
			p, err := path("/servers/{server}/metadata/", in)
			if err != nil {
				return nil, err
			}
			if _, _, err := c.do(ctx, "DELETE", p+url.PathEscape(exprvalue.Str(k)), nil, nil, nil); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}},
	get("nova.servers_interface_list", "compute", "server", "/servers/{server}/os-interface", "interfaceAttachments"),
	send("nova.servers_interface_attach", "compute", "server, port_id, net_id, fixed_ip, tag=null", "POST", "/servers/{server}/os-interface", "interfaceAttachment",
		func(in map[string]any) (any, error) {
			a := map[string]any{}
			if v := idOf(in["port_id"]); v != "" {
				a["port_id"] = v
			}
			if v := idOf(in["net_id"]); v != "" {
				a["net_id"] = v
			}
			if in["fixed_ip"] != nil {
				a["fixed_ips"] = []any{map[string]any{"ip_address": in["fixed_ip"]}}
			}
			return map[string]any{"interfaceAttachment": a}, nil
		}),
	del("nova.servers_interface_detach", "compute", "server, port_id", "/servers/{server}/os-interface/{port_id}"),
	send("nova.volumes_create_server_volume", "compute", "server_id, volume_id, device=null, tag=null, delete_on_termination=false", "POST",
		"/servers/{server_id}/os-volume_attachments", "volumeAttachment", func(in map[string]any) (any, error) {
			a := map[string]any{"volumeId": idOf(in["volume_id"])}
			if in["device"] != nil {
				a["device"] = in["device"]
			}
			return map[string]any{"volumeAttachment": a}, nil
		}),
	{"nova.volumes_delete_server_volume", "compute", "server_id, volume_id=null, attachment_id=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		vol := idOf(in["volume_id"])
		if vol == "" {
			vol = idOf(in["attachment_id"])
		}
		if vol == "" {
			return nil, fmt.Errorf("volume_id is required")
		}
		p, err := path("/servers/{server_id}/os-volume_attachments/", in)
		if err != nil {
			return nil, err
		}
		_, _, err = c.do(ctx, "DELETE", p+url.PathEscape(vol), nil, nil, nil)
		return nil, err
	}},
	get("nova.volumes_get_server_volumes", "compute", "server_id", "/servers/{server_id}/os-volume_attachments", "volumeAttachments"),
	list("nova.flavors_list", "compute", "detailed=true, is_public=true, marker=null, min_disk=null, min_ram=null, limit=null, sort_key=null, sort_dir=null", "/flavors/detail", "flavors"),
	get("nova.flavors_get", "compute", "flavor", "/flavors/{flavor}", "flavor"),
	find("nova.flavors_find", "compute", "**kwargs", "/flavors/detail", "flavors"),
	del("nova.flavors_delete", "compute", "flavor", "/flavors/{flavor}"),
	send("nova.flavors_create", "compute", "name, ram, vcpus, disk, flavorid=\"auto\", ephemeral=0, swap=0, rxtx_factor=1.0, is_public=true, description=null",
		"POST", "/flavors", "flavor", func(in map[string]any) (any, error) {
			f := map[string]any{"name": in["name"], "ram": in["ram"], "vcpus": in["vcpus"], "disk": in["disk"],
				"OS-FLV-EXT-DATA:ephemeral": in["ephemeral"], "swap": in["swap"], "rxtx_factor": in["rxtx_factor"],
				"os-flavor-access:is_public": in["is_public"]}
			if id := exprvalue.Str(in["flavorid"]); id != "auto" && in["flavorid"] != nil {
				f["id"] = id
			}
			return map[string]any{"flavor": f}, nil
		}),
	{"nova.keypairs_list", "compute", "user_id=null, marker=null, limit=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		v, _, err := c.do(ctx, "GET", "/os-keypairs", query(in), nil, nil)
		if err != nil {
			return nil, err
		}
		var out []any
		l, _ := field(v, "keypairs").([]any)
		for _, it := range l {
			out = append(out, field(it, "keypair"))
		}
		return out, nil
	}},
	get("nova.keypairs_get", "compute", "keypair, user_id=null", "/os-keypairs/{keypair}", "keypair"),
	del("nova.keypairs_delete", "compute", "key, user_id=null", "/os-keypairs/{key}"),
	send("nova.keypairs_create", "compute", "name, public_key=null, key_type=\"ssh\", user_id=null", "POST", "/os-keypairs", "keypair",
		wrap("keypair", []string{"name", "public_key"}, nil)),
	list("nova.server_groups_list", "compute", "all_projects=false, limit=null, offset=null", "/os-server-groups", "server_groups"),
	get("nova.server_groups_get", "compute", "id", "/os-server-groups/{id}", "server_group"),
	del("nova.server_groups_delete", "compute", "id", "/os-server-groups/{id}"),
	send("nova.server_groups_create", "compute", "name, policy, rules=null", "POST", "/os-server-groups", "server_group", func(in map[string]any) (any, error) {
		return map[string]any{"server_group": map[string]any{"name": in["name"], "policies": []any{in["policy"]}}}, nil
	}),
	list("nova.availability_zones_list", "compute", "detailed=true", "/os-availability-zone/detail", "availabilityZoneInfo"),
	list("nova.hypervisors_list", "compute", "detailed=true, marker=null, limit=null", "/os-hypervisors/detail", "hypervisors"),
	get("nova.hypervisors_get", "compute", "hypervisor", "/os-hypervisors/{hypervisor}", "hypervisor"),
	list("nova.limits_get", "compute", "reserved=false, tenant_id=null", "/limits", "limits", "reserved"),
	get("nova.quotas_get", "compute", "tenant_id, user_id=null, detail=false", "/os-quota-sets/{tenant_id}", "quota_set"),
	send("nova.quotas_update", "compute", "tenant_id, user_id=null, force=false, instances=null, cores=null, ram=null, metadata_items=null, key_pairs=null, server_groups=null, server_group_members=null",
		"PUT", "/os-quota-sets/{tenant_id}", "quota_set", wrap("quota_set", []string{"instances", "cores", "ram", "metadata_items", "key_pairs", "server_groups", "server_group_members"}, nil)),
	list("nova.services_list", "compute", "host=null, binary=null", "/os-services", "services"),
	get("nova.versions_get_current", "compute", "", "/", "version"),
	{"nova.glance_list", "image", "", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		v, _, err := c.do(ctx, "GET", "/v2/images", nil, nil, nil)
		return field(v, "images"), err
	}},
	{"nova.glance_find_image", "image", "name_or_id", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		return findByNameOrID(ctx, c, "/v2/images", "images", exprvalue.Str(in["name_or_id"]), "image")
	}},
	{"nova.neutron_find_network", "network", "name", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		return findByNameOrID(ctx, c, "/v2.0/networks", "networks", exprvalue.Str(in["name"]), "network")
	}},
}

// findByNameOrID finds one item of a collection by id or unique name.
func findByNameOrID(ctx context.Context, c *osClient, coll, key, ident, what string) (any, error) {
	v, _, err := c.do(ctx, "GET", coll, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	items, _ := field(v, key).([]any)
	var byName []any
	for _, it := range items {
		m, _ := it.(map[string]any)
		if exprvalue.Str(m["id"]) == ident {
			return m, nil
		}
		if exprvalue.Str(m["name"]) == ident {
			byName = append(byName, m)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		return nil, fmt.Errorf("No %s with a name or ID of '%s' exists.", what, ident)
	}
	return nil, fmt.Errorf("Multiple %s matches found for '%s', use an ID to be more specific.", what, ident)
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
