package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// PortRequest is one NIC a server asks for: NetworkID (+ optional FixedIP)
// or an existing PortID.
type PortRequest struct{ NetworkID, PortID, FixedIP string }

// Address is one address of a server, as Nova's "addresses" shows it.
type Address struct {
	NetworkName string
	MAC         string
	IP          string
	Version     int
	// Type is "fixed" or "floating".
	Type string
}

// AutoNetworkName is the network get-me-a-network creates.
const AutoNetworkName = "auto_allocated_network"

// requestError says which NIC request failed, keeping Neutron's type.
func requestError(i int, r PortRequest, err error) error {
	var e *oserr.Error
	if !errors.As(err, &e) {
		return err
	}
	what := "network " + r.NetworkID
	if r.PortID != "" {
		what = "port " + r.PortID
	}
	c := *e
	c.Message = fmt.Sprintf("NIC %d (%s): %s", i+1, what, e.Message)
	return &c
}

// ServerPortsTx creates (or claims an existing unbound port for) one port
// per request for server serverID, in the caller's transaction:
// device_id=serverID, device_owner="compute:"+zone, the project's default
// security group when the network has port security. Any failure returns
// an *oserr.Error naming the request, and the caller's rollback leaves
// nothing behind. With auto (get-me-a-network) and no requests it uses the
// project's only network, else the shared one, else creates
// auto_allocated_network with a subnet and a router to the external network.
// Callers call Notify after commit.
func (s *Service) ServerPortsTx(ctx context.Context, tx *store.Tx, c *auth.Credentials, serverID, zone string, reqs []PortRequest, auto bool) ([]hostapi.NIC, error) {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return nil, err
	}
	project := c.ProjectID()
	if auto {
		id, err := s.autoNetwork(ctx, tx, c, project)
		if err != nil {
			return nil, err
		}
		reqs = []PortRequest{{NetworkID: id}}
	}
	var nics []hostapi.NIC
	var base int64
	for i, r := range reqs {
		var p store.Port
		var err error
		if r.PortID != "" {
			p, err = s.claimPort(ctx, tx, c, serverID, zone, r.PortID)
		} else {
			in := PortInput{NetworkID: r.NetworkID, DeviceID: &serverID, DeviceOwner: ptr("compute:" + zone)}
			if r.FixedIP != "" {
				in.FixedIPs = &[]FixedIPRequest{{IP: r.FixedIP}}
			}
			p, err = s.createPortTx(ctx, tx, c, project, in)
		}
		if err != nil {
			return nil, requestError(i, r, err)
		}
		// The server's NICs keep the order asked for.
		if i == 0 {
			base = p.Seq
		}
		p.Seq = base + int64(i)
		if err := tx.PutPort(ctx, &p, false); err != nil {
			return nil, err
		}
		nic, err := s.nic(ctx, tx, p)
		if err != nil {
			return nil, err
		}
		nics = append(nics, nic)
	}
	return nics, nil
}

func ptr[T any](v T) *T { return &v }

// claimPort gives an existing, unattached port to the server; it is kept
// when the server is deleted.
func (s *Service) claimPort(ctx context.Context, tx *store.Tx, c *auth.Credentials, serverID, zone, id string) (store.Port, error) {
	p, err := tx.GetPort(ctx, id)
	if err != nil {
		return p, mapNotFound(err, portNotFound(id))
	}
	if !owns(c, p.ProjectID) {
		return p, portNotFound(id)
	}
	if p.DeviceID != "" || isNetworkOwner(p.DeviceOwner) {
		return p, oserr.Conflict("Port %s is still in use.", id).WithType("PortInUse")
	}
	p.DeviceID, p.DeviceOwner, p.Preserve = serverID, "compute:"+zone, true
	p.Revision++
	p.UpdatedAt = s.now()
	return p, tx.PutPort(ctx, &p, false)
}

// nic describes a port as a guest NIC.
func (s *Service) nic(ctx context.Context, tx *store.Tx, p store.Port) (hostapi.NIC, error) {
	n, err := tx.GetNetwork(ctx, p.NetworkID)
	if err != nil {
		return hostapi.NIC{}, err
	}
	nic := hostapi.NIC{PortID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, Device: hostapi.TapName(p.ID), MTU: n.MTU}
	seen := map[string]bool{}
	for _, f := range p.FixedIPs {
		nic.IPs = append(nic.IPs, hostapi.FixedIP{SubnetID: f.SubnetID, IP: f.IP})
		if seen[f.SubnetID] {
			continue
		}
		seen[f.SubnetID] = true
		sn, err := tx.GetSubnet(ctx, f.SubnetID)
		if err != nil {
			return nic, err
		}
		nic.Subnets = append(nic.Subnets, hostSubnet(sn))
	}
	return nic, nil
}

