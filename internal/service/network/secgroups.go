package network

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// SecurityGroupInput is a group create or update.
type SecurityGroupInput struct {
	ProjectID         string
	Name, Description *string
	Stateful          *bool
}

// SecurityGroupView is a group with its rules.
type SecurityGroupView struct {
	store.SecurityGroup
	Rules []store.SecurityGroupRule
}

// ensureDefaultSGTx returns the project's default group, creating it with
// Neutron's default rules: ingress from the group itself and egress to
// anywhere, for IPv4 and IPv6.
func (s *Service) ensureDefaultSGTx(ctx context.Context, tx *store.Tx, project string) (string, error) {
	id, err := tx.DefaultSecurityGroup(ctx, project)
	if err != nil || id != "" {
		return id, err
	}
	now := s.now()
	g := store.SecurityGroup{ID: uuid.NewString(), ProjectID: project, Name: "default", Description: "Default security group",
		Stateful: true, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	if err := tx.PutSecurityGroup(ctx, &g, true); err != nil {
		return "", err
	}
	for _, r := range []store.SecurityGroupRule{
		{Direction: "ingress", EtherType: "IPv4", RemoteGroupID: g.ID},
		{Direction: "ingress", EtherType: "IPv6", RemoteGroupID: g.ID},
		{Direction: "egress", EtherType: "IPv4"},
		{Direction: "egress", EtherType: "IPv6"},
	} {
		r.ID, r.SecurityGroupID, r.ProjectID, r.Revision, r.CreatedAt, r.UpdatedAt = uuid.NewString(), g.ID, project, 1, now, now
		if err := tx.PutSecurityGroupRule(ctx, &r, true); err != nil {
			return "", err
		}
	}
	return g.ID, nil
}

// EnsureDefaultSecurityGroup creates the project's default group if it
// has none (Neutron does so on the project's first use).
func (s *Service) EnsureDefaultSecurityGroup(ctx context.Context, project string) error {
	if project == "" {
		return nil
	}
	var id string
	if err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		id, err = tx.DefaultSecurityGroup(ctx, project)
		return err
	}); err != nil || id != "" {
		return err
	}
	return s.write(ctx, func(tx *store.Tx) error {
		_, err := s.ensureDefaultSGTx(ctx, tx, project)
		return err
	})
}

