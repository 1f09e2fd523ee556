package loadbalancer

import (
	"encoding/json"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/loadbalancer"
)

// Wire bodies to the service's inputs.

func strLen(field string, p *string, max int) error {
	if p != nil && len(*p) > max {
		return oserr.BadRequest("Invalid input for field/attribute %s. Value: '%s'. Value should have a maximum character requirement of %d", field, *p, max)
	}
	return nil
}

func checkNames(name, desc *string) error {
	if err := strLen("name", name, 255); err != nil {
		return err
	}
	return strLen("description", desc, 255)
}

func checkTags(tags *[]string) error {
	if tags == nil {
		return nil
	}
	for _, t := range *tags {
		if len(t) > 255 {
			return oserr.BadRequest("Invalid input for field/attribute tags. Value: '%s'. Value should have a maximum character requirement of 255", t)
		}
	}
	return nil
}

func (w wireLB) input() (svc.LoadBalancerInput, error) {
	if err := checkNames(w.Name, w.Description); err != nil {
		return svc.LoadBalancerInput{}, err
	}
	if err := checkTags(w.Tags); err != nil {
		return svc.LoadBalancerInput{}, err
	}
	if len(w.AdditionalVIPs) > 0 {
		return svc.LoadBalancerInput{}, oserr.NotImplemented("Provider 'onestack' does not support a requested option: additional_vips are not served; give one VIP.")
	}
	if w.VIPVNICType != nil && *w.VIPVNICType != "normal" {
		return svc.LoadBalancerInput{}, oserr.BadRequest("Invalid input for field/attribute vip_vnic_type. Value: '%s'. Value should be one of: normal.", *w.VIPVNICType)
	}
	project := w.ProjectID
	if project == nil {
		project = w.TenantID
	}
	in := svc.LoadBalancerInput{Name: w.Name, Description: w.Description, AdminStateUp: w.AdminStateUp, VIPAddress: w.VIPAddress,
		VIPPortID: w.VIPPortID, VIPSubnetID: w.VIPSubnetID, VIPNetworkID: w.VIPNetworkID, VIPQoSPolicyID: w.VIPQoSPolicyID,
		VIPSecurityGroups: w.VIPSGIDs, ProjectID: project, Provider: w.Provider, FlavorID: w.FlavorID,
		AvailabilityZone: w.AvailabilityZone, Tags: w.Tags}
	for _, l := range w.Listeners {
		li, err := l.input()
		if err != nil {
			return in, err
		}
		in.Listeners = append(in.Listeners, li)
	}
	for _, p := range w.Pools {
		pi, err := p.input()
		if err != nil {
			return in, err
		}
		in.Pools = append(in.Pools, pi)
	}
	return in, nil
}

func (w wireListener) input() (svc.ListenerInput, error) {
	if err := checkNames(w.Name, w.Description); err != nil {
		return svc.ListenerInput{}, err
	}
	if err := checkTags(w.Tags); err != nil {
		return svc.ListenerInput{}, err
	}
	if w.ProtocolPort != nil && (*ip(w.ProtocolPort) < 1 || *ip(w.ProtocolPort) > 65535) {
		return svc.ListenerInput{}, oserr.BadRequest("Invalid input for field/attribute protocol_port. Value: '%d'. Value should be between 1 and 65535", *ip(w.ProtocolPort))
	}
	in := svc.ListenerInput{Name: w.Name, Description: w.Description, AdminStateUp: w.AdminStateUp, LoadBalancerID: deref(w.LoadBalancerID),
		Protocol: w.Protocol, ProtocolPort: ip(w.ProtocolPort), ConnectionLimit: ip(w.ConnectionLimit), DefaultTLSRef: w.DefaultTLSRef,
		SNIRefs: w.SNIRefs, ClientCARef: w.ClientCARef, ClientCRLRef: w.ClientCRLRef, ClientAuth: w.ClientAuth,
		DefaultPoolID: w.DefaultPoolID, InsertHeaders: w.InsertHeaders, TimeoutClientData: ip(w.TimeoutClientData),
		TimeoutMemberConnect: ip(w.TimeoutMemberConnect), TimeoutMemberData: ip(w.TimeoutMemberData), TimeoutTCPInspect: ip(w.TimeoutTCPInspect),
		AllowedCIDRs: w.AllowedCIDRs, TLSCiphers: w.TLSCiphers, TLSVersions: w.TLSVersions, ALPN: w.ALPN, HSTSMaxAge: ip(w.HSTSMaxAge),
		HSTSIncludeSubdomains: w.HSTSIncludeSubdomains, HSTSPreload: w.HSTSPreload, Tags: w.Tags}
	if w.DefaultPool != nil {
		p, err := w.DefaultPool.input()
		if err != nil {
			return in, err
		}
		in.DefaultPool = &p
	}
	for _, p := range w.L7Policies {
		pi, err := p.input()
		if err != nil {
			return in, err
		}
		in.L7Policies = append(in.L7Policies, pi)
	}
	return in, nil
}

