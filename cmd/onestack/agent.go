package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/onestack/onestack/internal/agent"
	"github.com/onestack/onestack/internal/driver/fake"
	"github.com/onestack/onestack/internal/driver/haproxy"
	"github.com/onestack/onestack/internal/driver/linux"
	"github.com/onestack/onestack/internal/driver/qemu"
	"github.com/onestack/onestack/internal/guestimage"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/hostconsole"
	"github.com/onestack/onestack/internal/metadata"
)

// agentCmd runs `onestack agent`: one host agent talking to a controller over HTTP.
func agentCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("onestack agent", flag.ContinueOnError)
	controller := fs.String("controller", "http://127.0.0.1:8000", "base URL of the control plane; several controllers sharing one database as URL1,URL2 (the agent moves to the next when one cannot be reached)")
	host := fs.String("host", "", "this host's name (default: the machine's hostname)")
	zone := fs.String("zone", "", "availability zone to report (default: the cloud's default zone)")
	hypervisor := fs.String("hypervisor", "qemu", "qemu (real guests) or fake (no guests; for scale tests)")
	dataDir := fs.String("data-dir", "./data/agent", "qemu: directory for this host's image cache and guests")
	accel := fs.String("accel", "auto", "qemu accelerator: auto (probe KVM by booting a kernel once), kvm or tcg")
	cacheDir := fs.String("cache-dir", defaultCacheDir(os.Getenv), "where downloaded Debian packages are kept (the KVM probe's kernel)")
	clouds := fs.String("clouds-yaml", "./data/clouds.yaml", "clouds.yaml with the admin credentials the agent authenticates with")
	cloud := fs.String("cloud", "onestack", "entry in clouds.yaml")
	vcpus := fs.Int("fake-vcpus", 16, "vCPUs a fake host offers")
	mem := fs.Int("fake-memory-mb", 32768, "memory a fake host offers")
	disk := fs.Int("fake-disk-gb", 1000, "disk a fake host offers")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	netns := fs.String("netns", "", "qemu: network namespace the host's data plane lives in (empty: this process's namespace, i.e. the machine's own on a real host)")
	tunnelIP := fs.String("tunnel-ip", "", "qemu: this host's VXLAN endpoint address (on its underlay link); empty runs no data plane, so guests with NICs fail")
	underlay := fs.String("underlay", "", "qemu: the link that carries VXLAN to the other hosts (default: the one holding --tunnel-ip)")
	external := fs.String("external-interface", "", "qemu: a link bridged to the external network 'public' (its flat physical network); empty: no external network on this host")
	consoleListen := fs.String("console-listen", "127.0.0.1:0", "qemu: where this agent serves its guests' console logs and serial consoles to the control plane (an address the controllers reach, e.g. the management IP and a port; port 0 picks one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := absPaths(dataDir, cacheDir, clouds); err != nil {
		return err
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	if *host == "" {
		if *host, err = os.Hostname(); err != nil {
			return err
		}
	}
	creds, err := readCredentials(*clouds, *cloud)
	if err != nil {
		return err
	}
	plane := hostapi.NewClient(*controller, creds)
	var d agent.Driver
	switch *hypervisor {
	case "fake":
		log.Warn("hypervisor is fake: servers on this host get no real guests")
		d = fake.New(log, *vcpus, *mem, *disk)
	case "qemu":
		kernel := ""
		if *accel == "auto" {
			if kernel, err = guestimage.Kernel(ctx, *cacheDir); err != nil {
				log.Warn("no kernel to probe KVM with; guests use software emulation", "error", err)
			}
		}
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return err
		}
		a := qemu.Probe(ctx, qemu.ProbeConfig{Want: *accel, Kernel: kernel, Cache: filepath.Join(*dataDir, "accel.json")})
		log.Info("guests run with "+a.Name, "accel", a.Name, "reason", a.Reason)
		if d, err = qemu.New(qemu.Config{Dir: *dataDir, Host: *host, Accel: a, Images: plane, Log: log}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("hypervisor %q is unknown; use qemu or fake", *hypervisor)
	}
	log.Info("agent starting", "host", *host, "controller", *controller, "hypervisor", *hypervisor)
	cfg := agent.Config{Host: *host, Zone: *zone}
	var ag *agent.Agent
	switch {
	case *hypervisor == "fake":
		cfg.Network, cfg.LoadBalancers = fake.NewNetwork(log), fake.NewLoadBalancers(log)
	case *tunnelIP == "":
		log.Warn("no --tunnel-ip: this host runs no network data plane, so servers with NICs placed here fail with a fault saying so")
	default:
		physnets := map[string]string{}
		if *external != "" {
			physnets["public"] = *external
		}
		nd, err := linux.New(linux.Config{NetNS: *netns, Host: *host, TunnelIP: *tunnelIP, Underlay: *underlay, PhysNets: physnets,
			Log: log.With("service", "dataplane"),
			Metadata: func(_ context.Context, id string) (metadata.Instance, error) {
				if ag == nil {
					return metadata.Instance{}, fmt.Errorf("host %s is starting", *host)
				}
				g, ok := ag.Guest(id)
				if !ok {
					return metadata.Instance{}, fmt.Errorf("server %s is not on host %s", id, *host)
				}
				return metadata.ForGuest(g), nil
			}})
		if err != nil {
			return err
		}
		defer nd.Close()
		cfg.Network, cfg.HostIP = nd, *tunnelIP
		// Load balancers run where the data plane wires their VIP ports.
		if err := haproxy.Available(""); err != nil {
			log.Warn("this host runs no load balancers", "error", err)
		} else {
			lbd, err := haproxy.New(haproxy.Config{Dir: filepath.Join(*dataDir, "lb"), Log: log.With("service", "loadbalancer"),
				Namespace: func(id string) string { return nd.PortNamespace(hostapi.LBNamespace(id)) }})
			if err != nil {
				return err
			}
			defer lbd.Close()
			cfg.LoadBalancers = lbd
		}
		if qd, ok := d.(*qemu.Driver); ok {
			qd.SetOpenTap(nd.OpenTap)
		}
	}
	if qd, ok := d.(*qemu.Driver); ok {
		cfg.Resync = 15 * time.Second // notices guests that stopped by themselves
		if cfg.ConsoleURL, cfg.ConsoleKey, err = serveConsoles(ctx, *consoleListen, qd, log); err != nil {
			return err
		}
	}
	ag = agent.New(plane, d, log, cfg)
	return ag.Run(ctx)
}

