package image

import (
	"time"

	"github.com/onestack/onestack/internal/store"
)

// isoTime is Glance's timestamp format (oslo timeutils.isotime).
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// taskTime is the format Glance shows task timestamps in.
func taskTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000") }

// imageJSON is an image as Glance shows it: extra properties at the top
// level beside the core attributes; unset attributes are null.
func imageJSON(im *store.Image) map[string]any {
	m := make(map[string]any, len(im.Properties)+24)
	for k, v := range im.Properties {
		m[k] = v
	}
	var owner any
	if im.Owner != "" {
		owner = im.Owner
	}
	tags := im.Tags
	if tags == nil {
		tags = []string{}
	}
	for k, v := range map[string]any{
		"id":               im.ID,
		"name":             im.Name,
		"status":           im.Status,
		"visibility":       im.Visibility,
		"protected":        im.Protected,
		"os_hidden":        im.Hidden,
		"checksum":         im.Checksum,
		"os_hash_algo":     im.OSHashAlgo,
		"os_hash_value":    im.OSHashValue,
		"owner":            owner,
		"size":             im.Size,
		"virtual_size":     im.VirtualSize,
		"container_format": im.ContainerFormat,
		"disk_format":      im.DiskFormat,
		"min_ram":          im.MinRAM,
		"min_disk":         im.MinDisk,
		"created_at":       isoTime(im.CreatedAt),
		"updated_at":       isoTime(im.UpdatedAt),
		"tags":             tags,
		"self":             "/v2/images/" + im.ID,
		"file":             "/v2/images/" + im.ID + "/file",
		"schema":           "/v2/schemas/image",
	} {
		m[k] = v
	}
	return m
}

func memberJSON(m *store.ImageMember) map[string]any {
	return map[string]any{
		"image_id":   m.ImageID,
		"member_id":  m.MemberID,
		"status":     m.Status,
		"created_at": isoTime(m.CreatedAt),
		"updated_at": isoTime(m.UpdatedAt),
		"schema":     "/v2/schemas/member",
	}
}

func taskJSON(k *store.ImageTask) map[string]any {
	return map[string]any{
		"id":         k.ID,
		"type":       k.Type,
		"status":     k.Status,
		"owner":      k.Owner,
		"image_id":   k.ImageID,
		"request_id": k.RequestID,
		"user_id":    k.UserID,
		"input":      k.Input,
		"result":     k.Result,
		"message":    k.Message,
		"created_at": taskTime(k.CreatedAt),
		"updated_at": taskTime(k.UpdatedAt),
		"expires_at": taskTime(k.ExpiresAt),
		"deleted_at": nil,
		"deleted":    false,
	}
}
