package image

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/oserr"
)

// Visibilities of an image.
const (
	VisibilityPublic    = "public"
	VisibilityPrivate   = "private"
	VisibilityShared    = "shared"
	VisibilityCommunity = "community"
)

// Visibilities lists every visibility, as the image schema does.
var Visibilities = []string{VisibilityCommunity, VisibilityPublic, VisibilityPrivate, VisibilityShared}

// Statuses lists every image status, as the image schema does.
var Statuses = []string{"queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"}

// DiskFormats and ContainerFormats are the formats Glance accepts by default.
var (
	DiskFormats      = []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
	ContainerFormats = []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
)

// Member statuses.
const (
	MemberPending  = "pending"
	MemberAccepted = "accepted"
	MemberRejected = "rejected"
)

// MemberStatuses lists every member status.
var MemberStatuses = []string{MemberPending, MemberAccepted, MemberRejected}

// ImportMethods are the interoperable import methods this cloud runs.
var ImportMethods = []string{"glance-direct"}

// ReadOnly are the attributes a client may never write.
var ReadOnly = []string{"created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value",
	"size", "virtual_size", "direct_url", "self", "file", "schema", "id", "stores"}

// Reserved are property names Glance keeps for itself; the os_glance_
// prefix is reserved too.
var Reserved = []string{"location", "deleted", "deleted_at"}

// ReservedPrefix starts property names only Glance may write.
const ReservedPrefix = "os_glance_"

// Core are the writable attributes stored as columns, not as properties.
var Core = []string{"name", "visibility", "protected", "os_hidden", "min_ram", "min_disk",
	"disk_format", "container_format", "owner", "tags"}

// uuidPattern is the form of image ids (and of kernel_id and ramdisk_id).
var uuidPattern = regexp.MustCompile(`^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$`)

// ValidID reports whether id has the form of an image id.
func ValidID(id string) bool { return uuidPattern.MatchString(id) }

// CustomProperty is a property the image schema describes beyond the core
// attributes (Glance's schema-image.json); values are still strings.
type CustomProperty struct {
	Name, Description string
	Nullable          bool     // JSON null is accepted (and means "not set")
	UUID              bool     // the value must be a UUID
	Enum              []string // nil: any string
}

// CustomProperties are the properties of the default schema-image.json.
var CustomProperties = []CustomProperty{
	{Name: "kernel_id", Nullable: true, UUID: true,
		Description: "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."},
	{Name: "ramdisk_id", Nullable: true, UUID: true,
		Description: "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."},
	{Name: "instance_uuid", Description: "Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)"},
	{Name: "architecture", Description: "Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"},
	{Name: "os_distro", Description: "Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"},
	{Name: "os_version", Description: "Operating system version as specified by the distributor."},
	{Name: "description", Description: "A human-readable string describing this image."},
	{Name: "cinder_encryption_key_id", Description: "Identifier in the OpenStack Key Management Service for the encryption key for the Block Storage Service to use when mounting a volume created from this image"},
	{Name: "cinder_encryption_key_deletion_policy", Enum: []string{"on_image_deletion", "do_not_delete"},
		Description: "States the condition under which the Image Service will delete the object associated with the 'cinder_encryption_key_id' image property.  If this property is missing, the Image Service will take no action"},
}

func customProperty(name string) *CustomProperty {
	for i := range CustomProperties {
		if CustomProperties[i].Name == name {
			return &CustomProperties[i]
		}
	}
	return nil
}

// maxInt is the largest min_ram or min_disk Glance stores.
const maxInt = math.MaxInt32

// checkKey refuses attribute names a client may not write: 403 as Glance.
func checkKey(key string) error {
	switch {
	case slices.Contains(ReadOnly, key):
		return oserr.Forbidden("Attribute '%s' is read-only; remove it from the request.", key)
	case key == "locations":
		return oserr.Forbidden("It's not allowed to set locations if locations are invisible: this cloud stores image data itself; upload it with PUT /v2/images/{id}/file.")
	case slices.Contains(Reserved, key) || strings.HasPrefix(key, ReservedPrefix):
		return oserr.Forbidden("Attribute '%s' is reserved; use another name (the %s prefix belongs to the image service).", key, ReservedPrefix)
	}
	return nil
}