func hostSubnet(sn store.Subnet) hostapi.Subnet {
	h := hostapi.Subnet{ID: sn.ID, CIDR: sn.CIDR, IPVersion: sn.IPVersion, GatewayIP: sn.GatewayIP, EnableDHCP: sn.EnableDHCP, DNS: sn.DNS}
	for _, r := range sn.HostRoutes {
		h.HostRoutes = append(h.HostRoutes, hostapi.Route{Destination: r.Destination, NextHop: r.NextHop})
	}
	return h
}

// autoNetwork finds or makes the network get-me-a-network uses.
func (s *Service) autoNetwork(ctx context.Context, tx *store.Tx, c *auth.Credentials, project string) (string, error) {
	nets, err := tx.ListNetworks(ctx, store.Query{Projects: []string{project}, OrShared: true})
	if err != nil {
		return "", err
	}
	var own, shared []store.Network
	for _, n := range nets {
		switch {
		case n.ProjectID == project && !n.External:
			own = append(own, n)
		case n.Shared && !n.External:
			shared = append(shared, n)
		}
	}
	if len(own) == 1 {
		return own[0].ID, nil
	}
	if len(own) > 1 {
		for _, n := range own {
			if n.Name == AutoNetworkName {
				return n.ID, nil
			}
		}
		return "", oserr.Conflict("Multiple possible networks found, use a Network ID to be more specific.").WithType("NetworkAmbiguous")
	}
	if len(shared) == 1 {
		return shared[0].ID, nil
	}
	if len(shared) > 1 {
		return "", oserr.Conflict("Multiple possible networks found, use a Network ID to be more specific.").WithType("NetworkAmbiguous")
	}
	// Create the topology: network, subnet, router with a gateway to the
	// external network.
	var ext string
	for _, n := range nets {
		if n.External {
			ext = n.ID
			break
		}
	}
	now := s.now()
	n := store.Network{ID: newID(), ProjectID: project, Name: AutoNetworkName, AdminStateUp: true, PortSecurity: true,
		NetworkType: "vxlan", AZHints: []string{}, Tags: []string{}, IsDefault: true, Revision: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.quota(ctx, tx, project, "network", 1); err != nil {
		return "", err
	}
	if err := s.applyNetwork(ctx, tx, &n, NetworkInput{}, true); err != nil {
		return "", err
	}
	if err := tx.PutNetwork(ctx, &n, true); err != nil {
		return "", err
	}
	sn := store.Subnet{ID: newID(), NetworkID: n.ID, ProjectID: project, Name: "auto_allocated_subnet_v4", EnableDHCP: true,
		DNS: []string{}, HostRoutes: []store.HostRoute{}, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.createSubnetTx(ctx, tx, n, &sn, SubnetInput{CIDR: ptr("10.0.0.0/26"), NoGatewayGiven: true}); err != nil {
		return "", err
	}
	if ext != "" {
		r, err := s.createRouterTx(ctx, tx, c, project, RouterInput{Name: ptr("auto_allocated_router"), Gateway: &GatewayInput{NetworkID: ext}})
		if err != nil {
			return "", err
		}
		p, err := s.servicePort(ctx, tx, n, OwnerRouterInterface, r.ID, r.Host, []FixedIPRequest{{SubnetID: sn.ID, IP: sn.GatewayIP}})
		if err != nil {
			return "", err
		}
		p.ProjectID = project
		if err := tx.PutPort(ctx, &p, false); err != nil {
			return "", err
		}
	}
	return n.ID, nil
}

// BindServerPortsTx sets binding:host_id=host on the server's ports
// (when the scheduler picks a host).
func (s *Service) BindServerPortsTx(ctx context.Context, tx *store.Tx, serverID, host string) error {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return err
	}
	ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{serverID}})
	if err != nil {
		return err
	}
	for _, p := range ports {
		if p.HostID == host {
			continue
		}
		bind(&p, host)
		p.Revision++
		p.UpdatedAt = s.now()
		if err := tx.PutPort(ctx, &p, false); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseServerPortsTx, on server delete: deletes the ports made for the
// server, unbinds and detaches ports the user passed in (Nova's
// preserve_on_delete), and disassociates floating IPs of deleted ports.
func (s *Service) ReleaseServerPortsTx(ctx context.Context, tx *store.Tx, serverID string) error {
	if _, err := tx.LockNetworking(ctx); err != nil {
		return err
	}
	ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: []string{serverID}})
	if err != nil {
		return err
	}
	for _, p := range ports {
		if isNetworkOwner(p.DeviceOwner) {
			continue
		}
		if p.Preserve {
			p.DeviceID, p.DeviceOwner, p.Preserve = "", "", false
			bind(&p, "")
			p.Revision++
			p.UpdatedAt = s.now()
			if err := tx.PutPort(ctx, &p, false); err != nil {
				return err
			}
			continue
		}
		if err := s.deletePortTx(ctx, tx, p); err != nil {
			return err
		}
	}
	return nil
}

