package agent

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/driver/fake"
	"github.com/onestack/onestack/internal/hostapi"
)

// netPlane is the test plane with a network watch serving one HostNetwork.
type netPlane struct {
	*plane
	hn      hostapi.HostNetwork
	reports chan hostapi.NetworkReport
}

func (p *netPlane) WatchNetwork(ctx context.Context, _ string, since int64) (hostapi.HostNetwork, error) {
	if since < p.hn.Revision {
		return p.hn, nil
	}
	<-ctx.Done()
	return hostapi.HostNetwork{}, ctx.Err()
}

func (p *netPlane) ReportNetwork(_ context.Context, r hostapi.NetworkReport) error {
	select {
	case p.reports <- r:
	default:
	}
	return nil
}

// wiring fails to wire the ports it is told to, as a data plane whose
// link cannot be made would.
type wiring struct{ fail map[string]string }

func (w wiring) Apply(_ context.Context, hn hostapi.HostNetwork) (hostapi.NetworkReport, error) {
	r := hostapi.NetworkReport{Failed: map[string]string{}}
	for _, p := range hn.Ports {
		if msg, ok := w.fail[p.ID]; ok {
			r.Failed[p.ID] = msg
		} else {
			r.Up = append(r.Up, p.ID)
		}
	}
	return r, nil
}

func runNetAgent(t *testing.T, p *netPlane, n NetworkDriver) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d := fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)
	a := New(p, d, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Host: "h1", Network: n})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestGuestStartsOnceItsPortsAreWired: a guest whose ports are wired
// starts; one whose port could not be wired fails with a report naming the
// port and the data plane's reason, and is never started.
func TestGuestStartsOnceItsPortsAreWired(t *testing.T) {
	nic := func(id string) []hostapi.NIC { return []hostapi.NIC{{PortID: id, Device: hostapi.TapName(id)}} }
	p := &netPlane{
		plane: &plane{guests: []hostapi.Guest{
			{ServerID: "good", Revision: 1, Task: "spawning", Power: hostapi.PowerRunning, NICs: nic("port-good")},
			{ServerID: "bad", Revision: 2, Task: "spawning", Power: hostapi.PowerRunning, NICs: nic("port-bad")},
		}},
		hn:      hostapi.HostNetwork{Host: "h1", Revision: 5, Ports: []hostapi.Port{{ID: "port-good"}, {ID: "port-bad"}}},
		reports: make(chan hostapi.NetworkReport, 4),
	}
	runNetAgent(t, p, wiring{fail: map[string]string{"port-bad": "create tap tapport-bad: file exists"}})
	if r := waitReport(t, p.plane, "good"); r.Error != "" || r.Power != hostapi.PowerRunning || r.Done != "spawning" {
		t.Errorf("guest with wired ports: %+v, want it running", r)
	}
	r := waitReport(t, p.plane, "bad")
	if r.Done != "" || !strings.Contains(r.Error, "port port-bad") || !strings.Contains(r.Error, "file exists") || r.Power == hostapi.PowerRunning {
		t.Errorf("guest whose port failed: %+v, want an error naming the port and the cause, not running", r)
	}
	nr := <-p.reports
	if nr.Revision != 5 || nr.Failed["port-bad"] == "" || len(nr.Up) != 1 {
		t.Errorf("network report %+v, want revision 5, port-good up, port-bad failed", nr)
	}
}

// TestGuestWithNICsOnHostWithoutDataPlane fails with a fault saying so.
func TestGuestWithNICsOnHostWithoutDataPlane(t *testing.T) {
	p := &plane{guests: []hostapi.Guest{{ServerID: "x", Revision: 1, Task: "spawning", Power: hostapi.PowerRunning,
		NICs: []hostapi.NIC{{PortID: "p1"}}}}}
	runAgent(t, p, fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100))
	if r := waitReport(t, p, "x"); !strings.Contains(r.Error, "runs no network data plane") {
		t.Errorf("report %+v, want an error saying the host has no data plane", r)
	}
}
