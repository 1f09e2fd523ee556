package fake

import (
	"context"

	"github.com/onestack/onestack/internal/hostapi"
)

// SyncVolumes attaches every desired volume at once: the fake hypervisor
// has no guests to plug them into.
func (d *Driver) SyncVolumes(_ context.Context, g hostapi.Guest) (attached []string, errs map[string]string) {
	d.mu.Lock()
	had := d.volumes[g.ServerID]
	if d.volumes == nil {
		d.volumes = map[string]int{}
	}
	d.volumes[g.ServerID] = len(g.Volumes)
	if len(g.Volumes) == 0 {
		delete(d.volumes, g.ServerID)
	}
	d.mu.Unlock()
	if had == 0 && len(g.Volumes) == 0 {
		return nil, nil // no volumes, none to report on
	}
	attached = []string{}
	for _, v := range g.Volumes {
		attached = append(attached, v.AttachmentID)
	}
	return attached, nil
}
