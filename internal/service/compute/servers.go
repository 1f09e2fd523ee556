package compute

import (
	"context"
	"errors"
	"fmt"
	"github.com/onestack/onestack/internal/fault"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/page"
	"github.com/onestack/onestack/internal/store"
)

// Networks says what a boot request asked for its NICs.
type Networks int

// Network requests. Until networking exists, "auto" gives a server no NIC
// (there is no network to attach) and explicit networks are refused.
const (
	NetworksUnset Networks = iota
	NetworksAuto
	NetworksNone
	NetworksList
)

// CreateRequest is a decoded POST /servers.
type CreateRequest struct {
	Name        string
	Description *string
	ImageRef    string
	FlavorRef   string
	Networks    Networks
	// NetworkRequests are the NICs asked for when Networks is NetworksList.
	NetworkRequests []NetworkRequest
	KeyName         string
	UserData        string // base64, as sent
	Metadata        map[string]string
	Zone            string // availability zone, possibly "zone:host"
	Host            string // admin-only target host (2.74)
	GroupID         string
	MinCount        int
	MaxCount        int
	Tags            []string
	ConfigDrive     bool
	AccessIPv4      string
	AccessIPv6      string
	ReservationID   string
	DiskConfig      string // AUTO or MANUAL; "" is MANUAL
	// BlockDevices is block_device_mapping_v2: the root volume of a boot
	// from volume.
	BlockDevices []BlockDevice
}

// MaxMetadata is Nova's default metadata_items quota.
const maxNameLen = 255

func checkServerName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > maxNameLen || !utf8.ValidString(name) {
		return oserr.BadRequest("Invalid input for field/attribute name: a server name is 1 to %d characters and not only spaces.", maxNameLen)
	}
	return nil
}

// visible loads a server the credentials may see: their project's, or any
// for admins. Others get 404, never 403, so ids do not leak.
func (s *Service) visible(ctx context.Context, tx *store.Tx, c *auth.Credentials, id string, deletedOK bool) (store.Server, error) {
	v, err := tx.GetServer(ctx, id)
	if err == nil && (v.Deleted && !deletedOK || !c.IsAdmin() && v.ProjectID != c.ProjectID()) {
		err = store.ErrNotFound
	}
	if err != nil {
		return v, notFound(err, "Instance", id)
	}
	return v, nil
}

// Get returns a server the credentials may see.
func (s *Service) Get(ctx context.Context, c *auth.Credentials, id string) (v store.Server, err error) {
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		v, err = s.visible(ctx, tx, c, id, false)
		return err
	})
	return v, err
}

