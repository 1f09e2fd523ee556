package compute

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Nova's service binaries and the names the control plane shows under.
const (
	BinaryCompute   = "nova-compute"
	BinaryScheduler = "nova-scheduler"
	BinaryConductor = "nova-conductor"
	// ControllerHost is the host the control plane's services are listed on.
	ControllerHost = "controller"
	// InternalZone is Nova's zone for services that run no guests.
	InternalZone = "internal"
)

// ComputeService is one entry of os-services: a host's nova-compute, or
// one of the control plane's services, which live inside onestack itself
// and are always up.
type ComputeService struct {
	// ID is the integer id shown before microversion 2.53: 1 and 2 for
	// the scheduler and conductor, the host's seq + 2 for nova-compute.
	ID int
	// UUID is the id from 2.53; for nova-compute, the host's (and its
	// hypervisor's and resource provider's) id.
	UUID           string
	Binary         string
	Host           string
	Zone           string
	Enabled        bool
	DisabledReason string
	ForcedDown     bool
	Up             bool
	UpdatedAt      time.Time
}

// ServiceRef names a service or hypervisor: by integer id before 2.53,
// by UUID from 2.53.
type ServiceRef struct {
	ID   int
	UUID string
}

// ParseServiceRef reads an id from a path: a UUID when byUUID (2.53+),
// else an integer. ok is false when it has the wrong form.
func ParseServiceRef(s string, byUUID bool) (ServiceRef, bool) {
	if byUUID {
		u, err := uuid.Parse(s)
		return ServiceRef{UUID: u.String()}, err == nil && len(s) >= 32
	}
	n, err := strconv.Atoi(s)
	return ServiceRef{ID: n}, err == nil && n > 0
}

func (r ServiceRef) String() string {
	if r.UUID != "" {
		return r.UUID
	}
	return strconv.Itoa(r.ID)
}

const computeIDOffset = 2

var controlPlane = []struct {
	binary string
	id     int
}{{BinaryScheduler, 1}, {BinaryConductor, 2}}

func controlUUID(binary string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("onestack:"+binary)).String()
}

func (s *Service) controlServices() []ComputeService {
	out := make([]ComputeService, 0, len(controlPlane))
	for _, c := range controlPlane {
		out = append(out, ComputeService{ID: c.id, UUID: controlUUID(c.binary), Binary: c.binary, Host: ControllerHost,
			Zone: InternalZone, Enabled: true, Up: true, UpdatedAt: s.Now()})
	}
	return out
}

func (s *Service) computeService(h store.ComputeHost, zone string) ComputeService {
	return ComputeService{ID: h.Seq + computeIDOffset, UUID: h.ID, Binary: BinaryCompute, Host: h.Host, Zone: zone,
		Enabled: h.Enabled, DisabledReason: h.DisabledReason, ForcedDown: h.ForcedDown, Up: s.hostUp(h), UpdatedAt: h.HeartbeatAt}
}

// zonesTx maps every host in an aggregate with a zone to that zone; hosts
// not in the map are in the default zone. It is how the scheduler places.
func zonesTx(ctx context.Context, tx *store.Tx) (map[string]string, error) {
	aggs, err := tx.ListAggregates(ctx)
	if err != nil {
		return nil, err
	}
	return hostZones(aggs, 0), nil
}

func (s *Service) zoneOf(zones map[string]string, host string) string {
	if z, ok := zones[host]; ok {
		return z
	}
	return s.cfg.DefaultZone
}

