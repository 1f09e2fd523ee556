package agent

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/onestack/onestack/internal/driver/fake"
	"github.com/onestack/onestack/internal/hostapi"
)

// halfVolumes attaches every volume but one, which fails, as a host whose
// QEMU cannot open an export would.
type halfVolumes struct{ *fake.Driver }

func (halfVolumes) SyncVolumes(_ context.Context, g hostapi.Guest) ([]string, map[string]string) {
	attached, errs := []string{}, map[string]string{}
	for _, v := range g.Volumes {
		if v.VolumeID == "bad" {
			errs[v.AttachmentID] = "QEMU cannot open its export"
			continue
		}
		attached = append(attached, v.AttachmentID)
	}
	return attached, errs
}

// TestAgentReportsVolumes checks that a guest's report carries the
// attachments its driver plugged and why the others failed, without
// failing the guest; and that a driver without volume support reports
// nothing about them (nil, not "none attached").
func TestAgentReportsVolumes(t *testing.T) {
	g := hostapi.Guest{ServerID: "v", Revision: 2, Power: hostapi.PowerRunning, Volumes: []hostapi.GuestVolume{
		{VolumeID: "good", AttachmentID: "att-good", Export: "nbd+unix:///good?socket=/x", BootIndex: -1},
		{VolumeID: "bad", AttachmentID: "att-bad", Export: "nbd+unix:///bad?socket=/x", BootIndex: -1},
	}}
	p := &plane{guests: []hostapi.Guest{g}}
	runAgent(t, p, halfVolumes{fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)})
	r := waitReport(t, p, "v")
	if r.Error != "" || r.Power != hostapi.PowerRunning {
		t.Errorf("a failed volume failed the guest: %+v", r)
	}
	if !slices.Equal(r.Attached, []string{"att-good"}) || r.VolumeErrors["att-bad"] != "QEMU cannot open its export" {
		t.Errorf("report: attached %v errors %v", r.Attached, r.VolumeErrors)
	}

	p2 := &plane{guests: []hostapi.Guest{g}}
	runAgent(t, p2, failing{fake.New(slog.New(slog.NewTextHandler(io.Discard, nil)), 8, 8192, 100)})
	if r := waitReport(t, p2, "v"); r.Attached != nil {
		t.Errorf("a guest whose Ensure failed reports attached %v; want nil (not looked at)", r.Attached)
	}
}
