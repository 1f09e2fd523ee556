package loadbalancer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Providers, flavors, flavor profiles, availability zones and their
// profiles: operator objects (no project). Profiles hold provider settings
// as JSON; a flavor or zone is what users name at create.

// Provider is one provider the API lists.
type Provider struct{ Name, Description string }

// Providers are the enabled providers.
func Providers() []Provider {
	return []Provider{
		// No commas in descriptions: Tempest's enabled_provider_drivers
		// option (a comma-separated dict) must be able to hold them.
		{ProviderOnestack, "HAProxy in a network namespace of a host plugged into the VIP's network (onestack's data plane)."},
		{ProviderAmphora, "Alias of onestack (Octavia's default provider name) so clients and tests that name it work."},
	}
}

// Capability is a flavor or zone setting a provider understands.
type Capability struct{ Name, Description string }

// FlavorCapabilities are the flavor_data keys the provider accepts.
var FlavorCapabilities = []Capability{
	{"loadbalancer_topology", "The load balancer topology. One of: SINGLE - one HAProxy per load balancer (the only topology served)."},
}

// ZoneCapabilities are the availability_zone_data keys the provider
// accepts.
var ZoneCapabilities = []Capability{
	{"compute_zone", "The compute availability zone of the hosts that run the load balancer."},
	{"valid_vip_networks", "The networks a VIP in this zone may be on (a list of network ids)."},
	{"management_network", "Accepted as the amphora provider's key; onestack has no management network (agents reach the control plane out of band) so it changes nothing."},
}

// CheckProvider reports whether name is an enabled provider.
func CheckProvider(name string) error {
	for _, p := range Providers() {
		if p.Name == name {
			return nil
		}
	}
	return oserr.NotImplemented("Provider '%s' was not found.", name)
}

// validateData checks a profile's JSON against the capabilities.
func validateData(provider, field, data string, caps []Capability) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(data), &m); err != nil || m == nil {
		return oserr.BadRequest("%s is not a valid option for %s", data, field)
	}
	for k, v := range m {
		if !slices.ContainsFunc(caps, func(c Capability) bool { return c.Name == k }) {
			return oserr.NotImplemented("Provider '%s' does not support a requested option: unknown %s key %s; give one of %s.", provider, field, k, capNames(caps))
		}
		if k == "loadbalancer_topology" && v != "SINGLE" {
			return oserr.NotImplemented("Provider '%s' does not support a requested option: loadbalancer_topology %v (only SINGLE is served).", provider, v)
		}
		if k == "valid_vip_networks" {
			list, ok := v.([]any)
			for _, e := range list {
				_, isStr := e.(string)
				ok = ok && isStr
			}
			if !ok {
				return oserr.BadRequest("%v is not a valid option for %s key %s (give a list of network ids)", v, field, k)
			}
			continue
		}
		if _, ok := v.(string); !ok {
			return oserr.BadRequest("%v is not a valid option for %s key %s (give a string)", v, field, k)
		}
	}
	return nil
}

func capNames(caps []Capability) string {
	var out []string
	for _, c := range caps {
		out = append(out, c.Name)
	}
	return fmt.Sprint(out)
}

func adminOnly(c *auth.Credentials) error {
	if !c.IsAdmin() {
		return forbidden()
	}
	return nil
}

// putOp creates or replaces an operator object.
func (s *Service) putOp(ctx context.Context, tx *store.Tx, kind, id string, v any, create bool) error {
	now := s.now()
	o := store.LBObject{ID: id, Kind: kind, Doc: encode(v), CreatedAt: now, UpdatedAt: now}
	if create {
		err := tx.CreateLBObject(ctx, o)
		if errors.Is(err, store.ErrConflict) {
			return oserr.Conflict("A %s with that name or id already exists; choose another.", names[kind])
		}
		return err
	}
	return tx.UpdateLBObject(ctx, o)
}

func listOp[T any](ctx context.Context, s *Service, kind string) ([]T, error) {
	var out []T
	err := s.read(ctx, func(tx *store.Tx) error {
		objs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: kind})
		if err != nil {
			return err
		}
		for _, o := range objs {
			v, err := decode[T](o)
			if err != nil {
				return err
			}
			out = append(out, *v)
		}
		return nil
	})
	return out, err
}

