// Package network is Neutron's domain: networks, subnets and their IP
// allocation, ports and their bindings, security groups, routers,
// floating IPs and quotas, with Neutron's rules and error types; and the
// desired data plane of each host (HostNetwork) that the agents apply.
//
// It sits between the Neutron API (internal/api/network) and the store.
// Every change is one transaction that first takes the network epoch
// (store.Tx.LockNetworking): networking writes take turns, so address,
// MAC, VNI and quota checks cannot be raced past, and the data planes see
// a new revision.
package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Config tunes the networking service.
type Config struct {
	// PublicCIDR is the external network's subnet (172.24.4.0/24).
	PublicCIDR string
	// Quotas are the default per-project limits (Neutron's when nil).
	Quotas map[string]int
	// DefaultZone is the availability zone networks report ("nova").
	DefaultZone string
}

// DefaultQuotas are Neutron's default limits.
func DefaultQuotas() map[string]int {
	return map[string]int{"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
		"security_group": 10, "security_group_rule": 100}
}

// Service is the networking service.
type Service struct {
	db  *store.DB
	log *slog.Logger
	cfg Config
	now func() time.Time

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
}

// New returns the networking service.
func New(db *store.DB, log *slog.Logger, cfg Config) *Service {
	if cfg.PublicCIDR == "" {
		cfg.PublicCIDR = "172.24.4.0/24"
	}
	if cfg.Quotas == nil {
		cfg.Quotas = DefaultQuotas()
	}
	if cfg.DefaultZone == "" {
		cfg.DefaultZone = "nova"
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, log: log, cfg: cfg, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }, changed: make(chan struct{})}
}

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Notify wakes every WatchNetwork: callers that changed networking in a
// transaction of their own (ServerPortsTx) call it after commit.
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

// write runs fn in one transaction holding the network epoch, and wakes
// the watchers after commit.
func (s *Service) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.LockNetworking(ctx); err != nil {
			return err
		}
		return fn(tx)
	})
	if err == nil {
		s.Notify()
	}
	return err
}

func (s *Service) read(ctx context.Context, fn func(tx *store.Tx) error) error {
	return s.db.Read(ctx, fn)
}

// ---- Neutron's errors

func nfErr(kind, typ, id string) *oserr.Error {
	return oserr.NotFound("%s %s could not be found.", kind, id).WithType(typ)
}

func networkNotFound(id string) error { return nfErr("Network", "NetworkNotFound", id) }
func subnetNotFound(id string) error  { return nfErr("Subnet", "SubnetNotFound", id) }
func portNotFound(id string) error    { return nfErr("Port", "PortNotFound", id) }
func routerNotFound(id string) error  { return nfErr("Router", "RouterNotFound", id) }
func sgNotFound(id string) error {
	return oserr.NotFound("Security group %s does not exist", id).WithType("SecurityGroupNotFound")
}
func sgRuleNotFound(id string) error {
	return oserr.NotFound("Security group rule %s does not exist", id).WithType("SecurityGroupRuleNotFound")
}
func fipNotFound(id string) error {
	return oserr.NotFound("Floating IP %s could not be found", id).WithType("FloatingIPNotFound")
}

// invalid is Neutron's 400 for a bad value: "Invalid input for operation: …".
func invalid(format string, args ...any) error {
	return oserr.BadRequest("Invalid input for operation: %s.", fmt.Sprintf(format, args...)).WithType("InvalidInput")
}

func badRequest(format string, args ...any) error {
	return oserr.BadRequest(format, args...)
}

func overQuota(resource string) error {
	return oserr.Conflict("Quota exceeded for resources: ['%s'].", resource).WithType("OverQuota")
}

func forbidden(action string) error {
	return oserr.Forbidden("(rule:%s) is disallowed by policy.", action).WithType("PolicyNotAuthorized")
}

// revisionCheck returns Neutron's 412 when ifRev (>= 0) is not cur.
func revisionCheck(ifRev, cur int64) error {
	if ifRev >= 0 && ifRev != cur {
		return oserr.PreconditionFailed("Constrained to %d, but current revision is %d", ifRev, cur).WithType("RevisionNumberConstraintFailed")
	}
	return nil
}

// mapNotFound turns the store's ErrNotFound into err.
func mapNotFound(err error, nf error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nf
	}
	return err
}

// ---- policy

// scope returns the store query that limits a list to what c may see.
func scope(c *auth.Credentials) store.Query {
	if c.IsAdmin() {
		return store.Query{All: true}
	}
	return store.Query{Projects: []string{c.ProjectID()}}
}

func owns(c *auth.Credentials, projectID string) bool {
	return c.IsAdmin() || c.ProjectID() == projectID
}

// targetProject is the project a new resource belongs to: the caller's, or
// the one an admin names.
func targetProject(c *auth.Credentials, requested string) (string, error) {
	if requested == "" || requested == c.ProjectID() {
		if c.ProjectID() == "" {
			return "", badRequest("A project_id is needed: use a project-scoped token or pass project_id.")
		}
		return c.ProjectID(), nil
	}
	if !c.IsAdmin() {
		return "", forbidden("create:project_id")
	}
	return requested, nil
}

// quota refuses to create n more of resource in project when over the
// limit; it runs in the locked transaction, so counts are exact.
func (s *Service) quota(ctx context.Context, tx *store.Tx, project, resource string, n int) error {
	limit, err := s.limit(ctx, tx, project, resource)
	if err != nil {
		return err
	}
	if limit < 0 {
		return nil
	}
	used, err := tx.NetworkUsage(ctx, project, resource)
	if err != nil {
		return err
	}
	if used+n > limit {
		return overQuota(resource)
	}
	return nil
}

func (s *Service) limit(ctx context.Context, tx *store.Tx, project, resource string) (int, error) {
	own, err := tx.NetworkQuotas(ctx, project)
	if err != nil {
		return 0, err
	}
	if v, ok := own[resource]; ok {
		return v, nil
	}
	return s.cfg.Quotas[resource], nil
}

// Tags are validated like Neutron's: at most 60 per resource, each 1-255
// characters without commas or slashes.
func checkTag(tag string) error {
	if tag == "" || len(tag) > 255 {
		return badRequest("Invalid input for tag: '%s' must be 1 to 255 characters.", tag)
	}
	for _, r := range tag {
		if r == ',' || r == '/' {
			return badRequest("Invalid input for tag: '%s' must not contain ',' or '/'.", tag)
		}
	}
	return nil
}

func parsePrefix(cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}