func badValue(key string, v any, want string) error {
	return oserr.BadRequest("Invalid value %s for '%s': %s.", jsonText(v), key, want)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		if err == nil {
			return string(b[:77]) + "..."
		}
		return fmt.Sprint(v)
	}
	return string(b)
}

// str validates a string attribute (nullable: JSON null allowed, as nil).
func str(key string, v any, nullable bool, max int) (*string, error) {
	if v == nil {
		if nullable {
			return nil, nil
		}
		return nil, badValue(key, v, "it must be a string, not null")
	}
	s, ok := v.(string)
	if !ok {
		return nil, badValue(key, v, "it must be a string")
	}
	if !utf8.ValidString(s) {
		return nil, badValue(key, v, "it must be valid UTF-8")
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		return nil, oserr.BadRequest("Invalid value for '%s': it is %d characters long, the limit is %d; shorten it.", key, utf8.RuneCountInString(s), max)
	}
	return &s, nil
}

func enum(key string, v any, nullable bool, allowed []string) (*string, error) {
	s, err := str(key, v, nullable, 0)
	if err != nil || s == nil {
		return s, err
	}
	if !slices.Contains(allowed, *s) {
		return nil, badValue(key, v, "use one of "+strings.Join(allowed, ", "))
	}
	return s, nil
}

func boolean(key string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, badValue(key, v, "it must be a JSON boolean (true or false)")
	}
	return b, nil
}

// integer validates min_ram and min_disk: whole, not negative, not huge.
func integer(key string, v any) (int64, error) {
	var n int64
	switch x := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil {
			return 0, badValue(key, v, "it must be a whole number")
		}
		n = i
	case int64:
		n = x
	case int:
		n = int64(x)
	default:
		return 0, badValue(key, v, "it must be a whole number")
	}
	if n < 0 {
		return 0, oserr.BadRequest("Invalid value '%d' for parameter '%s': Cannot be a negative value.", n, key)
	}
	if n > maxInt {
		return 0, oserr.BadRequest("Invalid value '%d' for parameter '%s': it must be at most %d.", n, key, maxInt)
	}
	return n, nil
}

// tags validates a tag list and drops duplicates, keeping the first.
func tagList(key string, v any, limit int) ([]string, error) {
	raw, ok := v.([]any)
	if !ok {
		return nil, badValue(key, v, "it must be an array of strings")
	}
	out := make([]string, 0, len(raw))
	for _, e := range raw {
		t, err := str("tags", e, false, 255)
		if err != nil {
			return nil, err
		}
		if err := checkTag(*t); err != nil {
			return nil, err
		}
		if !slices.Contains(out, *t) {
			out = append(out, *t)
		}
	}
	if limit >= 0 && len(out) > limit {
		return nil, tooManyTags(len(out), limit)
	}
	return out, nil
}

func checkTag(t string) error {
	if !utf8.ValidString(t) {
		return oserr.BadRequest("Invalid tag: it must be valid UTF-8.")
	}
	if utf8.RuneCountInString(t) > 255 {
		return oserr.BadRequest("Invalid tag: it is %d characters long, the limit is 255; shorten it.", utf8.RuneCountInString(t))
	}
	return nil
}

func tooManyTags(n, limit int) error {
	return oserr.TooLarge("Maximum number of tags exceeded: the image would have %d tags, the limit is %d; remove tags you no longer need.", n, limit)
}

// propertyValue validates an extra property: a string, checked against
// the custom schema when it names one. It returns nil for a nullable
// custom property set to null (which Glance keeps as "not set").
func propertyValue(key string, v any) (*string, error) {
	if utf8.RuneCountInString(key) > 255 {
		return nil, oserr.BadRequest("Custom property names are at most 255 characters; '%s…' is longer.", key[:32])
	}
	if key == "" {
		return nil, oserr.BadRequest("Custom property names may not be empty.")
	}
	cp := customProperty(key)
	if cp == nil {
		return str(key, v, false, 0)
	}
	s, err := str(key, v, cp.Nullable, 0)
	if err != nil || s == nil {
		return s, err
	}
	if cp.UUID && !uuidPattern.MatchString(*s) {
		return nil, badValue(key, v, "it must be an image id (a UUID such as 00000000-1111-2222-3333-444455556666)")
	}
	if cp.Enum != nil && !slices.Contains(cp.Enum, *s) {
		return nil, badValue(key, v, "use one of "+strings.Join(cp.Enum, ", "))
	}
	return s, nil
}
