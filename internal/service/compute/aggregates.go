package compute

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// zoneKey is the aggregate metadata key that puts its hosts in an
// availability zone, as in Nova.
const zoneKey = "availability_zone"

// ValidZoneName reports whether z is a valid availability zone name: a
// Nova name without ':' (which separates zone and host in "zone:host").
func ValidZoneName(z string) bool { return PrintableName(z) && !strings.Contains(z, ":") }

func badZone(z string) error {
	return oserr.BadRequest("Invalid input for field/attribute availability_zone: %q is not a valid zone name; use 1 to 255 printable characters without ':' and without leading or trailing whitespace.", z)
}

// CreateAggregate creates a host aggregate, optionally an availability zone.
func (s *Service) CreateAggregate(ctx context.Context, c *auth.Credentials, name, zone string) (store.Aggregate, error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:create"); err != nil {
		return store.Aggregate{}, err
	}
	name, zone = strings.TrimSpace(name), strings.TrimSpace(zone)
	if !PrintableName(name) {
		return store.Aggregate{}, oserr.BadRequest("Invalid input for field/attribute name: an aggregate name is 1 to 255 printable characters and may not start or end with whitespace.")
	}
	if zone != "" && !ValidZoneName(zone) {
		return store.Aggregate{}, badZone(zone)
	}
	now := s.Now()
	a := store.Aggregate{UUID: newUUID(), Name: name, Zone: zone, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	if zone != "" {
		a.Metadata[zoneKey] = zone
	}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		err := tx.CreateAggregate(ctx, &a)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Aggregate %s already exists; choose another name.", name)
		}
		return err
	})
	return a, err
}

// Aggregates lists every aggregate with its hosts (admin only).
func (s *Service) Aggregates(ctx context.Context, c *auth.Credentials) (as []store.Aggregate, err error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:index"); err != nil {
		return nil, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		as, err = tx.ListAggregates(ctx)
		return err
	})
	return as, err
}

func aggregateNotFound(err error, id int) error {
	if errors.Is(err, store.ErrNotFound) {
		return oserr.NotFound("Aggregate %d could not be found; see 'openstack aggregate list'.", id)
	}
	return err
}

// Aggregate returns one aggregate (admin only).
func (s *Service) Aggregate(ctx context.Context, c *auth.Credentials, id int) (a store.Aggregate, err error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:show"); err != nil {
		return a, err
	}
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		a, err = tx.GetAggregate(ctx, id)
		return aggregateNotFound(err, id)
	})
	return a, err
}

// AggregateUpdate is a decoded PUT /os-aggregates/{id}.
type AggregateUpdate struct {
	Name *string
	// Zone, when set, is the new availability zone; a nil inner pointer
	// (JSON null) is refused as Nova does.
	Zone **string
}

// hostZones maps each host in an aggregate with a zone to that zone,
// skipping aggregate skip.
func hostZones(aggs []store.Aggregate, skip int) map[string]string {
	out := map[string]string{}
	for _, a := range aggs {
		if a.ID == skip || a.Zone == "" {
			continue
		}
		for _, h := range a.Hosts {
			out[h] = a.Zone
		}
	}
	return out
}

// checkZoneChange refuses putting hosts of aggregate a in zone when one of
// them is already in another zone through another aggregate, or (when a
// changes zone) when one of them runs servers, whose zone would change
// under them. action names what is refused for the message.
func (s *Service) checkZoneChange(ctx context.Context, tx *store.Tx, a store.Aggregate, hosts []string, zone, action string, status int) error {
	refuse := func(format string, args ...any) error {
		msg := fmt.Sprintf("Cannot %s aggregate %d. Reason: ", action, a.ID) + fmt.Sprintf(format, args...)
		if status == 409 {
			return oserr.Conflict("%s", msg)
		}
		return oserr.BadRequest("%s", msg)
	}
	if zone == "" {
		return refuse("Aggregate %s does not support empty named availability zone; give a zone name.", a.Name)
	}
	aggs, err := tx.ListAggregates(ctx)
	if err != nil {
		return err
	}
	zones := hostZones(aggs, a.ID)
	var conflicting []string
	for _, h := range hosts {
		if z, ok := zones[h]; ok && z != zone && !slices.Contains(conflicting, z) {
			conflicting = append(conflicting, z)
		}
	}
	if len(conflicting) > 0 {
		sort.Strings(conflicting)
		return refuse("One or more hosts already in availability zone(s) %v; a host can be in one zone only: remove it from the other zone's aggregate first.", conflicting)
	}
	if a.Zone == zone {
		return nil
	}
	for _, h := range hosts {
		n, err := tx.CountServersOnHost(ctx, h)
		if err != nil {
			return err
		}
		if n > 0 {
			return refuse("host %s has %d server(s) whose availability zone would change; move or delete them first.", h, n)
		}
	}
	return nil
}