// Create validates a boot request, checks quota and records the servers in
// one transaction, then wakes the scheduler. It returns the servers made.
func (s *Service) Create(ctx context.Context, c *auth.Credentials, req CreateRequest) ([]store.Server, error) {
	if err := checkServerName(req.Name); err != nil {
		return nil, err
	}
	if req.MinCount < 1 {
		req.MinCount = 1
	}
	if req.MaxCount < req.MinCount {
		req.MaxCount = req.MinCount
	}
	if req.Networks == NetworksList && s.networking == nil {
		return nil, oserr.BadRequest("This cloud runs no networking service, so servers cannot be attached to networks; boot with \"networks\": \"none\" (openstack server create --nic none).")
	}
	if req.MaxCount > 1 {
		for _, n := range req.NetworkRequests {
			if n.PortID != "" {
				return nil, oserr.BadRequest("Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.")
			}
		}
	}
	if len(req.Metadata) > 128 {
		return nil, oserr.Forbidden("Quota exceeded for metadata_items: %d items requested, the limit is 128.", len(req.Metadata))
	}
	bootImage, err := s.checkBlockDevices(req)
	if err != nil {
		return nil, err
	}
	if bootImage == "" && len(req.BlockDevices) == 0 {
		return nil, oserr.BadRequest("Missing imageRef attribute: give the image to boot from, or a root volume in block_device_mapping_v2.")
	}
	img, err := s.bootImage(ctx, c, bootImage)
	if err != nil {
		if oserr.Is(err, 404) {
			return nil, oserr.BadRequest("Image %s could not be found; check 'openstack image list'.", req.ImageRef)
		}
		return nil, err
	}
	if img.Status != "active" {
		return nil, oserr.BadRequest("Image %s is not active (status %s); upload its data first or choose another image.", img.ID, img.Status)
	}
	if len(req.BlockDevices) > 0 {
		img.MinDisk, img.Size = 0, 0 // the root disk is the volume, not the flavor's
	}
	zone, host := req.Zone, req.Host
	if z, h, ok := strings.Cut(zone, ":"); ok {
		zone, host = z, strings.Split(h, ":")[0]
	}
	if host != "" && !c.IsAdmin() {
		return nil, oserr.Forbidden("Only administrators may choose a host; drop the host from the availability zone.")
	}
	boot, err := s.prepareBootVolume(ctx, c, req)
	if err != nil {
		return nil, err
	}
	var made []store.Server
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		made = nil
		f, err := s.flavorFor(ctx, tx, c, req.FlavorRef)
		if err != nil {
			return err
		}
		if img.MinRAM > f.RAM {
			return oserr.BadRequest("Flavor's memory is too small for requested image: image %s needs %d MB, flavor %s has %d MB.", img.ID, img.MinRAM, f.Name, f.RAM)
		}
		if f.Disk > 0 && img.MinDisk > f.Disk {
			return oserr.BadRequest("Flavor's disk is too small for requested image: image %s needs %d GB, flavor %s has %d GB.", img.ID, img.MinDisk, f.Name, f.Disk)
		}
		if f.Disk > 0 && img.Size > int64(f.Disk)<<30 {
			return oserr.BadRequest("Flavor's disk is too small for requested image: image %s is %d bytes, flavor %s has %d GB.", img.ID, img.Size, f.Name, f.Disk)
		}
		var keyData string
		if req.KeyName != "" {
			kp, err := tx.GetKeypair(ctx, c.User.ID, req.KeyName)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Invalid key_name provided: keypair %s does not exist for your user; see 'openstack keypair list'.", req.KeyName)
			} else if err != nil {
				return err
			}
			keyData = kp.PublicKey
		}
		if zone != "" {
			if err := s.checkZone(ctx, tx, zone); err != nil {
				return err
			}
		}
		if host != "" {
			if _, err := tx.GetHostByName(ctx, host); errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("Compute host %s could not be found; see 'openstack compute service list'.", host)
			} else if err != nil {
				return err
			}
		}
		if req.GroupID != "" {
			g, err := tx.GetServerGroup(ctx, req.GroupID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && g.ProjectID != c.ProjectID() && !c.IsAdmin()) {
				return oserr.BadRequest("Invalid server group %s: it does not exist in your project.", req.GroupID)
			} else if err != nil {
				return err
			}
			members, err := tx.GroupMembers(ctx, g.ID)
			if err != nil {
				return err
			}
			q, err := s.limitsTx(ctx, tx, c.ProjectID())
			if err != nil {
				return err
			}
			if lim := q["server_group_members"]; lim >= 0 && int64(len(members)+req.MaxCount) > lim {
				return oserr.Forbidden("Quota exceeded for server_group_members: group %s has %d of %d members, %d requested.", g.ID, len(members), lim, req.MaxCount)
			}
		}
		count := req.MaxCount
		if err := s.checkServerQuota(ctx, tx, c.ProjectID(), c.User.ID, count, f); err != nil {
			if count == req.MinCount {
				return err
			}
			count = req.MinCount
			if err := s.checkServerQuota(ctx, tx, c.ProjectID(), c.User.ID, count, f); err != nil {
				return err
			}
		}
		resID := req.ReservationID
		if resID == "" {
			resID = "r-" + newUUID()[:8]
		}
		now := s.Now()
		for i := 0; i < count; i++ {
			name := req.Name
			if count > 1 {
				name = fmt.Sprintf("%s-%d", req.Name, i+1)
			}
			v := store.Server{
				ID: newUUID(), ProjectID: c.ProjectID(), UserID: c.User.ID, Name: name, Description: req.Description,
				Hostname: hostname(name), ImageID: img.ID, Flavor: f, KeyName: req.KeyName, KeyData: keyData,
				UserData: req.UserData, ConfigDrive: req.ConfigDrive, Metadata: req.Metadata, Tags: req.Tags,
				RequestedZone: zone, RequestedHost: host, GroupID: req.GroupID, ReservationID: resID, LaunchIndex: i,
				VMState: VMBuilding, TaskState: TaskScheduling, DesiredPower: "running",
				AccessIPv4: req.AccessIPv4, AccessIPv6: req.AccessIPv6, DiskConfig: req.DiskConfig, CreatedAt: now, UpdatedAt: now,
			}
			if err := s.attachTx(ctx, tx, c, boot); err != nil {
				return err
			}
			boot.apply(&v)
			if s.networking != nil && req.Networks != NetworksNone {
				nics, err := s.networking.ServerPortsTx(ctx, tx, c, v.ID, s.zoneOrDefault(zone), req.NetworkRequests, req.Networks != NetworksList)
				if err != nil {
					return err
				}
				if len(nics) > 0 {
					v.NICs = toJSON(nics)
				}
			}
			if err := tx.CreateServer(ctx, &v); err != nil {
				return err
			}
			if _, err := s.startAction(ctx, tx, c, v.ID, "create"); err != nil {
				return err
			}
			made = append(made, v)
		}
		return nil
	})
	if err != nil {
		s.undoBootVolume(ctx, boot)
		return nil, err
	}
	s.doneBootVolume(boot)
	fault.Point(fault.CreateCommitted)
	s.Hub.WakeScheduler()
	return made, nil
}

