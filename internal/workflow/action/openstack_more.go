package action

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
)

// glanceclient v2: images are flat objects; create and update take the
// image's properties as keyword arguments (update as a JSON patch).
var glanceActions = []osAction{
	list("glance.images_list", "image", "**kwargs", "/v2/images", "images"),
	get("glance.images_get", "image", "image_id", "/v2/images/{image_id}", ""),
	del("glance.images_delete", "image", "image_id", "/v2/images/{image_id}"),
	send("glance.images_create", "image", "**kwargs", "POST", "/v2/images", "", func(in map[string]any) (any, error) { return in, nil }),
	{"glance.images_update", "image", "image_id, remove_props=null, **kwargs", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/v2/images/{image_id}", in)
		if err != nil {
			return nil, err
		}
		var ops []any
		props := kwargsOf(in, "image_id", "remove_props")
		for _, k := range exprvalue.SortedKeys(props) {
			ops = append(ops, map[string]any{"op": "replace", "path": "/" + k, "value": props[k]})
		}
		if rm, ok := in["remove_props"].([]any); ok {
			for _, k := range rm {
				ops = append(ops, map[string]any{"op": "remove", "path": "/" + exprvalue.Str(k)})
			}
		}
		if ops == nil {
			ops = []any{}
		}
		v, _, err := c.do(ctx, "PATCH", p, nil, ops, map[string]string{"Content-Type": "application/openstack-images-v2.1-json-patch"})
		return v, err
	}},
	send("glance.images_deactivate", "image", "image_id", "POST", "/v2/images/{image_id}/actions/deactivate", "", nil),
	send("glance.images_reactivate", "image", "image_id", "POST", "/v2/images/{image_id}/actions/reactivate", "", nil),
	send("glance.image_tags_update", "image", "image_id, tag_value", "PUT", "/v2/images/{image_id}/tags/{tag_value}", "", nil),
	del("glance.image_tags_delete", "image", "image_id, tag_value", "/v2/images/{image_id}/tags/{tag_value}"),
	get("glance.image_members_list", "image", "image_id", "/v2/images/{image_id}/members", "members"),
	send("glance.image_members_create", "image", "image_id, member_id", "POST", "/v2/images/{image_id}/members", "",
		wrap("", []string{"member_id"}, map[string]string{"member_id": "member"})),
	send("glance.image_members_update", "image", "image_id, member_id, member_status", "PUT", "/v2/images/{image_id}/members/{member_id}", "",
		wrap("", []string{"member_status"}, map[string]string{"member_status": "status"})),
	del("glance.image_members_delete", "image", "image_id, member_id", "/v2/images/{image_id}/members/{member_id}"),
}

// neutronclient: the request body is given whole and the answer is
// returned whole ({"port": {...}}, {"networks": [...]}), as the client
// returns them.
func neutronCRUD(res, plural string) []osAction {
	coll := "/v2.0/" + plural
	return []osAction{
		{"neutron.list_" + plural, "network", "retrieve_all=true, **_params", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			v, _, err := c.do(ctx, "GET", coll, query(in, "retrieve_all"), nil, nil)
			return v, err
		}},
		{"neutron.show_" + res, "network", res + ", **_params", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			p, err := path(coll+"/{"+res+"}", in)
			if err != nil {
				return nil, err
			}
			v, _, err := c.do(ctx, "GET", p, query(in, res), nil, nil)
			return v, err
		}},
		send("neutron.create_"+res, "network", "body=null", "POST", coll, "", bodyIn),
		{"neutron.update_" + res, "network", res + ", body=null, revision_number=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			p, err := path(coll+"/{"+res+"}", in)
			if err != nil {
				return nil, err
			}
			b, err := bodyIn(in)
			if err != nil {
				return nil, err
			}
			hdr := map[string]string{}
			if in["revision_number"] != nil {
				hdr["If-Match"] = "revision_number=" + exprvalue.Str(in["revision_number"])
			}
			v, _, err := c.do(ctx, "PUT", p, nil, b, hdr)
			return v, err
		}},
		del("neutron.delete_"+res, "network", res, coll+"/{"+res+"}"),
	}
}