// CreateSecurityGroup creates a group with Neutron's two egress rules.
func (s *Service) CreateSecurityGroup(ctx context.Context, c *auth.Credentials, in SecurityGroupInput) (SecurityGroupView, error) {
	project, err := targetProject(c, in.ProjectID)
	if err != nil {
		return SecurityGroupView{}, err
	}
	if in.Name != nil && *in.Name == "default" {
		return SecurityGroupView{}, oserr.Conflict("Default security group already exists.").WithType("SecurityGroupDefaultAlreadyExists")
	}
	now := s.now()
	g := store.SecurityGroup{ID: uuid.NewString(), ProjectID: project, Stateful: true, Tags: []string{}, Revision: 1, CreatedAt: now, UpdatedAt: now}
	if in.Name != nil {
		g.Name = *in.Name
	}
	if in.Description != nil {
		g.Description = *in.Description
	}
	if in.Stateful != nil {
		g.Stateful = *in.Stateful
	}
	var out SecurityGroupView
	err = s.write(ctx, func(tx *store.Tx) error {
		if _, err := s.ensureDefaultSGTx(ctx, tx, project); err != nil {
			return err
		}
		if err := s.quota(ctx, tx, project, "security_group", 1); err != nil {
			return err
		}
		if err := tx.PutSecurityGroup(ctx, &g, true); err != nil {
			return err
		}
		out.SecurityGroup = g
		for _, et := range []string{"IPv4", "IPv6"} {
			r := store.SecurityGroupRule{ID: uuid.NewString(), SecurityGroupID: g.ID, ProjectID: project, Direction: "egress", EtherType: et, Revision: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.PutSecurityGroupRule(ctx, &r, true); err != nil {
				return err
			}
			out.Rules = append(out.Rules, r)
		}
		return nil
	})
	return out, err
}

// GetSecurityGroup returns a group c may see with its rules.
func (s *Service) GetSecurityGroup(ctx context.Context, c *auth.Credentials, id string) (SecurityGroupView, error) {
	var out SecurityGroupView
	err := s.read(ctx, func(tx *store.Tx) error {
		g, err := tx.GetSecurityGroup(ctx, id)
		if err != nil {
			return mapNotFound(err, sgNotFound(id))
		}
		if !owns(c, g.ProjectID) {
			return sgNotFound(id)
		}
		rules, err := tx.ListSecurityGroupRules(ctx, store.Query{All: true}, []string{id})
		out = SecurityGroupView{SecurityGroup: g, Rules: rules}
		return err
	})
	return out, err
}

// ListSecurityGroups returns the groups c may see, creating the caller's
// project's default group first.
func (s *Service) ListSecurityGroups(ctx context.Context, c *auth.Credentials) ([]SecurityGroupView, error) {
	if err := s.EnsureDefaultSecurityGroup(ctx, c.ProjectID()); err != nil {
		return nil, err
	}
	var out []SecurityGroupView
	err := s.read(ctx, func(tx *store.Tx) error {
		gs, err := tx.ListSecurityGroups(ctx, scope(c))
		if err != nil {
			return err
		}
		ids := make([]string, len(gs))
		for i, g := range gs {
			ids[i] = g.ID
		}
		rules := map[string][]store.SecurityGroupRule{}
		if len(ids) > 0 {
			rs, err := tx.ListSecurityGroupRules(ctx, store.Query{All: true}, ids)
			if err != nil {
				return err
			}
			for _, r := range rs {
				rules[r.SecurityGroupID] = append(rules[r.SecurityGroupID], r)
			}
		}
		for _, g := range gs {
			out = append(out, SecurityGroupView{SecurityGroup: g, Rules: rules[g.ID]})
		}
		return nil
	})
	return out, err
}

// UpdateSecurityGroup renames or redescribes a group.
func (s *Service) UpdateSecurityGroup(ctx context.Context, c *auth.Credentials, id string, in SecurityGroupInput, ifRev int64) (SecurityGroupView, error) {
	err := s.write(ctx, func(tx *store.Tx) error {
		g, err := tx.GetSecurityGroup(ctx, id)
		if err != nil {
			return mapNotFound(err, sgNotFound(id))
		}
		if !owns(c, g.ProjectID) {
			return sgNotFound(id)
		}
		if err := revisionCheck(ifRev, g.Revision); err != nil {
			return err
		}
		if in.Name != nil {
			if g.Name == "default" && *in.Name != "default" {
				return oserr.Conflict("Updating default security group not allowed.").WithType("SecurityGroupCannotUpdateDefault")
			}
			if g.Name != "default" && *in.Name == "default" {
				return oserr.Conflict("Default security group already exists.").WithType("SecurityGroupDefaultAlreadyExists")
			}
			g.Name = *in.Name
		}
		if in.Description != nil {
			g.Description = *in.Description
		}
		if in.Stateful != nil {
			g.Stateful = *in.Stateful
		}
		g.Revision++
		g.UpdatedAt = s.now()
		return tx.PutSecurityGroup(ctx, &g, false)
	})
	if err != nil {
		return SecurityGroupView{}, err
	}
	return s.GetSecurityGroup(ctx, c, id)
}

// DeleteSecurityGroup deletes a group no port uses.
func (s *Service) DeleteSecurityGroup(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		g, err := tx.GetSecurityGroup(ctx, id)
		if err != nil {
			return mapNotFound(err, sgNotFound(id))
		}
		if !owns(c, g.ProjectID) {
			return sgNotFound(id)
		}
		if err := revisionCheck(ifRev, g.Revision); err != nil {
			return err
		}
		if g.Name == "default" && !c.IsAdmin() {
			return oserr.Conflict("Insufficient rights for removing default security group.").WithType("SecurityGroupCannotRemoveDefault")
		}
		used, err := tx.GroupInUse(ctx, id)
		if err != nil {
			return err
		}
		if used {
			return oserr.Conflict("Security Group %s in use.", id).WithType("SecurityGroupInUse")
		}
		return tx.DeleteSecurityGroup(ctx, id)
	})
}

// RuleInput is a new security group rule.
type RuleInput struct {
	ProjectID, SecurityGroupID, Description string
	Direction, EtherType, Protocol          string
	PortMin, PortMax                        *int
	RemoteIPPrefix, RemoteGroupID           string
}

var protocolNumbers = map[string]int{"icmp": 1, "igmp": 2, "tcp": 6, "egp": 8, "udp": 17, "ipv6-encap": 41, "ipv6-route": 43,
	"ipv6-frag": 44, "gre": 47, "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
	"ospf": 89, "pgm": 113, "sctp": 132, "udplite": 136, "dccp": 33, "rsvp": 46, "vrrp": 112, "any": -1}