var notHostname = regexp.MustCompile(`[^a-z0-9-]+`)

// hostname derives the guest hostname from a server name, as Nova does.
func hostname(name string) string {
	h := strings.Trim(notHostname.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-")
	}
	if h == "" {
		h = "server"
	}
	return h
}

// flavorFor resolves a flavorRef (id, or a link ending in the id) the
// project may use.
func (s *Service) flavorFor(ctx context.Context, tx *store.Tx, c *auth.Credentials, ref string) (store.Flavor, error) {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	f, err := tx.GetFlavor(ctx, ref)
	if err == nil && !f.IsPublic && !c.IsAdmin() {
		projects, perr := tx.FlavorAccess(ctx, f.ID)
		if perr != nil {
			return f, perr
		}
		if !slices.Contains(projects, c.ProjectID()) {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return f, oserr.BadRequest("Flavor %s could not be found; see 'openstack flavor list'.", ref)
	}
	if err == nil && f.Disabled {
		return f, oserr.BadRequest("Flavor %s is disabled; choose another.", ref)
	}
	return f, err
}

// checkZone accepts the default zone and any aggregate's zone.
func (s *Service) checkZone(ctx context.Context, tx *store.Tx, zone string) error {
	if zone == s.cfg.DefaultZone {
		return nil
	}
	aggs, err := tx.ListAggregates(ctx)
	if err != nil {
		return err
	}
	for _, a := range aggs {
		if a.Zone == zone {
			return nil
		}
	}
	return oserr.BadRequest("The requested availability zone %q is not available; see 'openstack availability zone list'.", zone)
}

// ListRequest is a decoded GET /servers.
type ListRequest struct {
	Filter      ServerFilter
	AllProjects bool
	NameRegex   string // Nova's name filter: a regular expression
	// IPRegex and IP6Regex are Nova's ip and ip6 filters: regular
	// expressions matched from the start of a fixed IPv4 (IPv6) address of
	// the server.
	IPRegex, IP6Regex string
	// Tags are Nova's tags, tags-any, not-tags and not-tags-any filters.
	Tags page.Tags
}

// List lists servers the credentials may see. A name filter that is a real
// regular expression, the ip filters and the tag filters are applied here,
// reading further pages until the page is full, so a page is never short
// while more matching servers exist.
func (s *Service) List(ctx context.Context, c *auth.Credentials, req ListRequest) ([]store.Server, error) {
	f := req.Filter.query()
	if !c.IsAdmin() || !req.AllProjects {
		if !c.IsAdmin() || f.ProjectID == "" {
			f.ProjectID = c.ProjectID()
		}
	}
	var re *regexp.Regexp
	if req.NameRegex != "" {
		if like, ok := likePattern(req.NameRegex); ok {
			f.Name = like
		} else {
			var err error
			if re, err = regexp.Compile(req.NameRegex); err != nil {
				return nil, oserr.BadRequest("Invalid name filter %q: %v.", req.NameRegex, err)
			}
		}
	}
	ipMatch, err := ipFilter(req.IPRegex, req.IP6Regex)
	if err != nil {
		return nil, err
	}
	keep := func(v store.Server) bool {
		return (re == nil || re.MatchString(v.Name)) && (ipMatch == nil || ipMatch(v)) && req.Tags.Match(v.Tags)
	}
	filtered := re != nil || ipMatch != nil || !req.Tags.IsZero()
	var out []store.Server
	err = s.db.Read(ctx, func(tx *store.Tx) error {
		limit := f.Page.Limit
		for {
			page, err := tx.ListServers(ctx, f)
			if errors.Is(err, store.ErrNotFound) {
				return oserr.BadRequest("marker [%s] not found", f.Page.Marker)
			}
			if err != nil {
				return err
			}
			for _, v := range page {
				if keep(v) {
					out = append(out, v)
				}
			}
			if !filtered || len(page) < f.Page.Limit || f.Page.Limit == 0 || len(out) >= limit {
				break
			}
			f.Page.Marker = page[len(page)-1].ID
		}
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return nil
	})
	return out, err
}

// ipFilter is Nova's ip/ip6 filter over a server's fixed addresses (its
// NICs): each expression must match from the start of an address of its
// IP version; nil when neither is given.
func ipFilter(ip4, ip6 string) (func(store.Server) bool, error) {
	if ip4 == "" && ip6 == "" {
		return nil, nil
	}
	compile := func(name, expr string) (*regexp.Regexp, error) {
		if expr == "" {
			return nil, nil
		}
		re, err := regexp.Compile("^(?:" + expr + ")")
		if err != nil {
			return nil, oserr.BadRequest("Invalid %s filter %q: %v.", name, expr, err)
		}
		return re, nil
	}
	re4, err := compile("ip", ip4)
	if err != nil {
		return nil, err
	}
	re6, err := compile("ip6", ip6)
	if err != nil {
		return nil, err
	}
	return func(v store.Server) bool {
		for _, nic := range NICs(v) {
			for _, a := range nic.IPs {
				is6 := strings.Contains(a.IP, ":")
				if (!is6 && re4 != nil && re4.MatchString(a.IP)) || (is6 && re6 != nil && re6.MatchString(a.IP)) {
					return true
				}
			}
		}
		return false
	}, nil
}

// ServerUpdate is a decoded PUT /servers/{id}.
type ServerUpdate struct {
	Name        *string
	Description **string
	AccessIPv4  *string
	AccessIPv6  *string
	DiskConfig  *string
}

// Update renames or re-describes a server.
func (s *Service) Update(ctx context.Context, c *auth.Credentials, id string, u ServerUpdate) (v store.Server, err error) {
	if u.Name != nil {
		if err := checkServerName(*u.Name); err != nil {
			return v, err
		}
	}
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if v, err = s.visible(ctx, tx, c, id, false); err != nil {
			return err
		}
		if u.Name != nil {
			v.Name = *u.Name
		}
		if u.Description != nil {
			v.Description = *u.Description
		}
		if u.AccessIPv4 != nil {
			v.AccessIPv4 = *u.AccessIPv4
		}
		if u.AccessIPv6 != nil {
			v.AccessIPv6 = *u.AccessIPv6
		}
		if u.DiskConfig != nil {
			v.DiskConfig = *u.DiskConfig
		}
		v.UpdatedAt = s.Now()
		return tx.UpdateServer(ctx, &v, 0)
	})
	return v, err
}

