package compute

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/compute"
	"github.com/onestack/onestack/internal/store"
)

// serverAction dispatches POST /servers/{id}/action on the body's one key.
func (a *API) serverAction(w http.ResponseWriter, r *http.Request) error {
	var body map[string]json.RawMessage
	if err := rest.Decode(r, &body, false); err != nil {
		return err
	}
	if len(body) != 1 {
		return oserr.BadRequest("An action body has exactly one key, the action, e.g. {\"os-stop\": null}.")
	}
	var name string
	var arg json.RawMessage
	for k, v := range body {
		name, arg = k, v
	}
	c, id, ctx := auth.From(r.Context()), r.PathValue("id"), r.Context()
	obj := func(v any) error {
		if len(arg) == 0 || string(arg) == "null" {
			return nil
		}
		if err := json.Unmarshal(arg, v); err != nil {
			return oserr.BadRequest("Invalid input for action %s: %v.", name, err)
		}
		return nil
	}
	accepted := func(err error) error {
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	switch name {
	case "os-stop":
		return accepted(a.svc.Stop(ctx, c, id))
	case "os-start":
		return accepted(a.svc.Start(ctx, c, id))
	case "reboot":
		var b struct {
			Type string `json:"type"`
		}
		if err := obj(&b); err != nil {
			return err
		}
		switch b.Type {
		case "SOFT", "soft", "HARD", "hard":
		default:
			return oserr.BadRequest("Invalid input for field/attribute reboot.type: %q is not one of SOFT, HARD.", b.Type)
		}
		return accepted(a.svc.Reboot(ctx, c, id, b.Type == "HARD" || b.Type == "hard"))
	case "pause":
		return accepted(a.svc.Pause(ctx, c, id))
	case "unpause":
		return accepted(a.svc.Unpause(ctx, c, id))
	case "suspend":
		return accepted(a.svc.Suspend(ctx, c, id))
	case "resume":
		return accepted(a.svc.Resume(ctx, c, id))
	case "lock":
		var b struct {
			Reason *string `json:"locked_reason"`
		}
		if err := obj(&b); err != nil {
			return err
		}
		reason := ""
		if b.Reason != nil {
			if !at(r, 73) {
				return oserr.BadRequest("locked_reason needs microversion 2.73 or later.")
			}
			reason = *b.Reason
		}
		return accepted(a.svc.Lock(ctx, c, id, reason))
	case "unlock":
		return accepted(a.svc.Unlock(ctx, c, id))
	case "forceDelete":
		return accepted(a.svc.Delete(ctx, c, id, true))
	case "os-getSerialConsole", "os-getVNCConsole", "os-getSPICEConsole", "os-getRDPConsole":
		return a.legacyConsole(ctx, w, r, c, id, name, arg)
	case "os-getConsoleOutput":
		var b struct {
			Length any `json:"length"`
		}
		if err := obj(&b); err != nil {
			return err
		}
		lines := 0
		switch l := b.Length.(type) {
		case nil:
		case float64:
			lines = int(l)
		case string:
			n, err := intField(l, "length", 0)
			if err != nil {
				return err
			}
			lines = n
		default:
			return oserr.BadRequest("Invalid input for field/attribute length: expected an integer.")
		}
		if lines < -1 {
			return oserr.BadRequest("Invalid input for field/attribute length: %d is less than -1.", lines)
		}
		out, err := a.svc.ConsoleOutput(ctx, c, id, lines)
		if err != nil {
			return err
		}
		rest.WriteJSON(w, http.StatusOK, map[string]any{"output": out})
		return nil
	case "createImage":
		var b struct {
			Name     *string           `json:"name"`
			Metadata map[string]string `json:"metadata"`
		}
		if err := obj(&b); err != nil {
			return err
		}
		if b.Name == nil {
			return oserr.BadRequest("Invalid input for field/attribute createImage: 'name' is a required property.")
		}
		imageID, err := a.svc.CreateImage(ctx, c, id, *b.Name, b.Metadata)
		if err != nil {
			return err
		}
		if at(r, 45) {
			rest.WriteJSON(w, http.StatusAccepted, map[string]any{"image_id": imageID})
			return nil
		}
		w.Header().Set("Location", a.base+"/v2.1/images/"+imageID)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case "createBackup":
		var b struct {
			Name       *string           `json:"name"`
			BackupType *string           `json:"backup_type"`
			Rotation   any               `json:"rotation"`
			Metadata   map[string]string `json:"metadata"`
		}
		if err := obj(&b); err != nil {
			return err
		}
		if b.Name == nil || b.BackupType == nil || b.Rotation == nil {
			return oserr.BadRequest("Invalid input for field/attribute createBackup: name, backup_type and rotation are required.")
		}
		rotation, err := intField(b.Rotation, "rotation", 0)
		if f, ok := b.Rotation.(float64); ok && f == 0 || b.Rotation == "0" {
			rotation, err = 0, nil
		}
		if err != nil {
			return oserr.BadRequest("Invalid input for field/attribute rotation: %v is not an integer ≥ 0.", b.Rotation)
		}
		imageID, err := a.svc.CreateBackup(ctx, c, id, *b.Name, *b.BackupType, rotation, b.Metadata)
		if err != nil {
			return err
		}
		if at(r, 45) {
			rest.WriteJSON(w, http.StatusAccepted, map[string]any{"image_id": imageID})
			return nil
		}
		w.Header().Set("Location", a.base+"/v2.1/images/"+imageID)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case "rebuild":
		return a.rebuild(w, r, arg)
	case "os-resetState":
		var b struct {
			State *string `json:"state"`
		}
		if err := obj(&b); err != nil {
			return err
		}
		if b.State == nil || (*b.State != svc.VMActive && *b.State != svc.VMError) {
			return oserr.BadRequest("Invalid input for field/attribute os-resetState.state: give 'active' or 'error'.")
		}
		return accepted(a.svc.ResetState(ctx, c, id, *b.State))
	case "resize", "confirmResize", "revertResize", "migrate", "os-migrateLive":
		return a.move(w, r, name, arg)
	}
	// Not offered yet, but Nova's answers that need none of it hold: an
	// unknown server is 404, and since no server is ever shelved or
	// soft-deleted, unshelve and restore always find the wrong state.
	switch name {
	case "unshelve", "restore", "shelve", "shelveOffload":
	default:
		return oserr.BadRequest("Action %q is not supported on this cloud.", name)
	}
	v, err := a.svc.Get(ctx, c, id)
	if err != nil {
		return err
	}
	switch name {
	case "unshelve":
		return oserr.Conflict("Cannot 'unshelve' instance %s while it is in vm_state %s; only shelved servers can be unshelved.", v.ID, v.VMState)
	case "restore":
		return oserr.Conflict("Cannot 'restore' instance %s while it is in vm_state %s; only soft-deleted servers can be restored (this cloud deletes at once).", v.ID, v.VMState)
	}
	return oserr.BadRequest("Shelving is not supported on this cloud yet; stop the server instead (openstack server stop).")
}

func (a *API) rebuild(w http.ResponseWriter, r *http.Request, arg json.RawMessage) error {
	var b map[string]json.RawMessage
	if err := json.Unmarshal(arg, &b); err != nil || b == nil {
		return oserr.BadRequest("Invalid input for action rebuild: expected an object with imageRef.")
	}
	var req svc.RebuildRequest
	str := func(k string) (*string, error) {
		raw, ok := b[k]
		if !ok {
			return nil, nil
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, oserr.BadRequest("Invalid input for field/attribute %s: expected a string.", k)
		}
		return s, nil
	}
	img, err := str("imageRef")
	if err != nil {
		return err
	}
	if img == nil {
		return oserr.BadRequest("Invalid input for field/attribute rebuild: 'imageRef' is a required property.")
	}
	req.ImageRef = *img
	if req.Name, err = str("name"); err != nil {
		return err
	}
	if _, ok := b["description"]; ok {
		if !at(r, 19) {
			return oserr.BadRequest("description needs microversion 2.19 or later.")
		}
		d, err := str("description")
		if err != nil {
			return err
		}
		req.Description = &d
	}
	if raw, ok := b["metadata"]; ok {
		if err := json.Unmarshal(raw, &req.Metadata); err != nil {
			return oserr.BadRequest("Invalid input for field/attribute metadata: expected an object of strings.")
		}
		if err := checkMetadata(req.Metadata); err != nil {
			return err
		}
	}
	// user_data (2.57) and key_name (2.54) may be given, and null clears them.
	for _, f := range []struct {
		name  string
		minor int
		dst   **string
	}{{"user_data", 57, &req.UserData}, {"key_name", 54, &req.KeyName}} {
		if _, ok := b[f.name]; !ok {
			continue
		}
		if !at(r, f.minor) {
			return oserr.BadRequest("%s in rebuild needs microversion 2.%d or later.", f.name, f.minor)
		}
		v, err := str(f.name)
		if err != nil {
			return err
		}
		if v == nil {
			v = new("")
		}
		*f.dst = v
	}
	if raw, ok := b["OS-DCF:diskConfig"]; ok {
		var d *string
		if err := json.Unmarshal(raw, &d); err != nil || d == nil {
			return oserr.BadRequest("Invalid input for field/attribute OS-DCF:diskConfig: expected AUTO or MANUAL.")
		}
		if req.DiskConfig, err = diskConfigField(d); err != nil {
			return err
		}
	}
	v, err := a.svc.Rebuild(r.Context(), auth.From(r.Context()), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	view := a.updateView(r, v)
	if at(r, 54) {
		view["key_name"] = nullable(v.KeyName)
	}
	if at(r, 57) {
		view["user_data"] = nullable(v.UserData)
	}
	view["adminPass"] = randomPassword()
	rest.WriteJSON(w, http.StatusAccepted, map[string]any{"server": view})
	return nil
}

// ---- instance actions

func (a *API) actionView(r *http.Request, act store.InstanceAction) map[string]any {
	m := map[string]any{"action": act.Action, "instance_uuid": act.ServerID, "message": nullable(act.Message),
		"project_id": act.ProjectID, "request_id": act.RequestID, "start_time": usageTS(&act.StartTime), "user_id": act.UserID}
	if at(r, 58) {
		m["updated_at"] = usageTS(&act.UpdatedAt)
	}
	return m
}

func (a *API) listActions(w http.ResponseWriter, r *http.Request) error {
	acts, err := a.svc.Actions(r.Context(), auth.From(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	items := make([]any, 0, len(acts))
	for _, act := range acts {
		items = append(items, a.actionView(r, act))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"instanceActions": items})
	return nil
}

func (a *API) showAction(w http.ResponseWriter, r *http.Request) error {
	c := auth.From(r.Context())
	act, err := a.svc.Action(r.Context(), c, r.PathValue("id"), r.PathValue("request_id"))
	if err != nil {
		return err
	}
	m := a.actionView(r, act.InstanceAction)
	events := make([]any, 0, len(act.Events))
	sort.SliceStable(act.Events, func(i, j int) bool { return act.Events[i].StartTime.Before(act.Events[j].StartTime) })
	for _, e := range act.Events {
		ev := map[string]any{"event": e.Event, "start_time": usageTS(&e.StartTime), "finish_time": usageTS(e.FinishTime),
			"result": nullable(e.Result)}
		if c.IsAdmin() || e.Result == "Error" {
			// Our "traceback" is the explanation, never a stack trace: owners see it too.
			ev["traceback"] = nullable(e.Traceback)
		}
		if at(r, 62) {
			ev["hostId"] = hostID(act.ProjectID, e.Host)
			if c.IsAdmin() {
				ev["host"] = e.Host
			}
		}
		events = append(events, ev)
	}
	m["events"] = events
	rest.WriteJSON(w, http.StatusOK, map[string]any{"instanceAction": m})
	return nil
}

// move serves resize, confirmResize, revertResize, migrate and os-migrateLive.
func (a *API) move(w http.ResponseWriter, r *http.Request, name string, arg json.RawMessage) error {
	c, id, ctx := auth.From(r.Context()), r.PathValue("id"), r.Context()
	var b struct {
		FlavorRef  any     `json:"flavorRef"`
		Host       *string `json:"host"`
		DiskConfig *string `json:"OS-DCF:diskConfig"`
	}
	if len(arg) > 0 && string(arg) != "null" {
		if err := json.Unmarshal(arg, &b); err != nil {
			return oserr.BadRequest("Invalid input for action %s: %v.", name, err)
		}
	}
	host := ""
	if b.Host != nil {
		host = *b.Host
	}
	var err error
	switch name {
	case "resize":
		ref := ""
		switch f := b.FlavorRef.(type) {
		case string:
			ref = f
		case float64:
			ref = jsonNum(f)
		default:
			return oserr.BadRequest("Invalid input for field/attribute resize: 'flavorRef' is a required property.")
		}
		dc, derr := diskConfigField(b.DiskConfig)
		if derr != nil {
			return derr
		}
		err = a.svc.Resize(ctx, c, id, ref, dc)
	case "confirmResize":
		if err = a.svc.ConfirmResize(ctx, c, id); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	case "revertResize":
		err = a.svc.RevertResize(ctx, c, id)
	case "migrate", "os-migrateLive":
		if !c.IsAdmin() {
			return oserr.Forbidden("Policy doesn't allow os_compute_api:os-migrate-server to be performed; it needs the admin role.")
		}
		if name == "migrate" {
			if host != "" && !at(r, 56) {
				return oserr.BadRequest("Choosing the host of a cold migration needs microversion 2.56 or later.")
			}
			err = a.svc.Migrate(ctx, c, id, host)
		} else {
			err = a.svc.LiveMigrate(ctx, c, id, host)
		}
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func jsonNum(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