func getOp[T any](ctx context.Context, s *Service, kind, id string) (T, error) {
	var out T
	err := s.read(ctx, func(tx *store.Tx) error {
		v, err := get[T](ctx, tx, kind, id)
		if err == nil {
			out = *v
		}
		return err
	})
	return out, err
}

// ---- flavor profiles

// FlavorProfileInput creates or updates a flavor profile.
type FlavorProfileInput struct{ Name, ProviderName, FlavorData *string }

// CreateFlavorProfile makes a flavor profile (admin).
func (s *Service) CreateFlavorProfile(ctx context.Context, c *auth.Credentials, in FlavorProfileInput) (FlavorProfile, error) {
	if err := adminOnly(c); err != nil {
		return FlavorProfile{}, err
	}
	for _, f := range []struct {
		n string
		v *string
	}{{"name", in.Name}, {"provider_name", in.ProviderName}, {"flavor_data", in.FlavorData}} {
		if f.v == nil {
			return FlavorProfile{}, oserr.BadRequest("Invalid input for field/attribute %s. Value: 'None'. Mandatory field missing.", f.n)
		}
	}
	if err := CheckProvider(*in.ProviderName); err != nil {
		return FlavorProfile{}, err
	}
	if err := validateData(*in.ProviderName, "flavor data", *in.FlavorData, FlavorCapabilities); err != nil {
		return FlavorProfile{}, err
	}
	fp := FlavorProfile{ID: newID(), Name: *in.Name, ProviderName: *in.ProviderName, FlavorData: *in.FlavorData}
	return fp, s.write(ctx, func(tx *store.Tx, _ int64) error { return s.putOp(ctx, tx, KindFlavorProfile, fp.ID, fp, true) })
}

// UpdateFlavorProfile changes a flavor profile not used by a flavor in use.
func (s *Service) UpdateFlavorProfile(ctx context.Context, c *auth.Credentials, id string, in FlavorProfileInput) (FlavorProfile, error) {
	if err := adminOnly(c); err != nil {
		return FlavorProfile{}, err
	}
	var out FlavorProfile
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		fp, err := get[FlavorProfile](ctx, tx, KindFlavorProfile, id)
		if err != nil {
			return err
		}
		if in.ProviderName != nil || in.FlavorData != nil {
			if used, err := s.profileInUse(ctx, tx, id); err != nil {
				return err
			} else if used {
				return oserr.Conflict("Flavor profile %s is in use and cannot be modified.", id)
			}
		}
		setStr(&fp.Name, in.Name)
		setStr(&fp.ProviderName, in.ProviderName)
		setStr(&fp.FlavorData, in.FlavorData)
		if err := CheckProvider(fp.ProviderName); err != nil {
			return err
		}
		if err := validateData(fp.ProviderName, "flavor data", fp.FlavorData, FlavorCapabilities); err != nil {
			return err
		}
		out = *fp
		return s.putOp(ctx, tx, KindFlavorProfile, id, fp, false)
	})
	return out, err
}

func (s *Service) profileInUse(ctx context.Context, tx *store.Tx, profile string) (bool, error) {
	objs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindFlavor})
	if err != nil {
		return false, err
	}
	for _, o := range objs {
		f, err := decode[Flavor](o)
		if err != nil {
			return false, err
		}
		if f.FlavorProfileID == profile {
			return true, nil
		}
	}
	return false, nil
}

// DeleteFlavorProfile removes an unused flavor profile.
func (s *Service) DeleteFlavorProfile(ctx context.Context, c *auth.Credentials, id string) error {
	if err := adminOnly(c); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := get[FlavorProfile](ctx, tx, KindFlavorProfile, id); err != nil {
			return err
		}
		if used, err := s.profileInUse(ctx, tx, id); err != nil {
			return err
		} else if used {
			return oserr.Conflict("Flavor profile %s is in use and cannot be modified.", id)
		}
		return tx.DeleteLBObject(ctx, id)
	})
}

// FlavorProfiles lists flavor profiles (admin).
func (s *Service) FlavorProfiles(ctx context.Context, c *auth.Credentials) ([]FlavorProfile, error) {
	if err := adminOnly(c); err != nil {
		return nil, err
	}
	return listOp[FlavorProfile](ctx, s, KindFlavorProfile)
}

