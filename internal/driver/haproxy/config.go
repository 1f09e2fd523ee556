package haproxy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/onestack/onestack/internal/hostapi"
)

// Files a load balancer's HAProxy reads, below its directory, and its
// stats socket, in a short runtime directory: a socket's path must fit
// sun_path (108 bytes) with HAProxy's ".<pid>.tmp" while it binds, which
// a data directory's depth can exceed.
type files struct {
	dir string
	run string // the socket directory; dir when empty
	id  string
}

func (f files) config() string { return f.dir + "/haproxy.cfg" }
func (f files) pid() string    { return f.dir + "/haproxy.pid" }
func (f files) stats() string {
	if f.run == "" {
		return f.dir + "/stats.sock"
	}
	return f.run + "/" + f.id + ".sock"
}
func (f files) cert(listener string) string {
	return f.dir + "/certs-" + listener
}
func (f files) ca(id string) string  { return f.dir + "/ca-" + id + ".pem" }
func (f files) crl(id string) string { return f.dir + "/crl-" + id + ".pem" }
func (f files) ping() string         { return f.dir + "/ping-check.sh" }

// bundle is a file the config names and its content.
type bundle struct{ path, content string }

// render returns HAProxy's configuration of lb (its TCP-family listeners;
// UDP is the kernel's, see udp.go) and the files it names.
func render(lb hostapi.LoadBalancer, f files) (string, []bundle) {
	var b strings.Builder
	var extra []bundle
	needPing := false
	for _, p := range lb.Pools {
		if p.Monitor != nil && p.Monitor.Type == "PING" && p.Protocol != hostapi.ProtoUDP {
			needPing = true
		}
	}
	fmt.Fprintf(&b, "# load balancer %s revision %d: written by onestack, do not edit\n", lb.ID, lb.Revision)
	b.WriteString("global\n")
	b.WriteString("\tdaemon\n")
	fmt.Fprintf(&b, "\tstats socket %s mode 600 level admin\n", f.stats())
	b.WriteString("\tstats timeout 30s\n")
	// The host's file limit bounds connections (2 descriptors each).
	fmt.Fprintf(&b, "\tmaxconn %d\n", maxConn)
	b.WriteString("\ttune.ssl.default-dh-param 2048\n")
	if needPing {
		b.WriteString("\texternal-check\n\tinsecure-fork-wanted\n")
	}
	// No log lines: nothing collects them (stats come from the socket).
	b.WriteString("\ndefaults\n\tretries 3\n\toption redispatch\n\toption splice-request\n\toption splice-response\n\toption http-keep-alive\n\n")
	pools := map[string]hostapi.Pool{}
	for _, p := range lb.Pools {
		pools[p.ID] = p
	}
	for _, l := range lb.Listeners {
		if l.Protocol == hostapi.ProtoUDP || l.Protocol == hostapi.ProtoSCTP {
			continue
		}
		http := l.Protocol == hostapi.ProtoHTTP || l.Protocol == hostapi.ProtoTerminatedHTTPS
		fmt.Fprintf(&b, "frontend %s\n", l.ID)
		if l.ConnectionLimit >= 0 {
			fmt.Fprintf(&b, "\tmaxconn %d\n", min(l.ConnectionLimit, maxConn))
		} else {
			fmt.Fprintf(&b, "\tmaxconn %d\n", maxConn)
		}
		bind := fmt.Sprintf("\tbind %s:%d", lb.VIPAddress, l.Port)
		if l.Protocol == hostapi.ProtoTerminatedHTTPS && len(l.Certificates) > 0 {
			dir := f.cert(l.ID)
			for i, c := range l.Certificates {
				extra = append(extra, bundle{fmt.Sprintf("%s/%02d.pem", dir, i), c})
			}
			bind += " ssl crt " + dir
			if len(l.ALPN) > 0 {
				bind += " alpn " + strings.Join(l.ALPN, ",")
			}
			if l.TLSCiphers != "" {
				bind += " ciphers " + l.TLSCiphers
			}
			if v := minTLS(l.TLSVersion); v != "" {
				bind += " ssl-min-ver " + v
			}
			if l.ClientAuth != "" && l.ClientAuth != "NONE" && l.ClientCA != "" {
				extra = append(extra, bundle{f.ca(l.ID), l.ClientCA})
				bind += " ca-file " + f.ca(l.ID) + " verify " + strings.ToLower(map[string]string{"OPTIONAL": "optional", "MANDATORY": "required"}[l.ClientAuth])
				if l.ClientCRL != "" {
					extra = append(extra, bundle{f.crl(l.ID), l.ClientCRL})
					bind += " crl-file " + f.crl(l.ID)
				}
			}
		}
		b.WriteString(bind + "\n")
		if http {
			b.WriteString("\tmode http\n")
		} else {
			b.WriteString("\tmode tcp\n")
		}
		if !l.AdminUp || !lb.AdminUp {
			b.WriteString("\tdisabled\n")
		}
		if len(l.AllowedCIDRs) > 0 {
			fmt.Fprintf(&b, "\tacl allowed-cidrs src %s\n", strings.Join(l.AllowedCIDRs, " "))
			b.WriteString("\ttcp-request connection reject if !allowed-cidrs\n")
		}
		fmt.Fprintf(&b, "\ttimeout client %dms\n", l.TimeoutClientData)
		if l.TimeoutTCPInspect > 0 {
			fmt.Fprintf(&b, "\ttcp-request inspect-delay %dms\n", l.TimeoutTCPInspect)
		}
		if http {
			writeHeaders(&b, l)
			if l.HSTSMaxAge != nil && l.Protocol == hostapi.ProtoTerminatedHTTPS {
				v := fmt.Sprintf("max-age=%d", *l.HSTSMaxAge)
				if l.HSTSSub {
					v += "; includeSubDomains"
				}
				if l.HSTSPre {
					v += "; preload"
				}
				fmt.Fprintf(&b, "\thttp-response set-header Strict-Transport-Security \"%s\"\n", v)
			}
			writePolicies(&b, l, pools)
		}
		if p, ok := pools[l.DefaultPoolID]; ok && poolUsable(p) {
			fmt.Fprintf(&b, "\tdefault_backend %s\n", backendName(p.ID, l.ID))
		}
		b.WriteString("\n")
		// Backends per (pool, listener): the mode must match the
		// frontend's.
		used := map[string]bool{}
		if l.DefaultPoolID != "" {
			used[l.DefaultPoolID] = true
		}
		for _, pol := range l.L7Policies {
			if pol.Action == "REDIRECT_TO_POOL" && pol.AdminUp {
				used[pol.PoolID] = true
			}
		}
		ids := make([]string, 0, len(used))
		for id := range used {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if p, ok := pools[id]; ok && poolUsable(p) {
				extra = append(extra, writeBackend(&b, p, l, http, f)...)
			}
		}
	}
	if needPing {
		extra = append(extra, bundle{f.ping(), "#!/bin/sh\n# HAProxy external check: $3 is the member's address.\nexec ping -q -n -c 1 -W 1 \"$3\" >/dev/null 2>&1\n"})
	}
	return b.String(), extra
}