// ServerAddresses returns, per server id, its addresses: the fixed ones of
// its NICs in creation order, each followed by the floating IPs on it.
func (s *Service) ServerAddresses(ctx context.Context, serverIDs []string) (map[string][]Address, error) {
	out := map[string][]Address{}
	if len(serverIDs) == 0 {
		return out, nil
	}
	err := s.read(ctx, func(tx *store.Tx) error {
		ports, err := tx.ListPorts(ctx, store.Query{All: true, DeviceIDs: serverIDs})
		if err != nil {
			return err
		}
		if len(ports) == 0 {
			return nil
		}
		netIDs, portIDs := []string{}, []string{}
		for _, p := range ports {
			netIDs = append(netIDs, p.NetworkID)
			portIDs = append(portIDs, p.ID)
		}
		nets, err := tx.ListNetworks(ctx, store.Query{All: true, IDs: slices.Compact(slices.Sorted(slices.Values(netIDs)))})
		if err != nil {
			return err
		}
		names := map[string]string{}
		for _, n := range nets {
			names[n.ID] = n.Name
		}
		fips, err := tx.ListFloatingIPs(ctx, store.FloatingIPQuery{Query: store.Query{All: true}, PortIDs: portIDs})
		if err != nil {
			return err
		}
		for _, p := range ports {
			if isNetworkOwner(p.DeviceOwner) {
				continue
			}
			for _, f := range p.FixedIPs {
				a := Address{NetworkName: names[p.NetworkID], MAC: p.MAC, IP: f.IP, Version: ipVersion(f.IP), Type: "fixed"}
				out[p.DeviceID] = append(out[p.DeviceID], a)
				for _, fip := range fips {
					if fip.PortID == p.ID && fip.FixedIP == f.IP {
						out[p.DeviceID] = append(out[p.DeviceID], Address{NetworkName: a.NetworkName, MAC: p.MAC, IP: fip.FloatingIP, Version: 4, Type: "floating"})
					}
				}
			}
		}
		return nil
	})
	return out, err
}

func ipVersion(ip string) int {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
		return 6
	}
	return 4
}

// ReportNetwork applies what an agent observed: its ports listed Up are
// ACTIVE, those in Failed are binding_failed with the reason kept. An
// agent reports every port it holds after each apply, so a report that
// changes nothing writes nothing: a write moves the network revision,
// which would wake every host's watch, this agent's included, again.
func (s *Service) ReportNetwork(ctx context.Context, r hostapi.NetworkReport) error {
	ids := slices.Concat(r.Up)
	for id := range r.Failed {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil
	}
	var changed []store.Port
	if err := s.read(ctx, func(tx *store.Tx) (err error) {
		changed, err = reportChanges(ctx, tx, r, ids)
		return err
	}); err != nil || len(changed) == 0 {
		return err
	}
	return s.write(ctx, func(tx *store.Tx) error {
		changed, err := reportChanges(ctx, tx, r, ids) // again, under the lock
		if err != nil {
			return err
		}
		for _, p := range changed {
			p.Revision++
			p.UpdatedAt = s.now()
			if err := tx.PutPort(ctx, &p, false); err != nil {
				return err
			}
		}
		return nil
	})
}

// reportChanges is the ports among ids whose status the report r changes,
// with the new status set.
func reportChanges(ctx context.Context, tx *store.Tx, r hostapi.NetworkReport, ids []string) ([]store.Port, error) {
	ports, err := tx.ListPorts(ctx, store.Query{All: true, IDs: ids})
	if err != nil {
		return nil, err
	}
	var changed []store.Port
	for _, p := range ports {
		if p.HostID != r.Host {
			continue // stale: the port moved
		}
		status, vif, reason := "ACTIVE", VIFBridge, ""
		if msg, failed := r.Failed[p.ID]; failed {
			status, vif, reason = "DOWN", VIFFailed, msg
		}
		if p.Status == status && p.VIFType == vif && p.StatusReason == reason {
			continue
		}
		p.Status, p.VIFType, p.StatusReason = status, vif, reason
		changed = append(changed, p)
	}
	return changed, nil
}

// WatchNetwork blocks until the network revision passes since (or ctx
// ends, or 25 s pass) and returns HostNetwork(host).
func (s *Service) WatchNetwork(ctx context.Context, host string, since int64) (hostapi.HostNetwork, error) {
	return s.WatchNetworkWait(ctx, host, since, 25*time.Second)
}

// WatchNetworkWait is WatchNetwork with a chosen wait. Changes made in
// this process wake it at once; another controller's are seen within a
// second.
func (s *Service) WatchNetworkWait(ctx context.Context, host string, since int64, wait time.Duration) (hostapi.HostNetwork, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		wake := s.changes()
		var rev int64
		if err := s.read(ctx, func(tx *store.Tx) error {
			var err error
			rev, err = tx.NetworkRevision(ctx)
			return err
		}); err != nil {
			return hostapi.HostNetwork{}, err
		}
		if rev > since {
			return s.HostNetwork(ctx, host)
		}
		select {
		case <-ctx.Done():
			return hostapi.HostNetwork{}, ctx.Err()
		case <-deadline.C:
			return s.HostNetwork(ctx, host)
		case <-wake:
		case <-poll.C:
		}
	}
}