var neutronActions = func() []osAction {
	var out []osAction
	for _, r := range [][2]string{{"network", "networks"}, {"subnet", "subnets"}, {"port", "ports"}, {"router", "routers"},
		{"floatingip", "floatingips"}, {"security_group", "security_groups"}, {"security_group_rule", "security_group_rules"},
		{"subnetpool", "subnetpools"}} {
		out = append(out, neutronCRUD(r[0], r[1])...)
	}
	routerPut := func(name, suffix string) osAction {
		return osAction{name, "network", "router, body=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			p, err := path("/v2.0/routers/{router}/"+suffix, in)
			if err != nil {
				return nil, err
			}
			b, err := bodyIn(in)
			if err != nil {
				return nil, err
			}
			v, _, err := c.do(ctx, "PUT", p, nil, b, nil)
			return v, err
		}}
	}
	out = append(out,
		routerPut("neutron.add_interface_router", "add_router_interface"),
		routerPut("neutron.remove_interface_router", "remove_router_interface"),
		osAction{"neutron.add_gateway_router", "network", "router, body=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			p, err := path("/v2.0/routers/{router}", in)
			if err != nil {
				return nil, err
			}
			v, _, err := c.do(ctx, "PUT", p, nil, map[string]any{"router": map[string]any{"external_gateway_info": in["body"]}}, nil)
			return v, err
		}},
		osAction{"neutron.remove_gateway_router", "network", "router", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			p, err := path("/v2.0/routers/{router}", in)
			if err != nil {
				return nil, err
			}
			v, _, err := c.do(ctx, "PUT", p, nil, map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{}}}, nil)
			return v, err
		}},
		osAction{"neutron.list_extensions", "network", "**_params", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			v, _, err := c.do(ctx, "GET", "/v2.0/extensions", query(in), nil, nil)
			return v, err
		}},
		osAction{"neutron.list_quotas", "network", "**_params", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			v, _, err := c.do(ctx, "GET", "/v2.0/quotas", query(in), nil, nil)
			return v, err
		}},
		get("neutron.show_quota", "network", "project_id, **_params", "/v2.0/quotas/{project_id}", ""),
		send("neutron.update_quota", "network", "project_id, body=null", "PUT", "/v2.0/quotas/{project_id}", "", bodyIn),
	)
	return out
}()

