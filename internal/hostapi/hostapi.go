// Package hostapi is the contract between the control plane and the host
// agents: what an agent reports about its host, the desired state of each
// guest it is given, and what it reports back. Agents never receive
// commands: they watch desired state and report observed state, over Go
// calls in one process or HTTP between processes.
package hostapi

import (
	"context"
	"io"
)

// HostInfo is what an agent reports about its host when it registers.
type HostInfo struct {
	Host              string `json:"host"`
	Zone              string `json:"zone,omitempty"`
	HypervisorType    string `json:"hypervisor_type"`
	HypervisorVersion int    `json:"hypervisor_version"`
	HostIP            string `json:"host_ip"`
	VCPUs             int    `json:"vcpus"`
	MemoryMB          int    `json:"memory_mb"`
	DiskGB            int    `json:"disk_gb"`
	CPUInfo           string `json:"cpu_info"`
	// ConsoleURL is where an agent in its own process serves its guests'
	// console logs and serial consoles to the control plane, which
	// presents ConsoleKey; empty for hosts of the control plane's process.
	ConsoleURL string `json:"console_url,omitempty"`
	ConsoleKey string `json:"console_key,omitempty"`
}

// Power states of a guest, desired and observed.
const (
	PowerRunning   = "running"
	PowerShutdown  = "shutdown"
	PowerPaused    = "paused"
	PowerSuspended = "suspended"
	// PowerAbsent means no guest exists.
	PowerAbsent = "absent"
)

// Flavor is the shape of a guest.
type Flavor struct {
	VCPUs     int `json:"vcpus"`
	RAM       int `json:"ram"`
	Disk      int `json:"disk"`
	Ephemeral int `json:"ephemeral"`
	Swap      int `json:"swap"`
}

// Guest is the desired state of one server on a host.
type Guest struct {
	ServerID  string `json:"server_id"`
	Name      string `json:"name"`
	ProjectID string `json:"project_id"`
	Revision  int64  `json:"revision"`
	// Deleted: the guest must not exist.
	Deleted bool `json:"deleted"`
	// Task is the task in progress (Nova's task_state), e.g. "rebooting";
	// TaskArg its argument, e.g. the image id of a snapshot.
	Task    string `json:"task"`
	TaskArg string `json:"task_arg,omitempty"`
	// Power is the desired power state.
	Power       string            `json:"power"`
	Flavor      Flavor            `json:"flavor"`
	ImageID     string            `json:"image_id"`
	UserData    string            `json:"user_data,omitempty"`
	KeyData     string            `json:"key_data,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	ConfigDrive bool              `json:"config_drive,omitempty"`
	// What the guest's metadata (config drive) tells it about itself.
	Hostname    string `json:"hostname,omitempty"`
	KeyName     string `json:"key_name,omitempty"`
	Zone        string `json:"availability_zone,omitempty"`
	FlavorName  string `json:"flavor_name,omitempty"`
	LaunchIndex int    `json:"launch_index,omitempty"`
	// Away: the guest is moving off this host (resize/migration source).
	// A guest away is never started here again.
	Away bool `json:"away,omitempty"`
	// Recover is set by an agent (never sent) on its first pass after it
	// starts: a guest that should run but does not is started again (the
	// host or the agent went down), where later a guest found off is one
	// that stopped by itself and is reported so.
	Recover bool `json:"-"`
	// MovingFrom names the host the guest is moving here from (resize or
	// migration destination), whose disks it takes over.
	MovingFrom string `json:"moving_from,omitempty"`
	// NICs are the guest's network interfaces, in order; the agent wires
	// their ports (HostNetwork) before the guest starts.
	NICs []NIC `json:"nics,omitempty"`
	// Volumes are the volumes attached to the guest (a BootIndex 0 one is
	// its root disk).
	Volumes []GuestVolume `json:"volumes,omitempty"`
	// VolumesPending says an attach or detach waits for the agent's word:
	// it reports the volumes it has even when it has none (a detach done
	// before a crash leaves the guest with nothing to say otherwise).
	VolumesPending bool `json:"volumes_pending,omitempty"`
}

// Report is what an agent observed about one guest.
type Report struct {
	Host     string `json:"host"`
	ServerID string `json:"server_id"`
	// Revision is the desired revision the agent acted on.
	Revision int64 `json:"revision"`
	// Power is the observed power state.
	Power string `json:"power"`
	// Done names the task the agent completed, or "".
	Done string `json:"done,omitempty"`
	// Error says why the task failed, in words a user can act on; the
	// server goes to ERROR with it as the fault.
	Error string `json:"error,omitempty"`
	// Step names the step that failed ("create the root disk") when the
	// driver said (a *StepError); ErrorCode is the fault's code: 400 when
	// what the request asked for (its image, its flavor) caused the
	// failure, 500 (or 0) when the cloud did.
	Step      string `json:"step,omitempty"`
	ErrorCode int    `json:"error_code,omitempty"`
	// Note is what the user should know about how a task went although it
	// succeeded (a stop that ended in a hard power-off); it becomes the
	// message of the server's action.
	Note string `json:"note,omitempty"`
	// Attached lists the attachment ids of the volumes the guest has now
	// (or gets at its next start when stopped); nil when the agent did not
	// look (not the same as empty: none). VolumeErrors says, per
	// attachment id, why attaching or detaching it failed. Neither puts
	// the server in ERROR.
	Attached     []string          `json:"attached"`
	VolumeErrors map[string]string `json:"volume_errors,omitempty"`
}

// Plane is the control plane as an agent sees it.
type Plane interface {
	Register(ctx context.Context, h HostInfo) error
	Heartbeat(ctx context.Context, host string) error
	// Watch returns the guests on host changed after revision since,
	// blocking until there is one or ctx ends; next is the revision to pass
	// next time. since 0 returns every guest on the host.
	Watch(ctx context.Context, host string, since int64) (guests []Guest, next int64, err error)
	Report(ctx context.Context, r Report) error
	// UploadImage streams a snapshot's data into the image the control
	// plane created for it (Guest.TaskArg of an image_snapshot task).
	UploadImage(ctx context.Context, imageID string, data io.Reader) error
	// DownloadImage opens an image's data for a host's image cache. The
	// caller closes it and verifies the data against the returned file's
	// checksums.
	DownloadImage(ctx context.Context, imageID string) (io.ReadCloser, ImageFile, error)
}

// NetworkPlane is the networking side of the control plane as an agent
// sees it.
type NetworkPlane interface {
	// WatchNetwork returns the host's desired data plane once its revision
	// is past since, blocking until then or until ctx ends.
	WatchNetwork(ctx context.Context, host string, since int64) (HostNetwork, error)
	// ReportNetwork records which ports are wired.
	ReportNetwork(ctx context.Context, r NetworkReport) error
}

// ImageFile describes an image's data as Glance stored it.
type ImageFile struct {
	ID         string `json:"id"`
	DiskFormat string `json:"disk_format"`
	Size       int64  `json:"size"`
	// Checksum is the MD5 of the data in hex (Glance's checksum); HashAlgo
	// and HashValue are Glance's os_hash_algo and os_hash_value.
	Checksum  string `json:"checksum"`
	HashAlgo  string `json:"os_hash_algo"`
	HashValue string `json:"os_hash_value"`
}
