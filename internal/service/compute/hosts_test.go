package compute_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// inTask records a server on host h1 with a task running and the action
// that asked for it, as the API leaves it for the host's agent.
func inTask(t *testing.T, db *store.DB, name, vmState, task, action string) store.Server {
	t.Helper()
	ctx := context.Background()
	v := opsServer(t, db, "p-shop", name, "h1", "", store.Flavor{Name: "m1", VCPUs: 1, RAM: 64, Disk: 1})
	err := db.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.GetServer(ctx, v.ID)
		if err != nil {
			return err
		}
		cur.VMState, cur.TaskState = vmState, task
		if err := tx.UpdateServer(ctx, &cur, 0); err != nil {
			return err
		}
		v = cur
		now := time.Now()
		return tx.CreateAction(ctx, store.InstanceAction{ID: uuid.NewString(), ServerID: v.ID, Action: action,
			RequestID: "req-" + uuid.NewString(), ProjectID: v.ProjectID, UserID: v.UserID, StartTime: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func actionOf(t *testing.T, s *compute.Service, id string) compute.ActionWithEvents {
	t.Helper()
	ctx := context.Background()
	acts, err := s.Actions(ctx, opsAdmin, id)
	if err != nil || len(acts) == 0 {
		t.Fatalf("actions of %s: %v %v", id, acts, err)
	}
	a, err := s.Action(ctx, opsAdmin, id, acts[0].RequestID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestHostFaults checks what a user reads when a host fails a build: the
// fault names the step that failed, its cause and what to do, with code
// 500 only when the cloud is at fault (400 when the request's image or
// flavor is); the agent failing again at its next resync leaves that
// fault and the events alone. A stop that ended in a hard power-off says
// so in the server's action.
func TestHostFaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := compute.New(db, nil, noPlacement{}, slog.New(slog.DiscardHandler), compute.Config{})
		opsHost(t, db, "h1", time.Now())

		for _, tc := range []struct {
			name, step, err string
			code            int
			want            []string
		}{
			{"cloud", "create the root disk", "create the root disk: qemu-img create: Could not open backing image.", 500,
				[]string{`step "create the root disk" of compute__do_build_and_run_instance on h1 failed: qemu-img create: Could not open backing image.`, "The cloud is at fault", "read the log of h1", "delete the server and create it again"}},
			{"user", "size the root disk", "size the root disk: flavor's disk is too small for image i-1: it needs 2 GiB (its virtual size); resize to a flavor with a larger disk", 400,
				[]string{`step "size the root disk" of compute__do_build_and_run_instance on h1 failed: flavor's disk is too small`, "The request is at fault", "delete the server and create it again"}},
			{"no step", "", "the host lost its disk", 0,
				[]string{"compute__do_build_and_run_instance on h1 failed: the host lost its disk.", "The cloud is at fault"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := inTask(t, db, "web-"+tc.name, compute.VMBuilding, compute.TaskSpawning, "create")
				r := hostapi.Report{Host: "h1", ServerID: v.ID, Power: hostapi.PowerAbsent, Error: tc.err, Step: tc.step, ErrorCode: tc.code}
				if err := s.Report(ctx, r); err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(ctx, opsAdmin, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantCode := tc.code
				if wantCode == 0 {
					wantCode = 500
				}
				if got.VMState != compute.VMError || got.Fault == nil || got.Fault.Code != wantCode || got.Fault.Message != tc.err {
					t.Fatalf("after the failed build: state %s fault %+v; want ERROR, code %d and the host's message", got.VMState, got.Fault, wantCode)
				}
				for _, w := range tc.want {
					if !strings.Contains(got.Fault.Details, w) {
						t.Errorf("fault details %q lack %q", got.Fault.Details, w)
					}
				}
				// The agent fails again at its next pass (no task now).
				r.Error, r.Step = "the same failure, seen again: "+tc.err, "check again"
				if err := s.Report(ctx, r); err != nil {
					t.Fatal(err)
				}
				again, err := s.Get(ctx, opsAdmin, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if *again.Fault != *got.Fault {
					t.Errorf("a repeated failure replaced the fault:\n%+v\nwas\n%+v", again.Fault, got.Fault)
				}
				a := actionOf(t, s, v.ID)
				if len(a.Events) != 1 || a.Events[0].Event != "compute__do_build_and_run_instance" || a.Events[0].Result != "Error" || a.Events[0].Traceback != got.Fault.Details {
					t.Errorf("create action events = %+v; want one Error event of the build explaining it", a.Events)
				}
			})
		}

		t.Run("stop powered off hard", func(t *testing.T) {
			v := inTask(t, db, "web-stop", compute.VMActive, compute.TaskPoweringOff, "stop")
			note := "the guest did not shut down within 60 s; powered off"
			if err := s.Report(ctx, hostapi.Report{Host: "h1", ServerID: v.ID, Power: hostapi.PowerShutdown, Done: compute.TaskPoweringOff, Note: note}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, opsAdmin, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.VMState != compute.VMStopped || got.TaskState != "" {
				t.Fatalf("after the stop: %s/%q, want stopped", got.VMState, got.TaskState)
			}
			a := actionOf(t, s, v.ID)
			if a.Message != note || len(a.Events) != 1 || a.Events[0].Result != "Success" {
				t.Errorf("stop action: message %q, events %+v; want the note as its message and one Success event", a.Message, a.Events)
			}
		})
	})
}