// maxConn is each HAProxy's connection bound.
const maxConn = 4000

func poolUsable(p hostapi.Pool) bool {
	return p.Protocol != hostapi.ProtoUDP && p.Protocol != hostapi.ProtoSCTP
}

func backendName(pool, listener string) string { return pool + ":" + listener }

func minTLS(vs []string) string {
	order := []string{"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
	for _, o := range order {
		for _, v := range vs {
			if v == o {
				return map[string]string{"SSLv3": "SSLv3", "TLSv1": "TLSv1.0", "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2", "TLSv1.3": "TLSv1.3"}[o]
			}
		}
	}
	return ""
}

func writeHeaders(b *strings.Builder, l hostapi.Listener) {
	on := func(k string) bool { v := strings.ToLower(l.InsertHeaders[k]); return v == "true" || v == "1" }
	if on("X-Forwarded-For") {
		b.WriteString("\toption forwardfor\n")
	}
	if on("X-Forwarded-Port") {
		b.WriteString("\thttp-request set-header X-Forwarded-Port %[dst_port]\n")
	}
	if on("X-Forwarded-Proto") {
		if l.Protocol == hostapi.ProtoTerminatedHTTPS {
			b.WriteString("\thttp-request set-header X-Forwarded-Proto https\n")
		} else {
			b.WriteString("\thttp-request set-header X-Forwarded-Proto http\n")
		}
	}
	if l.Protocol != hostapi.ProtoTerminatedHTTPS {
		return
	}
	ssl := map[string]string{"X-SSL-Client-Verify": "%[ssl_c_verify]", "X-SSL-Client-Has-Cert": "%[ssl_c_used]",
		"X-SSL-Client-DN": "%{+Q}[ssl_c_s_dn]", "X-SSL-Client-CN": "%{+Q}[ssl_c_s_dn(cn)]", "X-SSL-Issuer": "%{+Q}[ssl_c_i_dn]",
		"X-SSL-Client-SHA1": "%{+Q}[ssl_c_sha1,hex]", "X-SSL-Client-Not-Before": "%{+Q}[ssl_c_notbefore]",
		"X-SSL-Client-Not-After": "%{+Q}[ssl_c_notafter]"}
	keys := make([]string, 0, len(ssl))
	for k := range ssl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if on(k) {
			fmt.Fprintf(b, "\thttp-request set-header %s %s\n", k, ssl[k])
		}
	}
}

