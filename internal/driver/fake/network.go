package fake

import (
	"context"
	"log/slog"
	"sync"

	"github.com/onestack/onestack/internal/hostapi"
)

// Network is a data plane that wires nothing: it reports every port of the
// host's desired network as wired, at once. It pairs with the fake
// hypervisor for scale benchmarks and control-plane tests; its log lines
// say "fake".
type Network struct {
	log *slog.Logger

	mu       sync.Mutex
	revision int64
	ports    int
}

// NewNetwork returns a fake data plane.
func NewNetwork(log *slog.Logger) *Network {
	return &Network{log: log.With("dataplane", "fake")}
}

// Apply reports every port of hn wired; nothing on the host changes.
func (n *Network) Apply(_ context.Context, hn hostapi.HostNetwork) (hostapi.NetworkReport, error) {
	r := hostapi.NetworkReport{Host: hn.Host, Revision: hn.Revision}
	for _, p := range hn.Ports {
		r.Up = append(r.Up, p.ID)
	}
	for _, rt := range hn.Routers {
		for _, p := range rt.Interfaces {
			r.Up = append(r.Up, p.ID)
		}
		if rt.Gateway != nil {
			r.Up = append(r.Up, rt.Gateway.ID)
		}
	}
	n.mu.Lock()
	changed := n.revision != hn.Revision || n.ports != len(r.Up)
	n.revision, n.ports = hn.Revision, len(r.Up)
	n.mu.Unlock()
	if changed {
		n.log.Debug("fake data plane: ports reported wired without any real network", "revision", hn.Revision, "ports", len(r.Up))
	}
	return r, nil
}
