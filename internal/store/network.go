package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Neutron's records. Each is stored whole as JSON in its table's body
// column; the other columns are copies of fields to index, filter on or
// keep unique (see migrations/0008_network.sql).

// Network is a Neutron network.
type Network struct {
	ID, ProjectID, Name, Description string
	AdminStateUp, Shared, External   bool
	PortSecurity                     bool
	// NetworkType is "vxlan" or "flat"; SegmentationID the VNI (vxlan).
	NetworkType     string
	PhysicalNetwork string
	SegmentationID  int
	MTU             int
	AZHints         []string
	IsDefault       bool
	Tags            []string
	Revision        int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// IPRange is an allocation pool.
type IPRange struct{ Start, End string }

// HostRoute is a subnet's static route handed out by DHCP.
type HostRoute struct{ Destination, NextHop string }

// Subnet is a Neutron subnet.
type Subnet struct {
	ID, NetworkID, ProjectID, Name, Description string
	CIDR                                        string
	IPVersion                                   int
	GatewayIP                                   string // "" is null: no gateway
	AllocationPools                             []IPRange
	DNS                                         []string
	HostRoutes                                  []HostRoute
	EnableDHCP                                  bool
	IPv6RAMode, IPv6AddressMode                 string
	// SubnetPoolID is the pool CIDR was allocated from; "" for none.
	SubnetPoolID string
	Tags         []string
	Revision     int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SubnetPool is a Neutron subnet pool: prefixes (disjoint, compacted)
// that subnets' cidrs are allocated from. Its allocations are the cidrs
// of the subnets whose SubnetPoolID is ID.
type SubnetPool struct {
	ID, ProjectID, Name, Description string
	Prefixes                         []string
	IPVersion                        int
	DefaultPrefixLen                 int
	MinPrefixLen, MaxPrefixLen       int
	Shared, IsDefault                bool
	Tags                             []string
	Revision                         int64
	CreatedAt                        time.Time
	UpdatedAt                        time.Time
}

// FixedIP is one address of a port.
type FixedIP struct{ SubnetID, IP string }

// AddressPair is an allowed address pair of a port.
type AddressPair struct{ IP, MAC string }

// Port is a Neutron port.
type Port struct {
	ID, NetworkID, ProjectID, Name, Description string
	AdminStateUp                                bool
	MAC                                         string
	FixedIPs                                    []FixedIP
	DeviceID, DeviceOwner                       string
	// Status is DOWN, ACTIVE or BUILD; StatusReason says why a binding failed.
	Status       string
	StatusReason string
	HostID       string
	VIFType      string
	VNICType     string
	Profile      map[string]any
	VIFDetails   map[string]any
	AddressPairs []AddressPair
	PortSecurity bool
	// SecurityGroups are the ids of the port's groups.
	SecurityGroups []string
	// Preserve marks a port the user made and passed to a server: deleting
	// the server unbinds it instead of deleting it.
	Preserve  bool
	DNSName   string
	Seq       int64
	Tags      []string
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SecurityGroup is a Neutron security group (its rules are rows of their own).
type SecurityGroup struct {
	ID, ProjectID, Name, Description string
	Stateful                         bool
	Tags                             []string
	Revision                         int64
	CreatedAt                        time.Time
	UpdatedAt                        time.Time
}

// SecurityGroupRule is one rule of a security group.
type SecurityGroupRule struct {
	ID, SecurityGroupID, ProjectID, Description string
	Direction, EtherType, Protocol              string
	PortMin, PortMax                            *int
	RemoteIPPrefix, RemoteGroupID               string
	Revision                                    int64
	CreatedAt                                   time.Time
	UpdatedAt                                   time.Time
}

// Fingerprint identifies what a rule allows, to refuse duplicates.
func (r SecurityGroupRule) Fingerprint() string {
	p := func(v *int) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprint(*v)
	}
	return strings.Join([]string{r.Direction, r.EtherType, r.Protocol, p(r.PortMin), p(r.PortMax), r.RemoteIPPrefix, r.RemoteGroupID}, "|")
}

// RouterGateway is a router's external gateway.
type RouterGateway struct {
	NetworkID  string
	EnableSNAT bool
	PortID     string
}

// Router is a Neutron router. Its interfaces are ports with device_id = ID.
type Router struct {
	ID, ProjectID, Name, Description string
	AdminStateUp                     bool
	Status                           string
	Gateway                          *RouterGateway
	Routes                           []HostRoute
	// Host is the compute host that runs the router; "" until placed.
	Host      string
	Tags      []string
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FloatingIP is a Neutron floating IP; its address is held by a port of
// the external network (device_owner network:floatingip).
type FloatingIP struct {
	ID, ProjectID, Description string
	FloatingNetworkID          string
	FloatingIP                 string
	FloatingPortID             string
	PortID, FixedIP, RouterID  string
	Status                     string
	Tags                       []string
	Revision                   int64
	CreatedAt                  time.Time
	UpdatedAt                  time.Time
}

// LockNetworking takes and bumps the network epoch: every transaction that
// changes networking calls it first, so networking writes take turns
// (checks of free addresses, MACs, VNIs and quotas stay exact on
// PostgreSQL too) and the data planes see a new revision.
func (t *Tx) LockNetworking(ctx context.Context) (int64, error) {
	return t.BumpEpoch(ctx, "network")
}

// NetworkRevision returns the network epoch.
func (t *Tx) NetworkRevision(ctx context.Context) (int64, error) {
	return t.Epoch(ctx, "network")
}

// ---- generic body rows

func putRow(ctx context.Context, t *Tx, insert bool, table, id string, cols []string, vals []any, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if insert {
		q := "INSERT INTO " + table + " (id, " + strings.Join(cols, ", ") + ", body) VALUES (?" + strings.Repeat(", ?", len(cols)+1) + ")"
		args := append(append([]any{id}, vals...), string(b))
		_, err := t.exec(ctx, q, args...)
		return t.mapErr(err)
	}
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = ?"
	}
	q := "UPDATE " + table + " SET " + strings.Join(append(set, "body = ?"), ", ") + " WHERE id = ?"
	args := append(append(append([]any{}, vals...), string(b)), id)
	return t.mapErr(affected(t.exec(ctx, q, args...)))
}

func getRow[T any](ctx context.Context, t *Tx, table, id string) (T, error) {
	var v T
	var body string
	if err := t.queryRow(ctx, "SELECT body FROM "+table+" WHERE id = ?", id).Scan(&body); err != nil {
		return v, t.mapErr(err)
	}
	err := json.Unmarshal([]byte(body), &v)
	return v, err
}

func listRows[T any](ctx context.Context, t *Tx, table string, w *where, order string) ([]T, error) {
	if order == "" {
		order = "created_at, id"
	}
	rows, err := t.query(ctx, "SELECT body FROM "+table+w.sql()+" ORDER BY "+order, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func deleteRow(ctx context.Context, t *Tx, table, id string) error {
	return t.mapErr(affected(t.exec(ctx, "DELETE FROM "+table+" WHERE id = ?", id)))
}

// Query narrows a list of networking rows. Empty fields match everything;
// Projects, when not nil, keeps rows of those projects (OrShared also keeps
// shared and external networks, for networks).
type Query struct {
	IDs        []string
	Projects   []string
	OrShared   bool
	NetworkIDs []string
	DeviceIDs  []string
	Hosts      []string
	// All ignores Projects (admins).
	All bool
}

func (q Query) where(hasNetwork bool) *where {
	w := &where{}
	if q.IDs != nil {
		w.in("id", q.IDs)
	}
	if !q.All && q.Projects != nil {
		if q.OrShared {
			in := &where{}
			in.in("project_id", q.Projects)
			w.clauses = append(w.clauses, "("+in.clauses[0]+" OR shared OR external)")
			w.args = append(w.args, in.args...)
		} else {
			w.in("project_id", q.Projects)
		}
	}
	if hasNetwork && q.NetworkIDs != nil {
		w.in("network_id", q.NetworkIDs)
	}
	if q.DeviceIDs != nil {
		w.in("device_id", q.DeviceIDs)
	}
	if q.Hosts != nil {
		w.in("host", q.Hosts)
	}
	return w
}

// ---- networks

func netCols(n *Network) ([]string, []any) {
	seg := "flat:" + n.PhysicalNetwork
	if n.NetworkType == "vxlan" {
		seg = fmt.Sprintf("vxlan:%d", n.SegmentationID)
	}
	return []string{"project_id", "name", "shared", "external", "segment", "created_at"},
		[]any{n.ProjectID, n.Name, n.Shared, n.External, seg, micros(n.CreatedAt)}
}

// PutNetwork inserts (insert true) or replaces a network.
func (t *Tx) PutNetwork(ctx context.Context, n *Network, insert bool) error {
	c, v := netCols(n)
	return putRow(ctx, t, insert, "networks", n.ID, c, v, n)
}

// GetNetwork returns one network.
func (t *Tx) GetNetwork(ctx context.Context, id string) (Network, error) {
	return getRow[Network](ctx, t, "networks", id)
}

// ListNetworks returns the networks q selects, oldest first.
func (t *Tx) ListNetworks(ctx context.Context, q Query) ([]Network, error) {
	return listRows[Network](ctx, t, "networks", q.where(false), "")
}

// DeleteNetwork deletes one network.
func (t *Tx) DeleteNetwork(ctx context.Context, id string) error {
	return deleteRow(ctx, t, "networks", id)
}

// SegmentTaken reports whether a network uses the segment ("vxlan:VNI").
func (t *Tx) SegmentTaken(ctx context.Context, segment string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM networks WHERE segment = ?`, segment).Scan(&n)
	return n > 0, err
}

// MaxVNI returns the largest VXLAN VNI in use (0 for none).
func (t *Tx) MaxVNI(ctx context.Context) (int, error) {
	rows, err := t.query(ctx, `SELECT segment FROM networks WHERE segment LIKE 'vxlan:%'`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	max := 0
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return 0, err
		}
		var v int
		fmt.Sscanf(strings.TrimPrefix(s, "vxlan:"), "%d", &v)
		if v > max {
			max = v
		}
	}
	return max, rows.Err()
}

// ---- subnets

// PutSubnet inserts or replaces a subnet.
func (t *Tx) PutSubnet(ctx context.Context, s *Subnet, insert bool) error {
	return putRow(ctx, t, insert, "subnets", s.ID, []string{"network_id", "project_id", "subnetpool_id", "created_at"},
		[]any{s.NetworkID, s.ProjectID, s.SubnetPoolID, micros(s.CreatedAt)}, s)
}

// GetSubnet returns one subnet.
func (t *Tx) GetSubnet(ctx context.Context, id string) (Subnet, error) {
	return getRow[Subnet](ctx, t, "subnets", id)
}

// ListSubnets returns the subnets q selects (Projects, NetworkIDs, IDs).
func (t *Tx) ListSubnets(ctx context.Context, q Query) ([]Subnet, error) {
	q.OrShared = false
	return listRows[Subnet](ctx, t, "subnets", q.where(true), "")
}

// DeleteSubnet deletes one subnet.
func (t *Tx) DeleteSubnet(ctx context.Context, id string) error {
	return deleteRow(ctx, t, "subnets", id)
}

// PoolSubnets returns the subnets allocated from a subnet pool.
func (t *Tx) PoolSubnets(ctx context.Context, poolID string) ([]Subnet, error) {
	return listRows[Subnet](ctx, t, "subnets", (&where{}).eq("subnetpool_id", poolID, true), "")
}

// ---- subnet pools

// PutSubnetPool inserts or replaces a subnet pool; ErrConflict when it
// would be a second default pool of its IP version.
func (t *Tx) PutSubnetPool(ctx context.Context, p *SubnetPool, insert bool) error {
	return putRow(ctx, t, insert, "subnetpools", p.ID, []string{"project_id", "ip_version", "shared", "is_default", "created_at"},
		[]any{p.ProjectID, p.IPVersion, p.Shared, p.IsDefault, micros(p.CreatedAt)}, p)
}

// GetSubnetPool returns one subnet pool.
func (t *Tx) GetSubnetPool(ctx context.Context, id string) (SubnetPool, error) {
	return getRow[SubnetPool](ctx, t, "subnetpools", id)
}

// ListSubnetPools returns the pools q selects (IDs, Projects; OrShared
// also keeps shared pools), oldest first.
func (t *Tx) ListSubnetPools(ctx context.Context, q Query) ([]SubnetPool, error) {
	w := &where{}
	if q.IDs != nil {
		w.in("id", q.IDs)
	}
	if !q.All && q.Projects != nil {
		in := (&where{}).in("project_id", q.Projects)
		c := in.clauses[0]
		if q.OrShared {
			c = "(" + c + " OR shared)"
		}
		w.clauses = append(w.clauses, c)
		w.args = append(w.args, in.args...)
	}
	return listRows[SubnetPool](ctx, t, "subnetpools", w, "")
}

// DefaultSubnetPool returns the default pool of an IP version;
// ErrNotFound when there is none.
func (t *Tx) DefaultSubnetPool(ctx context.Context, ipVersion int) (SubnetPool, error) {
	var id string
	if err := t.queryRow(ctx, `SELECT id FROM subnetpools WHERE ip_version = ? AND is_default`, ipVersion).Scan(&id); err != nil {
		return SubnetPool{}, t.mapErr(err)
	}
	return t.GetSubnetPool(ctx, id)
}

// DeleteSubnetPool deletes one subnet pool.
func (t *Tx) DeleteSubnetPool(ctx context.Context, id string) error {
	return deleteRow(ctx, t, "subnetpools", id)
}

// ---- ports

// PutPort inserts or replaces a port. Its addresses are rows of
// ip_allocations, written with AllocateIP.
func (t *Tx) PutPort(ctx context.Context, p *Port, insert bool) error {
	return putRow(ctx, t, insert, "ports", p.ID,
		[]string{"network_id", "project_id", "mac_address", "device_id", "device_owner", "host", "seq", "created_at"},
		[]any{p.NetworkID, p.ProjectID, p.MAC, p.DeviceID, p.DeviceOwner, p.HostID, p.Seq, micros(p.CreatedAt)}, p)
}

// GetPort returns one port.
func (t *Tx) GetPort(ctx context.Context, id string) (Port, error) {
	return getRow[Port](ctx, t, "ports", id)
}

// ListPorts returns the ports q selects in creation order.
func (t *Tx) ListPorts(ctx context.Context, q Query) ([]Port, error) {
	q.OrShared = false
	return listRows[Port](ctx, t, "ports", q.where(true), "seq, id")
}

// DeletePort deletes a port with its addresses and group memberships.
func (t *Tx) DeletePort(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM ip_allocations WHERE port_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM port_security_groups WHERE port_id = ?`, id); err != nil {
		return err
	}
	return deleteRow(ctx, t, "ports", id)
}

// MACTaken reports whether a port of the network has the MAC.
func (t *Tx) MACTaken(ctx context.Context, networkID, mac string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM ports WHERE network_id = ? AND mac_address = ?`, networkID, mac).Scan(&n)
	return n > 0, err
}

// CountPorts counts the ports of a network, or of a network on one subnet
// (subnetID set), leaving out ports with the given device owners.
func (t *Tx) CountPortsOnSubnet(ctx context.Context, subnetID string, exceptOwners ...string) (int, error) {
	q := `SELECT COUNT(*) FROM ip_allocations a JOIN ports p ON p.id = a.port_id WHERE a.subnet_id = ?`
	args := []any{subnetID}
	for _, o := range exceptOwners {
		q += ` AND p.device_owner <> ?`
		args = append(args, o)
	}
	var n int
	err := t.queryRow(ctx, q, args...).Scan(&n)
	return n, err
}

// AllocatedIPs returns the addresses taken on a subnet.
func (t *Tx) AllocatedIPs(ctx context.Context, subnetID string) (map[string]string, error) {
	rows, err := t.query(ctx, `SELECT ip_address, port_id FROM ip_allocations WHERE subnet_id = ?`, subnetID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var ip, port string
		if err := rows.Scan(&ip, &port); err != nil {
			return nil, err
		}
		m[ip] = port
	}
	return m, rows.Err()
}

// CountAllocated returns how many addresses each subnet has taken.
func (t *Tx) CountAllocated(ctx context.Context) (map[string]int, error) {
	rows, err := t.query(ctx, `SELECT subnet_id, COUNT(*) FROM ip_allocations GROUP BY subnet_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		m[id] = n
	}
	return m, rows.Err()
}

// AllocateIP records that port holds ip on subnet; ErrConflict when the
// address is taken.
func (t *Tx) AllocateIP(ctx context.Context, subnetID, networkID, ip, portID string) error {
	_, err := t.exec(ctx, `INSERT INTO ip_allocations (subnet_id, ip_address, network_id, port_id) VALUES (?, ?, ?, ?)`, subnetID, ip, networkID, portID)
	return t.mapErr(err)
}

// ReleasePortIPs drops every address of a port.
func (t *Tx) ReleasePortIPs(ctx context.Context, portID string) error {
	_, err := t.exec(ctx, `DELETE FROM ip_allocations WHERE port_id = ?`, portID)
	return err
}

// SetPortGroups replaces the security groups of a port.
func (t *Tx) SetPortGroups(ctx context.Context, portID string, groups []string) error {
	if _, err := t.exec(ctx, `DELETE FROM port_security_groups WHERE port_id = ?`, portID); err != nil {
		return err
	}
	for _, g := range groups {
		if _, err := t.exec(ctx, `INSERT INTO port_security_groups (port_id, security_group_id) VALUES (?, ?)`, portID, g); err != nil {
			return t.mapErr(err)
		}
	}
	return nil
}

// GroupInUse reports whether a port uses the security group.
func (t *Tx) GroupInUse(ctx context.Context, groupID string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM port_security_groups WHERE security_group_id = ?`, groupID).Scan(&n)
	return n > 0, err
}

// GroupMemberIPs returns the fixed addresses of every port in each of the
// groups.
func (t *Tx) GroupMemberIPs(ctx context.Context, groups []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(groups) == 0 {
		return out, nil
	}
	w := (&where{}).in("g.security_group_id", groups)
	rows, err := t.query(ctx, `SELECT g.security_group_id, a.ip_address FROM port_security_groups g JOIN ip_allocations a ON a.port_id = g.port_id`+w.sql()+` ORDER BY a.ip_address`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g, ip string
		if err := rows.Scan(&g, &ip); err != nil {
			return nil, err
		}
		out[g] = append(out[g], ip)
	}
	return out, rows.Err()
}

// ---- security groups

// PutSecurityGroup inserts or replaces a security group.
func (t *Tx) PutSecurityGroup(ctx context.Context, g *SecurityGroup, insert bool) error {
	return putRow(ctx, t, insert, "security_groups", g.ID, []string{"project_id", "name", "created_at"},
		[]any{g.ProjectID, g.Name, micros(g.CreatedAt)}, g)
}

// GetSecurityGroup returns one security group.
func (t *Tx) GetSecurityGroup(ctx context.Context, id string) (SecurityGroup, error) {
	return getRow[SecurityGroup](ctx, t, "security_groups", id)
}

// ListSecurityGroups returns the groups q selects.
func (t *Tx) ListSecurityGroups(ctx context.Context, q Query) ([]SecurityGroup, error) {
	q.OrShared = false
	return listRows[SecurityGroup](ctx, t, "security_groups", q.where(false), "")
}

// DefaultSecurityGroup returns the id of the project's "default" group, or "".
func (t *Tx) DefaultSecurityGroup(ctx context.Context, projectID string) (string, error) {
	var id string
	err := t.queryRow(ctx, `SELECT id FROM security_groups WHERE project_id = ? AND name = 'default' ORDER BY created_at LIMIT 1`, projectID).Scan(&id)
	if err := t.mapErr(err); err == ErrNotFound {
		return "", nil
	} else if err != nil {
		return "", err
	}
	return id, nil
}

// DeleteSecurityGroup deletes a group and its rules.
func (t *Tx) DeleteSecurityGroup(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, `DELETE FROM security_group_rules WHERE security_group_id = ?`, id); err != nil {
		return err
	}
	return deleteRow(ctx, t, "security_groups", id)
}

// PutSecurityGroupRule inserts a rule; ErrConflict for a duplicate.
func (t *Tx) PutSecurityGroupRule(ctx context.Context, r *SecurityGroupRule, insert bool) error {
	return putRow(ctx, t, insert, "security_group_rules", r.ID, []string{"security_group_id", "project_id", "remote_group_id", "fingerprint", "created_at"},
		[]any{r.SecurityGroupID, r.ProjectID, r.RemoteGroupID, r.Fingerprint(), micros(r.CreatedAt)}, r)
}

// RuleByFingerprint returns the id of the group's rule with the same
// fingerprint, or "".
func (t *Tx) RuleByFingerprint(ctx context.Context, groupID, fp string) (string, error) {
	var id string
	err := t.mapErr(t.queryRow(ctx, `SELECT id FROM security_group_rules WHERE security_group_id = ? AND fingerprint = ?`, groupID, fp).Scan(&id))
	if err == ErrNotFound {
		return "", nil
	}
	return id, err
}

// GetSecurityGroupRule returns one rule.
func (t *Tx) GetSecurityGroupRule(ctx context.Context, id string) (SecurityGroupRule, error) {
	return getRow[SecurityGroupRule](ctx, t, "security_group_rules", id)
}

// ListSecurityGroupRules returns the rules of the groups (nil: all rules q selects).
func (t *Tx) ListSecurityGroupRules(ctx context.Context, q Query, groups []string) ([]SecurityGroupRule, error) {
	q.OrShared = false
	w := q.where(false)
	if groups != nil {
		w.in("security_group_id", groups)
	}
	return listRows[SecurityGroupRule](ctx, t, "security_group_rules", w, "")
}

// DeleteSecurityGroupRule deletes one rule.
func (t *Tx) DeleteSecurityGroupRule(ctx context.Context, id string) error {
	return deleteRow(ctx, t, "security_group_rules", id)
}

// ---- routers

// PutRouter inserts or replaces a router.
func (t *Tx) PutRouter(ctx context.Context, r *Router, insert bool) error {
	return putRow(ctx, t, insert, "routers", r.ID, []string{"project_id", "host", "created_at"},
		[]any{r.ProjectID, r.Host, micros(r.CreatedAt)}, r)
}

// GetRouter returns one router.
func (t *Tx) GetRouter(ctx context.Context, id string) (Router, error) {
	return getRow[Router](ctx, t, "routers", id)
}

// ListRouters returns the routers q selects (IDs, Projects, Hosts).
func (t *Tx) ListRouters(ctx context.Context, q Query) ([]Router, error) {
	q.OrShared = false
	return listRows[Router](ctx, t, "routers", q.where(false), "")
}

// DeleteRouter deletes one router.
func (t *Tx) DeleteRouter(ctx context.Context, id string) error {
	return deleteRow(ctx, t, "routers", id)
}

// RouterCounts returns how many routers each host runs.
func (t *Tx) RouterCounts(ctx context.Context) (map[string]int, error) {
	rows, err := t.query(ctx, `SELECT host, COUNT(*) FROM routers GROUP BY host`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var h string
		var n int
		if err := rows.Scan(&h, &n); err != nil {
			return nil, err
		}
		m[h] = n
	}
	return m, rows.Err()
}

// ---- floating IPs

// PutFloatingIP inserts or replaces a floating IP.
func (t *Tx) PutFloatingIP(ctx context.Context, f *FloatingIP, insert bool) error {
	return putRow(ctx, t, insert, "floating_ips", f.ID,
		[]string{"project_id", "floating_network_id", "floating_ip_address", "port_id", "router_id", "created_at"},
		[]any{f.ProjectID, f.FloatingNetworkID, f.FloatingIP, f.PortID, f.RouterID, micros(f.CreatedAt)}, f)
}

// GetFloatingIP returns one floating IP.
func (t *Tx) GetFloatingIP(ctx context.Context, id string) (FloatingIP, error) {
	return getRow[FloatingIP](ctx, t, "floating_ips", id)
}

// FloatingIPQuery narrows ListFloatingIPs.
type FloatingIPQuery struct {
	Query
	PortIDs   []string
	RouterIDs []string
}

// ListFloatingIPs returns the floating IPs q selects.
func (t *Tx) ListFloatingIPs(ctx context.Context, q FloatingIPQuery) ([]FloatingIP, error) {
	q.OrShared = false
	w := q.where(false)
	if q.PortIDs != nil {
		w.in("port_id", q.PortIDs)
	}
	if q.RouterIDs != nil {
		w.in("router_id", q.RouterIDs)
	}
	return listRows[FloatingIP](ctx, t, "floating_ips", w, "")
}

// DeleteFloatingIP deletes one floating IP.
func (t *Tx) DeleteFloatingIP(ctx context.Context, id string) error {
	return deleteRow(ctx, t, "floating_ips", id)
}

// ---- quotas and usage

// NetworkQuotas returns a project's limits that differ from the defaults.
func (t *Tx) NetworkQuotas(ctx context.Context, projectID string) (map[string]int, error) {
	rows, err := t.query(ctx, `SELECT resource, hard_limit FROM network_quotas WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, err
		}
		m[r] = n
	}
	return m, rows.Err()
}