// CreateSecurityGroupRule validates and adds a rule.
func (s *Service) CreateSecurityGroupRule(ctx context.Context, c *auth.Credentials, in RuleInput) (store.SecurityGroupRule, error) {
	r := store.SecurityGroupRule{SecurityGroupID: in.SecurityGroupID, Description: in.Description, Direction: in.Direction,
		EtherType: in.EtherType, PortMin: in.PortMin, PortMax: in.PortMax, RemoteGroupID: in.RemoteGroupID}
	if r.Direction != "ingress" && r.Direction != "egress" {
		return r, oserr.BadRequest("Invalid input for direction. Reason: '%s' is not in ['ingress', 'egress'].", r.Direction)
	}
	if r.EtherType == "" {
		r.EtherType = "IPv4"
	}
	switch strings.ToLower(r.EtherType) {
	case "ipv4":
		r.EtherType = "IPv4"
	case "ipv6":
		r.EtherType = "IPv6"
	default:
		return r, oserr.BadRequest("Invalid input for ethertype. Reason: '%s' is not in ['IPv4', 'IPv6'].", in.EtherType)
	}
	proto := strings.ToLower(in.Protocol)
	num := -1
	if proto != "" && proto != "any" {
		if v, err := strconv.Atoi(proto); err == nil {
			if v < 0 || v > 255 {
				return r, oserr.BadRequest("Security group rule protocol %s not supported. Only protocol values [None, tcp, udp, icmp, icmpv6, ...] and integer representations [0 to 255] are supported.", in.Protocol).WithType("SecurityGroupRuleInvalidProtocol")
			}
			num = v
		} else if v, ok := protocolNumbers[proto]; ok {
			num = v
		} else {
			return r, oserr.BadRequest("Security group rule protocol %s not supported. Only protocol values [None, tcp, udp, icmp, icmpv6, ...] and integer representations [0 to 255] are supported.", in.Protocol).WithType("SecurityGroupRuleInvalidProtocol")
		}
		r.Protocol = proto
		if proto == "icmpv6" {
			r.Protocol = "ipv6-icmp"
		}
	}
	if r.EtherType == "IPv4" && num == 58 {
		return r, oserr.BadRequest("Security group rule for ethertype 'IPv4' not supported. Allowed ethertypes are ['IPv6'] for protocol %s.", in.Protocol).WithType("SecurityGroupEthertypeConflictWithProtocol")
	}
	switch num {
	case 6, 17, 132, 33, 136:
		if r.PortMin != nil || r.PortMax != nil {
			if r.PortMin == nil || r.PortMax == nil {
				if r.PortMin == nil {
					return r, oserr.BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max").WithType("SecurityGroupInvalidPortRange")
				}
				r.PortMax = r.PortMin
			}
			for _, v := range []int{*r.PortMin, *r.PortMax} {
				if v < 1 || v > 65535 {
					return r, oserr.BadRequest("Invalid value for port %d.", v).WithType("SecurityGroupInvalidPortValue")
				}
			}
			if *r.PortMin > *r.PortMax {
				return r, oserr.BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max").WithType("SecurityGroupInvalidPortRange")
			}
		}
	case 1, 58:
		if r.PortMin != nil && (*r.PortMin < 0 || *r.PortMin > 255) {
			return r, oserr.BadRequest("Invalid value for ICMP type (port-range-min): %d. It must be 0 to 255.", *r.PortMin).WithType("SecurityGroupInvalidIcmpValue")
		}
		if r.PortMax != nil && (*r.PortMax < 0 || *r.PortMax > 255) {
			return r, oserr.BadRequest("Invalid value for ICMP code (port-range-max): %d. It must be 0 to 255.", *r.PortMax).WithType("SecurityGroupInvalidIcmpValue")
		}
		if r.PortMax != nil && r.PortMin == nil {
			return r, oserr.BadRequest("ICMP code (port-range-max) %d is provided but ICMP type (port-range-min) is missing.", *r.PortMax).WithType("SecurityGroupMissingIcmpType")
		}
	default:
		if r.PortMin != nil || r.PortMax != nil {
			return r, oserr.BadRequest("Invalid input for operation: port ranges need protocol tcp, udp, sctp, dccp or udplite.").WithType("InvalidInput")
		}
	}
	if in.RemoteIPPrefix != "" {
		if in.RemoteGroupID != "" {
			return r, oserr.BadRequest("Only remote_ip_prefix or remote_group_id may be provided.").WithType("SecurityGroupRemoteGroupAndRemoteIpPrefix")
		}
		p, err := netip.ParsePrefix(in.RemoteIPPrefix)
		if err != nil {
			a, err2 := netip.ParseAddr(in.RemoteIPPrefix)
			if err2 != nil {
				return r, oserr.BadRequest("Invalid input for remote_ip_prefix. Reason: '%s' is not a valid IP subnet.", in.RemoteIPPrefix)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if (p.Addr().Is4()) != (r.EtherType == "IPv4") {
			return r, oserr.BadRequest("Conflicting value ethertype %s for CIDR %s", r.EtherType, in.RemoteIPPrefix).WithType("SecurityGroupRuleParameterConflict")
		}
		p = p.Masked()
		if p.Bits() != 0 {
			r.RemoteIPPrefix = p.String()
		}
		if p.Bits() == 0 {
			r.RemoteIPPrefix = p.String()
		}
	}
	var out store.SecurityGroupRule
	err := s.write(ctx, func(tx *store.Tx) error {
		g, err := tx.GetSecurityGroup(ctx, in.SecurityGroupID)
		if err != nil {
			return mapNotFound(err, sgNotFound(in.SecurityGroupID))
		}
		if !owns(c, g.ProjectID) {
			return sgNotFound(in.SecurityGroupID)
		}
		if r.RemoteGroupID != "" {
			rg, err := tx.GetSecurityGroup(ctx, r.RemoteGroupID)
			if err != nil || !owns(c, rg.ProjectID) {
				return sgNotFound(r.RemoteGroupID)
			}
		}
		r.ProjectID = g.ProjectID
		if err := s.quota(ctx, tx, g.ProjectID, "security_group_rule", 1); err != nil {
			return err
		}
		if dup, err := tx.RuleByFingerprint(ctx, g.ID, r.Fingerprint()); err != nil {
			return err
		} else if dup != "" {
			return oserr.Conflict("Security group rule already exists. Rule id is %s.", dup).WithType("SecurityGroupRuleExists")
		}
		now := s.now()
		r.ID, r.Revision, r.CreatedAt, r.UpdatedAt = uuid.NewString(), 1, now, now
		if err := tx.PutSecurityGroupRule(ctx, &r, true); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return oserr.Conflict("Security group rule already exists.").WithType("SecurityGroupRuleExists")
			}
			return err
		}
		g.Revision++
		g.UpdatedAt = now
		out = r
		return tx.PutSecurityGroup(ctx, &g, false)
	})
	return out, err
}

