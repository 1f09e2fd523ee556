package haproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/hostapi"
)

// TestConfigsPassHAProxyCheck renders load balancers with every algorithm,
// persistence, monitor, L7 rule and protocol the API accepts, and has
// HAProxy itself check each configuration (haproxy -c), as Apply does
// before it starts or reloads anything.
func TestConfigsPassHAProxyCheck(t *testing.T) {
	if err := Available(""); err != nil {
		t.Skip(err)
	}
	cert := selfSigned(t)
	mon := func(typ string) *hostapi.Monitor {
		return &hostapi.Monitor{ID: "hm", Type: typ, Delay: 2, Timeout: 1, MaxRetries: 2, MaxRetriesDown: 3,
			HTTPMethod: "GET", URLPath: "/health", ExpectedCodes: "200-204", HTTPVersion: "1.1", DomainName: "shop.example", AdminUp: true}
	}
	members := []hostapi.Member{
		{ID: "m1", Address: "10.9.0.11", Port: 80, Weight: 1, AdminUp: true},
		{ID: "m2", Address: "10.9.0.12", Port: 80, Weight: 3, AdminUp: true, MonitorAddress: "10.9.0.13", MonitorPort: 8080},
		{ID: "m3", Address: "10.9.0.14", Port: 80, Weight: 1, AdminUp: false, Backup: true},
	}
	var cases []hostapi.LoadBalancer
	for _, proto := range []string{"HTTP", "TCP", "HTTPS", "TERMINATED_HTTPS"} {
		poolProto := proto
		if proto == "TERMINATED_HTTPS" {
			poolProto = "HTTP"
		}
		if proto == "HTTPS" {
			poolProto = "HTTPS"
		}
		// Each algorithm, persistence and monitor type against a plain
		// base (the full product adds nothing: they are rendered apart).
		type variant struct {
			alg string
			sp  *hostapi.Persistence
			mt  string
		}
		var vs []variant
		for _, alg := range []string{"ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT"} {
			vs = append(vs, variant{alg: alg})
		}
		for _, sp := range []*hostapi.Persistence{{Type: "SOURCE_IP"}, {Type: "HTTP_COOKIE"}, {Type: "APP_COOKIE", CookieName: "JSESSIONID"}} {
			vs = append(vs, variant{alg: "SOURCE_IP_PORT", sp: sp})
		}
		for _, mt := range []string{"HTTP", "HTTPS", "TCP", "PING", "TLS-HELLO"} {
			vs = append(vs, variant{alg: "ROUND_ROBIN", mt: mt})
		}
		for _, v := range vs {
			p := hostapi.Pool{ID: "pool", Protocol: poolProto, Algorithm: v.alg, AdminUp: true, Persistence: v.sp, Members: members}
			if v.mt != "" {
				p.Monitor = mon(v.mt)
			}
			l := hostapi.Listener{ID: "l1", Protocol: proto, Port: 443, AdminUp: true, ConnectionLimit: 100, DefaultPoolID: "pool",
				TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000, TimeoutTCPInspect: 100,
				AllowedCIDRs:  []string{"10.0.0.0/8", "192.168.0.0/16"},
				InsertHeaders: map[string]string{"X-Forwarded-For": "true", "X-Forwarded-Port": "true", "X-Forwarded-Proto": "true", "X-SSL-Client-CN": "true"}}
			if proto == "TERMINATED_HTTPS" {
				l.Certificates = []string{cert, cert}
				l.TLSVersion, l.ALPN, l.TLSCiphers = []string{"TLSv1.2", "TLSv1.3"}, []string{"h2", "http/1.1"}, "ECDHE-ECDSA-AES128-GCM-SHA256"
			}
			cases = append(cases, hostapi.LoadBalancer{ID: "lb", Revision: 1, AdminUp: true, VIPAddress: "10.9.0.2",
				Listeners: []hostapi.Listener{l}, Pools: []hostapi.Pool{p}})
		}
	}
	// L7 policies of every action and rule type.
	var rules []hostapi.L7Rule
	for _, r := range []struct{ typ, cmp, key, val string }{
		{"PATH", "STARTS_WITH", "", "/api"}, {"PATH", "REGEX", "", "^/v[0-9]+/"}, {"HOST_NAME", "EQUAL_TO", "", "shop.example"},
		{"HEADER", "CONTAINS", "X-Shop", "eu"}, {"COOKIE", "ENDS_WITH", "session", "x"}, {"FILE_TYPE", "EQUAL_TO", "", "jpg"},
		{"FILE_TYPE", "REGEX", "", "\\.(png|gif)$"}, {"SSL_CONN_HAS_CERT", "EQUAL_TO", "", "True"},
		{"SSL_VERIFY_RESULT", "EQUAL_TO", "", "0"}, {"SSL_DN_FIELD", "EQUAL_TO", "CN", "shop"},
	} {
		rules = append(rules, hostapi.L7Rule{ID: "r" + r.typ + r.cmp, Type: r.typ, Compare: r.cmp, Key: r.key, Value: r.val, AdminUp: true})
	}
	l7 := hostapi.LoadBalancer{ID: "lb", Revision: 1, AdminUp: true, VIPAddress: "10.9.0.2",
		Listeners: []hostapi.Listener{{ID: "l1", Protocol: "TERMINATED_HTTPS", Port: 443, AdminUp: true, ConnectionLimit: -1, DefaultPoolID: "a",
			TimeoutClientData: 50000, TimeoutMemberConnect: 5000, TimeoutMemberData: 50000, Certificates: []string{cert},
			ClientAuth: "OPTIONAL", ClientCA: cert,
			L7Policies: []hostapi.L7Policy{
				{ID: "p1", Action: "REDIRECT_TO_POOL", Position: 1, PoolID: "b", AdminUp: true, Rules: rules},
				{ID: "p2", Action: "REDIRECT_TO_URL", Position: 2, URL: "https://shop.example/", HTTPCode: 301, AdminUp: true, Rules: rules[:1]},
				{ID: "p3", Action: "REDIRECT_PREFIX", Position: 3, Prefix: "https://shop.example", AdminUp: true, Rules: rules[1:2]},
				{ID: "p4", Action: "REJECT", Position: 4, AdminUp: true, Rules: rules[2:3]},
			}}},
		Pools: []hostapi.Pool{
			{ID: "a", Protocol: "HTTP", Algorithm: "ROUND_ROBIN", AdminUp: true, Members: members},
			{ID: "b", Protocol: "HTTP", Algorithm: "SOURCE_IP_PORT", AdminUp: true, Members: members, TLS: true, TLSCA: cert},
		}}
	cases = append(cases, l7)
	dir := t.TempDir()
	for i, lb := range cases {
		f := files{dir: filepath.Join(dir, "lb")}
		os.RemoveAll(f.dir)
		if err := os.MkdirAll(f.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg, extra := render(lb, f)
		for _, b := range extra {
			if _, err := writeIfChanged(b.path, b.content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(f.config(), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("haproxy", "-c", "-f", f.config()).CombinedOutput()
		if err != nil || strings.Contains(string(out), "[WARNING]") {
			l, p := lb.Listeners[0], lb.Pools[0]
			t.Errorf("case %d (listener %s, pool %s %s, persistence %+v, monitor %+v): haproxy -c: %v\n%s\nconfiguration:\n%s",
				i, l.Protocol, p.Protocol, p.Algorithm, p.Persistence, p.Monitor, err, out, cfg)
			if t.Failed() && i > 0 {
				return
			}
		}
	}
	t.Logf("%d configurations checked by haproxy -c", len(cases))
}
