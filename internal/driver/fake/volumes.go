package fake

import (
	"context"

	"github.com/onestack/onestack/internal/hostapi"
)

// SyncVolumes attaches every desired volume at once: the fake hypervisor
// has no guests to plug them into.
func (d *Driver) SyncVolumes(_ context.Context, g hostapi.Guest) (attached []string, errs map[string]string) {
	attached = []string{}
	for _, v := range g.Volumes {
		attached = append(attached, v.AttachmentID)
	}
	return attached, nil
}