// SetMetadata replaces (replace=true) or merges server metadata, or, with
// a nil map and a key, deletes one item.
func (s *Service) SetMetadata(ctx context.Context, c *auth.Credentials, id string, meta map[string]string, replace bool, deleteKey string) (v store.Server, err error) {
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if v, err = s.visible(ctx, tx, c, id, false); err != nil {
			return err
		}
		if err := s.checkLocked(c, v); err != nil {
			return err
		}
		switch {
		case deleteKey != "":
			if _, ok := v.Metadata[deleteKey]; !ok {
				return oserr.NotFound("Metadata item %s was not found on server %s.", deleteKey, id)
			}
			delete(v.Metadata, deleteKey)
		case replace:
			v.Metadata = meta
		default:
			for k, val := range meta {
				v.Metadata[k] = val
			}
		}
		if len(v.Metadata) > 128 {
			return oserr.Forbidden("Quota exceeded for metadata_items: %d items, the limit is 128.", len(v.Metadata))
		}
		v.UpdatedAt = s.Now()
		return tx.UpdateServer(ctx, &v, 0)
	})
	return v, err
}

// SetTags replaces the tags, adds one (add) or deletes one (del).
func (s *Service) SetTags(ctx context.Context, c *auth.Credentials, id string, tags []string, add, del string) (v store.Server, err error) {
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if v, err = s.visible(ctx, tx, c, id, false); err != nil {
			return err
		}
		switch {
		case add != "":
			if !slices.Contains(v.Tags, add) {
				v.Tags = append(v.Tags, add)
			}
		case del != "":
			i := slices.Index(v.Tags, del)
			if i < 0 {
				return oserr.NotFound("Tag %s was not found on server %s.", del, id)
			}
			v.Tags = slices.Delete(v.Tags, i, i+1)
		default:
			v.Tags = tags
		}
		if len(v.Tags) > 50 {
			return oserr.BadRequest("A server has at most 50 tags.")
		}
		v.UpdatedAt = s.Now()
		return tx.UpdateServer(ctx, &v, 0)
	})
	return v, err
}