// UpdateAggregate renames an aggregate or moves it to another zone.
func (s *Service) UpdateAggregate(ctx context.Context, c *auth.Credentials, id int, u AggregateUpdate) (a store.Aggregate, err error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:update"); err != nil {
		return a, err
	}
	if u.Name == nil && u.Zone == nil {
		return a, oserr.BadRequest("Invalid input for field/attribute aggregate: give name or availability_zone to update.")
	}
	if u.Name != nil {
		n := strings.TrimSpace(*u.Name)
		if !PrintableName(n) {
			return a, oserr.BadRequest("Invalid input for field/attribute name: an aggregate name is 1 to 255 printable characters.")
		}
		u.Name = &n
	}
	if u.Zone != nil && *u.Zone != nil && !ValidZoneName(**u.Zone) {
		return a, badZone(**u.Zone)
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if a, err = tx.GetAggregate(ctx, id); err != nil {
			return aggregateNotFound(err, id)
		}
		if u.Name != nil {
			a.Name = *u.Name
		}
		if u.Zone != nil {
			zone := ""
			if *u.Zone != nil {
				zone = **u.Zone
			}
			if err := s.checkZoneChange(ctx, tx, a, a.Hosts, zone, "update", 400); err != nil {
				return err
			}
			a.Zone, a.Metadata[zoneKey] = zone, zone
		}
		a.UpdatedAt = s.Now()
		err := tx.UpdateAggregate(ctx, a)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Aggregate %s already exists; choose another name.", a.Name)
		}
		return err
	})
	if err == nil && u.Zone != nil {
		s.Hub.WakeScheduler()
	}
	return a, err
}

// SetAggregateMetadata merges metadata into an aggregate; a nil value
// deletes its key. The availability_zone key sets the zone.
func (s *Service) SetAggregateMetadata(ctx context.Context, c *auth.Credentials, id int, meta map[string]*string) (a store.Aggregate, err error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:set_metadata"); err != nil {
		return a, err
	}
	for k, v := range meta {
		if !extraSpecKey.MatchString(k) {
			return a, oserr.BadRequest("Invalid input for field/attribute metadata: key %q is invalid; keys are 1 to 255 letters, digits, spaces and '-', '_', ':', '.'.", k)
		}
		if v != nil && len([]rune(*v)) > 255 {
			return a, oserr.BadRequest("Invalid input for field/attribute metadata: the value of %q is longer than 255 characters.", k)
		}
		if k == zoneKey && v != nil && *v != "" && !ValidZoneName(*v) {
			return a, badZone(*v)
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if a, err = tx.GetAggregate(ctx, id); err != nil {
			return aggregateNotFound(err, id)
		}
		if v, ok := meta[zoneKey]; ok {
			zone := ""
			if v != nil {
				zone = *v
			}
			if err := s.checkZoneChange(ctx, tx, a, a.Hosts, zone, "update metadata of", 400); err != nil {
				return err
			}
			a.Zone = zone
		}
		for k, v := range meta {
			if v == nil {
				delete(a.Metadata, k)
			} else {
				a.Metadata[k] = *v
			}
		}
		a.UpdatedAt = s.Now()
		return tx.UpdateAggregate(ctx, a)
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return a, err
}

// DeleteAggregate deletes an aggregate without hosts.
func (s *Service) DeleteAggregate(ctx context.Context, c *auth.Credentials, id int) error {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:delete"); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.GetAggregate(ctx, id)
		if err != nil {
			return aggregateNotFound(err, id)
		}
		if len(a.Hosts) > 0 {
			return oserr.BadRequest("Cannot delete aggregate %d. Reason: Host aggregate is not empty: it still has hosts %s; remove them first ('openstack aggregate remove host').", id, strings.Join(a.Hosts, ", "))
		}
		return aggregateNotFound(tx.DeleteAggregate(ctx, id), id)
	})
}