// GetFlavorProfile returns a flavor profile (admin).
func (s *Service) GetFlavorProfile(ctx context.Context, c *auth.Credentials, id string) (FlavorProfile, error) {
	if err := adminOnly(c); err != nil {
		return FlavorProfile{}, err
	}
	return getOp[FlavorProfile](ctx, s, KindFlavorProfile, id)
}

// ---- flavors

// FlavorInput creates or updates a flavor.
type FlavorInput struct {
	Name, Description, FlavorProfileID *string
	Enabled                            *bool
}

// CreateFlavor makes a flavor (admin).
func (s *Service) CreateFlavor(ctx context.Context, c *auth.Credentials, in FlavorInput) (Flavor, error) {
	if err := adminOnly(c); err != nil {
		return Flavor{}, err
	}
	if in.Name == nil {
		return Flavor{}, oserr.BadRequest("Invalid input for field/attribute name. Value: 'None'. Mandatory field missing.")
	}
	if in.FlavorProfileID == nil {
		return Flavor{}, oserr.BadRequest("Invalid input for field/attribute flavor_profile_id. Value: 'None'. Mandatory field missing.")
	}
	f := Flavor{ID: newID(), Name: *in.Name, FlavorProfileID: *in.FlavorProfileID, Enabled: true}
	setStr(&f.Description, in.Description)
	setBool(&f.Enabled, in.Enabled)
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := get[FlavorProfile](ctx, tx, KindFlavorProfile, f.FlavorProfileID); err != nil {
			return oserr.BadRequest("Flavor profile %s not found.", f.FlavorProfileID)
		}
		all, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindFlavor})
		if err != nil {
			return err
		}
		for _, o := range all {
			if g, err := decode[Flavor](o); err == nil && g.Name == f.Name {
				return oserr.Conflict("A flavor of name %s already exists.", f.Name)
			}
		}
		return s.putOp(ctx, tx, KindFlavor, f.ID, f, true)
	})
	return f, err
}

// UpdateFlavor changes a flavor's name, description or enabled.
func (s *Service) UpdateFlavor(ctx context.Context, c *auth.Credentials, id string, in FlavorInput) (Flavor, error) {
	if err := adminOnly(c); err != nil {
		return Flavor{}, err
	}
	var out Flavor
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		f, err := get[Flavor](ctx, tx, KindFlavor, id)
		if err != nil {
			return err
		}
		setStr(&f.Name, in.Name)
		setStr(&f.Description, in.Description)
		setBool(&f.Enabled, in.Enabled)
		out = *f
		return s.putOp(ctx, tx, KindFlavor, id, f, false)
	})
	return out, err
}

// DeleteFlavor removes a flavor no load balancer uses.
func (s *Service) DeleteFlavor(ctx context.Context, c *auth.Credentials, id string) error {
	if err := adminOnly(c); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := get[Flavor](ctx, tx, KindFlavor, id); err != nil {
			return err
		}
		lbs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindLoadBalancer})
		if err != nil {
			return err
		}
		for _, o := range lbs {
			if lb, err := decode[LoadBalancer](o); err == nil && lb.FlavorID == id {
				return oserr.Conflict("Flavor %s is in use and cannot be modified.", id)
			}
		}
		return tx.DeleteLBObject(ctx, id)
	})
}

// Flavors lists flavors (any user).
func (s *Service) Flavors(ctx context.Context) ([]Flavor, error) {
	return listOp[Flavor](ctx, s, KindFlavor)
}

// GetFlavor returns a flavor.
func (s *Service) GetFlavor(ctx context.Context, id string) (Flavor, error) {
	return getOp[Flavor](ctx, s, KindFlavor, id)
}

// ---- availability zone profiles and zones

// ZoneProfileInput creates or updates a zone profile.
type ZoneProfileInput struct{ Name, ProviderName, ZoneData *string }

