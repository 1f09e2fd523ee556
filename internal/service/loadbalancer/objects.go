package loadbalancer

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/oserr"
)

// Octavia's vocabularies.
var (
	listenerProtocols = []string{"HTTP", "HTTPS", "TCP", "TERMINATED_HTTPS", "UDP", "SCTP", "PROMETHEUS"}
	poolProtocols     = []string{"HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP", "UDP", "SCTP"}
	algorithms        = []string{"ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"}
	persistenceTypes  = []string{"SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"}
	monitorTypes      = []string{"HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP"}
	httpMethods       = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH", "CONNECT"}
	policyActions     = []string{"REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX"}
	ruleTypes         = []string{"HOST_NAME", "PATH", "FILE_TYPE", "HEADER", "COOKIE", "SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD"}
	compareTypes      = []string{"REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO"}
	redirectCodes     = []int{301, 302, 303, 307, 308}
	clientAuthModes   = []string{"NONE", "OPTIONAL", "MANDATORY"}
	insertableHeaders = []string{"X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-SSL-Client-Verify",
		"X-SSL-Client-Has-Cert", "X-SSL-Client-DN", "X-SSL-Client-CN", "X-SSL-Issuer", "X-SSL-Client-SHA1",
		"X-SSL-Client-Not-Before", "X-SSL-Client-Not-After"}
	tlsVersions = []string{"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
)

// listenerPools is which pool protocols each listener protocol can use.
var listenerPools = map[string][]string{
	"TCP":              {"HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"},
	"HTTP":             {"HTTP", "PROXY", "PROXYV2"},
	"HTTPS":            {"HTTPS", "PROXY", "PROXYV2", "TCP"},
	"TERMINATED_HTTPS": {"HTTP", "PROXY", "PROXYV2"},
	"UDP":              {"UDP"},
	"SCTP":             {"SCTP"},
}

func invalidOption(value any, option string) error {
	return oserr.BadRequest("%v is not a valid option for %s", value, option)
}

func unsupported(provider, msg string) error {
	return oserr.NotImplemented("Provider '%s' does not support a requested option: %s", provider, msg)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func setStr(dst *string, p *string) {
	if p != nil {
		*dst = *p
	}
}

func setInt(dst *int, p *int) {
	if p != nil {
		*dst = *p
	}
}

func setBool(dst *bool, p *bool) {
	if p != nil {
		*dst = *p
	}
}

func setTags(dst *[]string, p *[]string) {
	if p != nil {
		*dst = slices.Clone(*p)
	}
	if *dst == nil {
		*dst = []string{}
	}
}

func newMeta(id, project string, name, desc *string, up *bool, tags *[]string, now time.Time) Meta {
	m := Meta{ID: id, ProjectID: project, AdminStateUp: true, ProvisioningStatus: PendingCreate, OperatingStatus: Offline,
		CreatedAt: now, UpdatedAt: now, Tags: []string{}}
	setStr(&m.Name, name)
	setStr(&m.Description, desc)
	setBool(&m.AdminStateUp, up)
	setTags(&m.Tags, tags)
	return m
}

func updateMeta(m *Meta, name, desc *string, up *bool, tags *[]string, now time.Time) {
	setStr(&m.Name, name)
	setStr(&m.Description, desc)
	setBool(&m.AdminStateUp, up)
	if tags != nil {
		setTags(&m.Tags, tags)
	}
	m.UpdatedAt = now
}

// ---- listeners

// addListener validates in and adds the listener (with its default pool
// and L7 policies, for single-call creates) to t.
func (s *Service) addListener(t *Tree, in ListenerInput, now time.Time) (*Listener, error) {
	if in.Protocol == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol. Value: 'None'. Mandatory field missing.")
	}
	if in.ProtocolPort == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.")
	}
	proto := *in.Protocol
	if !slices.Contains(listenerProtocols, proto) {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol. Value: '%s'. Value should be one of: %s.", proto, strings.Join(listenerProtocols, ", "))
	}
	if proto == "SCTP" || proto == "PROMETHEUS" {
		return nil, unsupported(t.LB.Provider, fmt.Sprintf("the %s protocol is not served by this provider; use TCP, UDP, HTTP, HTTPS or TERMINATED_HTTPS.", proto))
	}
	for _, l := range t.Listeners {
		if l.ProtocolPort == *in.ProtocolPort && (l.Protocol == "UDP") == (proto == "UDP") {
			return nil, oserr.Conflict("Another Listener on this Load Balancer is already using protocol %s and protocol_port %d", l.Protocol, l.ProtocolPort)
		}
	}
	l := &Listener{Meta: newMeta(newID(), t.LB.ProjectID, in.Name, in.Description, in.AdminStateUp, in.Tags, now),
		LoadBalancerID: t.LB.ID, Protocol: proto, ProtocolPort: *in.ProtocolPort, ConnectionLimit: -1,
		TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000, ClientAuth: "NONE",
		InsertHeaders: map[string]string{}, SNIRefs: []string{}}
	if proto == "TERMINATED_HTTPS" {
		l.TLSVersions = []string{"TLSv1.2", "TLSv1.3"}
		l.ALPN = []string{"h2", "http/1.1", "http/1.0"}
		l.TLSCiphers = defaultCiphers
	}
	if err := s.applyListener(t, l, in, true); err != nil {
		return nil, err
	}
	t.add(KindListener, l.ID, l)
	if in.DefaultPool != nil {
		if in.DefaultPoolID != nil {
			return nil, validation("default_pool and default_pool_id cannot both be given; give one.")
		}
		pin := *in.DefaultPool
		pin.ListenerID = l.ID
		p, err := s.addPool(t, pin, now)
		if err != nil {
			return nil, err
		}
		l.DefaultPoolID = p.ID
	}
	for _, pin := range in.L7Policies {
		pin.ListenerID = l.ID
		if _, err := s.addPolicy(t, pin, now); err != nil {
			return nil, err
		}
	}
	return l, nil
}

