package loadbalancer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Provider names. onestack is the provider of this service (HAProxy in a
// network namespace of a host); amphora, Octavia's default provider name,
// is accepted as an alias so clients and tests that name it work.
const (
	ProviderOnestack = "onestack"
	ProviderAmphora  = "amphora"
)

// Network is what the service needs of the networking service, inside its
// own transactions (internal/cloud adapts Neutron to it). Callers of the
// ...Tx methods wake the network agents after commit (NotifyNetwork).
type Network interface {
	// Subnet returns a subnet c may use; store.ErrNotFound otherwise.
	Subnet(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) (store.Subnet, error)
	// NetworkSubnets returns the subnets of a network c may use.
	NetworkSubnets(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string) ([]store.Subnet, error)
	CreateVIPTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, req VIPRequest) (VIP, error)
	SetVIPRulesTx(ctx context.Context, tx *store.Tx, groupID string, rules []VIPRule) error
	BindVIPTx(ctx context.Context, tx *store.Tx, portID, host string) error
	DeleteVIPTx(ctx context.Context, tx *store.Tx, vip VIP) error
	// SetMemberPortsTx makes the load balancer's ports on member subnets
	// exactly req.Subnets and returns them by subnet.
	SetMemberPortsTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, req MemberPortsRequest) (map[string]string, error)
	NotifyNetwork()
}

// MemberPortsRequest asks for a load balancer's ports on member subnets
// outside the VIP's network, bound to Host, in the VIP's security group.
type MemberPortsRequest struct {
	LoadBalancerID, ProjectID, Host, GroupID string
	Subnets                                  []string
	Have                                     map[string]string
}

// VIPRequest asks the networking service for a load balancer's VIP port.
type VIPRequest struct {
	LoadBalancerID, ProjectID            string
	PortID, NetworkID, SubnetID, Address string
	Host                                 string
	ExtraGroups                          []string
}

// VIP is a VIP port as made.
type VIP struct {
	PortID, NetworkID, SubnetID, Address, GroupID string
	UserPort                                      bool
}

// VIPRule lets clients reach a listener.
type VIPRule struct {
	Protocol string
	Port     int
	CIDR     string
}

// Secrets reads certificate containers that are not inline (data: URLs):
// nil refuses them with a message saying what to give instead.
type Secrets interface {
	Read(ctx context.Context, c *auth.Credentials, ref string) ([]byte, error)
}

// Config tunes the service.
type Config struct {
	// PendingTimeout is how long a load balancer may wait for its host to
	// apply a change before it goes to ERROR (3 minutes when zero).
	PendingTimeout time.Duration
	// HostTimeout is how long a host may go without watching before it
	// is no longer given new load balancers (90 s when zero).
	HostTimeout time.Duration
	// DefaultProvider is the provider of load balancers that name none.
	DefaultProvider string
	// DefaultComputeZone is the compute availability zone of hosts in no
	// zoned host aggregate ("nova" when empty), for availability zones
	// whose profile names a compute_zone.
	DefaultComputeZone string
}

// Service is Octavia's domain: load balancers and their trees, statuses,
// quotas, flavors and zones, and the desired state the hosts apply.
type Service struct {
	db      *store.DB
	net     Network
	secrets Secrets
	log     *slog.Logger
	cfg     Config
	now     func() time.Time

	mu      sync.Mutex
	changed chan struct{}
	// seen is when each host last watched (written to the store at most
	// every seenEvery, so a busy watch does not write on every call).
	seen map[string]time.Time
}

const seenEvery = 20 * time.Second

// New returns the service.
func New(db *store.DB, net Network, secrets Secrets, log *slog.Logger, cfg Config) *Service {
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = 3 * time.Minute
	}
	if cfg.HostTimeout <= 0 {
		cfg.HostTimeout = 90 * time.Second
	}
	if cfg.DefaultComputeZone == "" {
		cfg.DefaultComputeZone = "nova"
	}
	if cfg.DefaultProvider == "" {
		cfg.DefaultProvider = ProviderOnestack
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, net: net, secrets: secrets, log: log, cfg: cfg,
		now: func() time.Time { return time.Now().UTC() }, changed: make(chan struct{}), seen: map[string]time.Time{}}
}

// SetClock replaces the service's clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Notify wakes every watch.
func (s *Service) Notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Service) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// write runs fn in one transaction holding the lbaas epoch (every change
// of desired state moves it) and wakes the watches after commit.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx, rev int64) error) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		rev, err := tx.LockLBaaS(ctx)
		if err != nil {
			return err
		}
		return fn(tx, rev)
	})
	if err == nil {
		s.Notify()
	}
	return err
}

