package loadbalancer_test

import (
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/api/loadbalancer"
	"github.com/onestack/onestack/internal/oserr"
)

// badRequestOnly fails unless err is a 4xx *oserr.Error with a message
// (Octavia's faultstring): a decoder never panics nor answers bad input
// with a 500.
func badRequestOnly(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*oserr.Error)
	if !ok || e.Status < 400 || e.Status >= 500 && e.Status != 501 || e.Message == "" {
		t.Fatalf("decoder error %T %v is not a 4xx (or Octavia's 501 for an unsupported option) with a message", err, err)
	}
}

func fuzzDecoder(f *testing.F, member string, seeds ...string) {
	for _, s := range append(seeds, `{}`, `[]`, `null`, `"x"`, `{"`+member+`": null}`, `{"`+member+`": {"x": 1}}`,
		`{"`+member+`": []}`, `{"`+member+`": {}, "other": 1}`, `{"`+member+`": {"name": 7}}`, `{"`+member+`": {"tags": ["`+long+`"]}}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := loadbalancer.DecodeForTest(member, body); err != nil {
			badRequestOnly(t, err)
		}
	})
}

const long = "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" +
	"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" +
	"0123456789012345678901234567890123456789012345678901234567890123456789"

func FuzzDecodeLoadBalancer(f *testing.F) {
	fuzzDecoder(f, "loadbalancer",
		`{"loadbalancer": {"name": "web", "vip_subnet_id": "s", "vip_address": "10.0.0.5", "admin_state_up": true, "provider": "onestack", "tags": ["a"]}}`,
		`{"loadbalancer": {"vip_network_id": "n", "vip_port_id": "p", "vip_sg_ids": ["g"], "flavor_id": "f", "availability_zone": "edge", "project_id": "x"}}`,
		`{"loadbalancer": {"vip_subnet_id": "s", "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
			"members": [{"address": "10.0.0.9", "protocol_port": 80}], "healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1, "max_retries": 2}}}]}}`,
		`{"loadbalancer": {"vip_subnet_id": "s", "pools": [{"protocol": "TCP", "lb_algorithm": "SOURCE_IP", "session_persistence": {"type": "SOURCE_IP"}}]}}`,
		`{"loadbalancer": {"additional_vips": [{"subnet_id": "x"}]}}`, `{"loadbalancer": {"vip_vnic_type": "direct"}}`,
		`{"loadbalancer": {"listeners": [{"protocol_port": 0}]}}`, `{"loadbalancer": {"listeners": [{"l7policies": [{"rules": [{"value": 5}]}]}]}}`,
		`{"loadbalancer": {"pools": [{"session_persistence": "x"}]}}`, `{"loadbalancer": {"pools": [{"session_persistence": {}}]}}`)
}

func FuzzDecodeListener(f *testing.F) {
	fuzzDecoder(f, "listener",
		`{"listener": {"loadbalancer_id": "l", "protocol": "TERMINATED_HTTPS", "protocol_port": 443, "default_tls_container_ref": "data:application/x-pem-file;base64,AAAA",
			"sni_container_refs": ["a"], "insert_headers": {"X-Forwarded-For": "true"}, "allowed_cidrs": ["10.0.0.0/8"], "timeout_client_data": 5000,
			"tls_versions": ["TLSv1.2"], "alpn_protocols": ["h2"], "hsts_max_age": 10, "hsts_include_subdomains": true, "connection_limit": -1}}`,
		`{"listener": {"protocol_port": 70000}}`, `{"listener": {"protocol_port": "80"}}`, `{"listener": {"insert_headers": {"a": 1}}}`,
		`{"listener": {"default_pool": {"members": [{"monitor_port": "x"}]}}}`, `{"listener": {"l7policies": [{"redirect_url": "`+long+`"}]}}`)
}

func FuzzDecodePool(f *testing.F) {
	fuzzDecoder(f, "pool",
		`{"pool": {"listener_id": "l", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "APP_COOKIE", "cookie_name": "c"}, "tls_enabled": true}}`,
		`{"pool": {"session_persistence": null}}`, `{"pool": {"session_persistence": {"type": "SOURCE_IP", "persistence_timeout": 60, "persistence_granularity": "255.255.255.0"}}}`,
		`{"pool": {"session_persistence": {"type": "SOURCE_IP", "colour": 1}}}`, `{"pool": {"session_persistence": {"persistence_timeout": "x"}}}`,
		`{"pool": {"members": [{"address": 1}]}}`, `{"pool": {"healthmonitor": {"http_version": "1.1"}}}`)
}

func FuzzDecodeMember(f *testing.F) {
	fuzzDecoder(f, "member",
		`{"member": {"address": "10.0.0.9", "protocol_port": 80, "weight": 2, "backup": true, "subnet_id": "s", "monitor_address": "10.0.0.10", "monitor_port": 8080}}`,
		`{"member": {"monitor_address": null, "monitor_port": null}}`, `{"member": {"monitor_address": 5}}`, `{"member": {"monitor_port": "x"}}`,
		`{"member": {"monitor_port": 1e99}}`, `{"member": {"weight": -1, "request_sriov": true}}`)
}

func FuzzDecodeMemberBatch(f *testing.F) {
	for _, s := range []string{`{"members": []}`, `{"members": null}`, `{}`, `{"members": [{"address": "10.0.0.9", "protocol_port": 80}]}`,
		`{"members": [{"monitor_port": "x"}]}`, `{"members": {}}`, `{"members": [], "x": 1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := loadbalancer.DecodeForTest("members", body); err != nil {
			badRequestOnly(t, err)
		}
	})
}

func FuzzDecodeHealthMonitor(f *testing.F) {
	fuzzDecoder(f, "healthmonitor",
		`{"healthmonitor": {"pool_id": "p", "type": "HTTP", "delay": 2, "timeout": 1, "max_retries": 2, "max_retries_down": 3, "http_method": "GET",
			"url_path": "/", "expected_codes": "200-204", "http_version": 1.1, "domain_name": "shop.example"}}`,
		`{"healthmonitor": {"http_version": "1.1"}}`, `{"healthmonitor": {"delay": 1.5}}`, `{"healthmonitor": {"max_retries": 1e400}}`)
}

func FuzzDecodeL7Policy(f *testing.F) {
	fuzzDecoder(f, "l7policy",
		`{"l7policy": {"listener_id": "l", "action": "REDIRECT_TO_POOL", "redirect_pool_id": "p", "position": 1, "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}]}}`,
		`{"l7policy": {"action": "REDIRECT_TO_URL", "redirect_url": "https://x/", "redirect_http_code": 301}}`,
		`{"l7policy": {"redirect_pool": {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}}`, `{"l7policy": {"rules": [{"key": "`+long+`"}]}}`,
		`{"l7policy": {"position": "1"}}`)
}

func FuzzDecodeL7Rule(f *testing.F) {
	fuzzDecoder(f, "rule",
		`{"rule": {"type": "HEADER", "compare_type": "REGEX", "key": "X-Shop", "value": "^eu$", "invert": true}}`,
		`{"rule": {"value": "`+long+`"}}`, `{"rule": {"invert": "yes"}}`)
}

func FuzzDecodeQuota(f *testing.F) {
	fuzzDecoder(f, "quota",
		`{"quota": {"loadbalancer": 5, "load_balancer": 5, "listener": -1, "pool": null, "member": 10, "healthmonitor": 2, "l7policy": 3, "l7rule": 4}}`,
		`{"quota": {"loadbalancer": 5, "load_balancer": 6}}`, `{"quota": {"colour": 1}}`, `{"quota": {"pool": "x"}}`)
}

func FuzzDecodeFlavorProfile(f *testing.F) {
	fuzzDecoder(f, "flavorprofile", `{"flavorprofile": {"name": "fp", "provider_name": "onestack", "flavor_data": "{\"loadbalancer_topology\": \"SINGLE\"}"}}`,
		`{"flavorprofile": {"flavor_data": {}}}`)
}

func FuzzDecodeFlavor(f *testing.F) {
	fuzzDecoder(f, "flavor", `{"flavor": {"name": "f", "description": "d", "flavor_profile_id": "x", "enabled": true}}`, `{"flavor": {"enabled": "no"}}`)
}

func FuzzDecodeZoneProfile(f *testing.F) {
	fuzzDecoder(f, "availability_zone_profile",
		`{"availability_zone_profile": {"name": "z", "provider_name": "onestack", "availability_zone_data": "{\"compute_zone\": \"edge\"}"}}`,
		`{"availability_zone_profile": {"availability_zone_data": 3}}`)
}

func FuzzDecodeZone(f *testing.F) {
	fuzzDecoder(f, "availability_zone", `{"availability_zone": {"name": "edge", "availability_zone_profile_id": "x", "enabled": false}}`,
		`{"availability_zone": {"name": ["x"]}}`)
}

// FuzzListQuery decodes list query strings (filters, sort keys and
// directions, limit, marker, page_reverse, fields) over a few items: a
// bad query is a 400, never a panic.
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{"", "limit=2", "limit=-1", "limit=x", "sort=name:desc,id", "sort=name:up", "sort_key=protocol&sort_dir=desc",
		"marker=b&limit=1", "marker=b&page_reverse=true&limit=1", "marker=zzz", "name=one", "admin_state_up=true", "colour=red",
		"fields=id&fields=name", "tags=a,b&not-tags-any=c", "sort=nokey", "%zz", "limit=99999999999999999999"} {
		f.Add(q)
	}
	items := func() []map[string]any {
		return []map[string]any{
			{"id": "a", "name": "one", "protocol": "HTTP", "admin_state_up": true, "created_at": "2026-01-01T00:00:00", "tags": []string{"a", "b"}, "weight": 1},
			{"id": "b", "name": "two", "protocol": "TCP", "admin_state_up": false, "created_at": "2026-01-02T00:00:00", "tags": []string{}, "weight": 2},
			{"id": "c", "name": nil, "protocol": "UDP", "admin_state_up": true, "created_at": "2026-01-02T00:00:00", "tags": []string{"c"}, "weight": 3},
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		if code := loadbalancer.ListForTest(q, items()); code != 200 && code != 400 {
			t.Fatalf("list with query %q answered %d", q, code)
		}
	})
}

// TestIntegersAsOctavia: integer fields take numbers and numeric strings,
// as Octavia's WSME does (Tempest sends "protocol_port": "80"); other
// strings and fractions are refused with the field's name.
func TestIntegersAsOctavia(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"listener": {"protocol_port": "80"}}`:                                     true,
		`{"listener": {"protocol_port": 80, "connection_limit": "-1"}}`:             true,
		`{"member": {"address": "10.0.0.9", "protocol_port": "80", "weight": "3"}}`: true,
		`{"listener": {"protocol_port": "eighty"}}`:                                 false,
		`{"listener": {"protocol_port": 80.5}}`:                                     false,
		`{"healthmonitor": {"delay": "1e3"}}`:                                       false,
	} {
		member := body[2 : strings.Index(body[2:], `"`)+2]
		err := loadbalancer.DecodeForTest(member, []byte(body))
		if ok && err != nil {
			t.Errorf("%s: %v", body, err)
		}
		if !ok {
			if err == nil {
				t.Errorf("%s: accepted", body)
			} else if e, _ := err.(*oserr.Error); e == nil || e.Status != 400 || !strings.Contains(e.Message, "Wrong type: expected int") {
				t.Errorf("%s: %v", body, err)
			}
		}
	}
}
