package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/driver/fake"
	"github.com/onestack/onestack/internal/hostapi"
)

// plane is an in-memory control plane: a fixed list of guests to hand
// out once, and the reports and uploads it receives.
type plane struct {
	mu       sync.Mutex
	guests   []hostapi.Guest
	served   bool
	reports  []hostapi.Report
	uploads  map[string]string
	register int
}

func (p *plane) Register(context.Context, hostapi.HostInfo) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.register++
	return nil
}
func (p *plane) Heartbeat(context.Context, string) error { return nil }
func (p *plane) Watch(ctx context.Context, _ string, since int64) ([]hostapi.Guest, int64, error) {
	p.mu.Lock()
	if since == 0 || !p.served {
		p.served = true
		gs := p.guests
		p.mu.Unlock()
		return gs, 10, nil
	}
	p.mu.Unlock()
	<-ctx.Done()
	return nil, since, ctx.Err()
}
func (p *plane) Report(_ context.Context, r hostapi.Report) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, r)
	return nil
}
func (p *plane) UploadImage(_ context.Context, id string, data io.Reader) error {
	b, err := io.ReadAll(data)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uploads == nil {
		p.uploads = map[string]string{}
	}
	if _, ok := p.uploads[id]; ok {
		return errors.New("409 Image status transition from active to saving is not allowed")
	}
	p.uploads[id] = string(b)
	return err
}

func (p *plane) DownloadImage(context.Context, string) (io.ReadCloser, hostapi.ImageFile, error) {
	return nil, hostapi.ImageFile{}, errors.New("the test plane has no images")
}

func (p *plane) reportFor(id string) (hostapi.Report, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.reports) - 1; i >= 0; i-- {
		if p.reports[i].ServerID == id {
			return p.reports[i], true
		}
	}
	return hostapi.Report{}, false
}

// failing fails every Ensure with a message, as a hypervisor that cannot
// start a guest would: a step (the cloud's fault) for guest "x", a step
// the request's image caused for "y", and an error without a step for
// the others.
type failing struct{ *fake.Driver }

func (failing) Ensure(_ context.Context, g hostapi.Guest) (string, error) {
	err := errors.New("qemu-system-x86_64: cannot allocate memory; free memory on the host or use a smaller flavor")
	switch g.ServerID {
	case "x":
		return hostapi.PowerAbsent, hostapi.CloudFault("start the guest", err)
	case "y":
		return hostapi.PowerAbsent, hostapi.UserFault("check the image", errors.New(`image i has disk_format "iso"`))
	}
	return hostapi.PowerAbsent, err
}

// noting is a driver whose every Ensure leaves a note, as a stop that
// ended in a hard power-off does.
type noting struct{ *fake.Driver }

func (noting) TakeNote(string) string { return "the guest did not shut down within 60 s; powered off" }

func runAgent(t *testing.T, p *plane, d Driver) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a := New(p, d, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Host: "h1"})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitReport(t *testing.T, p *plane, id string) hostapi.Report {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r, ok := p.reportFor(id); ok {
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no report for %s", id)
	return hostapi.Report{}
}

func TestAgentConvergesAndCleansUp(t *testing.T) {
	d := fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)
	// A guest left from an earlier life with no record any more.
	if _, err := d.Ensure(context.Background(), hostapi.Guest{ServerID: "orphan", Power: hostapi.PowerRunning}); err != nil {
		t.Fatal(err)
	}
	p := &plane{guests: []hostapi.Guest{
		{ServerID: "a", Revision: 3, Task: "spawning", Power: hostapi.PowerRunning},
		{ServerID: "b", Revision: 4, Task: "powering-off", Power: hostapi.PowerShutdown},
		{ServerID: "c", Revision: 5, Task: "image_snapshot", TaskArg: "img-1", Power: hostapi.PowerRunning},
		{ServerID: "gone", Revision: 6, Task: "deleting", Deleted: true},
	}}
	runAgent(t, p, d)
	if r := waitReport(t, p, "a"); r.Done != "spawning" || r.Power != hostapi.PowerRunning || r.Revision != 3 {
		t.Errorf("spawn report = %+v", r)
	}
	if r := waitReport(t, p, "b"); r.Done != "powering-off" || r.Power != hostapi.PowerShutdown {
		t.Errorf("stop report = %+v", r)
	}
	if r := waitReport(t, p, "gone"); r.Done != "deleting" || r.Power != hostapi.PowerAbsent {
		t.Errorf("delete report = %+v", r)
	}
	r := waitReport(t, p, "c")
	p.mu.Lock()
	up := p.uploads["img-1"]
	p.mu.Unlock()
	if r.Done != "image_snapshot" || up == "" {
		t.Errorf("snapshot report = %+v, upload %q", r, up)
	}
	// The orphan is removed by the resync, and nothing else is.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ids, _ := d.List(context.Background())
		if len(ids) == 3 && ids[0] == "a" && ids[1] == "b" && ids[2] == "c" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guests on the host = %v, want a, b, c (orphan removed)", ids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAgentReportsFailures(t *testing.T) {
	d := failing{fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)}
	p := &plane{guests: []hostapi.Guest{
		{ServerID: "x", Revision: 1, Task: "spawning", Power: hostapi.PowerRunning},
		{ServerID: "y", Revision: 2, Task: "spawning", Power: hostapi.PowerRunning},
		{ServerID: "z", Revision: 3, Task: "spawning", Power: hostapi.PowerRunning},
	}}
	runAgent(t, p, d)
	for id, want := range map[string]hostapi.Report{
		"x": {Step: "start the guest", ErrorCode: 500, Error: "start the guest: qemu-system-x86_64: cannot allocate memory; free memory on the host or use a smaller flavor"},
		"y": {Step: "check the image", ErrorCode: 400, Error: `check the image: image i has disk_format "iso"`},
		"z": {Error: "qemu-system-x86_64: cannot allocate memory; free memory on the host or use a smaller flavor"},
	} {
		r := waitReport(t, p, id)
		if r.Done != "" || r.Error != want.Error || r.Step != want.Step || r.ErrorCode != want.ErrorCode || r.Power != hostapi.PowerAbsent {
			t.Errorf("failure report of %s = %+v, want the error %q, step %q and code %d, and no completed task", id, r, want.Error, want.Step, want.ErrorCode)
		}
	}
}

