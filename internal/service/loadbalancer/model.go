package loadbalancer

import (
	"time"
)

// Provisioning statuses (Octavia's).
const (
	Active        = "ACTIVE"
	Deleted       = "DELETED"
	Error         = "ERROR"
	PendingCreate = "PENDING_CREATE"
	PendingUpdate = "PENDING_UPDATE"
	PendingDelete = "PENDING_DELETE"
)

// Operating statuses (Octavia's).
const (
	Online    = "ONLINE"
	Offline   = "OFFLINE"
	Degraded  = "DEGRADED"
	OpError   = "ERROR"
	NoMonitor = "NO_MONITOR"
	Draining  = "DRAINING"
)

// Object kinds as stored.
const (
	KindLoadBalancer  = "loadbalancer"
	KindListener      = "listener"
	KindPool          = "pool"
	KindMember        = "member"
	KindHealthMonitor = "healthmonitor"
	KindL7Policy      = "l7policy"
	KindL7Rule        = "l7rule"
	KindFlavor        = "flavor"
	KindFlavorProfile = "flavorprofile"
	KindZone          = "availability_zone"
	KindZoneProfile   = "availability_zone_profile"
	KindQuota         = "quota"
	KindHost          = "lbhost"
	KindEvent         = "event"
)

// Meta is what every load-balancing object has: identity, owner, names,
// admin state, Octavia's two statuses and times.
type Meta struct {
	ID, ProjectID      string
	Name, Description  string
	AdminStateUp       bool
	ProvisioningStatus string
	OperatingStatus    string
	Tags               []string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// LoadBalancer is a load balancer: a VIP on a network and the host that
// runs it.
type LoadBalancer struct {
	Meta
	VIPAddress, VIPPortID, VIPSubnetID, VIPNetworkID string
	VIPQoSPolicyID                                   string
	// VIPGroupID is the security group made for the VIP; VIPGroups are the
	// extra groups the user asked for (vip_sg_ids).
	VIPGroupID string
	VIPGroups  []string
	// VIPUserPort: the VIP port was the user's (vip_port_id) and is given
	// back, not deleted, with the load balancer.
	VIPUserPort bool
	// MemberPorts are the load balancer's ports on member subnets outside
	// the VIP's network, by subnet id (wired into its namespace).
	MemberPorts      map[string]string `json:",omitempty"`
	Provider         string
	FlavorID         string
	AvailabilityZone string
	// Host runs the load balancer.
	Host string
	// Failovers counts the failovers: each starts a new HAProxy instance
	// (a new "amphora" in the admin API).
	Failovers int `json:",omitempty"`
	// Revision is the desired-state revision of the load balancer's whole
	// tree; Applied the last one its host applied.
	Revision int64
	Applied  int64
	// StatusReason says why the last operation failed (ERROR), or is
	// empty. Octavia has no such field; onestack answers it as
	// "status_reason" (docs/load-balancing.md).
	StatusReason string
	// Stats are the last counters the host reported, per listener.
	Stats map[string]Stats
}

// Stats are traffic counters.
type Stats struct {
	BytesIn, BytesOut, ActiveConnections, TotalConnections, RequestErrors int64
}

// Listener is a protocol and port on the VIP.
type Listener struct {
	Meta
	LoadBalancerID                                             string
	Protocol                                                   string
	ProtocolPort                                               int
	ConnectionLimit                                            int
	DefaultTLSRef                                              string
	SNIRefs                                                    []string
	ClientCARef, ClientCRLRef, ClientAuth                      string
	DefaultPoolID                                              string
	InsertHeaders                                              map[string]string
	TimeoutClientData, TimeoutMemberConnect, TimeoutMemberData int
	TimeoutTCPInspect                                          int
	AllowedCIDRs                                               []string
	TLSCiphers                                                 string
	TLSVersions, ALPN                                          []string
	HSTSMaxAge                                                 *int
	HSTSIncludeSubdomains, HSTSPreload                         bool
}

// SessionPersistence is a pool's stickiness.
type SessionPersistence struct {
	Type, CookieName       string
	PersistenceTimeout     *int
	PersistenceGranularity string
}

// Pool is a set of members.
type Pool struct {
	Meta
	LoadBalancerID string
	// ListenerIDs are the listeners using it as default pool.
	ListenerID         string
	Protocol           string
	LBAlgorithm        string
	SessionPersistence *SessionPersistence
	HealthMonitorID    string
	TLSEnabled         bool
	TLSContainerRef    string
	CACertRef, CRLRef  string
	TLSCiphers         string
	TLSVersions, ALPN  []string
}

// Member is one backend of a pool.
type Member struct {
	Meta
	LoadBalancerID, PoolID string
	Address                string
	ProtocolPort           int
	Weight                 int
	Backup                 bool
	SubnetID               string
	MonitorAddress         string
	MonitorPort            *int
	VNICType               string
}

// HealthMonitor checks a pool's members.
type HealthMonitor struct {
	Meta
	LoadBalancerID, PoolID     string
	Type                       string
	Delay, Timeout             int
	MaxRetries, MaxRetriesDown int
	HTTPMethod, URLPath        string
	ExpectedCodes              string
	HTTPVersion                *float64
	DomainName                 string
}

// L7Policy is a listener's content rule.
type L7Policy struct {
	Meta
	LoadBalancerID, ListenerID string
	Action                     string
	Position                   int
	RedirectPoolID             string
	RedirectURL                string
	RedirectPrefix             string
	RedirectHTTPCode           *int
}

// L7Rule is one condition of an L7 policy.
type L7Rule struct {
	Meta
	LoadBalancerID, ListenerID, PolicyID string
	Type, CompareType, Key, Value        string
	Invert                               bool
}

// FlavorProfile is an operator's provider settings.
type FlavorProfile struct {
	ID, Name, ProviderName, FlavorData string
}

// Flavor is a user-visible choice of flavor profile.
type Flavor struct {
	ID, Name, Description, FlavorProfileID string
	Enabled                                bool
}

// ZoneProfile is an operator's provider settings for a zone.
type ZoneProfile struct {
	ID, Name, ProviderName, ZoneData string
}

// Zone is an availability zone load balancers can be put in.
type Zone struct {
	Name, Description, ProfileID string
	Enabled                      bool
}

// Quota is a project's limits; nil is the default, -1 unlimited.
type Quota struct {
	LoadBalancer, Listener, Pool, HealthMonitor, Member, L7Policy, L7Rule *int
}

// Event is one thing that happened to a load balancer, for users to read
// (Octavia has none: onestack's GET .../loadbalancers/{id}/events).
type Event struct {
	ID, LoadBalancerID, ObjectID, Kind string
	// Action is what happened: create, update, delete, failover, applied,
	// failed, member_down, member_up.
	Action  string
	Message string
	Time    time.Time
}

// Host is a host that runs load balancers, as its agent last showed.
type Host struct {
	Name     string
	LastSeen time.Time
}