// cinderclient v3: objects come back unwrapped.
var cinderActions = []osAction{
	send("cinder.volumes_create", "volumev3", "size, consistencygroup_id=null, group_id=null, snapshot_id=null, source_volid=null, name=null, description=null, volume_type=null, user_id=null, project_id=null, availability_zone=null, metadata=null, imageRef=null, scheduler_hints=null, backup_id=null",
		"POST", "/volumes", "volume", func(in map[string]any) (any, error) {
			v := map[string]any{}
			for _, k := range []string{"size", "consistencygroup_id", "group_id", "snapshot_id", "source_volid", "name", "description", "volume_type",
				"availability_zone", "metadata", "imageRef", "backup_id"} {
				if x, ok := in[k]; ok && x != nil {
					if k == "snapshot_id" || k == "source_volid" || k == "imageRef" || k == "backup_id" {
						x = idOf(x)
					}
					v[k] = x
				}
			}
			body := map[string]any{"volume": v}
			if h, ok := in["scheduler_hints"].(map[string]any); ok {
				body["OS-SCH-HNT:scheduler_hints"] = h
			}
			return body, nil
		}),
	get("cinder.volumes_get", "volumev3", "volume_id", "/volumes/{volume_id}", "volume"),
	{"cinder.volumes_delete", "volumev3", "volume, cascade=false", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/volumes/{volume}", in)
		if err != nil {
			return nil, err
		}
		q := url.Values{}
		if exprvalue.Truthy(in["cascade"]) {
			q.Set("cascade", "True")
		}
		_, _, err = c.do(ctx, "DELETE", p, q, nil, nil)
		return nil, err
	}},
	list("cinder.volumes_list", "volumev3", "detailed=true, search_opts=null, marker=null, limit=null, sort=null", "/volumes/detail", "volumes"),
	find("cinder.volumes_find", "volumev3", "**kwargs", "/volumes/detail", "volumes"),
	{"cinder.volumes_update", "volumev3", "volume, **kwargs", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/volumes/{volume}", in)
		if err != nil {
			return nil, err
		}
		v, _, err := c.do(ctx, "PUT", p, nil, map[string]any{"volume": kwargsOf(in, "volume")}, nil)
		return field(v, "volume"), err
	}},
	volumeAction("cinder.volumes_extend", "volume, new_size", func(in map[string]any) any {
		return map[string]any{"os-extend": map[string]any{"new_size": in["new_size"]}}
	}),
	volumeAction("cinder.volumes_set_bootable", "volume, flag", func(in map[string]any) any {
		return map[string]any{"os-set_bootable": map[string]any{"bootable": in["flag"]}}
	}),
	volumeAction("cinder.volumes_reset_state", "volume, state, attach_status=null, migration_status=null", func(in map[string]any) any {
		r := map[string]any{"status": in["state"]}
		if in["attach_status"] != nil {
			r["attach_status"] = in["attach_status"]
		}
		return map[string]any{"os-reset_status": r}
	}),
	send("cinder.volumes_set_metadata", "volumev3", "volume, metadata", "POST", "/volumes/{volume}/metadata", "metadata", wrap("", []string{"metadata"}, nil)),
	{"cinder.volumes_delete_metadata", "volumev3", "volume, keys", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		keys, _ := in["keys"].([]any)
		for _, k := range keys {
			p, err := path("/volumes/{volume}/metadata/", in)
			if err != nil {
				return nil, err
			}
			if _, _, err := c.do(ctx, "DELETE", p+url.PathEscape(exprvalue.Str(k)), nil, nil, nil); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}},
	send("cinder.volume_snapshots_create", "volumev3", "volume_id, force=null, name=null, description=null, metadata=null", "POST", "/snapshots", "snapshot",
		func(in map[string]any) (any, error) {
			s := map[string]any{"volume_id": idOf(in["volume_id"])}
			for _, k := range []string{"force", "name", "description", "metadata"} {
				if in[k] != nil {
					s[k] = in[k]
				}
			}
			return map[string]any{"snapshot": s}, nil
		}),
	get("cinder.volume_snapshots_get", "volumev3", "snapshot_id", "/snapshots/{snapshot_id}", "snapshot"),
	del("cinder.volume_snapshots_delete", "volumev3", "snapshot, force=false", "/snapshots/{snapshot}"),
	list("cinder.volume_snapshots_list", "volumev3", "detailed=true, search_opts=null, marker=null, limit=null, sort=null", "/snapshots/detail", "snapshots"),
	find("cinder.volume_snapshots_find", "volumev3", "**kwargs", "/snapshots/detail", "snapshots"),
	list("cinder.volume_types_list", "volumev3", "search_opts=null, is_public=null", "/types", "volume_types"),
	get("cinder.volume_types_get", "volumev3", "volume_type", "/types/{volume_type}", "volume_type"),
	del("cinder.volume_types_delete", "volumev3", "volume_type", "/types/{volume_type}"),
	send("cinder.volume_types_create", "volumev3", "name, description=null, is_public=true", "POST", "/types", "volume_type",
		wrap("volume_type", []string{"name", "description", "is_public"}, map[string]string{"is_public": "os-volume-type-access:is_public"})),
	get("cinder.quotas_get", "volumev3", "tenant_id, usage=false", "/os-quota-sets/{tenant_id}", "quota_set"),
	get("cinder.quotas_defaults", "volumev3", "tenant_id", "/os-quota-sets/{tenant_id}/defaults", "quota_set"),
	{"cinder.quotas_update", "volumev3", "tenant_id, **updates", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/os-quota-sets/{tenant_id}", in)
		if err != nil {
			return nil, err
		}
		v, _, err := c.do(ctx, "PUT", p, nil, map[string]any{"quota_set": kwargsOf(in, "tenant_id")}, nil)
		return field(v, "quota_set"), err
	}},
	list("cinder.availability_zones_list", "volumev3", "detailed=false", "/os-availability-zone", "availabilityZoneInfo"),
	list("cinder.limits_get", "volumev3", "tenant_id=null", "/limits", "limits"),
}