// CreateZoneProfile makes a zone profile (admin).
func (s *Service) CreateZoneProfile(ctx context.Context, c *auth.Credentials, in ZoneProfileInput) (ZoneProfile, error) {
	if err := adminOnly(c); err != nil {
		return ZoneProfile{}, err
	}
	for _, f := range []struct {
		n string
		v *string
	}{{"name", in.Name}, {"provider_name", in.ProviderName}, {"availability_zone_data", in.ZoneData}} {
		if f.v == nil {
			return ZoneProfile{}, oserr.BadRequest("Invalid input for field/attribute %s. Value: 'None'. Mandatory field missing.", f.n)
		}
	}
	if err := CheckProvider(*in.ProviderName); err != nil {
		return ZoneProfile{}, err
	}
	if err := validateData(*in.ProviderName, "availability zone data", *in.ZoneData, ZoneCapabilities); err != nil {
		return ZoneProfile{}, err
	}
	zp := ZoneProfile{ID: newID(), Name: *in.Name, ProviderName: *in.ProviderName, ZoneData: *in.ZoneData}
	return zp, s.write(ctx, func(tx *store.Tx, _ int64) error { return s.putOp(ctx, tx, KindZoneProfile, zp.ID, zp, true) })
}

func (s *Service) zoneProfileInUse(ctx context.Context, tx *store.Tx, id string) (bool, error) {
	objs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindZone})
	if err != nil {
		return false, err
	}
	for _, o := range objs {
		if z, err := decode[Zone](o); err == nil && z.ProfileID == id {
			return true, nil
		}
	}
	return false, nil
}

// UpdateZoneProfile changes a zone profile.
func (s *Service) UpdateZoneProfile(ctx context.Context, c *auth.Credentials, id string, in ZoneProfileInput) (ZoneProfile, error) {
	if err := adminOnly(c); err != nil {
		return ZoneProfile{}, err
	}
	var out ZoneProfile
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		zp, err := get[ZoneProfile](ctx, tx, KindZoneProfile, id)
		if err != nil {
			return err
		}
		if in.ProviderName != nil || in.ZoneData != nil {
			if used, err := s.zoneProfileInUse(ctx, tx, id); err != nil {
				return err
			} else if used {
				return oserr.Conflict("Availability Zone Profile %s is in use and cannot be modified.", id)
			}
		}
		setStr(&zp.Name, in.Name)
		setStr(&zp.ProviderName, in.ProviderName)
		setStr(&zp.ZoneData, in.ZoneData)
		if err := CheckProvider(zp.ProviderName); err != nil {
			return err
		}
		if err := validateData(zp.ProviderName, "availability zone data", zp.ZoneData, ZoneCapabilities); err != nil {
			return err
		}
		out = *zp
		return s.putOp(ctx, tx, KindZoneProfile, id, zp, false)
	})
	return out, err
}

// DeleteZoneProfile removes an unused zone profile.
func (s *Service) DeleteZoneProfile(ctx context.Context, c *auth.Credentials, id string) error {
	if err := adminOnly(c); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := get[ZoneProfile](ctx, tx, KindZoneProfile, id); err != nil {
			return err
		}
		if used, err := s.zoneProfileInUse(ctx, tx, id); err != nil {
			return err
		} else if used {
			return oserr.Conflict("Availability Zone Profile %s is in use and cannot be modified.", id)
		}
		return tx.DeleteLBObject(ctx, id)
	})
}

// ZoneProfiles lists zone profiles (admin).
func (s *Service) ZoneProfiles(ctx context.Context, c *auth.Credentials) ([]ZoneProfile, error) {
	if err := adminOnly(c); err != nil {
		return nil, err
	}
	return listOp[ZoneProfile](ctx, s, KindZoneProfile)
}

// GetZoneProfile returns a zone profile (admin).
func (s *Service) GetZoneProfile(ctx context.Context, c *auth.Credentials, id string) (ZoneProfile, error) {
	if err := adminOnly(c); err != nil {
		return ZoneProfile{}, err
	}
	return getOp[ZoneProfile](ctx, s, KindZoneProfile, id)
}

func zoneID(name string) string { return "az:" + name }

// ZoneInput creates or updates a zone.
type ZoneInput struct {
	Name, Description, ProfileID *string
	Enabled                      *bool
}

