package image

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	svc "github.com/onestack/onestack/internal/service/image"
)

// The JSON-schema documents under /v2/schemas describe the wire format;
// clients (glanceclient, the tempest configuration) read formats and
// property types from them. They are built from the service's constants
// so that what is validated and what is described cannot drift apart.

func (a *API) schema(doc func() map[string]any) rest.HandlerFunc {
	body := doc()
	return func(w http.ResponseWriter, _ *http.Request) error {
		rest.WriteJSON(w, http.StatusOK, body)
		return nil
	}
}

const uuidRegexp = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

var nullOrString = []any{"null", "string"}

func field(typ any, description string, more ...any) map[string]any {
	m := map[string]any{"type": typ, "description": description}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i].(string)] = more[i+1]
	}
	return m
}

func nullableEnum(values []string) []any {
	out := []any{nil}
	for _, v := range values {
		out = append(out, v)
	}
	return out
}

func imageProperties() map[string]any {
	ro := "readOnly"
	p := map[string]any{
		"id":               field("string", "An identifier for the image", "pattern", uuidRegexp),
		"name":             field(nullOrString, "Descriptive name for the image", "maxLength", 255),
		"status":           field("string", "Status of the image", ro, true, "enum", svc.Statuses),
		"visibility":       field("string", "Scope of image accessibility", "enum", svc.Visibilities),
		"protected":        field("boolean", "If true, image will not be deletable."),
		"os_hidden":        field("boolean", "If true, image will not appear in default image list response."),
		"checksum":         field(nullOrString, "md5 hash of image contents.", ro, true, "maxLength", 32),
		"os_hash_algo":     field(nullOrString, "Algorithm to calculate the os_hash_value", ro, true, "maxLength", 64),
		"os_hash_value":    field(nullOrString, "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", ro, true, "maxLength", 128),
		"owner":            field(nullOrString, "Owner of the image", "maxLength", 255),
		"size":             field([]any{"null", "integer"}, "Size of image file in bytes", ro, true),
		"virtual_size":     field([]any{"null", "integer"}, "Virtual size of image in bytes", ro, true),
		"container_format": field(nullOrString, "Format of the container", "enum", nullableEnum(svc.ContainerFormats)),
		"disk_format":      field(nullOrString, "Format of the disk", "enum", nullableEnum(svc.DiskFormats)),
		"created_at":       field("string", "Date and time of image registration", ro, true),
		"updated_at":       field("string", "Date and time of the last image modification", ro, true),
		"tags": field("array", "List of strings related to the image",
			"items", map[string]any{"type": "string", "maxLength": 255}),
		"direct_url": field("string", "URL to access the image file kept in external store", ro, true),
		"min_ram":    field("integer", "Amount of ram (in MB) required to boot image."),
		"min_disk":   field("integer", "Amount of disk space (in GB) required to boot image."),
		"self":       field("string", "An image self url", ro, true),
		"file":       field("string", "An image file url", ro, true),
		"stores": field("string", "Store in which image data resides.  Only present when the operator has enabled multiple stores.  "+
			"May be a comma-separated list of store identifiers.", ro, true),
		"schema": field("string", "An image schema url", ro, true),
		"locations": field("array", "A set of URLs to access the image file kept in external store", "items", map[string]any{
			"type": "object",
			"properties": map[string]any{
				"url":      map[string]any{"type": "string", "maxLength": 255},
				"metadata": map[string]any{"type": "object"},
			},
			"required": []string{"url", "metadata"},
		}),
	}
	for _, cp := range svc.CustomProperties {
		var typ any = "string"
		if cp.Nullable {
			typ = nullOrString
		}
		f := field(typ, cp.Description, "is_base", false)
		if cp.UUID {
			f["pattern"] = uuidRegexp
		}
		if cp.Enum != nil {
			f["enum"] = cp.Enum
		}
		p[cp.Name] = f
	}
	return p
}

func imageSchema() map[string]any {
	return map[string]any{
		"name":                 "image",
		"properties":           imageProperties(),
		"additionalProperties": map[string]any{"type": "string"},
		"links": []map[string]any{
			{"rel": "self", "href": "{self}"},
			{"rel": "enclosure", "href": "{file}"},
			{"rel": "describedby", "href": "{schema}"},
		},
	}
}

func imagesSchema() map[string]any {
	return map[string]any{
		"name": "images",
		"properties": map[string]any{
			"images": map[string]any{"type": "array", "items": imageSchema()},
			"schema": map[string]any{"type": "string"},
			"first":  map[string]any{"type": "string"},
			"next":   map[string]any{"type": "string"},
		},
		"links": []map[string]any{
			{"rel": "first", "href": "{first}"},
			{"rel": "next", "href": "{next}"},
			{"rel": "describedby", "href": "{schema}"},
		},
	}
}

func memberProperties() map[string]any {
	return map[string]any{
		"member_id":  field("string", "An identifier for the image member (tenantId)"),
		"image_id":   field("string", "An identifier for the image", "pattern", uuidRegexp),
		"created_at": field("string", "Date and time of image member creation"),
		"updated_at": field("string", "Date and time of last modification of image member"),
		"status":     field("string", "The status of this image member", "enum", svc.MemberStatuses),
		"schema":     map[string]any{"readOnly": true, "type": "string"},
	}
}

func memberSchema() map[string]any {
	return map[string]any{"name": "member", "properties": memberProperties()}
}

func membersSchema() map[string]any {
	return map[string]any{
		"name": "members",
		"properties": map[string]any{
			"members": map[string]any{"type": "array", "items": map[string]any{"name": "member", "properties": memberProperties()}},
			"schema":  map[string]any{"type": "string"},
		},
		"links": []map[string]any{{"rel": "describedby", "href": "{schema}"}},
	}
}

func taskProperties() map[string]any {
	return map[string]any{
		"id":         field("string", "An identifier for the task", "pattern", uuidRegexp),
		"type":       field("string", "The type of task represented by this content", "enum", []string{"import", "api_image_import"}),
		"status":     field("string", "The current status of this task", "enum", []string{"pending", "processing", "success", "failure"}),
		"input":      field([]any{"null", "object"}, "The parameters required by task, JSON blob"),
		"result":     field([]any{"null", "object"}, "The result of current task, JSON blob"),
		"owner":      field("string", "An identifier for the owner of this task"),
		"message":    field("string", "Human-readable informative message only included when appropriate (usually on failure)"),
		"image_id":   field("string", "Image associated with the task", "readOnly", true),
		"request_id": field("string", "Request ID of the operation that created the task", "readOnly", true),
		"user_id":    field("string", "User associated with the task", "readOnly", true),
		"expires_at": field([]any{"null", "string"}, "Datetime when this resource would be subject to removal"),
		"created_at": field("string", "Datetime when this resource was created"),
		"updated_at": field("string", "Datetime when this resource was updated"),
		"self":       map[string]any{"readOnly": true, "type": "string"},
		"schema":     map[string]any{"readOnly": true, "type": "string"},
	}
}

func taskSchema() map[string]any {
	return map[string]any{"name": "task", "properties": taskProperties(),
		"links": []map[string]any{{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}}}
}

func tasksSchema() map[string]any {
	return map[string]any{
		"name": "tasks",
		"properties": map[string]any{
			"tasks":  map[string]any{"type": "array", "items": map[string]any{"name": "task", "properties": taskProperties()}},
			"schema": map[string]any{"type": "string"},
			"first":  map[string]any{"type": "string"},
			"next":   map[string]any{"type": "string"},
		},
		"links": []map[string]any{{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"}, {"rel": "describedby", "href": "{schema}"}},
	}
}