// writePolicies renders L7 policies as Octavia's amphora does: REJECT
// policies first, then the redirects (to a URL or prefix), then the ones
// choosing a pool, each group in position order (HAProxy evaluates
// http-request rules before redirects before use_backend whatever their
// order in the file). Each rule is an ACL; a policy applies when all its
// rules match.
func writePolicies(b *strings.Builder, l hostapi.Listener, pools map[string]hostapi.Pool) {
	for _, group := range [][]string{{"REJECT"}, {"REDIRECT_TO_URL", "REDIRECT_PREFIX"}, {"REDIRECT_TO_POOL"}} {
		for _, p := range l.L7Policies {
			if !p.AdminUp || !slices.Contains(group, p.Action) {
				continue
			}
			var conds []string
			for _, r := range p.Rules {
				if !r.AdminUp {
					continue
				}
				name := "rule-" + r.ID
				fmt.Fprintf(b, "\tacl %s %s\n", name, acl(r))
				if r.Invert {
					conds = append(conds, "!"+name)
				} else {
					conds = append(conds, name)
				}
			}
			if len(conds) == 0 {
				continue // a policy without rules matches nothing, as Octavia's
			}
			cond := strings.Join(conds, " ")
			switch p.Action {
			case "REJECT":
				fmt.Fprintf(b, "\thttp-request deny if %s\n", cond)
			case "REDIRECT_TO_URL":
				fmt.Fprintf(b, "\tredirect code %d location %s if %s\n", code(p.HTTPCode), p.URL, cond)
			case "REDIRECT_PREFIX":
				fmt.Fprintf(b, "\tredirect code %d prefix %s if %s\n", code(p.HTTPCode), p.Prefix, cond)
			case "REDIRECT_TO_POOL":
				if pool, ok := pools[p.PoolID]; ok && poolUsable(pool) {
					fmt.Fprintf(b, "\tuse_backend %s if %s\n", backendName(p.PoolID, l.ID), cond)
				}
			}
		}
	}
}

func code(c int) int {
	if c == 0 {
		return 302
	}
	return c
}

// acl is an L7 rule as an HAProxy ACL criterion and pattern.
func acl(r hostapi.L7Rule) string {
	m := map[string]string{"REGEX": "-m reg", "STARTS_WITH": "-m beg", "ENDS_WITH": "-m end", "CONTAINS": "-m sub", "EQUAL_TO": "-m str"}[r.Compare]
	switch r.Type {
	case "HOST_NAME":
		return fmt.Sprintf("req.hdr(host),field(1,:) -i %s %s", m, r.Value)
	case "PATH":
		return fmt.Sprintf("path %s %s", m, r.Value)
	case "FILE_TYPE":
		if r.Compare == "REGEX" {
			return fmt.Sprintf("path_reg %s", r.Value)
		}
		return fmt.Sprintf("path_end -m str .%s", strings.TrimPrefix(r.Value, "."))
	case "HEADER":
		return fmt.Sprintf("req.hdr(%s) %s %s", r.Key, m, r.Value)
	case "COOKIE":
		return fmt.Sprintf("req.cook(%s) %s %s", r.Key, m, r.Value)
	case "SSL_CONN_HAS_CERT":
		return "ssl_c_used"
	case "SSL_VERIFY_RESULT":
		return fmt.Sprintf("ssl_c_verify eq %s", r.Value)
	case "SSL_DN_FIELD":
		return fmt.Sprintf("ssl_c_s_dn(%s) %s %s", r.Key, m, r.Value)
	}
	return "always_false"
}

