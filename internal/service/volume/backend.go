package volume

import (
	"context"
	"io"
)

// Backend stores volume data on a host's storage pool. Every method is idempotent (a retry after a crash finishes
// or repeats the step) and returns errors that say what to change.
//
// The volume service declares it (the consumer); internal/driver/storage implements it.
type Backend interface {
	Create(ctx context.Context, id string, sizeGB int) error // blank, sparse
	// CreateFromImage writes image data (format "raw" or "qcow2", as Glance's disk_format) into a new volume of sizeGB.
	CreateFromImage(ctx context.Context, id string, sizeGB int, format string, data io.Reader) error
	Clone(ctx context.Context, id, sourceID string, sizeGB int) error // from another volume
	Snapshot(ctx context.Context, snapshotID, volumeID string) error
	CreateFromSnapshot(ctx context.Context, id, snapshotID string, sizeGB int) error
	DeleteSnapshot(ctx context.Context, snapshotID string) error
	Extend(ctx context.Context, id string, sizeGB int) error
	// Delete removes the volume and its data (never readable by a later volume); absent is not an error.
	Delete(ctx context.Context, id string) error
	// Read opens the volume's data as raw bytes (upload to image).
	Read(ctx context.Context, id string) (io.ReadCloser, int64, error)
	// Export makes the volume reachable by guests over NBD and returns the address QEMU opens
	// (e.g. "nbd+unix:///<id>?socket=/run/onestack/.../nbd.sock"); Unexport stops it. Both idempotent.
	Export(ctx context.Context, id string) (string, error)
	Unexport(ctx context.Context, id string) error
	// List returns the ids of the volumes and snapshots the pool holds (for reconciliation and doctor).
	List(ctx context.Context) (volumes, snapshots []string, err error)
}