// CreateZone makes an availability zone (admin).
func (s *Service) CreateZone(ctx context.Context, c *auth.Credentials, in ZoneInput) (Zone, error) {
	if err := adminOnly(c); err != nil {
		return Zone{}, err
	}
	if in.Name == nil || *in.Name == "" {
		return Zone{}, oserr.BadRequest("Invalid input for field/attribute name. Value: 'None'. Mandatory field missing.")
	}
	if in.ProfileID == nil {
		return Zone{}, oserr.BadRequest("Invalid input for field/attribute availability_zone_profile_id. Value: 'None'. Mandatory field missing.")
	}
	z := Zone{Name: *in.Name, ProfileID: *in.ProfileID, Enabled: true}
	setStr(&z.Description, in.Description)
	setBool(&z.Enabled, in.Enabled)
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := get[ZoneProfile](ctx, tx, KindZoneProfile, z.ProfileID); err != nil {
			return oserr.BadRequest("Availability Zone Profile %s not found.", z.ProfileID)
		}
		return s.putOp(ctx, tx, KindZone, zoneID(z.Name), z, true)
	})
	return z, err
}

// UpdateZone changes a zone's description or enabled.
func (s *Service) UpdateZone(ctx context.Context, c *auth.Credentials, name string, in ZoneInput) (Zone, error) {
	if err := adminOnly(c); err != nil {
		return Zone{}, err
	}
	var out Zone
	err := s.write(ctx, func(tx *store.Tx, _ int64) error {
		z, err := get[Zone](ctx, tx, KindZone, zoneID(name))
		if err != nil {
			return notFound(KindZone, name)
		}
		setStr(&z.Description, in.Description)
		setBool(&z.Enabled, in.Enabled)
		out = *z
		return s.putOp(ctx, tx, KindZone, zoneID(name), z, false)
	})
	return out, err
}

// DeleteZone removes a zone no load balancer uses.
func (s *Service) DeleteZone(ctx context.Context, c *auth.Credentials, name string) error {
	if err := adminOnly(c); err != nil {
		return err
	}
	return s.write(ctx, func(tx *store.Tx, _ int64) error {
		if _, err := get[Zone](ctx, tx, KindZone, zoneID(name)); err != nil {
			return notFound(KindZone, name)
		}
		lbs, err := tx.ListLBObjects(ctx, store.LBQuery{Kind: KindLoadBalancer})
		if err != nil {
			return err
		}
		for _, o := range lbs {
			if lb, err := decode[LoadBalancer](o); err == nil && lb.AvailabilityZone == name {
				return oserr.Conflict("Availability Zone %s is in use and cannot be modified.", name)
			}
		}
		return tx.DeleteLBObject(ctx, zoneID(name))
	})
}

// Zones lists zones.
func (s *Service) Zones(ctx context.Context) ([]Zone, error) { return listOp[Zone](ctx, s, KindZone) }

// GetZone returns a zone.
func (s *Service) GetZone(ctx context.Context, name string) (Zone, error) {
	z, err := getOp[Zone](ctx, s, KindZone, zoneID(name))
	if isNotFound(err) {
		return Zone{}, notFound(KindZone, name)
	}
	return z, err
}

// checkFlavorZone checks a create's flavor and zone.
func (s *Service) checkFlavorZone(ctx context.Context, tx *store.Tx, in LoadBalancerInput, provider string) error {
	if id := str(in.FlavorID); id != "" {
		f, err := get[Flavor](ctx, tx, KindFlavor, id)
		if err != nil {
			return validation("Invalid flavor_id.")
		}
		if !f.Enabled {
			return oserr.BadRequest("The selected flavor is not allowed in this deployment: %s", id)
		}
		fp, err := get[FlavorProfile](ctx, tx, KindFlavorProfile, f.FlavorProfileID)
		if err == nil && fp.ProviderName != provider && !(isOurs(fp.ProviderName) && isOurs(provider)) {
			return oserr.BadRequest("Flavor '%s' is not compatible with provider '%s'", id, provider)
		}
	}
	if name := str(in.AvailabilityZone); name != "" {
		z, err := get[Zone](ctx, tx, KindZone, zoneID(name))
		if err != nil {
			return validation("Invalid availability zone.")
		}
		if !z.Enabled {
			return oserr.BadRequest("The selected availability_zone is not allowed in this deployment: %s", name)
		}
	}
	return nil
}

func isOurs(p string) bool { return p == ProviderOnestack || p == ProviderAmphora || p == "octavia" }