const defaultCiphers = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// applyListener checks and applies the mutable fields of in to l.
func (s *Service) applyListener(t *Tree, l *Listener, in ListenerInput, create bool) error {
	proto := l.Protocol
	if in.ConnectionLimit != nil {
		if *in.ConnectionLimit < -1 {
			return oserr.BadRequest("Invalid input for field/attribute connection_limit. Value: '%d'. Value should be greater or equal to -1", *in.ConnectionLimit)
		}
		l.ConnectionLimit = *in.ConnectionLimit
	}
	for _, tm := range []struct {
		name string
		in   *int
		dst  *int
	}{{"timeout_client_data", in.TimeoutClientData, &l.TimeoutClientData}, {"timeout_member_connect", in.TimeoutMemberConnect, &l.TimeoutMemberConnect},
		{"timeout_member_data", in.TimeoutMemberData, &l.TimeoutMemberData}, {"timeout_tcp_inspect", in.TimeoutTCPInspect, &l.TimeoutTCPInspect}} {
		if tm.in == nil {
			continue
		}
		if *tm.in < 0 || *tm.in > 24*24*60*60*1000 {
			return oserr.BadRequest("Invalid input for field/attribute %s. Value: '%d'. Value should be between 0 and 2073600000 (milliseconds)", tm.name, *tm.in)
		}
		*tm.dst = *tm.in
	}
	if in.InsertHeaders != nil {
		if proto != "HTTP" && proto != "TERMINATED_HTTPS" && len(*in.InsertHeaders) > 0 {
			return validation("The following headers may only be used with HTTP or TERMINATED_HTTPS listeners: %s.", strings.Join(mapKeys(*in.InsertHeaders), ", "))
		}
		for k, v := range *in.InsertHeaders {
			if !slices.Contains(insertableHeaders, k) {
				return oserr.BadRequest("%s is not a valid option for insert_headers", k)
			}
			if strings.HasPrefix(k, "X-SSL-") && proto != "TERMINATED_HTTPS" {
				return validation("The %s header can only be inserted by TERMINATED_HTTPS listeners.", k)
			}
			if b, err := strconv.ParseBool(v); err != nil {
				return oserr.BadRequest("Invalid input for field/attribute insert_headers. Value: '%s'. Value should be a boolean string ('true' or 'false').", v)
			} else if !b {
				continue
			}
		}
		l.InsertHeaders = cloneMap(*in.InsertHeaders)
	}
	if in.AllowedCIDRs != nil {
		for _, c := range *in.AllowedCIDRs {
			p, err := netip.ParsePrefix(c)
			if err != nil {
				return oserr.BadRequest("Invalid input for field/attribute allowed_cidrs. Value: '%s'. Value should be a CIDR, e.g. 192.0.2.0/24.", c)
			}
			if !p.Addr().Is4() {
				return validation("CIDR %s is an IPv6 CIDR but the VIP is IPv4; give IPv4 CIDRs.", c)
			}
		}
		l.AllowedCIDRs = slices.Compact(slices.Sorted(slices.Values(*in.AllowedCIDRs)))
		if len(l.AllowedCIDRs) == 0 {
			l.AllowedCIDRs = nil
		}
	}
	tls := proto == "TERMINATED_HTTPS"
	if in.DefaultTLSRef != nil || in.SNIRefs != nil || in.ClientCARef != nil || in.ClientCRLRef != nil || in.TLSCiphers != nil || in.TLSVersions != nil || in.ALPN != nil || in.HSTSMaxAge != nil {
		if !tls && (str(in.DefaultTLSRef) != "" || in.SNIRefs != nil && len(*in.SNIRefs) > 0 || str(in.ClientCARef) != "" || str(in.TLSCiphers) != "" || in.TLSVersions != nil && len(*in.TLSVersions) > 0 || in.ALPN != nil && len(*in.ALPN) > 0 || in.HSTSMaxAge != nil) {
			return validation("Certificate, TLS and HSTS settings are only valid for TERMINATED_HTTPS listeners; this listener is %s.", proto)
		}
	}
	setStr(&l.DefaultTLSRef, in.DefaultTLSRef)
	if in.SNIRefs != nil {
		l.SNIRefs = slices.Clone(*in.SNIRefs)
	}
	setStr(&l.ClientCARef, in.ClientCARef)
	setStr(&l.ClientCRLRef, in.ClientCRLRef)
	if in.ClientAuth != nil {
		if !slices.Contains(clientAuthModes, *in.ClientAuth) {
			return oserr.BadRequest("Invalid input for field/attribute client_authentication. Value: '%s'. Value should be one of: NONE, OPTIONAL, MANDATORY.", *in.ClientAuth)
		}
		l.ClientAuth = *in.ClientAuth
	}
	if l.ClientAuth != "NONE" && l.ClientCARef == "" {
		return validation("Client authentication setting %s requires a client CA container reference.", l.ClientAuth)
	}
	if l.ClientCRLRef != "" && l.ClientCARef == "" {
		return validation("A client authentication CA reference is required to specify a client authentication revocation list.")
	}
	setStr(&l.TLSCiphers, in.TLSCiphers)
	if in.TLSVersions != nil {
		for _, v := range *in.TLSVersions {
			if !slices.Contains(tlsVersions, v) {
				return validation("Invalid TLS version: %s; give some of %s.", v, strings.Join(tlsVersions, ", "))
			}
		}
		l.TLSVersions = slices.Clone(*in.TLSVersions)
	}
	if in.ALPN != nil {
		for _, v := range *in.ALPN {
			if v != "h2" && v != "http/1.1" && v != "http/1.0" {
				return oserr.BadRequest("Invalid input for field/attribute alpn_protocols. Value: '%s'. Value should be one of: h2, http/1.1, http/1.0.", v)
			}
		}
		l.ALPN = slices.Clone(*in.ALPN)
	}
	if in.HSTSMaxAge != nil {
		if *in.HSTSMaxAge < 0 {
			return oserr.BadRequest("Invalid input for field/attribute hsts_max_age. Value: '%d'. Value should be greater or equal to 0", *in.HSTSMaxAge)
		}
		v := *in.HSTSMaxAge
		l.HSTSMaxAge = &v
	}
	setBool(&l.HSTSIncludeSubdomains, in.HSTSIncludeSubdomains)
	setBool(&l.HSTSPreload, in.HSTSPreload)
	if (l.HSTSIncludeSubdomains || l.HSTSPreload) && l.HSTSMaxAge == nil {
		return validation("HTTP Strict Transport Security requires hsts_max_age when hsts_include_subdomains or hsts_preload is set.")
	}
	if tls && l.DefaultTLSRef == "" {
		return validation("An SNI or default certificate container reference must be provided for TERMINATED_HTTPS listeners.")
	}
	if in.DefaultPoolID != nil {
		if id := *in.DefaultPoolID; id != "" {
			p := t.Pools[id]
			if p == nil {
				return oserr.NotFound("Pool %s not found.", id)
			}
			if !slices.Contains(listenerPools[proto], p.Protocol) {
				return validation("The pool protocol '%s' is invalid while the listener protocol is '%s'.", p.Protocol, proto)
			}
			if p.ListenerID != "" && p.ListenerID != l.ID {
				return oserr.Conflict("Pool %s is already the default pool of listener %s; give a pool not used as a default pool.", id, p.ListenerID)
			}
		}
		l.DefaultPoolID = *in.DefaultPoolID
	}
	return nil
}

func mapKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---- pools

func (s *Service) addPool(t *Tree, in PoolInput, now time.Time) (*Pool, error) {
	if in.Protocol == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol. Value: 'None'. Mandatory field missing.")
	}
	if in.LBAlgorithm == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute lb_algorithm. Value: 'None'. Mandatory field missing.")
	}
	proto := *in.Protocol
	if !slices.Contains(poolProtocols, proto) {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol. Value: '%s'. Value should be one of: %s.", proto, strings.Join(poolProtocols, ", "))
	}
	if proto == "SCTP" {
		return nil, unsupported(t.LB.Provider, "the SCTP protocol is not served by this provider.")
	}
	p := &Pool{Meta: newMeta(newID(), t.LB.ProjectID, in.Name, in.Description, in.AdminStateUp, in.Tags, now),
		LoadBalancerID: t.LB.ID, Protocol: proto}
	if in.ListenerID != "" {
		l := t.Listeners[in.ListenerID]
		if l == nil {
			return nil, oserr.NotFound("Listener %s not found.", in.ListenerID)
		}
		if l.DefaultPoolID != "" && l.DefaultPoolID != p.ID {
			return nil, oserr.Conflict("This listener already has a default pool")
		}
		if !slices.Contains(listenerPools[l.Protocol], proto) {
			return nil, validation("The pool protocol '%s' is invalid while the listener protocol is '%s'.", proto, l.Protocol)
		}
		p.ListenerID = l.ID
		l.DefaultPoolID = p.ID
		t.touch(l.ID)
	}
	if err := s.applyPool(t, p, in, true); err != nil {
		return nil, err
	}
	t.add(KindPool, p.ID, p)
	for _, min := range in.Members {
		if _, err := s.addMember(t, p, min, now); err != nil {
			return nil, err
		}
	}
	if in.HealthMonitor != nil {
		hin := *in.HealthMonitor
		hin.PoolID = p.ID
		if _, err := s.addMonitor(t, hin, now); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (s *Service) applyPool(t *Tree, p *Pool, in PoolInput, create bool) error {
	if in.LBAlgorithm != nil {
		if !slices.Contains(algorithms, *in.LBAlgorithm) {
			return oserr.BadRequest("Invalid input for field/attribute lb_algorithm. Value: '%s'. Value should be one of: %s.", *in.LBAlgorithm, strings.Join(algorithms, ", "))
		}
		p.LBAlgorithm = *in.LBAlgorithm
	}
	if in.SessionPersistence != nil {
		sp := *in.SessionPersistence
		if sp == nil {
			p.SessionPersistence = nil
		} else {
			if !slices.Contains(persistenceTypes, sp.Type) {
				return oserr.BadRequest("Invalid input for field/attribute type. Value: '%s'. Value should be one of: %s.", sp.Type, strings.Join(persistenceTypes, ", "))
			}
			udp := p.Protocol == "UDP"
			switch {
			case udp && sp.Type != "SOURCE_IP":
				return validation("Session persistence of type %s is not supported for UDP protocol pools.", sp.Type)
			case udp && sp.CookieName != "":
				return validation("Cookie names are not supported for UDP pools.")
			case !udp && (sp.PersistenceTimeout != nil || sp.PersistenceGranularity != ""):
				return validation("persistence_timeout and persistence_granularity is only for UDP protocol pools.")
			case sp.Type == "APP_COOKIE" && sp.CookieName == "":
				return validation("Field 'cookie_name' must be set when using the APP_COOKIE session persistence type.")
			case sp.Type != "APP_COOKIE" && sp.CookieName != "":
				return validation("Field 'cookie_name' can only be specified when using the APP_COOKIE session persistence type.")
			case sp.Type == "APP_COOKIE" && !cookieName.MatchString(sp.CookieName):
				return validation("Field 'cookie_name' %q is not a cookie name (RFC 6265 token characters only).", sp.CookieName)
			case (sp.Type == "HTTP_COOKIE" || sp.Type == "APP_COOKIE") && p.Protocol != "HTTP" && p.Protocol != "HTTPS" && p.Protocol != "PROXY" && p.Protocol != "PROXYV2" && p.Protocol != "TCP":
				return validation("Session persistence of type %s is not supported for %s protocol pools.", sp.Type, p.Protocol)
			}
			if sp.PersistenceGranularity != "" {
				if a, err := netip.ParseAddr(sp.PersistenceGranularity); err != nil || !a.Is4() {
					return validation("persistence_granularity %q is not an IPv4 netmask, e.g. 255.255.255.0.", sp.PersistenceGranularity)
				}
			}
			c := *sp
			p.SessionPersistence = &c
		}
	}
	if p.Protocol == "UDP" && p.LBAlgorithm == "LEAST_CONNECTIONS" {
		return unsupported(t.LB.Provider, "UDP pools balance with ROUND_ROBIN, SOURCE_IP or SOURCE_IP_PORT here (LEAST_CONNECTIONS needs connection state the UDP data plane does not keep).")
	}
	setBool(&p.TLSEnabled, in.TLSEnabled)
	setStr(&p.TLSContainerRef, in.TLSContainerRef)
	setStr(&p.CACertRef, in.CACertRef)
	setStr(&p.CRLRef, in.CRLRef)
	if p.CRLRef != "" && p.CACertRef == "" {
		return validation("A CA certificate reference is required to specify a revocation list.")
	}
	if p.TLSContainerRef != "" {
		return unsupported(t.LB.Provider, "client certificates towards members (tls_container_ref) are not served; give none.")
	}
	setStr(&p.TLSCiphers, in.TLSCiphers)
	if in.TLSVersions != nil {
		for _, v := range *in.TLSVersions {
			if !slices.Contains(tlsVersions, v) {
				return validation("Invalid TLS version: %s; give some of %s.", v, strings.Join(tlsVersions, ", "))
			}
		}
		p.TLSVersions = slices.Clone(*in.TLSVersions)
	}
	if in.ALPN != nil {
		p.ALPN = slices.Clone(*in.ALPN)
	}
	return nil
}

var cookieName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+$`)

// ---- members

func (s *Service) addMember(t *Tree, p *Pool, in MemberInput, now time.Time) (*Member, error) {
	if in.Address == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute address. Value: 'None'. Mandatory field missing.")
	}
	if in.ProtocolPort == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol_port. Value: 'None'. Mandatory field missing.")
	}
	a, err := netip.ParseAddr(*in.Address)
	if err != nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute address. Value: '%s'. Value should be IPv4 or IPv6 format", *in.Address)
	}
	if !a.Is4() {
		return nil, unsupported(t.LB.Provider, "IPv6 members are not served (the data plane is IPv4); give an IPv4 address.")
	}
	if *in.ProtocolPort < 1 || *in.ProtocolPort > 65535 {
		return nil, oserr.BadRequest("Invalid input for field/attribute protocol_port. Value: '%d'. Value should be between 1 and 65535", *in.ProtocolPort)
	}
	for _, m := range t.Members {
		if m.PoolID == p.ID && m.Address == a.String() && m.ProtocolPort == *in.ProtocolPort {
			return nil, oserr.Conflict("Another member on this pool is already using ip %s on protocol_port %d", a, *in.ProtocolPort)
		}
	}
	m := &Member{Meta: newMeta(newID(), t.LB.ProjectID, in.Name, nil, in.AdminStateUp, in.Tags, now),
		LoadBalancerID: t.LB.ID, PoolID: p.ID, Address: a.String(), ProtocolPort: *in.ProtocolPort, Weight: 1, VNICType: "normal"}
	setStr(&m.SubnetID, in.SubnetID)
	if err := applyMember(m, in); err != nil {
		return nil, err
	}
	if in.RequestSRIOV != nil && *in.RequestSRIOV {
		return nil, oserr.BadRequest("The load balancer flavor does not allow SR-IOV member ports.")
	}
	t.add(KindMember, m.ID, m)
	return m, nil
}

func applyMember(m *Member, in MemberInput) error {
	if in.Weight != nil {
		if *in.Weight < 0 || *in.Weight > 256 {
			return oserr.BadRequest("Invalid input for field/attribute weight. Value: '%d'. Value should be between 0 and 256", *in.Weight)
		}
		m.Weight = *in.Weight
	}
	setBool(&m.Backup, in.Backup)
	if in.MonitorAddressSet || in.MonitorAddress != nil {
		if in.MonitorAddress == nil || *in.MonitorAddress == "" {
			m.MonitorAddress = ""
		} else if a, err := netip.ParseAddr(*in.MonitorAddress); err != nil || !a.Is4() {
			return oserr.BadRequest("Invalid input for field/attribute monitor_address. Value: '%s'. Value should be IPv4 format", *in.MonitorAddress)
		} else {
			m.MonitorAddress = a.String()
		}
	}
	if in.MonitorPortSet || in.MonitorPort != nil {
		if in.MonitorPort == nil {
			m.MonitorPort = nil
		} else if *in.MonitorPort < 1 || *in.MonitorPort > 65535 {
			return oserr.BadRequest("Invalid input for field/attribute monitor_port. Value: '%d'. Value should be between 1 and 65535", *in.MonitorPort)
		} else {
			v := *in.MonitorPort
			m.MonitorPort = &v
		}
	}
	return nil
}

// ---- health monitors

func (s *Service) addMonitor(t *Tree, in HealthMonitorInput, now time.Time) (*HealthMonitor, error) {
	p := t.Pools[in.PoolID]
	if p == nil {
		return nil, oserr.NotFound("Pool %s not found.", in.PoolID)
	}
	if p.HealthMonitorID != "" {
		return nil, oserr.Conflict("This pool already has a health monitor")
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"type", in.Type != nil}, {"delay", in.Delay != nil}, {"timeout", in.Timeout != nil}, {"max_retries", in.MaxRetries != nil}} {
		if !f.set {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s. Value: 'None'. Mandatory field missing.", f.name)
		}
	}
	typ := *in.Type
	if !slices.Contains(monitorTypes, typ) {
		return nil, oserr.BadRequest("Invalid input for field/attribute type. Value: '%s'. Value should be one of: %s.", typ, strings.Join(monitorTypes, ", "))
	}
	switch {
	case p.Protocol == "UDP" && !slices.Contains([]string{"UDP-CONNECT", "TCP", "HTTP", "PING"}, typ):
		return nil, validation("The associated pool protocol is UDP, so only a UDP-CONNECT, TCP, HTTP, PING health monitor is supported.")
	case typ == "UDP-CONNECT" && p.Protocol != "UDP":
		return nil, validation("The UDP-CONNECT type is only supported for pools of type UDP.")
	case typ == "SCTP":
		return nil, validation("The SCTP type is only supported for pools of type SCTP.")
	}
	h := &HealthMonitor{Meta: newMeta(newID(), t.LB.ProjectID, in.Name, nil, in.AdminStateUp, in.Tags, now),
		LoadBalancerID: t.LB.ID, PoolID: p.ID, Type: typ, MaxRetriesDown: 3}
	if typ == "HTTP" || typ == "HTTPS" {
		h.HTTPMethod, h.URLPath, h.ExpectedCodes = "GET", "/", "200"
	}
	if err := applyMonitor(h, in); err != nil {
		return nil, err
	}
	p.HealthMonitorID = h.ID
	t.touch(p.ID)
	t.add(KindHealthMonitor, h.ID, h)
	return h, nil
}

var expectedCodes = regexp.MustCompile(`^(\d{3}(\s*,\s*\d{3})*|\d{3}\s*-\s*\d{3})$`)

func applyMonitor(h *HealthMonitor, in HealthMonitorInput) error {
	http := h.Type == "HTTP" || h.Type == "HTTPS"
	for _, f := range []struct {
		name   string
		v      *int
		dst    *int
		lo, hi int
	}{{"delay", in.Delay, &h.Delay, 0, 2147483647}, {"timeout", in.Timeout, &h.Timeout, 0, 2147483647},
		{"max_retries", in.MaxRetries, &h.MaxRetries, 1, 10}, {"max_retries_down", in.MaxRetriesDown, &h.MaxRetriesDown, 1, 10}} {
		if f.v == nil {
			continue
		}
		if *f.v < f.lo || *f.v > f.hi {
			return oserr.BadRequest("Invalid input for field/attribute %s. Value: '%d'. Value should be between %d and %d", f.name, *f.v, f.lo, f.hi)
		}
		*f.dst = *f.v
	}
	if !http && (in.HTTPMethod != nil || in.URLPath != nil || in.ExpectedCodes != nil) {
		switch {
		case in.HTTPMethod != nil:
			return invalidOption("http_method", "health monitors of type "+h.Type)
		case in.URLPath != nil:
			return invalidOption("url_path", "health monitors of type "+h.Type)
		default:
			return invalidOption("expected_codes", "health monitors of type "+h.Type)
		}
	}
	if in.HTTPMethod != nil {
		if !slices.Contains(httpMethods, *in.HTTPMethod) {
			return oserr.BadRequest("Invalid input for field/attribute http_method. Value: '%s'. Value should be one of: %s.", *in.HTTPMethod, strings.Join(httpMethods, ", "))
		}
		h.HTTPMethod = *in.HTTPMethod
	}
	if in.URLPath != nil {
		if !strings.HasPrefix(*in.URLPath, "/") || strings.ContainsAny(*in.URLPath, " \t\r\n\"'") {
			return oserr.BadRequest("Invalid input for field/attribute url_path. Value: '%s'. Value should start with '/' and be a URL path without spaces or quotes.", *in.URLPath)
		}
		h.URLPath = *in.URLPath
	}
	if in.ExpectedCodes != nil {
		if !expectedCodes.MatchString(*in.ExpectedCodes) {
			return oserr.BadRequest("Invalid input for field/attribute expected_codes. Value: '%s'. Value should be a code, a list (200,202) or a range (200-204).", *in.ExpectedCodes)
		}
		h.ExpectedCodes = strings.ReplaceAll(*in.ExpectedCodes, " ", "")
	}
	if in.HTTPVersion != nil {
		if *in.HTTPVersion != 1.0 && *in.HTTPVersion != 1.1 {
			return oserr.BadRequest("Invalid input for field/attribute http_version. Value: '%v'. Value should be one of: 1.0, 1.1.", *in.HTTPVersion)
		}
		v := *in.HTTPVersion
		h.HTTPVersion = &v
	}
	if in.DomainName != nil {
		if *in.DomainName != "" && !domainName.MatchString(*in.DomainName) {
			return oserr.BadRequest("Invalid input for field/attribute domain_name. Value: '%s'. Value should be a host name.", *in.DomainName)
		}
		h.DomainName = *in.DomainName
	}
	if h.DomainName != "" && (h.HTTPVersion == nil || *h.HTTPVersion != 1.1) {
		if h.HTTPVersion == nil {
			return validation("'http_version' must be specified when 'domain_name' is provided.")
		}
		return invalidOption(fmt.Sprintf("http_version %v", *h.HTTPVersion), "health monitors HTTP 1.1 domain name health check")
	}
	return nil
}

var domainName = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

// ---- L7 policies and rules

func (s *Service) addPolicy(t *Tree, in L7PolicyInput, now time.Time) (*L7Policy, error) {
	l := t.Listeners[in.ListenerID]
	if l == nil {
		return nil, oserr.NotFound("Listener %s not found.", in.ListenerID)
	}
	if l.Protocol != "HTTP" && l.Protocol != "TERMINATED_HTTPS" {
		return nil, oserr.BadRequest("Protocol %s listeners cannot have child objects.", l.Protocol)
	}
	if in.Action == nil {
		return nil, oserr.BadRequest("Invalid input for field/attribute action. Value: 'None'. Mandatory field missing.")
	}
	p := &L7Policy{Meta: newMeta(newID(), t.LB.ProjectID, in.Name, in.Description, in.AdminStateUp, in.Tags, now),
		LoadBalancerID: t.LB.ID, ListenerID: l.ID}
	count := 0
	for _, o := range t.Policies {
		if o.ListenerID == l.ID {
			count++
		}
	}
	p.Position = count + 1
	if in.Position != nil {
		if *in.Position < 1 || *in.Position > 2147483647 {
			return nil, oserr.BadRequest("Invalid input for field/attribute position. Value: '%d'. Value should be between 1 and 2147483647", *in.Position)
		}
		p.Position = min(*in.Position, count+1)
	}
	if in.RedirectPool != nil {
		pin := *in.RedirectPool
		rp, err := s.addPool(t, pin, now)
		if err != nil {
			return nil, err
		}
		in.RedirectPoolID = &rp.ID
	}
	if err := s.applyPolicy(t, p, in); err != nil {
		return nil, err
	}
	t.add(KindL7Policy, p.ID, p)
	t.reposition(l.ID, p.ID, p.Position)
	for _, rin := range in.Rules {
		if _, err := s.addRule(t, p, rin, now); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (s *Service) applyPolicy(t *Tree, p *L7Policy, in L7PolicyInput) error {
	if in.Action != nil {
		if !slices.Contains(policyActions, *in.Action) {
			return oserr.BadRequest("Invalid input for field/attribute action. Value: '%s'. Value should be one of: %s.", *in.Action, strings.Join(policyActions, ", "))
		}
		p.Action = *in.Action
	}
	setStr(&p.RedirectPoolID, in.RedirectPoolID)
	setStr(&p.RedirectURL, in.RedirectURL)
	setStr(&p.RedirectPrefix, in.RedirectPrefix)
	if in.RedirectHTTPCode != nil {
		if !slices.Contains(redirectCodes, *in.RedirectHTTPCode) {
			return oserr.BadRequest("Invalid input for field/attribute redirect_http_code. Value: '%d'. Value should be one of: 301, 302, 303, 307, 308.", *in.RedirectHTTPCode)
		}
		v := *in.RedirectHTTPCode
		p.RedirectHTTPCode = &v
	}
	// Octavia clears what the action does not use.
	switch p.Action {
	case "REJECT":
		p.RedirectPoolID, p.RedirectURL, p.RedirectPrefix, p.RedirectHTTPCode = "", "", "", nil
	case "REDIRECT_TO_POOL":
		p.RedirectURL, p.RedirectPrefix, p.RedirectHTTPCode = "", "", nil
		if p.RedirectPoolID == "" {
			return oserr.BadRequest("Invalid L7 policy arguments: redirect_pool_id or redirect_pool must not be None when action is REDIRECT_TO_POOL.")
		}
		rp := t.Pools[p.RedirectPoolID]
		if rp == nil {
			return oserr.NotFound("Pool %s not found.", p.RedirectPoolID)
		}
		l := t.Listeners[p.ListenerID]
		if !slices.Contains(listenerPools[l.Protocol], rp.Protocol) {
			return validation("The pool protocol '%s' is invalid while the listener protocol is '%s'.", rp.Protocol, l.Protocol)
		}
	case "REDIRECT_TO_URL":
		p.RedirectPoolID, p.RedirectPrefix = "", ""
		if err := checkURL("redirect_url", p.RedirectURL); err != nil {
			return err
		}
		if p.RedirectHTTPCode == nil {
			v := 302
			p.RedirectHTTPCode = &v
		}
	case "REDIRECT_PREFIX":
		p.RedirectPoolID, p.RedirectURL = "", ""
		if err := checkURL("redirect_prefix", p.RedirectPrefix); err != nil {
			return err
		}
		if p.RedirectHTTPCode == nil {
			v := 302
			p.RedirectHTTPCode = &v
		}
	}
	return nil
}

func checkURL(field, u string) error {
	if u == "" {
		return oserr.BadRequest("Invalid L7 policy arguments: %s must not be None when action is %s.", field, map[string]string{"redirect_url": "REDIRECT_TO_URL", "redirect_prefix": "REDIRECT_PREFIX"}[field])
	}
	if !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) || len(u) < 10 || strings.ContainsAny(u, " \t\r\n\"'") {
		return oserr.BadRequest("Invalid input for field/attribute %s. Value: '%s'. Value should be an http:// or https:// URL.", field, u)
	}
	return nil
}

// reposition gives the listener's policies positions 1..n with policy id
// at pos, keeping the others' order.
func (t *Tree) reposition(listener, id string, pos int) {
	var others []*L7Policy
	for _, pid := range sorted(t, t.Policies) {
		p := t.Policies[pid]
		if p.ListenerID == listener && p.ID != id && p.ProvisioningStatus != PendingDelete {
			others = append(others, p)
		}
	}
	slices.SortStableFunc(others, func(a, b *L7Policy) int { return a.Position - b.Position })
	var order []*L7Policy
	if target := t.Policies[id]; target != nil {
		pos = max(1, min(pos, len(others)+1))
		order = append(order, others[:pos-1]...)
		order = append(order, target)
		order = append(order, others[pos-1:]...)
	} else {
		order = others
	}
	for i, p := range order {
		if p.Position != i+1 {
			p.Position = i + 1
			t.touch(p.ID)
		}
	}
}

func (s *Service) addRule(t *Tree, p *L7Policy, in L7RuleInput, now time.Time) (*L7Rule, error) {
	n := 0
	for _, r := range t.Rules {
		if r.PolicyID == p.ID {
			n++
		}
	}
	if n >= 50 {
		return nil, oserr.Conflict("Too many rules on L7 policy %s", p.ID)
	}
	r := &L7Rule{Meta: newMeta(newID(), t.LB.ProjectID, nil, nil, in.AdminStateUp, in.Tags, now),
		LoadBalancerID: t.LB.ID, ListenerID: p.ListenerID, PolicyID: p.ID}
	for _, f := range []struct {
		name string
		set  bool
	}{{"type", in.Type != nil}, {"compare_type", in.CompareType != nil}, {"value", in.Value != nil}} {
		if !f.set {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s. Value: 'None'. Mandatory field missing.", f.name)
		}
	}
	if err := applyRule(r, in); err != nil {
		return nil, err
	}
	t.add(KindL7Rule, r.ID, r)
	return r, nil
}

var (
	headerName  = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_` + "`" + `|~-]+$`)
	plainValue  = regexp.MustCompile(`^[^\s"'\\]+$`)
	fileType    = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	dnFieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.]*$`)
)

// applyRule checks a rule as Octavia's validate.l7rule_data does, with a
// message saying what to change: a regex must compile, values are one
// word (HAProxy's ACL syntax has no quoting for them here).
func applyRule(r *L7Rule, in L7RuleInput) error {
	if in.Type != nil {
		if !slices.Contains(ruleTypes, *in.Type) {
			return oserr.BadRequest("Invalid input for field/attribute type. Value: '%s'. Value should be one of: %s.", *in.Type, strings.Join(ruleTypes, ", "))
		}
		r.Type = *in.Type
	}
	if in.CompareType != nil {
		if !slices.Contains(compareTypes, *in.CompareType) {
			return oserr.BadRequest("Invalid input for field/attribute compare_type. Value: '%s'. Value should be one of: %s.", *in.CompareType, strings.Join(compareTypes, ", "))
		}
		r.CompareType = *in.CompareType
	}
	setStr(&r.Key, in.Key)
	setStr(&r.Value, in.Value)
	setBool(&r.Invert, in.Invert)
	bad := func(format string, args ...any) error {
		return oserr.BadRequest("Error parsing L7Rule: "+format, args...)
	}
	if r.CompareType == "REGEX" {
		if _, err := regexp.Compile(r.Value); err != nil {
			return bad("Unable to parse regular expression: %v", err)
		}
		if strings.ContainsAny(r.Value, " \t\r\n\"'") {
			return bad("the regular expression %q has spaces or quotes; use \\s or character classes instead.", r.Value)
		}
	} else if r.Value == "" || !plainValue.MatchString(r.Value) && r.Type != "SSL_DN_FIELD" {
		return bad("Invalid characters in value: %q must be one word without spaces, quotes or backslashes.", r.Value)
	}
	switch r.Type {
	case "HOST_NAME", "PATH":
		if r.Key != "" {
			return bad("key is not used by %s rules; leave it out.", r.Type)
		}
	case "FILE_TYPE":
		if r.CompareType != "EQUAL_TO" && r.CompareType != "REGEX" {
			return bad("FILE_TYPE rules compare with EQUAL_TO or REGEX, not %s.", r.CompareType)
		}
		if r.CompareType == "EQUAL_TO" && !fileType.MatchString(r.Value) {
			return bad("Invalid characters in value: %q is not a file extension.", r.Value)
		}
	case "HEADER", "COOKIE":
		if r.Key == "" {
			return bad("key must be a %s name for %s rules.", strings.ToLower(r.Type), r.Type)
		}
		if !headerName.MatchString(r.Key) {
			return bad("Invalid characters in key: %q is not a %s name.", r.Key, strings.ToLower(r.Type))
		}
	case "SSL_CONN_HAS_CERT":
		if r.CompareType != "EQUAL_TO" || r.Value != "True" && r.Value != "true" {
			return bad("SSL_CONN_HAS_CERT rules must compare EQUAL_TO with the value True.")
		}
	case "SSL_VERIFY_RESULT":
		if r.CompareType != "EQUAL_TO" {
			return bad("SSL_VERIFY_RESULT rules compare with EQUAL_TO.")
		}
		if _, err := strconv.Atoi(r.Value); err != nil {
			return bad("SSL_VERIFY_RESULT values are verify result codes (0 is success), not %q.", r.Value)
		}
	case "SSL_DN_FIELD":
		if !dnFieldName.MatchString(r.Key) {
			return bad("key must be a DN field name (CN, O, OU, …) for SSL_DN_FIELD rules.")
		}
		if r.CompareType != "REGEX" && !plainValue.MatchString(r.Value) {
			return bad("Invalid characters in value: %q must be one word without spaces or quotes.", r.Value)
		}
	}
	return nil
}
