package loadbalancer

// Inputs of creates and updates: nil means "not given" (an update keeps
// the value; a create uses Octavia's default).

// LoadBalancerInput is a load balancer create or update.
type LoadBalancerInput struct {
	Name, Description                                *string
	AdminStateUp                                     *bool
	VIPAddress, VIPPortID, VIPSubnetID, VIPNetworkID *string
	VIPQoSPolicyID                                   *string
	VIPSecurityGroups                                *[]string
	ProjectID                                        *string
	Provider, FlavorID, AvailabilityZone             *string
	Tags                                             *[]string
	Listeners                                        []ListenerInput
	Pools                                            []PoolInput
}

// ListenerInput is a listener create or update.
type ListenerInput struct {
	Name, Description                                          *string
	AdminStateUp                                               *bool
	LoadBalancerID                                             string
	Protocol                                                   *string
	ProtocolPort                                               *int
	ConnectionLimit                                            *int
	DefaultTLSRef                                              *string
	SNIRefs                                                    *[]string
	ClientCARef, ClientCRLRef, ClientAuth                      *string
	DefaultPoolID                                              *string
	DefaultPool                                                *PoolInput
	L7Policies                                                 []L7PolicyInput
	InsertHeaders                                              *map[string]string
	TimeoutClientData, TimeoutMemberConnect, TimeoutMemberData *int
	TimeoutTCPInspect                                          *int
	AllowedCIDRs                                               *[]string
	TLSCiphers                                                 *string
	TLSVersions, ALPN                                          *[]string
	HSTSMaxAge                                                 *int
	HSTSIncludeSubdomains, HSTSPreload                         *bool
	Tags                                                       *[]string
}

// PoolInput is a pool create or update.
type PoolInput struct {
	Name, Description          *string
	AdminStateUp               *bool
	LoadBalancerID, ListenerID string
	Protocol                   *string
	LBAlgorithm                *string
	// SessionPersistence set to a nil inner value removes it.
	SessionPersistence **SessionPersistence
	TLSEnabled         *bool
	TLSContainerRef    *string
	CACertRef, CRLRef  *string
	TLSCiphers         *string
	TLSVersions, ALPN  *[]string
	Tags               *[]string
	Members            []MemberInput
	HealthMonitor      *HealthMonitorInput
}

// MemberInput is a member create or update.
type MemberInput struct {
	Name              *string
	AdminStateUp      *bool
	Address           *string
	ProtocolPort      *int
	Weight            *int
	Backup            *bool
	SubnetID          *string
	MonitorAddress    *string
	MonitorPort       *int
	MonitorPortSet    bool // monitor_port given (possibly null)
	MonitorAddressSet bool
	RequestSRIOV      *bool
	Tags              *[]string
	ProjectID         *string
	ID                string // batch update: the member this entry matches
}

// HealthMonitorInput is a health monitor create or update.
type HealthMonitorInput struct {
	Name                       *string
	AdminStateUp               *bool
	PoolID                     string
	Type                       *string
	Delay, Timeout             *int
	MaxRetries, MaxRetriesDown *int
	HTTPMethod, URLPath        *string
	ExpectedCodes              *string
	HTTPVersion                *float64
	DomainName                 *string
	Tags                       *[]string
}

// L7PolicyInput is an L7 policy create or update.
type L7PolicyInput struct {
	Name, Description *string
	AdminStateUp      *bool
	ListenerID        string
	Action            *string
	Position          *int
	RedirectPoolID    *string
	RedirectPool      *PoolInput
	RedirectURL       *string
	RedirectPrefix    *string
	RedirectHTTPCode  *int
	Rules             []L7RuleInput
	Tags              *[]string
}

// L7RuleInput is an L7 rule create or update.
type L7RuleInput struct {
	AdminStateUp      *bool
	Type, CompareType *string
	Key, Value        *string
	Invert            *bool
	Tags              *[]string
}