func writeBackend(b *strings.Builder, p hostapi.Pool, l hostapi.Listener, http bool, f files) []bundle {
	var extra []bundle
	fmt.Fprintf(b, "backend %s\n", backendName(p.ID, l.ID))
	if http {
		b.WriteString("\tmode http\n")
	} else {
		b.WriteString("\tmode tcp\n")
	}
	switch p.Algorithm {
	case "LEAST_CONNECTIONS":
		b.WriteString("\tbalance leastconn\n")
	case "SOURCE_IP":
		b.WriteString("\tbalance source\n")
	case "SOURCE_IP_PORT":
		// The source address and port, in TCP and HTTP mode alike.
		b.WriteString("\ttcp-request content set-var(txn.sport) src_port\n")
		b.WriteString("\tbalance hash src,concat(:,txn.sport)\n")
	default:
		b.WriteString("\tbalance roundrobin\n")
	}
	if !p.AdminUp {
		b.WriteString("\tdisabled\n")
	}
	cookie := ""
	if sp := p.Persistence; sp != nil {
		switch sp.Type {
		case "SOURCE_IP":
			b.WriteString("\tstick-table type ip size 10k expire 30m\n\tstick on src\n")
		case "HTTP_COOKIE":
			if http {
				b.WriteString("\tcookie SRV insert indirect nocache\n")
				cookie = "SRV"
			}
		case "APP_COOKIE":
			if http {
				fmt.Fprintf(b, "\tstick-table type string len 64 size 10k expire 30m\n\tstick store-response res.cook(%s)\n\tstick match req.cook(%s)\n", sp.CookieName, sp.CookieName)
			}
		}
	}
	fmt.Fprintf(b, "\ttimeout connect %dms\n\ttimeout server %dms\n", l.TimeoutMemberConnect, l.TimeoutMemberData)
	if http && strings.ToLower(l.InsertHeaders["X-Forwarded-For"]) == "true" {
		b.WriteString("\toption forwardfor\n")
	}
	hm := p.Monitor
	check := hm != nil && hm.AdminUp
	if check {
		fmt.Fprintf(b, "\ttimeout check %ds\n", max(hm.Timeout, 1))
		switch hm.Type {
		case "HTTP", "HTTPS":
			ver := "HTTP/1.0"
			if hm.HTTPVersion == "1.1" {
				ver = "HTTP/1.1"
			}
			b.WriteString("\toption httpchk\n")
			line := fmt.Sprintf("\thttp-check send meth %s uri %s ver %s", hm.HTTPMethod, hm.URLPath, ver)
			if hm.DomainName != "" && ver == "HTTP/1.1" {
				line += " hdr Host " + hm.DomainName
			}
			b.WriteString(line + "\n")
			fmt.Fprintf(b, "\thttp-check expect rstatus %s\n", codesRegex(hm.ExpectedCodes))
		case "TLS-HELLO":
			b.WriteString("\toption ssl-hello-chk\n")
		case "PING":
			fmt.Fprintf(b, "\toption external-check\n\texternal-check command %s\n", f.ping())
		}
	}
	for _, m := range p.Members {
		line := fmt.Sprintf("\tserver %s %s:%d weight %d", m.ID, m.Address, m.Port, m.Weight)
		if check {
			line += fmt.Sprintf(" check inter %ds fall %d rise %d", max(hm.Delay, 1), hm.MaxRetriesDown, hm.MaxRetries)
			if m.MonitorAddress != "" {
				line += " addr " + m.MonitorAddress
			}
			if m.MonitorPort > 0 {
				line += fmt.Sprintf(" port %d", m.MonitorPort)
			}
			if hm.Type == "HTTPS" {
				line += " check-ssl verify none"
			}
		}
		if cookie != "" {
			line += " cookie " + m.ID
		}
		if m.Backup {
			line += " backup"
		}
		if p.TLS {
			if p.TLSCA != "" {
				extra = append(extra, bundle{f.ca(p.ID), p.TLSCA})
				line += " ssl ca-file " + f.ca(p.ID) + " verify required"
			} else {
				line += " ssl verify none"
			}
		}
		if p.Protocol == hostapi.ProtoProxy {
			line += " send-proxy"
		} else if p.Protocol == hostapi.ProtoProxyV2 {
			line += " send-proxy-v2"
		}
		if !m.AdminUp {
			line += " disabled"
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("\n")
	return extra
}

// codesRegex turns Octavia's expected_codes (200, 200,202 or 200-204)
// into an rstatus regex.
func codesRegex(codes string) string {
	if codes == "" {
		codes = "200"
	}
	if lo, hi, ok := strings.Cut(codes, "-"); ok {
		var alts []string
		var a, z int
		fmt.Sscan(lo, &a)
		fmt.Sscan(hi, &z)
		for c := a; c <= z && len(alts) < 1000; c++ {
			alts = append(alts, fmt.Sprint(c))
		}
		return "^(" + strings.Join(alts, "|") + ")$"
	}
	return "^(" + strings.ReplaceAll(codes, ",", "|") + ")$"
}

// hasTCP reports whether lb has listeners HAProxy serves.
func hasTCP(lb hostapi.LoadBalancer) bool {
	for _, l := range lb.Listeners {
		if l.Protocol != hostapi.ProtoUDP && l.Protocol != hostapi.ProtoSCTP {
			return true
		}
	}
	return false
}