func (w wirePool) input() (svc.PoolInput, error) {
	if err := checkNames(w.Name, w.Description); err != nil {
		return svc.PoolInput{}, err
	}
	if err := checkTags(w.Tags); err != nil {
		return svc.PoolInput{}, err
	}
	in := svc.PoolInput{Name: w.Name, Description: w.Description, AdminStateUp: w.AdminStateUp, LoadBalancerID: deref(w.LoadBalancerID),
		ListenerID: deref(w.ListenerID), Protocol: w.Protocol, LBAlgorithm: w.LBAlgorithm, TLSEnabled: w.TLSEnabled,
		TLSContainerRef: w.TLSContainerRef, CACertRef: w.CACertRef, CRLRef: w.CRLRef, TLSCiphers: w.TLSCiphers,
		TLSVersions: w.TLSVersions, ALPN: w.ALPN, Tags: w.Tags}
	if w.SessionPersistence != nil {
		var sp *svc.SessionPersistence
		if string(w.SessionPersistence) != "null" {
			var ws wirePersistence
			dec := json.NewDecoder(bytesReader(w.SessionPersistence))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ws); err != nil {
				return in, oserr.BadRequest("Invalid input for field/attribute session_persistence: %v; give {\"type\": \"SOURCE_IP\"|\"HTTP_COOKIE\"|\"APP_COOKIE\", \"cookie_name\": ...}.", err)
			}
			if ws.Type == "" {
				return in, oserr.BadRequest("Invalid input for field/attribute type. Value: 'None'. Mandatory field missing.")
			}
			sp = &svc.SessionPersistence{Type: ws.Type, CookieName: ws.CookieName, PersistenceTimeout: ip(ws.PersistenceTimeout), PersistenceGranularity: ws.PersistenceGranularity}
		}
		in.SessionPersistence = &sp
	}
	for _, m := range w.Members {
		mi, err := m.input()
		if err != nil {
			return in, err
		}
		in.Members = append(in.Members, mi)
	}
	if w.HealthMonitor != nil {
		hi, err := w.HealthMonitor.input()
		if err != nil {
			return in, err
		}
		in.HealthMonitor = &hi
	}
	return in, nil
}

func (w wireMember) input() (svc.MemberInput, error) {
	if err := checkNames(w.Name, nil); err != nil {
		return svc.MemberInput{}, err
	}
	if err := checkTags(w.Tags); err != nil {
		return svc.MemberInput{}, err
	}
	in := svc.MemberInput{Name: w.Name, AdminStateUp: w.AdminStateUp, Address: w.Address, ProtocolPort: ip(w.ProtocolPort),
		Weight: ip(w.Weight), Backup: w.Backup, SubnetID: w.SubnetID, RequestSRIOV: w.RequestSRIOV, Tags: w.Tags}
	var err error
	if in.MonitorAddress, in.MonitorAddressSet, err = nullStr(w.MonitorAddress); err != nil {
		return in, oserr.BadRequest("Invalid input for field/attribute monitor_address: give an IP address string or null.")
	}
	if in.MonitorPort, in.MonitorPortSet, err = nullInt(w.MonitorPort); err != nil {
		return in, oserr.BadRequest("Invalid input for field/attribute monitor_port: give a port number or null.")
	}
	return in, nil
}

func (w wireMonitor) input() (svc.HealthMonitorInput, error) {
	if err := checkNames(w.Name, nil); err != nil {
		return svc.HealthMonitorInput{}, err
	}
	if err := checkTags(w.Tags); err != nil {
		return svc.HealthMonitorInput{}, err
	}
	return svc.HealthMonitorInput{Name: w.Name, AdminStateUp: w.AdminStateUp, PoolID: deref(w.PoolID), Type: w.Type, Delay: ip(w.Delay),
		Timeout: ip(w.Timeout), MaxRetries: ip(w.MaxRetries), MaxRetriesDown: ip(w.MaxRetriesDown), HTTPMethod: w.HTTPMethod, URLPath: w.URLPath,
		ExpectedCodes: w.ExpectedCodes, HTTPVersion: w.HTTPVersion, DomainName: w.DomainName, Tags: w.Tags}, nil
}

func (w wirePolicy) input() (svc.L7PolicyInput, error) {
	if err := checkNames(w.Name, w.Description); err != nil {
		return svc.L7PolicyInput{}, err
	}
	if err := checkTags(w.Tags); err != nil {
		return svc.L7PolicyInput{}, err
	}
	if err := strLen("redirect_url", w.RedirectURL, 255); err != nil {
		return svc.L7PolicyInput{}, err
	}
	if err := strLen("redirect_prefix", w.RedirectPrefix, 255); err != nil {
		return svc.L7PolicyInput{}, err
	}
	in := svc.L7PolicyInput{Name: w.Name, Description: w.Description, AdminStateUp: w.AdminStateUp, ListenerID: deref(w.ListenerID),
		Action: w.Action, Position: ip(w.Position), RedirectPoolID: w.RedirectPoolID, RedirectURL: w.RedirectURL,
		RedirectPrefix: w.RedirectPrefix, RedirectHTTPCode: ip(w.RedirectHTTPCode), Tags: w.Tags}
	if w.RedirectPool != nil {
		p, err := w.RedirectPool.input()
		if err != nil {
			return in, err
		}
		in.RedirectPool = &p
	}
	for _, r := range w.Rules {
		ri, err := r.input()
		if err != nil {
			return in, err
		}
		in.Rules = append(in.Rules, ri)
	}
	return in, nil
}

func (w wireRule) input() (svc.L7RuleInput, error) {
	if err := checkTags(w.Tags); err != nil {
		return svc.L7RuleInput{}, err
	}
	if err := strLen("value", w.Value, 255); err != nil {
		return svc.L7RuleInput{}, err
	}
	if err := strLen("key", w.Key, 255); err != nil {
		return svc.L7RuleInput{}, err
	}
	return svc.L7RuleInput{AdminStateUp: w.AdminStateUp, Type: w.Type, CompareType: w.CompareType, Key: w.Key, Value: w.Value,
		Invert: w.Invert, Tags: w.Tags}, nil
}