// touchNetwork wakes the network agents once tx commits (after a VIP
// change).
func (s *Service) touchNetwork(tx *store.Tx) {
	if s.net != nil {
		tx.AfterCommit(s.net.NotifyNetwork)
	}
}

func (s *Service) read(ctx context.Context, fn func(tx *store.Tx) error) error {
	return s.db.Read(ctx, fn)
}

// ---- Octavia's errors: {"faultcode", "faultstring", "debuginfo"} is the
// API's rendering; these are the messages.

// names are Octavia's resource names in messages.
var names = map[string]string{
	KindLoadBalancer: "Load Balancer", KindListener: "Listener", KindPool: "Pool", KindMember: "Member",
	KindHealthMonitor: "Health Monitor", KindL7Policy: "L7 Policy", KindL7Rule: "L7 Rule",
	KindFlavor: "Flavor", KindFlavorProfile: "Flavor Profile", KindZone: "Availability Zone",
	KindZoneProfile: "Availability Zone Profile",
}

func notFound(kind, id string) error {
	return oserr.NotFound("%s %s not found.", names[kind], id)
}

func validation(format string, args ...any) error {
	return oserr.BadRequest("Validation failure: "+format, args...)
}

func immutable(kind, id string) error {
	return oserr.Conflict("%s %s is immutable and cannot be updated.", names[kind], id)
}

func pendingState(state, id string) error {
	return oserr.Conflict("Invalid state %s of loadbalancer resource %s", state, id)
}

func quotaMet(kind string) error {
	return oserr.Forbidden("Quota has been met for resources: %s", names[kind])
}

func forbidden() error {
	return oserr.Forbidden("Policy does not allow this request to be performed.")
}

// visible reports whether c may see objects of project.
func visible(c *auth.Credentials, project string) bool {
	return c.IsAdmin() || c.ProjectID() == project
}

// Octavia's own roles the service checks beyond Keystone's (the API maps
// the others onto Keystone's admin, member and reader).
const (
	// RoleGlobalObserver reads every project's load balancers.
	RoleGlobalObserver = "load-balancer_global_observer"
	// RoleQuotaAdmin reads and sets every project's quotas.
	RoleQuotaAdmin = "load-balancer_quota_admin"
)

// readsAll: admins and global observers read every project's objects.
func readsAll(c *auth.Credentials) bool { return c.IsAdmin() || c.HasRole(RoleGlobalObserver) }

// visibleRead is visible for reading.
func visibleRead(c *auth.Credentials, project string) bool {
	return readsAll(c) || c.ProjectID() == project
}

// ---- documents

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err)) // plain structs of this package always encode
	}
	return string(b)
}

func decode[T any](o store.LBObject) (*T, error) {
	v := new(T)
	if err := json.Unmarshal([]byte(o.Doc), v); err != nil {
		return nil, fmt.Errorf("%s %s: damaged document: %w", o.Kind, o.ID, err)
	}
	return v, nil
}

func newID() string { return uuid.NewString() }

// get reads one object of kind and decodes it; the kind's 404 when absent.
func get[T any](ctx context.Context, tx *store.Tx, kind, id string) (*T, error) {
	o, err := tx.GetLBObject(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(kind, id)
	}
	if err != nil {
		return nil, err
	}
	return decode[T](o)
}

// ---- events

const maxEvents = 200

func (s *Service) event(ctx context.Context, tx *store.Tx, lb *LoadBalancer, kind, objectID, action, msg string) error {
	e := Event{ID: newID(), LoadBalancerID: lb.ID, ObjectID: objectID, Kind: kind, Action: action, Message: msg, Time: s.now()}
	// Events hang below the load balancer by parent, not by
	// loadbalancer_id, so reading a tree does not read its events.
	return tx.CreateLBObject(ctx, store.LBObject{ID: e.ID, Kind: KindEvent, ProjectID: lb.ProjectID,
		ParentID: lb.ID, Doc: encode(e), CreatedAt: e.Time, UpdatedAt: e.Time})
}

// Events returns a load balancer's events, oldest first (the newest
// maxEvents are kept).
func (s *Service) Events(ctx context.Context, c *auth.Credentials, lbID string) ([]Event, error) {
	var out []Event
	err := s.read(ctx, func(tx *store.Tx) error {
		lb, err := get[LoadBalancer](ctx, tx, KindLoadBalancer, lbID)
		if err != nil {
			return err
		}
		if !visibleRead(c, lb.ProjectID) {
			return forbidden()
		}
		objs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindEvent, ParentID: lbID})
		if err != nil {
			return err
		}
		if len(objs) > maxEvents {
			objs = objs[len(objs)-maxEvents:]
		}
		for _, o := range objs {
			e, err := decode[Event](o)
			if err != nil {
				return err
			}
			out = append(out, *e)
		}
		return nil
	})
	return out, err
}
