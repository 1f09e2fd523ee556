package compute_test

import (
	"encoding/json"
	"testing"

	"github.com/onestack/onestack/internal/api/compute"
)

func FuzzDecodeVolumeAttach(f *testing.F) {
	for _, s := range []string{
		`{"volumeAttachment": {"volumeId": "a26887c6-c47b-4654-abb5-dfadf7d3f803"}}`,
		`{"volumeAttachment": {"volumeId": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "device": "/dev/vdb", "tag": "data", "delete_on_termination": true}}`,
		`{"volumeAttachment": {"volumeId": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "device": null, "delete_on_termination": "False"}}`,
		`{"volumeAttachment": {"volumeId": "x"}}`, `{"volumeAttachment": {"volumeId": 7}}`, `{"volumeAttachment": {}}`,
		`{"volumeAttachment": {"volumeId": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "device": "sdb/../x"}}`,
		`{"volumeAttachment": {"volumeId": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "tag": "a/b"}}`,
		`{"volumeAttachment": null}`, `[]`, `{"volumeAttachment": {"volumeId": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "extra": 1}}`,
	} {
		f.Add([]byte(s), 79)
	}
	f.Fuzz(func(t *testing.T, body []byte, minor int) {
		minor = 1 + (minor%79+79)%79
		req, err := compute.DecodeVolumeAttach(body, minor)
		if err != nil {
			badRequestOnly(t, err)
			return
		}
		if len(req.VolumeID) != 36 {
			t.Fatalf("volumeId %q accepted", req.VolumeID)
		}
		if minor < 49 && req.Tag != "" || minor < 79 && req.DeleteOnTermination {
			t.Fatalf("field accepted before its microversion (2.%d): %+v", minor, req)
		}
		if len(req.Tag) > 60 {
			t.Fatalf("tag %q accepted", req.Tag)
		}
	})
}

func FuzzDecodeBlockDevices(f *testing.F) {
	for _, s := range []string{
		`[{"boot_index": 0, "uuid": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "source_type": "image", "destination_type": "volume", "volume_size": 1, "delete_on_termination": true}]`,
		`[{"boot_index": "0", "uuid": "a26887c6-c47b-4654-abb5-dfadf7d3f803", "source_type": "volume", "destination_type": "volume"}]`,
		`[{"boot_index": 0.5, "uuid": "x", "source_type": "image"}]`, `[{"volume_size": -1}]`, `[{"tag": "a,b"}]`,
		`[{"unknown": 1}]`, `[{"volume_type": "fast"}]`, `[{"boot_index": null, "delete_on_termination": "maybe"}]`,
	} {
		f.Add([]byte(s), 79)
	}
	f.Fuzz(func(t *testing.T, body []byte, minor int) {
		minor = 1 + (minor%79+79)%79
		var list []map[string]any
		if json.Unmarshal(body, &list) != nil {
			return // the server body decoder refuses it first
		}
		bds, err := compute.DecodeBlockDevices(list, minor)
		if err != nil {
			badRequestOnly(t, err)
			return
		}
		for _, bd := range bds {
			if bd.VolumeSize < 0 || len(bd.Tag) > 60 || bd.DestinationType == "" {
				t.Fatalf("decoded %+v", bd)
			}
			if (bd.SourceType == "image" || bd.SourceType == "volume") && len(bd.UUID) != 36 {
				t.Fatalf("uuid %q accepted", bd.UUID)
			}
		}
	})
}