// AddAggregateHost adds a compute host to an aggregate. A host may be in
// several aggregates but in one availability zone only.
func (s *Service) AddAggregateHost(ctx context.Context, c *auth.Credentials, id int, host string) (a store.Aggregate, err error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:add_host"); err != nil {
		return a, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if a, err = tx.GetAggregate(ctx, id); err != nil {
			return aggregateNotFound(err, id)
		}
		if _, err := tx.GetHostByName(ctx, host); errors.Is(err, store.ErrNotFound) {
			return oserr.NotFound("Compute host %s could not be found; see 'openstack compute service list --service nova-compute'.", host)
		} else if err != nil {
			return err
		}
		if slices.Contains(a.Hosts, host) {
			return oserr.Conflict("Aggregate %d already has host %s.", id, host)
		}
		if a.Zone != "" {
			if err := s.addHostZoneCheck(ctx, tx, a, host); err != nil {
				return err
			}
		}
		if err := tx.AddAggregateHost(ctx, id, host); errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("Aggregate %d already has host %s.", id, host)
		} else if err != nil {
			return err
		}
		a.Hosts = append(a.Hosts, host)
		sort.Strings(a.Hosts)
		return nil
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return a, err
}

// addHostZoneCheck refuses (409) adding host to a zoned aggregate when the
// host is in another zone, or when it has servers that would change zone.
func (s *Service) addHostZoneCheck(ctx context.Context, tx *store.Tx, a store.Aggregate, host string) error {
	aggs, err := tx.ListAggregates(ctx)
	if err != nil {
		return err
	}
	cur, ok := hostZones(aggs, a.ID)[host]
	if ok && cur != a.Zone {
		return oserr.Conflict("Cannot add host to aggregate %d. Reason: One or more hosts already in availability zone(s) [%s]; host %s can be in one zone only: remove it from that zone's aggregate first.", a.ID, cur, host)
	}
	if ok {
		return nil
	}
	n, err := tx.CountServersOnHost(ctx, host)
	if err != nil {
		return err
	}
	if n > 0 {
		return oserr.Conflict("Cannot add host to aggregate %d. Reason: The host cannot be added to the aggregate as the availability zone of the host would change from '%s' to '%s' but the host already has %d instance(s); move them off the host first.", a.ID, s.cfg.DefaultZone, a.Zone, n)
	}
	return nil
}

// RemoveAggregateHost removes a host from an aggregate.
func (s *Service) RemoveAggregateHost(ctx context.Context, c *auth.Credentials, id int, host string) (a store.Aggregate, err error) {
	if err := requireAdmin(c, "os_compute_api:os-aggregates:remove_host"); err != nil {
		return a, err
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if a, err = tx.GetAggregate(ctx, id); err != nil {
			return aggregateNotFound(err, id)
		}
		if !slices.Contains(a.Hosts, host) {
			return oserr.NotFound("Cannot remove host %s in aggregate %d: the aggregate has no such host (it has %s).", host, id, orNone(a.Hosts))
		}
		if a.Zone != "" {
			aggs, err := tx.ListAggregates(ctx)
			if err != nil {
				return err
			}
			next, ok := hostZones(aggs, a.ID)[host]
			if !ok {
				next = s.cfg.DefaultZone
			}
			if next != a.Zone {
				n, err := tx.CountServersOnHost(ctx, host)
				if err != nil {
					return err
				}
				if n > 0 {
					return oserr.Conflict("Cannot remove host from aggregate %d. Reason: The host cannot be removed from the aggregate as the availability zone of the host would change from '%s' to '%s' but the host already has %d instance(s); move them off the host first.", id, a.Zone, next, n)
				}
			}
		}
		if err := tx.RemoveAggregateHost(ctx, id, host); err != nil {
			return err
		}
		a.Hosts = slices.DeleteFunc(a.Hosts, func(h string) bool { return h == host })
		return nil
	})
	if err == nil {
		s.Hub.WakeScheduler()
	}
	return a, err
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}