func (s *Service) checkLocked(c *auth.Credentials, v store.Server) error {
	if v.Locked && !c.IsAdmin() {
		return oserr.Conflict("Instance %s is locked; unlock it first ('openstack server unlock').", v.ID)
	}
	return nil
}

// transition runs a server action: it checks the lock, that no task is in
// progress and that the vm_state allows it, applies fn, records the
// instance action and wakes the agent.
func (s *Service) transition(ctx context.Context, c *auth.Credentials, id, action string, allowed []string, fn func(tx *store.Tx, v *store.Server) error) (v store.Server, err error) {
	err = s.db.Write(ctx, func(tx *store.Tx) error {
		if v, err = s.visible(ctx, tx, c, id, false); err != nil {
			return err
		}
		if err := s.checkLocked(c, v); err != nil {
			return err
		}
		if v.TaskState != "" {
			return oserr.Conflict("Cannot '%s' instance %s while it is in task_state %s; wait for the task to finish.", action, id, v.TaskState)
		}
		if allowed != nil && !slices.Contains(allowed, v.VMState) {
			return oserr.Conflict("Cannot '%s' instance %s while it is in vm_state %s.", action, id, v.VMState)
		}
		if err := fn(tx, &v); err != nil {
			return err
		}
		v.UpdatedAt = s.Now()
		if err := tx.UpdateServer(ctx, &v, 0); err != nil {
			return err
		}
		_, err := s.startAction(ctx, tx, c, v.ID, action)
		return err
	})
	if err == nil {
		s.Hub.WakeHost(v.Host)
		s.Hub.WakeHost(v.SourceHost)
	}
	return v, err
}

// task returns a transition body that sets a task and desired power.
func task(t, power string) func(*store.Tx, *store.Server) error {
	return func(_ *store.Tx, v *store.Server) error {
		v.TaskState = t
		if power != "" {
			v.DesiredPower = power
		}
		return nil
	}
}

// Stop powers a server off.
func (s *Service) Stop(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "stop", []string{VMActive, VMError}, task(TaskPoweringOff, "shutdown"))
	return err
}

// Start powers a stopped server on.
func (s *Service) Start(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "start", []string{VMStopped}, task(TaskPoweringOn, "running"))
	return err
}

// Reboot restarts a server, softly (ACPI) or hard.
func (s *Service) Reboot(ctx context.Context, c *auth.Credentials, id string, hard bool) error {
	t, allowed := TaskRebooting, []string{VMActive}
	if hard {
		t, allowed = TaskRebootingHard, []string{VMActive, VMStopped, VMPaused, VMSuspended, VMError}
	}
	_, err := s.transition(ctx, c, id, "reboot", allowed, task(t, "running"))
	return err
}

// Pause freezes a running server in memory.
func (s *Service) Pause(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "pause", []string{VMActive}, task(TaskPausing, "paused"))
	return err
}

