package hostapi

import (
	"context"
	"errors"
)

// This file is the contract between the load-balancer service (Octavia)
// and the load balancer data plane an agent runs. The control plane
// derives, per host, every load balancer the host runs with its whole
// configuration (LoadBalancerSet); the agent applies each idempotently and
// reports the revision it applied, or why it could not, and what the data
// plane observes (member health, traffic counters). Level-triggered like
// guests and networks: a restarted agent reads everything again.

// LoadBalancerPlane is the control plane as a host's load balancer loop
// sees it.
type LoadBalancerPlane interface {
	// WatchLoadBalancers blocks until the load balancers' revision passes
	// since (or a while passes) and returns the host's load balancers.
	WatchLoadBalancers(ctx context.Context, host string, since int64) (LoadBalancerSet, error)
	// ReportLoadBalancers records what the host applied and observes.
	ReportLoadBalancers(ctx context.Context, r LoadBalancerReport) error
}

// LoadBalancerSet is every load balancer a host runs.
type LoadBalancerSet struct {
	Host          string         `json:"host"`
	Revision      int64          `json:"revision"`
	LoadBalancers []LoadBalancer `json:"loadbalancers"`
}

// LoadBalancer is one load balancer's whole desired configuration.
type LoadBalancer struct {
	ID string `json:"id"`
	// Revision grows with every change of this load balancer.
	Revision int64 `json:"revision"`
	// Delete asks the host to remove the load balancer (its processes,
	// files and rules); the report then lists it as Deleted.
	Delete  bool `json:"delete,omitempty"`
	AdminUp bool `json:"admin_state_up"`
	// VIPPortID is the Neutron port of the VIP: the network data plane
	// wires it into a namespace of its own (hostapi.Port.Namespace), in
	// which the load balancer's processes run.
	VIPPortID  string     `json:"vip_port_id"`
	VIPAddress string     `json:"vip_address"`
	Listeners  []Listener `json:"listeners"`
	Pools      []Pool     `json:"pools"`
}

// Listener protocols.
const (
	ProtoTCP             = "TCP"
	ProtoUDP             = "UDP"
	ProtoHTTP            = "HTTP"
	ProtoHTTPS           = "HTTPS"
	ProtoTerminatedHTTPS = "TERMINATED_HTTPS"
	ProtoProxy           = "PROXY"
	ProtoProxyV2         = "PROXYV2"
	ProtoSCTP            = "SCTP"
)

// Listener is one frontend: a protocol and port on the VIP.
type Listener struct {
	ID       string `json:"id"`
	Protocol string `json:"protocol"`
	Port     int    `json:"protocol_port"`
	AdminUp  bool   `json:"admin_state_up"`
	// ConnectionLimit is -1 for no limit.
	ConnectionLimit int    `json:"connection_limit"`
	DefaultPoolID   string `json:"default_pool_id,omitempty"`
	// Timeouts in milliseconds.
	TimeoutClientData    int               `json:"timeout_client_data"`
	TimeoutMemberConnect int               `json:"timeout_member_connect"`
	TimeoutMemberData    int               `json:"timeout_member_data"`
	TimeoutTCPInspect    int               `json:"timeout_tcp_inspect"`
	InsertHeaders        map[string]string `json:"insert_headers,omitempty"`
	// AllowedCIDRs limits the listener's clients (empty: any); applied in
	// the VIP's security group and in the load balancer itself.
	AllowedCIDRs []string `json:"allowed_cidrs,omitempty"`
	// Certificates of a TERMINATED_HTTPS listener: the default first, then
	// the SNI ones; each a PEM bundle of certificate, key and chain.
	Certificates []string `json:"certificates,omitempty"`
	// ClientCA (PEM) and ClientAuth (NONE, OPTIONAL, MANDATORY) ask
	// clients for certificates.
	ClientCA   string     `json:"client_ca,omitempty"`
	ClientCRL  string     `json:"client_crl,omitempty"`
	ClientAuth string     `json:"client_authentication,omitempty"`
	TLSCiphers string     `json:"tls_ciphers,omitempty"`
	TLSVersion []string   `json:"tls_versions,omitempty"`
	ALPN       []string   `json:"alpn_protocols,omitempty"`
	HSTSMaxAge *int       `json:"hsts_max_age,omitempty"`
	HSTSSub    bool       `json:"hsts_include_subdomains,omitempty"`
	HSTSPre    bool       `json:"hsts_preload,omitempty"`
	L7Policies []L7Policy `json:"l7policies,omitempty"`
}

// Pool is a backend: members and how traffic is spread over them.
type Pool struct {
	ID       string `json:"id"`
	Protocol string `json:"protocol"`
	// Algorithm is ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP or
	// SOURCE_IP_PORT.
	Algorithm   string       `json:"lb_algorithm"`
	AdminUp     bool         `json:"admin_state_up"`
	Persistence *Persistence `json:"session_persistence,omitempty"`
	Monitor     *Monitor     `json:"healthmonitor,omitempty"`
	Members     []Member     `json:"members"`
	// TLS re-encrypts to the members (TLSCA verifies them when set).
	TLS   bool   `json:"tls_enabled,omitempty"`
	TLSCA string `json:"tls_ca,omitempty"`
}

