// Package volume is the Block Storage (Cinder v3) domain layer: volumes, volume types, snapshots, attachments
// and quotas. It sits between internal/api/volume (wire format, policy) and internal/store (records); volume data
// lives in a Backend (internal/driver/storage) that the service drives from its reconciler.
package volume