// Unpause resumes a paused server.
func (s *Service) Unpause(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "unpause", []string{VMPaused}, task(TaskUnpausing, "running"))
	return err
}

// Suspend saves a running server's state and stops it.
func (s *Service) Suspend(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "suspend", []string{VMActive}, task(TaskSuspending, "suspended"))
	return err
}

// Resume restarts a suspended server.
func (s *Service) Resume(ctx context.Context, c *auth.Credentials, id string) error {
	_, err := s.transition(ctx, c, id, "resume", []string{VMSuspended}, task(TaskResuming, "running"))
	return err
}

// Lock stops non-admins from acting on a server; it is allowed in any
// state and during a task, as in Nova.
func (s *Service) Lock(ctx context.Context, c *auth.Credentials, id, reason string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := s.visible(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		if err := s.checkLocked(c, v); err != nil {
			return err
		}
		v.Locked, v.LockedReason, v.LockedBy = true, reason, "owner"
		if c.IsAdmin() && c.ProjectID() != v.ProjectID {
			v.LockedBy = "admin"
		}
		v.UpdatedAt = s.Now()
		if err := tx.UpdateServer(ctx, &v, 0); err != nil {
			return err
		}
		_, err = s.startAction(ctx, tx, c, v.ID, "lock")
		return err
	})
}

// Unlock lets non-admins act on a server again; only an admin may undo an admin's lock.
func (s *Service) Unlock(ctx context.Context, c *auth.Credentials, id string) error {
	return s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := s.visible(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		if v.LockedBy == "admin" && !c.IsAdmin() {
			return oserr.Forbidden("Instance %s was locked by an administrator; ask one to unlock it.", id)
		}
		v.Locked, v.LockedReason, v.LockedBy = false, "", ""
		v.UpdatedAt = s.Now()
		if err := tx.UpdateServer(ctx, &v, 0); err != nil {
			return err
		}
		_, err = s.startAction(ctx, tx, c, v.ID, "unlock")
		return err
	})
}

// RebuildRequest is a decoded rebuild action.
type RebuildRequest struct {
	ImageRef    string
	Name        *string
	Description **string
	Metadata    map[string]string
	UserData    *string
	KeyName     *string
	DiskConfig  string // "" keeps the server's
}

// Rebuild reinstalls a server from an image, keeping its id and host.
func (s *Service) Rebuild(ctx context.Context, c *auth.Credentials, id string, r RebuildRequest) (store.Server, error) {
	img, err := s.images.Boot(ctx, c, r.ImageRef)
	if err != nil {
		if oserr.Is(err, 404) {
			return store.Server{}, oserr.BadRequest("Image %s could not be found.", r.ImageRef)
		}
		return store.Server{}, err
	}
	if img.Status != "active" {
		return store.Server{}, oserr.BadRequest("Image %s is not active (status %s).", img.ID, img.Status)
	}
	if r.Name != nil {
		if err := checkServerName(*r.Name); err != nil {
			return store.Server{}, err
		}
	}
	return s.transition(ctx, c, id, "rebuild", []string{VMActive, VMStopped, VMError}, func(tx *store.Tx, v *store.Server) error {
		if img.MinRAM > v.Flavor.RAM || (v.Flavor.Disk > 0 && img.MinDisk > v.Flavor.Disk) {
			return oserr.BadRequest("Image %s needs %d MB RAM and %d GB disk; the server's flavor has %d MB and %d GB.", img.ID, img.MinRAM, img.MinDisk, v.Flavor.RAM, v.Flavor.Disk)
		}
		// A stopped server is rebuilt stopped, as Nova does; one in ERROR comes back running.
		v.ImageID, v.TaskState, v.Fault = img.ID, TaskRebuilding, nil
		if v.VMState == VMError {
			v.VMState, v.DesiredPower = VMActive, "running"
		}
		if r.Name != nil {
			v.Name = *r.Name
		}
		if r.Description != nil {
			v.Description = *r.Description
		}
		if r.Metadata != nil {
			v.Metadata = r.Metadata
		}
		if r.UserData != nil {
			v.UserData = *r.UserData
		}
		if r.DiskConfig != "" {
			v.DiskConfig = r.DiskConfig
		}
		if r.KeyName != nil {
			v.KeyName, v.KeyData = "", ""
			if *r.KeyName != "" {
				kp, err := tx.GetKeypair(ctx, c.User.ID, *r.KeyName)
				if err != nil {
					return oserr.BadRequest("Invalid key_name provided: keypair %s does not exist for your user.", *r.KeyName)
				}
				v.KeyName, v.KeyData = kp.Name, kp.PublicKey
			}
		}
		return nil
	})
}