// Persistence is a pool's session persistence.
type Persistence struct {
	// Type is SOURCE_IP, HTTP_COOKIE or APP_COOKIE.
	Type       string `json:"type"`
	CookieName string `json:"cookie_name,omitempty"`
	// Timeout (s) and Granularity (a netmask) of SOURCE_IP on UDP pools.
	Timeout     int    `json:"persistence_timeout,omitempty"`
	Granularity string `json:"persistence_granularity,omitempty"`
}

// Monitor is a pool's health monitor.
type Monitor struct {
	ID string `json:"id"`
	// Type is HTTP, HTTPS, PING, TCP, TLS-HELLO, UDP-CONNECT or SCTP.
	Type           string `json:"type"`
	Delay          int    `json:"delay"`
	Timeout        int    `json:"timeout"`
	MaxRetries     int    `json:"max_retries"`
	MaxRetriesDown int    `json:"max_retries_down"`
	HTTPMethod     string `json:"http_method,omitempty"`
	URLPath        string `json:"url_path,omitempty"`
	ExpectedCodes  string `json:"expected_codes,omitempty"`
	HTTPVersion    string `json:"http_version,omitempty"`
	DomainName     string `json:"domain_name,omitempty"`
	AdminUp        bool   `json:"admin_state_up"`
}

// Member is one backend server.
type Member struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Port    int    `json:"protocol_port"`
	Weight  int    `json:"weight"`
	Backup  bool   `json:"backup,omitempty"`
	AdminUp bool   `json:"admin_state_up"`
	// MonitorAddress and MonitorPort, when set, are where health checks go.
	MonitorAddress string `json:"monitor_address,omitempty"`
	MonitorPort    int    `json:"monitor_port,omitempty"`
}

// L7Policy is a listener's content rule: when all its rules match, its
// action applies. Policies are in position order.
type L7Policy struct {
	ID string `json:"id"`
	// Action is REJECT, REDIRECT_TO_URL, REDIRECT_TO_POOL or REDIRECT_PREFIX.
	Action   string   `json:"action"`
	Position int      `json:"position"`
	PoolID   string   `json:"redirect_pool_id,omitempty"`
	URL      string   `json:"redirect_url,omitempty"`
	Prefix   string   `json:"redirect_prefix,omitempty"`
	HTTPCode int      `json:"redirect_http_code,omitempty"`
	AdminUp  bool     `json:"admin_state_up"`
	Rules    []L7Rule `json:"rules"`
}

// L7Rule is one condition of a policy.
type L7Rule struct {
	ID string `json:"id"`
	// Type is HOST_NAME, PATH, FILE_TYPE, HEADER, COOKIE,
	// SSL_CONN_HAS_CERT, SSL_VERIFY_RESULT or SSL_DN_FIELD.
	Type string `json:"type"`
	// Compare is REGEX, STARTS_WITH, ENDS_WITH, CONTAINS or EQUAL_TO.
	Compare string `json:"compare_type"`
	Key     string `json:"key,omitempty"`
	Value   string `json:"value"`
	Invert  bool   `json:"invert,omitempty"`
	AdminUp bool   `json:"admin_state_up"`
}

// Member health as the data plane reports it.
const (
	HealthUp      = "UP"       // passing its health checks
	HealthDown    = "DOWN"     // failing them: traffic avoids it
	HealthNoCheck = "NO_CHECK" // no health monitor
	HealthMaint   = "MAINT"    // disabled (admin down)
)

// LoadBalancerReport is what a host applied and observes.
type LoadBalancerReport struct {
	Host          string               `json:"host"`
	LoadBalancers []LoadBalancerStatus `json:"loadbalancers"`
}

// LoadBalancerStatus is one load balancer's state on its host.
type LoadBalancerStatus struct {
	ID string `json:"id"`
	// Revision is the one applied (or that failed to apply, with Error).
	Revision int64 `json:"revision"`
	// Error says why Revision could not be applied, for the user.
	Error string `json:"error,omitempty"`
	// Deleted: the host removed the load balancer.
	Deleted bool `json:"deleted,omitempty"`
	// Members maps a member id to its health (Health* constants).
	Members map[string]string `json:"members,omitempty"`
	// Listeners maps a listener id to its counters.
	Listeners map[string]ListenerStats `json:"listeners,omitempty"`
}

// ListenerStats are a listener's traffic counters since its process
// started.
type ListenerStats struct {
	BytesIn           int64 `json:"bytes_in"`
	BytesOut          int64 `json:"bytes_out"`
	ActiveConnections int64 `json:"active_connections"`
	TotalConnections  int64 `json:"total_connections"`
	RequestErrors     int64 `json:"request_errors"`
}

// LBNamespace is the suffix of the namespace a load balancer's VIP port
// is wired into: the data plane makes "<host namespace>_" + this.
func LBNamespace(lbID string) string { return "lb-" + lbID }

// ErrNotReady is what a load balancer data plane answers when it cannot
// apply yet for a reason that passes by itself (the VIP port is not wired
// on the host yet): the agent tries again instead of reporting a failure.
var ErrNotReady = errors.New("not ready yet")