func volumeAction(name, sig string, body func(map[string]any) any) osAction {
	return osAction{name, "volumev3", sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path("/volumes/{volume}/action", in)
		if err != nil {
			return nil, err
		}
		v, _, err := c.do(ctx, "POST", p, nil, body(in), nil)
		return v, err
	}}
}

// keystoneclient v3: references may be ids or objects; lists filter by
// the query keystone understands.
func ksList(name, sig, coll, key string, rename map[string]string) osAction {
	return osAction{name, "identity", sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		q := url.Values{}
		for k, v := range in {
			if v == nil || v == false {
				continue
			}
			n := k
			if r, ok := rename[k]; ok {
				n = r
			}
			q.Set(n, idOf(v))
		}
		v, _, err := c.do(ctx, "GET", coll, q, nil, nil)
		return field(v, key), err
	}}
}

func ksCreate(name, sig, coll, key string, refs map[string]string) osAction {
	return send(name, "identity", sig, "POST", coll, key, func(in map[string]any) (any, error) {
		m := map[string]any{}
		for k, v := range in {
			if v == nil {
				continue
			}
			if r, ok := refs[k]; ok {
				m[r] = idOf(v)
				continue
			}
			m[k] = v
		}
		return map[string]any{key: m}, nil
	})
}

func ksUpdate(name, sig, tmpl, ref, key string, refs map[string]string) osAction {
	return osAction{name, "identity", sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path(tmpl, in)
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		for k, v := range in {
			if v == nil || k == ref {
				continue
			}
			if r, ok := refs[k]; ok {
				m[r] = idOf(v)
				continue
			}
			m[k] = v
		}
		v, _, err := c.do(ctx, "PATCH", p, nil, map[string]any{key: m}, nil)
		return field(v, key), err
	}}
}

// ksGrant grants or revokes a role on a project or domain to a user or
// group.
func ksGrant(name, method string) osAction {
	return osAction{name, "identity", "role, user=null, group=null, system=null, domain=null, project=null, os_inherit_extension_inherited=false, **kwargs",
		func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			var target, actor string
			switch {
			case in["project"] != nil:
				target = "/v3/projects/" + url.PathEscape(idOf(in["project"]))
			case in["domain"] != nil:
				target = "/v3/domains/" + url.PathEscape(idOf(in["domain"]))
			default:
				return nil, fmt.Errorf("give project or domain")
			}
			switch {
			case in["user"] != nil:
				actor = "/users/" + url.PathEscape(idOf(in["user"]))
			case in["group"] != nil:
				actor = "/groups/" + url.PathEscape(idOf(in["group"]))
			default:
				return nil, fmt.Errorf("give user or group")
			}
			_, _, err := c.do(ctx, method, target+actor+"/roles/"+url.PathEscape(idOf(in["role"])), nil, nil, nil)
			return nil, err
		}}
}