// GetSecurityGroupRule returns a rule c may see.
func (s *Service) GetSecurityGroupRule(ctx context.Context, c *auth.Credentials, id string) (store.SecurityGroupRule, error) {
	var out store.SecurityGroupRule
	err := s.read(ctx, func(tx *store.Tx) error {
		r, err := tx.GetSecurityGroupRule(ctx, id)
		if err != nil {
			return mapNotFound(err, sgRuleNotFound(id))
		}
		if !owns(c, r.ProjectID) {
			return sgRuleNotFound(id)
		}
		out = r
		return nil
	})
	return out, err
}

// ListSecurityGroupRules returns the rules c may see.
func (s *Service) ListSecurityGroupRules(ctx context.Context, c *auth.Credentials) ([]store.SecurityGroupRule, error) {
	if err := s.EnsureDefaultSecurityGroup(ctx, c.ProjectID()); err != nil {
		return nil, err
	}
	var out []store.SecurityGroupRule
	err := s.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.ListSecurityGroupRules(ctx, scope(c), nil)
		return err
	})
	return out, err
}

// DeleteSecurityGroupRule deletes a rule.
func (s *Service) DeleteSecurityGroupRule(ctx context.Context, c *auth.Credentials, id string, ifRev int64) error {
	return s.write(ctx, func(tx *store.Tx) error {
		r, err := tx.GetSecurityGroupRule(ctx, id)
		if err != nil {
			return mapNotFound(err, sgRuleNotFound(id))
		}
		if !owns(c, r.ProjectID) {
			return sgRuleNotFound(id)
		}
		if err := revisionCheck(ifRev, r.Revision); err != nil {
			return err
		}
		return tx.DeleteSecurityGroupRule(ctx, id)
	})
}
