package compute

import (
	"github.com/onestack/onestack/internal/hostapi"
)

// Nova's vm_state values.
const (
	VMActive    = "active"
	VMBuilding  = "building"
	VMStopped   = "stopped"
	VMPaused    = "paused"
	VMSuspended = "suspended"
	VMResized   = "resized"
	VMError     = "error"
	VMDeleted   = "deleted"
)

// Nova's task_state values used here.
const (
	TaskScheduling      = "scheduling"
	TaskSpawning        = "spawning"
	TaskPoweringOff     = "powering-off"
	TaskPoweringOn      = "powering-on"
	TaskRebooting       = "rebooting"
	TaskRebootingHard   = "rebooting_hard"
	TaskPausing         = "pausing"
	TaskUnpausing       = "unpausing"
	TaskSuspending      = "suspending"
	TaskResuming        = "resuming"
	TaskRebuilding      = "rebuilding"
	TaskImageSnapshot   = "image_snapshot"
	TaskResizePrep      = "resize_prep"
	TaskResizeMigrating = "resize_migrating"
	TaskResizeReverting = "resize_reverting"
	TaskMigrating       = "migrating"
	TaskDeleting        = "deleting"
)

// Nova's power_state numbers.
const (
	PowerNoState   = 0
	PowerRunning   = 1
	PowerPaused    = 3
	PowerShutdown  = 4
	PowerSuspended = 7
)

// powerNumber maps an observed power state to Nova's number.
func powerNumber(p string) int {
	switch p {
	case hostapi.PowerRunning:
		return PowerRunning
	case hostapi.PowerPaused:
		return PowerPaused
	case hostapi.PowerShutdown:
		return PowerShutdown
	case hostapi.PowerSuspended:
		return PowerSuspended
	}
	return PowerNoState
}

// Status is Nova's "status" for a vm_state and task_state.
func Status(vm, task string) string {
	switch vm {
	case VMActive:
		switch task {
		case TaskRebooting:
			return "REBOOT"
		case TaskRebootingHard:
			return "HARD_REBOOT"
		case TaskRebuilding:
			return "REBUILD"
		case TaskResizePrep, TaskResizeMigrating:
			return "RESIZE"
		case TaskMigrating:
			return "MIGRATING"
		}
		return "ACTIVE"
	case VMBuilding:
		return "BUILD"
	case VMStopped:
		switch task {
		case TaskResizePrep, TaskResizeMigrating:
			return "RESIZE"
		case TaskRebuilding:
			return "REBUILD"
		}
		return "SHUTOFF"
	case VMPaused:
		return "PAUSED"
	case VMSuspended:
		return "SUSPENDED"
	case VMResized:
		if task == TaskResizeReverting {
			return "REVERT_RESIZE"
		}
		return "VERIFY_RESIZE"
	case VMError:
		return "ERROR"
	case VMDeleted:
		return "DELETED"
	}
	return "UNKNOWN"
}

// StatusVMStates maps a status filter to the vm_states it covers, or nil
// for an unknown status.
func StatusVMStates(status string) []string {
	switch status {
	case "ACTIVE", "REBOOT", "HARD_REBOOT", "REBUILD", "MIGRATING", "RESIZE":
		return []string{VMActive}
	case "BUILD":
		return []string{VMBuilding}
	case "SHUTOFF":
		return []string{VMStopped}
	case "PAUSED":
		return []string{VMPaused}
	case "SUSPENDED":
		return []string{VMSuspended}
	case "VERIFY_RESIZE", "REVERT_RESIZE":
		return []string{VMResized}
	case "ERROR":
		return []string{VMError}
	case "DELETED":
		return []string{VMDeleted}
	}
	return nil
}

// completion is what finishing a task does: the power state the agent
// must observe and the vm_state that follows ("" keeps the current one).
type completion struct {
	power string
	vm    string
}

var completions = map[string]completion{
	TaskSpawning:        {hostapi.PowerRunning, VMActive},
	TaskPoweringOff:     {hostapi.PowerShutdown, VMStopped},
	TaskPoweringOn:      {hostapi.PowerRunning, VMActive},
	TaskRebooting:       {hostapi.PowerRunning, VMActive},
	TaskRebootingHard:   {hostapi.PowerRunning, VMActive},
	TaskPausing:         {hostapi.PowerPaused, VMPaused},
	TaskUnpausing:       {hostapi.PowerRunning, VMActive},
	TaskSuspending:      {hostapi.PowerSuspended, VMSuspended},
	TaskResuming:        {hostapi.PowerRunning, VMActive},
	TaskRebuilding:      {hostapi.PowerRunning, VMActive},
	TaskImageSnapshot:   {"", ""},
	TaskMigrating:       {"", ""},
	TaskResizeMigrating: {"", VMResized},
	TaskResizeReverting: {"", ""},
	TaskDeleting:        {hostapi.PowerAbsent, VMDeleted},
}

// actionEvents names the event an agent's completion of a task records,
// as Nova's compute manager names its methods.
var actionEvents = map[string]string{
	TaskSpawning:        "compute__do_build_and_run_instance",
	TaskPoweringOff:     "compute_stop_instance",
	TaskPoweringOn:      "compute_start_instance",
	TaskRebooting:       "compute_reboot_instance",
	TaskRebootingHard:   "compute_reboot_instance",
	TaskPausing:         "compute_pause_instance",
	TaskUnpausing:       "compute_unpause_instance",
	TaskSuspending:      "compute_suspend_instance",
	TaskResuming:        "compute_resume_instance",
	TaskRebuilding:      "compute_rebuild_instance",
	TaskImageSnapshot:   "compute_snapshot_instance",
	TaskResizeMigrating: "compute_finish_resize",
	TaskResizeReverting: "compute_finish_revert_resize",
	TaskMigrating:       "compute_live_migration",
	TaskDeleting:        "compute_terminate_instance",
}