// ResetState is the admin's os-resetState: it sets the vm_state to active
// or error and clears the task, without touching the guest (the host's
// agent converges the guest to the desired power as usual).
func (s *Service) ResetState(ctx context.Context, c *auth.Credentials, id, state string) error {
	if err := requireAdmin(c, "os_compute_api:os-admin-actions:reset_state"); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := s.visible(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		v.VMState, v.TaskState, v.TaskArg, v.UpdatedAt = state, "", "", s.Now()
		if state == VMActive {
			v.Fault = nil
		}
		if err := tx.UpdateServer(ctx, &v, 0); err != nil {
			return err
		}
		_, err = s.startAction(ctx, tx, c, v.ID, "resetState")
		return err
	})
}

// CreateBackup snapshots a server into a backup image (image_type backup,
// backup_type kind) and keeps the newest rotation backups of that kind,
// deleting older ones. Rotation happens when the backup is requested, not
// when its data lands, so a failing backup can leave one fewer.
func (s *Service) CreateBackup(ctx context.Context, c *auth.Credentials, id, name, kind string, rotation int, meta map[string]string) (string, error) {
	props := map[string]string{}
	for k, v := range meta {
		props[k] = v
	}
	props["image_type"], props["backup_type"] = "backup", kind
	imageID, err := s.CreateImage(ctx, c, id, name, props)
	if err != nil {
		return "", err
	}
	olds, err := s.images.List(ctx, c, ImageFilter{Limit: 1000,
		Properties: map[string]string{"instance_uuid": id, "image_type": "backup", "backup_type": kind}})
	if err != nil {
		return imageID, err
	}
	// olds are newest first; the new backup counts as one kept.
	kept := 1
	for _, im := range olds {
		if im.ID == imageID {
			continue
		}
		if kept < rotation {
			kept++
			continue
		}
		if err := s.images.Delete(ctx, c, im.ID); err != nil && !oserr.Is(err, 404) {
			return imageID, fmt.Errorf("rotate backups of %s: delete %s: %w", id, im.ID, err)
		}
	}
	return imageID, nil
}

// CreateImage snapshots a server into a new image and returns its id.
func (s *Service) CreateImage(ctx context.Context, c *auth.Credentials, id, name string, meta map[string]string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", oserr.BadRequest("createImage needs a name for the image.")
	}
	v, err := s.Get(ctx, c, id)
	if err != nil {
		return "", err
	}
	props := map[string]string{"instance_uuid": v.ID, "image_type": "snapshot", "base_image_ref": v.ImageID}
	for k, val := range meta {
		props[k] = val
	}
	imageID, err := s.images.Snapshot(ctx, c, name, props)
	if err != nil {
		return "", err
	}
	_, err = s.transition(ctx, c, id, "createImage", []string{VMActive, VMStopped, VMPaused, VMSuspended}, func(_ *store.Tx, v *store.Server) error {
		v.TaskState, v.TaskArg = TaskImageSnapshot, imageID
		return nil
	})
	if err != nil {
		// The server refused the snapshot (locked, busy, wrong state): leave
		// no queued image behind.
		if derr := s.images.Delete(ctx, c, imageID); derr != nil {
			s.log.Warn("could not remove the image of a refused snapshot", "image_id", imageID, "server_id", id, "error", derr)
		}
		return "", err
	}
	return imageID, nil
}

