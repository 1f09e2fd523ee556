package loadbalancer

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// Request bodies, as Octavia's API reference gives them. Absent fields are
// nil; json.RawMessage where null means something (monitor_port: null
// clears it).

type wireLB struct {
	Name             *string        `json:"name"`
	Description      *string        `json:"description"`
	AdminStateUp     *bool          `json:"admin_state_up"`
	VIPAddress       *string        `json:"vip_address"`
	VIPPortID        *string        `json:"vip_port_id"`
	VIPSubnetID      *string        `json:"vip_subnet_id"`
	VIPNetworkID     *string        `json:"vip_network_id"`
	VIPQoSPolicyID   *string        `json:"vip_qos_policy_id"`
	VIPSGIDs         *[]string      `json:"vip_sg_ids"`
	AdditionalVIPs   []any          `json:"additional_vips"`
	ProjectID        *string        `json:"project_id"`
	TenantID         *string        `json:"tenant_id"`
	Provider         *string        `json:"provider"`
	FlavorID         *string        `json:"flavor_id"`
	AvailabilityZone *string        `json:"availability_zone"`
	Tags             *[]string      `json:"tags"`
	Listeners        []wireListener `json:"listeners"`
	Pools            []wirePool     `json:"pools"`
	VIPVNICType      *string        `json:"vip_vnic_type"`
}

type wireListener struct {
	Name                  *string            `json:"name"`
	Description           *string            `json:"description"`
	AdminStateUp          *bool              `json:"admin_state_up"`
	LoadBalancerID        *string            `json:"loadbalancer_id"`
	Protocol              *string            `json:"protocol"`
	ProtocolPort          *wsInt             `json:"protocol_port"`
	ConnectionLimit       *wsInt             `json:"connection_limit"`
	DefaultTLSRef         *string            `json:"default_tls_container_ref"`
	SNIRefs               *[]string          `json:"sni_container_refs"`
	ClientCARef           *string            `json:"client_ca_tls_container_ref"`
	ClientAuth            *string            `json:"client_authentication"`
	ClientCRLRef          *string            `json:"client_crl_container_ref"`
	DefaultPoolID         *string            `json:"default_pool_id"`
	DefaultPool           *wirePool          `json:"default_pool"`
	L7Policies            []wirePolicy       `json:"l7policies"`
	InsertHeaders         *map[string]string `json:"insert_headers"`
	TimeoutClientData     *wsInt             `json:"timeout_client_data"`
	TimeoutMemberConnect  *wsInt             `json:"timeout_member_connect"`
	TimeoutMemberData     *wsInt             `json:"timeout_member_data"`
	TimeoutTCPInspect     *wsInt             `json:"timeout_tcp_inspect"`
	AllowedCIDRs          *[]string          `json:"allowed_cidrs"`
	TLSCiphers            *string            `json:"tls_ciphers"`
	TLSVersions           *[]string          `json:"tls_versions"`
	ALPN                  *[]string          `json:"alpn_protocols"`
	HSTSMaxAge            *wsInt             `json:"hsts_max_age"`
	HSTSIncludeSubdomains *bool              `json:"hsts_include_subdomains"`
	HSTSPreload           *bool              `json:"hsts_preload"`
	Tags                  *[]string          `json:"tags"`
	ProjectID             *string            `json:"project_id"`
	TenantID              *string            `json:"tenant_id"`
}

type wirePersistence struct {
	Type                   string `json:"type"`
	CookieName             string `json:"cookie_name"`
	PersistenceTimeout     *wsInt `json:"persistence_timeout"`
	PersistenceGranularity string `json:"persistence_granularity"`
}

type wirePool struct {
	Name               *string         `json:"name"`
	Description        *string         `json:"description"`
	AdminStateUp       *bool           `json:"admin_state_up"`
	LoadBalancerID     *string         `json:"loadbalancer_id"`
	ListenerID         *string         `json:"listener_id"`
	Protocol           *string         `json:"protocol"`
	LBAlgorithm        *string         `json:"lb_algorithm"`
	SessionPersistence json.RawMessage `json:"session_persistence"`
	TLSEnabled         *bool           `json:"tls_enabled"`
	TLSContainerRef    *string         `json:"tls_container_ref"`
	CACertRef          *string         `json:"ca_tls_container_ref"`
	CRLRef             *string         `json:"crl_container_ref"`
	TLSCiphers         *string         `json:"tls_ciphers"`
	TLSVersions        *[]string       `json:"tls_versions"`
	ALPN               *[]string       `json:"alpn_protocols"`
	Tags               *[]string       `json:"tags"`
	Members            []wireMember    `json:"members"`
	HealthMonitor      *wireMonitor    `json:"healthmonitor"`
	ProjectID          *string         `json:"project_id"`
	TenantID           *string         `json:"tenant_id"`
}