// TestAgentPassesNotes checks that what the driver has to say about a task
// that succeeded goes with the report.
func TestAgentPassesNotes(t *testing.T) {
	d := noting{fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)}
	p := &plane{guests: []hostapi.Guest{{ServerID: "s", Revision: 1, Task: "powering-off", Power: hostapi.PowerShutdown}}}
	runAgent(t, p, d)
	if r := waitReport(t, p, "s"); r.Done != "powering-off" || r.Note != "the guest did not shut down within 60 s; powered off" {
		t.Errorf("stop report = %+v, want the task done with the driver's note", r)
	}
}

// counting counts Ensure calls.
type counting struct {
	*fake.Driver
	mu      sync.Mutex
	ensures int
}

func (c *counting) Ensure(ctx context.Context, g hostapi.Guest) (string, error) {
	c.mu.Lock()
	c.ensures++
	c.mu.Unlock()
	return c.Driver.Ensure(ctx, g)
}

func TestAgentSkipsTheEchoOfItsOwnReport(t *testing.T) {
	d := &counting{Driver: fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)}
	a := New(&plane{}, d, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Host: "h1"})
	p := a.plane.(*plane)
	ctx := context.Background()
	running := hostapi.Guest{ServerID: "a", Revision: 7, Power: hostapi.PowerRunning}
	a.reconcile(ctx, running)
	echo := running
	echo.Revision = 8 // our report bumped the revision; nothing else changed
	a.reconcile(ctx, echo)
	if d.ensures != 1 || len(p.reports) != 1 {
		t.Errorf("after an echo: %d ensures, %d reports; want 1 and 1", d.ensures, len(p.reports))
	}
	stop := echo
	stop.Revision, stop.Power, stop.Task = 9, hostapi.PowerShutdown, "powering-off"
	a.reconcile(ctx, stop)
	a.reconcile(ctx, stop) // a task is acted on every time it is handed out
	if d.ensures != 3 || len(p.reports) != 3 {
		t.Errorf("after a stop: %d ensures, %d reports; want 3 and 3", d.ensures, len(p.reports))
	}
	if _, err := a.resync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(a.applied) != 0 {
		t.Errorf("resync kept %d applied states; it re-checks every guest", len(a.applied))
	}
}

// TestSnapshotUploadedOnce: a snapshot task handed out again (a newer
// desired state queued while the upload ran, or a repeated report) does
// not upload into the image a second time, which Glance refuses once the
// image is active; both rounds report the task done.
func TestSnapshotUploadedOnce(t *testing.T) {
	d := fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)
	p := &plane{}
	a := New(p, d, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Host: "h1"})
	ctx := context.Background()
	g := hostapi.Guest{ServerID: "a", Revision: 7, Power: hostapi.PowerRunning}
	a.reconcile(ctx, g)
	g.Revision, g.Task, g.TaskArg = 8, "image_snapshot", "img-1"
	a.reconcile(ctx, g)
	g.Revision = 9
	a.reconcile(ctx, g)
	if len(p.uploads) != 1 {
		t.Errorf("uploads: %d, want 1", len(p.uploads))
	}
	for _, r := range p.reports[1:] {
		if r.Error != "" || r.Done != "image_snapshot" {
			t.Errorf("report %+v, want the snapshot task done without error", r)
		}
	}
	// A later snapshot into another image uploads again.
	g.Revision, g.Task, g.TaskArg = 10, "", ""
	a.reconcile(ctx, g)
	g.Revision, g.Task, g.TaskArg = 11, "image_snapshot", "img-2"
	a.reconcile(ctx, g)
	if len(p.uploads) != 2 {
		t.Errorf("uploads after a second snapshot: %d, want 2", len(p.uploads))
	}
}
