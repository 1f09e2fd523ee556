// Package image is Glance's domain logic: images and their state machine
// (queued → saving → active, staged uploads and interoperable import,
// deactivation, deletion), visibility and sharing with members, tags and
// properties, per-project quotas, and image data kept as files.
//
// It sits in the service layer: it uses store and the data directory, and
// is used by api/image (the Glance v2 HTTP API) and by other services, such
// as compute, that boot from images and snapshot servers into them.
//
// Every data transfer (upload, stage, import) streams to disk without
// holding the image in memory, records its worker and a heartbeat in the
// image row, and is undone on failure; a transfer whose worker stopped is
// undone by the janitor, so no image stays in saving or importing.
package image
