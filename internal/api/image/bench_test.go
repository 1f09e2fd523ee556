package image_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/store"
)

// BenchmarkUploadDownload moves a 64 MiB image through the API: PUT /file
// (streamed to disk, md5 and sha512 computed) then GET /file.
//
//	go test -run '^$' -bench UploadDownload -benchtime 10x ./internal/api/image/
func BenchmarkUploadDownload(b *testing.B) {
	env := cloudtest.New(b)
	a := newTenant(b, env, "bench")
	data := randomBytes(b, 64<<20)
	client := &http.Client{}
	var up, down time.Duration
	for b.Loop() {
		r := env.Do(b, "POST", "/image/v2/images", a.token, []byte(`{"name": "bench", "disk_format": "raw", "container_format": "bare"}`))
		var im struct{ ID string }
		if err := json.Unmarshal(r.Body, &im); err != nil || r.Status != 201 {
			b.Fatalf("create: %d %s", r.Status, r.Body)
		}
		start := time.Now()
		req, _ := http.NewRequest("PUT", env.URL+"/image/v2/images/"+im.ID+"/file", bytes.NewReader(data))
		req.Header.Set("X-Auth-Token", a.token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 204 {
			b.Fatalf("upload: %v %v", err, resp)
		}
		resp.Body.Close()
		up += time.Since(start)

		start = time.Now()
		req, _ = http.NewRequest("GET", env.URL+"/image/v2/images/"+im.ID+"/file", nil)
		req.Header.Set("X-Auth-Token", a.token)
		resp, err = client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("download: %v %v", err, resp)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		down += time.Since(start)
		if n != int64(len(data)) {
			b.Fatalf("downloaded %d bytes", n)
		}
		if r := env.Do(b, "DELETE", "/image/v2/images/"+im.ID, a.token, nil); r.Status != 204 {
			b.Fatalf("delete: %d", r.Status)
		}
	}
	mb := float64(len(data)) / (1 << 20) * float64(b.N)
	b.ReportMetric(mb/up.Seconds(), "upload-MB/s")
	b.ReportMetric(mb/down.Seconds(), "download-MB/s")
}

// BenchmarkList pages through 10,000 images: a page of 25 (the default)
// and of 1000 (the maximum), as an admin and as a project that owns a
// tenth of them.
//
//	go test -run '^$' -bench List -benchtime 50x ./internal/api/image/
func BenchmarkList(b *testing.B) {
	env := cloudtest.New(b)
	a := newTenant(b, env, "owner")
	admin := env.Token(b, "admin", cloudtest.AdminPassword, "admin")
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	err := env.Cloud.DB.Write(ctx, func(tx *store.Tx) error {
		for i := range 10000 {
			owner, vis := fmt.Sprintf("other-%d", i%50), "private"
			if i%10 == 0 {
				owner, vis = a.projectID, "shared"
			}
			name, disk, size := fmt.Sprintf("image-%05d", i), "qcow2", int64(i*1000)
			at := start.Add(time.Duration(i) * time.Millisecond)
			im := store.Image{ID: uuid.NewString(), Owner: owner, Status: store.ImageActive, Visibility: vis, Name: &name,
				DiskFormat: &disk, ContainerFormat: &disk, Size: &size, CreatedAt: at, UpdatedAt: at,
				Properties: map[string]string{"os_distro": "debian", "hw_disk_bus": "virtio"}, Tags: []string{"bench"}}
			if err := tx.CreateImage(ctx, &im); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, token string
		limit, want int
	}{
		{"admin/page=25", admin, 25, 25},
		{"admin/page=1000", admin, 1000, 1000},
		{"project/page=25", a.token, 25, 25},
		{"project/page=1000", a.token, 1000, 1000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				t0 := time.Now()
				r := env.Do(b, "GET", fmt.Sprintf("/image/v2/images?limit=%d", tc.limit), tc.token, nil)
				total += time.Since(t0)
				var body struct{ Images []json.RawMessage }
				if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Images) != tc.want {
					b.Fatalf("list: %d images (%v): %.200s", len(body.Images), err, r.Body)
				}
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}