// NetworkQuotaProjects returns the projects with limits of their own.
func (t *Tx) NetworkQuotaProjects(ctx context.Context) ([]string, error) {
	return list(ctx, t, func(s scanner) (string, error) { var p string; err := s.Scan(&p); return p, err },
		`SELECT DISTINCT project_id FROM network_quotas ORDER BY project_id`)
}

// SetNetworkQuota sets one limit of a project.
func (t *Tx) SetNetworkQuota(ctx context.Context, projectID, resource string, limit int) error {
	if _, err := t.exec(ctx, `DELETE FROM network_quotas WHERE project_id = ? AND resource = ?`, projectID, resource); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO network_quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)`, projectID, resource, limit)
	return err
}

// DeleteNetworkQuotas resets a project's limits to the defaults.
func (t *Tx) DeleteNetworkQuotas(ctx context.Context, projectID string) error {
	_, err := t.exec(ctx, `DELETE FROM network_quotas WHERE project_id = ?`, projectID)
	return err
}

// usageTables maps a quota resource to its table.
var usageTables = map[string]string{
	"network": "networks", "subnet": "subnets", "port": "ports", "router": "routers",
	"floatingip": "floating_ips", "security_group": "security_groups", "security_group_rule": "security_group_rules",
}

// NetworkUsage counts a project's resources of one kind.
func (t *Tx) NetworkUsage(ctx context.Context, projectID, resource string) (int, error) {
	table, ok := usageTables[resource]
	if !ok {
		return 0, fmt.Errorf("unknown quota resource %q", resource)
	}
	var n int
	err := t.queryRow(ctx, "SELECT COUNT(*) FROM "+table+" WHERE project_id = ?", projectID).Scan(&n)
	return n, err
}

// HostTunnelIPs returns every compute host's registered address.
func (t *Tx) HostTunnelIPs(ctx context.Context) (map[string]string, error) {
	rows, err := t.query(ctx, `SELECT host, host_ip FROM compute_hosts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var h, ip string
		if err := rows.Scan(&h, &ip); err != nil {
			return nil, err
		}
		m[h] = ip
	}
	return m, rows.Err()
}