// Delete deletes a server: at once when it never reached a host or its host
// is down (Nova's "local delete"), else through its host's agent.
func (s *Service) Delete(ctx context.Context, c *auth.Credentials, id string, force bool) error {
	var host string
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		v, err := s.visible(ctx, tx, c, id, false)
		if err != nil {
			return err
		}
		if err := s.checkLocked(c, v); err != nil {
			return err
		}
		if v.TaskState == TaskDeleting && !force {
			return nil // deleting twice is not an error
		}
		if _, err := s.startAction(ctx, tx, c, v.ID, "delete"); err != nil {
			return err
		}
		up := false
		if v.Host != "" {
			h, err := tx.GetHostByName(ctx, v.Host)
			if err == nil {
				up = s.hostUp(h)
			}
		}
		if !up {
			return s.finishDelete(ctx, tx, &v, "")
		}
		v.TaskState, v.TaskArg, v.DesiredPower, v.UpdatedAt = TaskDeleting, "", "absent", s.Now()
		host = v.Host
		return tx.UpdateServer(ctx, &v, 0)
	})
	if err == nil {
		if host != "" {
			fault.Point(fault.DeleteCommitted)
		}
		s.Hub.WakeHost(host)
	}
	return err
}

// finishDelete marks the server deleted and releases what it held.
func (s *Service) finishDelete(ctx context.Context, tx *store.Tx, v *store.Server, host string) error {
	now := s.Now()
	if err := s.placement.ReleaseTx(ctx, tx, v.ID); err != nil {
		return err
	}
	if v.Migration != nil && v.Migration.MigrationConsumer != "" {
		if err := s.placement.ReleaseTx(ctx, tx, v.Migration.MigrationConsumer); err != nil {
			return err
		}
	}
	if s.networking != nil && v.NICs != "" {
		if err := s.networking.ReleaseServerPortsTx(ctx, tx, v.ID); err != nil {
			return fmt.Errorf("release the ports of server %s: %w", v.ID, err)
		}
	}
	if err := s.releaseVolumesTx(ctx, tx, v); err != nil {
		return fmt.Errorf("release the volumes of server %s: %w", v.ID, err)
	}
	v.Deleted, v.DeletedAt, v.TerminatedAt = true, &now, &now
	v.VMState, v.TaskState, v.TaskArg, v.PowerState, v.UpdatedAt = VMDeleted, "", "", PowerNoState, now
	v.Migration, v.SourceHost = nil, ""
	if err := tx.UpdateServer(ctx, v, 0); err != nil {
		return err
	}
	return s.Event(ctx, tx, v.ID, "compute_terminate_instance", host, "Success", "", now)
}

// Fail puts a server in ERROR with a fault naming the component, the cause
// and the remedy, and records the failed event.
func (s *Service) Fail(ctx context.Context, tx *store.Tx, v *store.Server, code int, event, host, message string) error {
	now := s.Now()
	v.VMState, v.TaskState, v.TaskArg, v.UpdatedAt = VMError, "", "", now
	v.Fault = &store.Fault{Code: code, Message: message, Details: event + " on " + orDash(host), Created: now}
	if err := tx.UpdateServer(ctx, v, 0); err != nil {
		return err
	}
	return s.Event(ctx, tx, v.ID, event, host, "Error", message, now)
}

func orDash(s string) string {
	if s == "" {
		return "the control plane"
	}
	return s
}

// ConsoleSource reads a guest's console log on its host.
type ConsoleSource func(ctx context.Context, host, serverID string) (string, error)

// SetConsoleSource installs where console logs come from.
func (s *Service) SetConsoleSource(src ConsoleSource) { s.consoles = src }

// ConsoleOutput returns the last lines of a server's console log.
func (s *Service) ConsoleOutput(ctx context.Context, c *auth.Credentials, id string, lines int) (string, error) {
	v, err := s.Get(ctx, c, id)
	if err != nil {
		return "", err
	}
	if v.VMState == VMBuilding || v.Host == "" {
		return "", oserr.Conflict("Cannot 'get console output' of instance %s while it is in vm_state %s.", id, v.VMState)
	}
	if s.consoles == nil {
		return "", oserr.NotImplemented("Console logs are not available from host %s.", v.Host)
	}
	out, err := s.consoles(ctx, v.Host, v.ID)
	if err != nil {
		return "", oserr.Conflict("The console log of instance %s cannot be read on host %s: %v.", id, v.Host, err)
	}
	if lines > 0 {
		all := strings.SplitAfter(out, "\n")
		if all[len(all)-1] == "" {
			all = all[:len(all)-1]
		}
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		out = strings.Join(all, "")
	}
	return out, nil
}