type wireMember struct {
	Name           *string         `json:"name"`
	AdminStateUp   *bool           `json:"admin_state_up"`
	Address        *string         `json:"address"`
	ProtocolPort   *wsInt          `json:"protocol_port"`
	Weight         *wsInt          `json:"weight"`
	Backup         *bool           `json:"backup"`
	SubnetID       *string         `json:"subnet_id"`
	MonitorAddress json.RawMessage `json:"monitor_address"`
	MonitorPort    json.RawMessage `json:"monitor_port"`
	RequestSRIOV   *bool           `json:"request_sriov"`
	Tags           *[]string       `json:"tags"`
	ProjectID      *string         `json:"project_id"`
	TenantID       *string         `json:"tenant_id"`
}

type wireMonitor struct {
	Name           *string   `json:"name"`
	AdminStateUp   *bool     `json:"admin_state_up"`
	PoolID         *string   `json:"pool_id"`
	Type           *string   `json:"type"`
	Delay          *wsInt    `json:"delay"`
	Timeout        *wsInt    `json:"timeout"`
	MaxRetries     *wsInt    `json:"max_retries"`
	MaxRetriesDown *wsInt    `json:"max_retries_down"`
	HTTPMethod     *string   `json:"http_method"`
	URLPath        *string   `json:"url_path"`
	ExpectedCodes  *string   `json:"expected_codes"`
	HTTPVersion    *float64  `json:"http_version"`
	DomainName     *string   `json:"domain_name"`
	Tags           *[]string `json:"tags"`
	ProjectID      *string   `json:"project_id"`
	TenantID       *string   `json:"tenant_id"`
}

type wirePolicy struct {
	Name             *string    `json:"name"`
	Description      *string    `json:"description"`
	AdminStateUp     *bool      `json:"admin_state_up"`
	ListenerID       *string    `json:"listener_id"`
	Action           *string    `json:"action"`
	Position         *wsInt     `json:"position"`
	RedirectPoolID   *string    `json:"redirect_pool_id"`
	RedirectPool     *wirePool  `json:"redirect_pool"`
	RedirectURL      *string    `json:"redirect_url"`
	RedirectPrefix   *string    `json:"redirect_prefix"`
	RedirectHTTPCode *wsInt     `json:"redirect_http_code"`
	Rules            []wireRule `json:"rules"`
	Tags             *[]string  `json:"tags"`
	ProjectID        *string    `json:"project_id"`
	TenantID         *string    `json:"tenant_id"`
}

type wireRule struct {
	AdminStateUp *bool     `json:"admin_state_up"`
	Type         *string   `json:"type"`
	CompareType  *string   `json:"compare_type"`
	Key          *string   `json:"key"`
	Value        *string   `json:"value"`
	Invert       *bool     `json:"invert"`
	Tags         *[]string `json:"tags"`
	ProjectID    *string   `json:"project_id"`
	TenantID     *string   `json:"tenant_id"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nullStr reads a field where null and absent differ: (value, given).
func nullStr(raw json.RawMessage) (*string, bool, error) {
	if raw == nil {
		return nil, false, nil
	}
	if string(raw) == "null" {
		return nil, true, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, true, err
	}
	return &s, true, nil
}

func nullInt(raw json.RawMessage) (*int, bool, error) {
	if raw == nil {
		return nil, false, nil
	}
	if string(raw) == "null" {
		return nil, true, nil
	}
	var n wsInt
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, true, err
	}
	return ip(&n), true, nil
}

// wsInt is an integer field as Octavia's WSME reads it: a JSON number
// without a fraction, or a string holding one ("80", which clients and
// Tempest send).
type wsInt int

func (n *wsInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: s, Type: reflect.TypeOf(0)}
	}
	*n = wsInt(v)
	return nil
}

// ip is a wsInt field as the service takes it.
func ip(p *wsInt) *int { return (*int)(p) }