// Services lists the control plane's services and every host's
// nova-compute, optionally only those of one host and/or binary.
func (s *Service) Services(ctx context.Context, c *auth.Credentials, host, binary string) ([]ComputeService, error) {
	if err := requireAdmin(c, "os_compute_api:os-services:list"); err != nil {
		return nil, err
	}
	out := s.controlServices()
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		zones, err := zonesTx(ctx, tx)
		if err != nil {
			return err
		}
		hs, err := tx.ListHosts(ctx)
		if err != nil {
			return err
		}
		for _, h := range hs {
			out = append(out, s.computeService(h, s.zoneOf(zones, h.Host)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	filtered := out[:0]
	for _, cs := range out {
		if (host == "" || cs.Host == host) && (binary == "" || cs.Binary == binary) {
			filtered = append(filtered, cs)
		}
	}
	return filtered, nil
}

// ServiceUpdate changes a nova-compute service; nil fields stay.
type ServiceUpdate struct {
	// Enabled true enables (clearing the reason), false disables with
	// DisabledReason.
	Enabled        *bool
	DisabledReason *string
	ForcedDown     *bool
}

func (s *Service) applyServiceUpdate(ctx context.Context, tx *store.Tx, h store.ComputeHost, u ServiceUpdate) (ComputeService, error) {
	if u.Enabled != nil {
		if *u.Enabled != h.Enabled {
			h.StatusChangedAt = s.Now()
		}
		h.Enabled, h.DisabledReason = *u.Enabled, ""
		if !*u.Enabled && u.DisabledReason != nil {
			h.DisabledReason = *u.DisabledReason
		}
	}
	if u.ForcedDown != nil {
		h.ForcedDown = *u.ForcedDown
	}
	if err := tx.SetHostStatus(ctx, h); err != nil {
		return ComputeService{}, err
	}
	zones, err := zonesTx(ctx, tx)
	if err != nil {
		return ComputeService{}, err
	}
	return s.computeService(h, s.zoneOf(zones, h.Host)), nil
}

func onlyCompute(binary string) error {
	return oserr.BadRequest("Updating a %s service is not supported. Only nova-compute services can be updated; %s runs inside the onestack control plane.", binary, binary)
}

// UpdateServiceByHost updates the service named by host and binary (the
// enable/disable/force-down actions before microversion 2.53).
func (s *Service) UpdateServiceByHost(ctx context.Context, c *auth.Credentials, host, binary string, u ServiceUpdate) (cs ComputeService, err error) {
	if err := requireAdmin(c, "os_compute_api:os-services:update"); err != nil {
		return cs, err
	}
	if binary != BinaryCompute {
		return cs, onlyCompute(binary)
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		h, err := tx.GetHostByName(ctx, host)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Could not find binary %s on host %s; see 'openstack compute service list'.", binary, host)
		} else if err != nil {
			return err
		}
		cs, err = s.applyServiceUpdate(ctx, tx, h, u)
		return err
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return cs, err
}

// hostByRef finds the compute host behind a service or hypervisor id.
func hostByRef(ctx context.Context, tx *store.Tx, ref ServiceRef, offset int) (store.ComputeHost, error) {
	if ref.UUID != "" {
		return tx.GetHost(ctx, ref.UUID)
	}
	return tx.GetHostBySeq(ctx, ref.ID-offset)
}

func controlByRef(ref ServiceRef) (string, bool) {
	for _, c := range controlPlane {
		if ref.ID == c.id || ref.UUID == controlUUID(c.binary) {
			return c.binary, true
		}
	}
	return "", false
}

// UpdateService updates a service by id (microversion 2.53).
func (s *Service) UpdateService(ctx context.Context, c *auth.Credentials, ref ServiceRef, u ServiceUpdate) (cs ComputeService, err error) {
	if err := requireAdmin(c, "os_compute_api:os-services:update"); err != nil {
		return cs, err
	}
	if b, ok := controlByRef(ref); ok {
		return cs, onlyCompute(b)
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		h, err := hostByRef(ctx, tx, ref, computeIDOffset)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Service %s could not be found; see 'openstack compute service list'.", ref)
		} else if err != nil {
			return err
		}
		cs, err = s.applyServiceUpdate(ctx, tx, h, u)
		return err
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return cs, err
}

// providerDeleter is implemented by placement services that can remove a
// resource provider; compute uses it when a service is deleted.
type providerDeleter interface {
	DeleteProvider(ctx context.Context, id string) error
}

// DeleteService deletes a compute host's service record, its aggregate
// memberships and its resource provider. A host with servers is refused.
// An agent still running there registers the host again.
func (s *Service) DeleteService(ctx context.Context, c *auth.Credentials, ref ServiceRef) error {
	if err := requireAdmin(c, "os_compute_api:os-services:delete"); err != nil {
		return err
	}
	if b, ok := controlByRef(ref); ok {
		return oserr.Conflict("Service %s (%s) runs inside the onestack control plane and cannot be deleted.", ref, b)
	}
	var h store.ComputeHost
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		h, err = hostByRef(ctx, tx, ref, computeIDOffset)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Service %s not found; see 'openstack compute service list'.", ref)
		} else if err != nil {
			return err
		}
		n, err := tx.CountServersOnHost(ctx, h.Host)
		if err != nil {
			return err
		}
		if n > 0 {
			return oserr.Conflict("Unable to delete compute service that is hosting instances: host %s has %d server(s). Migrate or delete the instances first.", h.Host, n)
		}
		if err := tx.RemoveHostFromAggregates(ctx, h.Host); err != nil {
			return err
		}
		return tx.DeleteHost(ctx, h.ID)
	})
	if err != nil {
		return err
	}
	if pd, ok := s.placement.(providerDeleter); ok {
		if err := pd.DeleteProvider(ctx, h.ID); err != nil && !oserr.Is(err, 404) {
			s.log.Warn("deleted compute service but not its resource provider; delete it with 'openstack resource provider delete'",
				"host", h.Host, "provider", h.ID, "error", err)
		}
	} else if s.placement != nil {
		s.log.Warn("deleted compute service; its resource provider stays (placement cannot delete providers here): delete it with 'openstack resource provider delete'",
			"host", h.Host, "provider", h.ID)
	}
	return nil
}