// readCredentials reads the password identity of one clouds.yaml entry.
func readCredentials(path, cloud string) (hostapi.Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return hostapi.Credentials{}, fmt.Errorf("read credentials: %w (give --clouds-yaml, e.g. the controller's data/clouds.yaml)", err)
	}
	var doc struct {
		Clouds map[string]struct {
			Auth struct {
				Username          string `json:"username"`
				Password          string `json:"password"`
				ProjectName       string `json:"project_name"`
				UserDomainName    string `json:"user_domain_name"`
				ProjectDomainName string `json:"project_domain_name"`
			} `json:"auth"`
		} `json:"clouds"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return hostapi.Credentials{}, fmt.Errorf("%s is not a clouds.yaml: %w", path, err)
	}
	e, ok := doc.Clouds[cloud]
	if !ok {
		return hostapi.Credentials{}, fmt.Errorf("%s has no cloud %q", path, cloud)
	}
	return hostapi.Credentials{Username: e.Auth.Username, Password: e.Auth.Password, Project: e.Auth.ProjectName, Domain: e.Auth.UserDomainName}, nil
}

// serveConsoles serves the guests' consoles of d on listen until ctx ends,
// and returns the URL and key the agent registers for the control plane.
func serveConsoles(ctx context.Context, listen string, d hostconsole.Source, log *slog.Logger) (string, string, error) {
	key, err := hostconsole.NewKey()
	if err != nil {
		return "", "", err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", "", fmt.Errorf("console server: %w (set --console-listen to a free address)", err)
	}
	srv := &http.Server{Handler: hostconsole.Handler(key, d, log.With("service", "console")), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	u := "http://" + ln.Addr().String()
	log.Info("console server listening", "url", u)
	return u, key, nil
}
