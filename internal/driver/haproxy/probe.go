package haproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/onestack/onestack/internal/hostapi"
)

// Health checks the driver runs itself (UDP pools: HAProxy checks the
// others), from the load balancer's namespace as HAProxy's would be.

// dialIn dials addr from namespace ns: a locked thread enters ns, makes
// the socket and goes back; the connection works from any goroutine after.
// A thread that could not go back stays locked and ends with its
// goroutine, so no goroutine ever runs in a namespace by accident. (Not
// leaving it in ns for good: the thread may be the process's main one,
// which cannot end, and whose namespace is the one /proc/PID/ns/net
// shows — onestack cleanup kills the processes it finds in its
// namespaces.)
func dialIn(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer orig.Close()
		h, err := netns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("namespace %s: %w", ns, err)}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("enter namespace %s: %w", ns, err)}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		// Back before the thread serves other goroutines; one that cannot
		// stays locked and ends with this goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// probe runs one check of member m with monitor mon; nil means it passed.
func probe(ctx context.Context, ns string, m hostapi.Member, mon hostapi.Monitor) error {
	timeout := time.Duration(max(mon.Timeout, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr, port := m.Address, m.Port
	if m.MonitorAddress != "" {
		addr = m.MonitorAddress
	}
	if m.MonitorPort > 0 {
		port = m.MonitorPort
	}
	target := net.JoinHostPort(addr, strconv.Itoa(port))
	switch mon.Type {
	case "UDP-CONNECT":
		// As Octavia's amphora: a datagram; an ICMP port unreachable
		// (read as ECONNREFUSED) fails, and so does a host the kernel
		// cannot reach (its neighbour entry failed: EHOSTUNREACH); an
		// answer or silence passes. A member whose host vanished still
		// passes until its neighbour entry expires (half a minute or
		// more): an HTTP or TCP monitor on monitor_port finds it at once.
		c, err := dialIn(ctx, ns, "udp", target)
		if err != nil {
			return err
		}
		defer c.Close()
		deadline, _ := ctx.Deadline()
		c.SetDeadline(deadline)
		if _, err := c.Write([]byte("onestack health check\n")); err != nil {
			return err
		}
		buf := make([]byte, 512)
		_, err = c.Read(buf)
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%s: port unreachable", target)
		}
		if errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
			return fmt.Errorf("%s: host unreachable", target)
		}
		return err
	case "TCP":
		c, err := dialIn(ctx, ns, "tcp", target)
		if err != nil {
			return err
		}
		return c.Close()
	case "TLS-HELLO":
		c, err := dialIn(ctx, ns, "tcp", target)
		if err != nil {
			return err
		}
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // a hello check, as HAProxy's ssl-hello-chk
		defer tc.Close()
		return tc.HandshakeContext(ctx)
	case "HTTP", "HTTPS":
		scheme := "http"
		if mon.Type == "HTTPS" {
			scheme = "https"
		}
		tr := &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // HAProxy's check-ssl verify none
			DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
				return dialIn(ctx, ns, network, a)
			},
		}
		defer tr.CloseIdleConnections()
		method, path := mon.HTTPMethod, mon.URLPath
		if method == "" {
			method = "GET"
		}
		if path == "" {
			path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+target+path, nil)
		if err != nil {
			return err
		}
		if mon.DomainName != "" {
			req.Host = mon.DomainName
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if ok, _ := regexp.MatchString(codesRegex(mon.ExpectedCodes), strconv.Itoa(resp.StatusCode)); !ok {
			return fmt.Errorf("%s answered %d, want %s", target, resp.StatusCode, mon.ExpectedCodes)
		}
		return nil
	case "PING":
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ping", "-q", "-n", "-c", "1", "-W", strconv.Itoa(max(mon.Timeout, 1)), addr).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ping %s: %v: %s", addr, err, out)
		}
		return nil
	}
	return fmt.Errorf("monitor type %s is not run for UDP pools", mon.Type)
}