// Hypervisor is a compute host as os-hypervisors shows it, with what its
// servers use (the sum of their flavors).
type Hypervisor struct {
	Host            store.ComputeHost
	Service         ComputeService
	VCPUsUsed       int
	MemoryMBUsed    int
	LocalGBUsed     int
	RunningVMs      int
	CurrentWorkload int
	// Servers is filled when asked for (with_servers).
	Servers []ServerRefName
}

// ServerRefName is a server's id and name.
type ServerRefName struct{ ID, Name string }

// FreeRAM is memory_mb - memory_mb_used.
func (h Hypervisor) FreeRAM() int { return h.Host.MemoryMB - h.MemoryMBUsed }

// FreeDisk is local_gb - local_gb_used.
func (h Hypervisor) FreeDisk() int { return h.Host.DiskGB - h.LocalGBUsed }

// HypervisorList is a decoded GET /os-hypervisors.
type HypervisorList struct {
	Pattern     string // substring of the hostname (2.53, or the search route)
	WithServers bool
	Limit       int        // 0: all
	Marker      ServiceRef // the last hypervisor of the previous page
	HasMarker   bool
}

// hypervisors adds usage to hosts; all says hs is every host, so the
// loads are read without a host list.
func (s *Service) hypervisors(ctx context.Context, tx *store.Tx, hs []store.ComputeHost, withServers, all bool) ([]Hypervisor, error) {
	zones, err := zonesTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(hs))
	idx := make(map[string]int, len(hs))
	out := make([]Hypervisor, len(hs))
	for i, h := range hs {
		names[i], idx[h.Host] = h.Host, i
		out[i] = Hypervisor{Host: h, Service: s.computeService(h, s.zoneOf(zones, h.Host))}
	}
	if all {
		names = nil
	}
	loads, err := tx.ServerLoads(ctx, names)
	if err != nil {
		return nil, err
	}
	for _, l := range loads {
		if i, ok := idx[l.Host]; ok {
			hv := &out[i]
			hv.VCPUsUsed += l.VCPUs
			hv.MemoryMBUsed += l.RAM
			hv.LocalGBUsed += l.DiskGB
			hv.RunningVMs++
			if l.TaskState != "" {
				hv.CurrentWorkload++
			}
			if withServers {
				hv.Servers = append(hv.Servers, ServerRefName{ID: l.ID, Name: l.Name})
			}
		}
		if i, ok := idx[l.SourceHost]; ok && l.SourceHost != l.Host {
			// A resize or migration holds the source's resources until it ends.
			hv := &out[i]
			hv.VCPUsUsed += l.VCPUs
			hv.MemoryMBUsed += l.RAM
			hv.LocalGBUsed += l.DiskGB
			hv.CurrentWorkload++
		}
	}
	return out, nil
}

// Hypervisors lists compute hosts in id order with their usage (admin only).
func (s *Service) Hypervisors(ctx context.Context, c *auth.Credentials, l HypervisorList) (out []Hypervisor, err error) {
	if err := requireAdmin(c, "os_compute_api:os-hypervisors:list"); err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		q := store.HostQuery{Limit: l.Limit, Pattern: l.Pattern}
		if l.HasMarker {
			m, err := hostByRef(ctx, tx, l.Marker, 0)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("marker [%s] not found; page with the id of a hypervisor from the previous page.", l.Marker)
			} else if err != nil {
				return err
			}
			q.AfterSeq = m.Seq
		}
		hs, err := tx.ListHostsBy(ctx, q)
		if err != nil {
			return err
		}
		if l.Pattern != "" && len(hs) == 0 {
			return oserr.NotFound("No hypervisor matching '%s' could be found; see 'openstack hypervisor list'.", l.Pattern)
		}
		out, err = s.hypervisors(ctx, tx, hs, l.WithServers, false)
		return err
	})
	return out, err
}