var keystoneActions = []osAction{
	ksList("keystone.projects_list", "domain=null, user=null, parent=null, **kwargs", "/v3/projects", "projects", map[string]string{"domain": "domain_id", "parent": "parent_id"}),
	get("keystone.projects_get", "identity", "project, subtree_as_list=false, parents_as_list=false, subtree_as_ids=false, parents_as_ids=false", "/v3/projects/{project}", "project"),
	ksCreate("keystone.projects_create", "name, domain, description=null, enabled=true, parent=null, **kwargs", "/v3/projects", "project", map[string]string{"domain": "domain_id", "parent": "parent_id"}),
	ksUpdate("keystone.projects_update", "project, name=null, domain=null, description=null, enabled=null, **kwargs", "/v3/projects/{project}", "project", "project", map[string]string{"domain": "domain_id"}),
	del("keystone.projects_delete", "identity", "project", "/v3/projects/{project}"),
	ksList("keystone.users_list", "project=null, domain=null, group=null, default_project=null, **kwargs", "/v3/users", "users", map[string]string{"domain": "domain_id", "default_project": "default_project_id"}),
	get("keystone.users_get", "identity", "user", "/v3/users/{user}", "user"),
	ksCreate("keystone.users_create", "name, domain=null, project=null, password=null, email=null, description=null, enabled=true, default_project=null, **kwargs", "/v3/users", "user",
		map[string]string{"domain": "domain_id", "project": "default_project_id", "default_project": "default_project_id"}),
	ksUpdate("keystone.users_update", "user, name=null, domain=null, project=null, password=null, email=null, description=null, enabled=null, default_project=null, **kwargs", "/v3/users/{user}", "user", "user",
		map[string]string{"domain": "domain_id", "project": "default_project_id", "default_project": "default_project_id"}),
	del("keystone.users_delete", "identity", "user", "/v3/users/{user}"),
	ksList("keystone.roles_list", "user=null, group=null, system=null, domain=null, project=null, os_inherit_extension_inherited=false, **kwargs", "/v3/roles", "roles", map[string]string{"domain": "domain_id"}),
	get("keystone.roles_get", "identity", "role", "/v3/roles/{role}", "role"),
	ksCreate("keystone.roles_create", "name, domain=null, **kwargs", "/v3/roles", "role", map[string]string{"domain": "domain_id"}),
	del("keystone.roles_delete", "identity", "role", "/v3/roles/{role}"),
	ksGrant("keystone.roles_grant", "PUT"),
	ksGrant("keystone.roles_revoke", "DELETE"),
	ksList("keystone.role_assignments_list", "user=null, group=null, project=null, domain=null, system=false, role=null, effective=false, os_inherit_extension_inherited_to=null, include_subtree=false, include_names=false",
		"/v3/role_assignments", "role_assignments", map[string]string{"user": "user.id", "group": "group.id", "project": "scope.project.id", "domain": "scope.domain.id", "role": "role.id"}),
	ksList("keystone.domains_list", "**kwargs", "/v3/domains", "domains", nil),
	get("keystone.domains_get", "identity", "domain", "/v3/domains/{domain}", "domain"),
	ksCreate("keystone.domains_create", "name, description=null, enabled=true, **kwargs", "/v3/domains", "domain", nil),
	ksUpdate("keystone.domains_update", "domain, name=null, description=null, enabled=null, **kwargs", "/v3/domains/{domain}", "domain", "domain", nil),
	del("keystone.domains_delete", "identity", "domain", "/v3/domains/{domain}"),
	ksList("keystone.groups_list", "user=null, domain=null, **kwargs", "/v3/groups", "groups", map[string]string{"domain": "domain_id"}),
	get("keystone.groups_get", "identity", "group", "/v3/groups/{group}", "group"),
	ksCreate("keystone.groups_create", "name, domain=null, description=null, **kwargs", "/v3/groups", "group", map[string]string{"domain": "domain_id"}),
	del("keystone.groups_delete", "identity", "group", "/v3/groups/{group}"),
	ksList("keystone.services_list", "name=null, type=null, **kwargs", "/v3/services", "services", nil),
	ksList("keystone.endpoints_list", "service=null, interface=null, region=null, enabled=null, region_id=null, **kwargs", "/v3/endpoints", "endpoints", map[string]string{"service": "service_id", "region": "region_id"}),
	ksList("keystone.regions_list", "**kwargs", "/v3/regions", "regions", nil),
}

var _ = strings.TrimSpace
