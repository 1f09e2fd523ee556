package volume_test

import (
	"testing"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/api/volume"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

// clientError fails unless err is a 400 (a 413 for too many metadata
// items, a 404 for a null id as Cinder answers) *oserr.Error with a message: a decoder never panics or answers
// bad input with a 500.
func clientError(t *testing.T, err error) {
	t.Helper()
	e, ok := err.(*oserr.Error)
	if !ok || (e.Status != 400 && e.Status != 413 && e.Status != 404) || e.Message == "" {
		t.Fatalf("decoder error %T %v is not a 400 with a message", err, err)
	}
}

func seeds(f *testing.F, ss ...string) {
	for _, s := range append(ss, `{}`, `[]`, `null`, `"x"`, `{"a": 1}{}`, "\x00", `{"volume": null}`) {
		f.Add([]byte(s))
	}
}

func FuzzDecodeVolumeCreate(f *testing.F) {
	seeds(f, `{"volume": {"size": 1, "name": "a", "metadata": {"k": "v"}}}`,
		`{"volume": {"size": "10", "imageRef": "abc", "volume_type": "fast", "availability_zone": "nova", "multiattach": "true"}}`,
		`{"volume": {"snapshot_id": "s", "size": 1.0e1}}`, `{"volume": {"source_volid": "v", "size": -1}}`,
		`{"volume": {"size": 1, "metadata": {"k": 1, "b": true}}}`, `{"volume": {"size": 1, "backup_id": "b"}}`,
		`{"volume": {"size": 99999999999999999999}}`, `{"volume": {"size": 1, "name": "\u0000"}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := volume.DecodeVolumeCreate(body)
		if err != nil {
			clientError(t, err)
			return
		}
		if s.SizeGB < 0 || s.SizeGB > svc.MaxSizeGB {
			t.Fatalf("size %d accepted", s.SizeGB)
		}
		if s.SizeGB == 0 && s.ImageID == "" && s.SnapshotID == "" && s.SourceVolID == "" {
			t.Fatalf("no size and no source accepted: %+v", s)
		}
		if !utf8.ValidString(s.Name) || utf8.RuneCountInString(s.Name) > 255 || len(s.Metadata) > svc.MaxMetadataItems {
			t.Fatalf("accepted %+v", s)
		}
	})
}

func FuzzDecodeVolumeUpdate(f *testing.F) {
	seeds(f, `{"volume": {"name": "a"}}`, `{"volume": {"description": null, "metadata": {"a": "b"}}}`,
		`{"volume": {"display_name": 5}}`, `{"volume": {}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		name, desc, md, err := volume.DecodeVolumeUpdate(body)
		if err != nil {
			clientError(t, err)
			return
		}
		if name == nil && desc == nil && md == nil {
			t.Fatal("an empty update accepted")
		}
	})
}

func FuzzDecodeAction(f *testing.F) {
	seeds(f, `{"os-extend": {"new_size": 3}}`, `{"os-reserve": null}`, `{"os-detach": {}}`, `{"os-force_delete": ""}`,
		`{"os-set_bootable": {"bootable": "yes"}}`, `{"a": 1, "b": 2}`, `{"os-extend": [1]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := volume.DecodeAction(body)
		if err != nil {
			clientError(t, err)
			return
		}
		if a.Name == "" && len(body) > 0 && body[0] != '{' {
			t.Fatalf("action without a name from %q", body)
		}
	})
}

func FuzzDecodeSnapshotCreate(f *testing.F) {
	seeds(f, `{"snapshot": {"volume_id": "v", "force": "True", "name": "s", "metadata": {"a": "b"}}}`,
		`{"snapshot": {"volume_id": 1}}`, `{"snapshot": {"name": "x"}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := volume.DecodeSnapshotCreate(body)
		if err != nil {
			clientError(t, err)
			return
		}
		if s.VolumeID == "" {
			t.Fatal("a snapshot without volume_id accepted")
		}
	})
}

func FuzzDecodeTypeSpec(f *testing.F) {
	seeds(f, `{"volume_type": {"name": "fast", "os-volume-type-access:is_public": false, "extra_specs": {"a": "b"}}}`,
		`{"volume_type": {"is_public": "maybe"}}`, `{"volume_type": {"extra_specs": []}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := volume.DecodeTypeSpec(body); err != nil {
			clientError(t, err)
		}
	})
}

func FuzzDecodeAttachmentCreate(f *testing.F) {
	seeds(f, `{"attachment": {"volume_uuid": "v", "instance_uuid": "i", "connector": {"host": "h"}, "mode": "ro"}}`,
		`{"attachment": {"volume_uuid": "v", "connector": "x"}}`, `{"attachment": {"mode": "rx"}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := volume.DecodeAttachmentCreate(body)
		if err != nil {
			clientError(t, err)
			return
		}
		if a.VolumeID == "" || (a.Mode != "" && a.Mode != "rw" && a.Mode != "ro") {
			t.Fatalf("accepted %+v", a)
		}
	})
}

func FuzzDecodeQuotaSet(f *testing.F) {
	seeds(f, `{"quota_set": {"volumes": 20, "gigabytes": "100", "id": "p"}}`, `{"quota_set": {"volumes": "lots"}}`,
		`{"quota_set": {}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := volume.DecodeQuotaSet(body, "quota_set")
		if err != nil {
			clientError(t, err)
			return
		}
		if len(q) == 0 {
			t.Fatal("an empty quota set accepted")
		}
	})
}

func FuzzDecodeMetadata(f *testing.F) {
	seeds(f, `{"metadata": {"a": "b"}}`, `{"metadata": {"": "b"}}`, `{"meta": {"a": "b"}}`, `{"metadata": {"a": {"b": 1}}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		md, err := volume.DecodeMetadata(body)
		if err != nil {
			clientError(t, err)
			return
		}
		for k, v := range md {
			if k == "" || utf8.RuneCountInString(k) > 255 || utf8.RuneCountInString(v) > 255 {
				t.Fatalf("accepted %q=%q", k, v)
			}
		}
		if _, err := volume.DecodeMetaItem(body, "a"); err != nil {
			clientError(t, err)
		}
	})
}