// CountSubnetIPs counts the addresses taken on a subnet.
func (t *Tx) CountSubnetIPs(ctx context.Context, subnetID string) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = ?`, subnetID).Scan(&n)
	return n, err
}

// IPTaken reports whether an address of a subnet is taken.
func (t *Tx) IPTaken(ctx context.Context, subnetID, ip string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?`, subnetID, ip).Scan(&n)
	return n > 0, err
}

// PortAddr is what a host needs of another host's port: where it is and
// which MAC and addresses it has. Read from columns, without decoding
// port bodies, for HostNetwork's remote ports.
type PortAddr struct {
	ID, NetworkID, MAC, Host, DeviceOwner string
	IPs                                   []string
}

// PortAddrs returns the ports of the networks with their addresses.
func (t *Tx) PortAddrs(ctx context.Context, networkIDs, subnetIDs []string) ([]PortAddr, error) {
	if len(networkIDs) == 0 {
		return nil, nil
	}
	w := (&where{}).in("network_id", networkIDs)
	rows, err := t.query(ctx, `SELECT id, network_id, mac_address, host, device_owner FROM ports`+w.sql()+` ORDER BY seq, id`, w.args...)
	if err != nil {
		return nil, err
	}
	var out []PortAddr
	index := map[string]int{}
	for rows.Next() {
		var p PortAddr
		if err := rows.Scan(&p.ID, &p.NetworkID, &p.MAC, &p.Host, &p.DeviceOwner); err != nil {
			rows.Close()
			return nil, err
		}
		index[p.ID] = len(out)
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(subnetIDs) == 0 {
		return out, nil
	}
	w = (&where{}).in("subnet_id", subnetIDs)
	rows, err = t.query(ctx, `SELECT port_id, ip_address FROM ip_allocations`+w.sql(), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, ip string
		if err := rows.Scan(&id, &ip); err != nil {
			return nil, err
		}
		if i, ok := index[id]; ok {
			out[i].IPs = append(out[i].IPs, ip)
		}
	}
	return out, rows.Err()
}