// Hypervisor returns one compute host with its usage (admin only).
func (s *Service) Hypervisor(ctx context.Context, c *auth.Credentials, ref ServiceRef, withServers bool) (hv Hypervisor, err error) {
	if err := requireAdmin(c, "os_compute_api:os-hypervisors:show"); err != nil {
		return hv, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		h, err := hostByRef(ctx, tx, ref, 0)
		if errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Hypervisor with ID '%s' could not be found; see 'openstack hypervisor list'.", ref)
		} else if err != nil {
			return err
		}
		hvs, err := s.hypervisors(ctx, tx, []store.ComputeHost{h}, withServers, false)
		if err != nil {
			return err
		}
		hv = hvs[0]
		return nil
	})
	return hv, err
}

// HypervisorStats sums every hypervisor (os-hypervisors/statistics).
type HypervisorStats struct {
	Count, CurrentWorkload, DiskAvailableLeast, FreeDiskGB, FreeRAMMB int
	LocalGB, LocalGBUsed, MemoryMB, MemoryMBUsed, RunningVMs          int
	VCPUs, VCPUsUsed                                                  int
}

// HypervisorStatistics sums the resources and usage of every host (admin only).
func (s *Service) HypervisorStatistics(ctx context.Context, c *auth.Credentials) (st HypervisorStats, err error) {
	if err := requireAdmin(c, "os_compute_api:os-hypervisors:statistics"); err != nil {
		return st, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		hs, err := tx.ListHostsBy(ctx, store.HostQuery{})
		if err != nil {
			return err
		}
		hvs, err := s.hypervisors(ctx, tx, hs, false, true)
		if err != nil {
			return err
		}
		for _, hv := range hvs {
			st.Count++
			st.VCPUs += hv.Host.VCPUs
			st.VCPUsUsed += hv.VCPUsUsed
			st.MemoryMB += hv.Host.MemoryMB
			st.MemoryMBUsed += hv.MemoryMBUsed
			st.FreeRAMMB += hv.FreeRAM()
			st.LocalGB += hv.Host.DiskGB
			st.LocalGBUsed += hv.LocalGBUsed
			st.FreeDiskGB += hv.FreeDisk()
			st.DiskAvailableLeast += hv.FreeDisk()
			st.RunningVMs += hv.RunningVMs
			st.CurrentWorkload += hv.CurrentWorkload
		}
		return nil
	})
	return st, err
}

// Zone is an availability zone with its hosts and their services.
type Zone struct {
	Name string
	// Available: at least one host in the zone is enabled and up.
	Available bool
	Hosts     []ZoneHost
}

// ZoneHost is one host of a zone and its services.
type ZoneHost struct {
	Name     string
	Services []ComputeService
}

// AvailabilityZones lists the zones that have hosts: the default zone for
// hosts in no zoned aggregate, and each zoned aggregate's. With detail
// (admins) it adds each host's services and the control plane's
// "internal" zone. Available zones come first.
func (s *Service) AvailabilityZones(ctx context.Context, c *auth.Credentials, detail bool) ([]Zone, error) {
	if detail {
		if err := requireAdmin(c, "os_compute_api:os-availability-zone:detail"); err != nil {
			return nil, err
		}
	}
	byZone := map[string]*Zone{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		zones, err := zonesTx(ctx, tx)
		if err != nil {
			return err
		}
		hs, err := tx.ListHosts(ctx)
		if err != nil {
			return err
		}
		for _, h := range hs {
			name := s.zoneOf(zones, h.Host)
			z := byZone[name]
			if z == nil {
				z = &Zone{Name: name}
				byZone[name] = z
			}
			cs := s.computeService(h, name)
			z.Available = z.Available || (cs.Enabled && cs.Up)
			z.Hosts = append(z.Hosts, ZoneHost{Name: h.Host, Services: []ComputeService{cs}})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Zone, 0, len(byZone)+1)
	for _, z := range byZone {
		out = append(out, *z)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Available != out[j].Available {
			return out[i].Available
		}
		return out[i].Name < out[j].Name
	})
	if detail {
		out = append(out, Zone{Name: InternalZone, Available: true,
			Hosts: []ZoneHost{{Name: ControllerHost, Services: s.controlServices()}}})
	}
	return out, nil
}
