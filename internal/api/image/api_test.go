package image_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/projects"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/roles"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/users"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imageimport"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/members"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/onestack/onestack/internal/cloudtest"
	svc "github.com/onestack/onestack/internal/service/image"
	"github.com/onestack/onestack/internal/storetest"
)

// tenant is a project with a user holding the member role on it.
type tenant struct {
	project, user, password string
	projectID               string
	pc                      *gophercloud.ProviderClient
	image                   *gophercloud.ServiceClient
	token                   string
}

func newTenant(t testing.TB, env *cloudtest.Env, name string) tenant {
	t.Helper()
	ctx := context.Background()
	id := cloudtest.Identity(t, env.Admin(t))
	p, err := projects.Create(ctx, id, projects.CreateOpts{Name: name}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.Create(ctx, id, users.CreateOpts{Name: name + "-user", Password: "pw-" + name, DomainID: "default"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := roles.List(id, roles.ListOpts{Name: "member"}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := roles.ExtractRoles(pages)
	if err := roles.Assign(ctx, id, rs[0].ID, roles.AssignOpts{UserID: u.ID, ProjectID: p.ID}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	tn := tenant{project: name, user: name + "-user", password: "pw-" + name, projectID: p.ID}
	tn.pc = env.Client(t, tn.user, tn.password, name)
	tn.image = imageClient(t, tn.pc)
	tn.token = tn.pc.Token()
	return tn
}

func imageClient(t testing.TB, pc *gophercloud.ProviderClient) *gophercloud.ServiceClient {
	t.Helper()
	sc, err := openstack.NewImageV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatalf("image client: %v", err)
	}
	return sc
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func statusOf(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}

func wantStatus(t *testing.T, err error, want int, what string) {
	t.Helper()
	if got := statusOf(err); got != want {
		t.Errorf("%s: got %v (status %d), want status %d", what, err, got, want)
	}
}

func listIDs(t *testing.T, sc *gophercloud.ServiceClient, opts images.ListOpts) []string {
	t.Helper()
	var ids []string
	err := images.List(sc, opts).EachPage(context.Background(), func(_ context.Context, p pagination.Page) (bool, error) {
		ims, err := images.ExtractImages(p)
		for _, im := range ims {
			ids = append(ids, im.ID)
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("list images: %v", err)
	}
	return ids
}

// TestImageLifecycle drives Glance with gophercloud, the client Terraform
// uses: create, upload, download, patch, tags, sharing across projects and
// isolation, delete — on every store backend.
func TestImageLifecycle(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env := cloudtest.NewOn(t, backend)
			ctx := context.Background()
			a, b := newTenant(t, env, "shop"), newTenant(t, env, "warehouse")

			im, err := images.Create(ctx, a.image, images.CreateOpts{Name: "debian-12", DiskFormat: "raw", ContainerFormat: "bare",
				MinRAM: 512, Tags: []string{"linux", "debian"}, Properties: map[string]string{"os_distro": "debian"}}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if im.Status != images.ImageStatusQueued || im.Visibility != images.ImageVisibilityShared || im.Owner != a.projectID {
				t.Errorf("created image = status %s visibility %s owner %s; want queued, shared, %s", im.Status, im.Visibility, im.Owner, a.projectID)
			}
			if im.Properties["os_distro"] != "debian" || !slices.Equal(im.Tags, []string{"linux", "debian"}) || im.MinRAMMegabytes != 512 {
				t.Errorf("created image lost attributes: %+v", im)
			}

			// No data yet: 204.
			r := env.Do(t, "GET", "/image/v2/images/"+im.ID+"/file", a.token, nil)
			if r.Status != http.StatusNoContent {
				t.Errorf("download before upload: %d, want 204", r.Status)
			}

			data := randomBytes(t, 3<<20+17)
			if err := imagedata.Upload(ctx, a.image, im.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			got, err := images.Get(ctx, a.image, im.ID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			md := md5.Sum(data)
			sha := sha512.Sum512(data)
			if got.Status != images.ImageStatusActive || got.SizeBytes != int64(len(data)) || got.Checksum != hex.EncodeToString(md[:]) ||
				got.VirtualSize != int64(len(data)) {
				t.Errorf("after upload: status %s size %d checksum %s virtual %d; want active %d %x %d",
					got.Status, got.SizeBytes, got.Checksum, got.VirtualSize, len(data), md, len(data))
			}
			if got.Properties["os_hash_algo"] != "sha512" || got.Properties["os_hash_value"] != hex.EncodeToString(sha[:]) {
				t.Errorf("os_hash = %v/%v, want sha512 of the data", got.Properties["os_hash_algo"], got.Properties["os_hash_value"])
			}
			rc, err := imagedata.Download(ctx, a.image, im.ID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("downloaded %d bytes (err %v), want the %d uploaded", len(back), err, len(data))
			}
			r = env.Do(t, "GET", "/image/v2/images/"+im.ID+"/file", a.token, nil, "Range", "bytes=10-19")
			if r.Status != http.StatusPartialContent || !bytes.Equal(r.Body, data[10:20]) ||
				r.Header.Get("Content-MD5") != hex.EncodeToString(md[:]) || r.Header.Get("Content-Type") != "application/octet-stream" {
				t.Errorf("range download: %d %q headers %v", r.Status, r.Body, r.Header)
			}
			if err := imagedata.Upload(ctx, a.image, im.ID, bytes.NewReader(data)).ExtractErr(); statusOf(err) != 409 {
				t.Errorf("second upload: %v, want 409", err)
			}

			// PATCH: core attributes, properties and tags in one request.
			up, err := images.Update(ctx, a.image, im.ID, images.UpdateOpts{
				images.ReplaceImageName{NewName: "debian-12-lts"},
				images.ReplaceImageMinDisk{NewMinDisk: 10},
				images.UpdateImageProperty{Op: images.AddOp, Name: "hw_disk_bus", Value: "scsi"},
				images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"},
				images.ReplaceImageTags{NewTags: []string{"lts"}},
			}).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if up.Name != "debian-12-lts" || up.MinDiskGigabytes != 10 || up.Properties["hw_disk_bus"] != "scsi" ||
				up.Properties["os_distro"] != nil || !slices.Equal(up.Tags, []string{"lts"}) {
				t.Errorf("after patch: %+v", up)
			}
			for _, tag := range []string{"stable", "lts"} {
				if r := env.Do(t, "PUT", "/image/v2/images/"+im.ID+"/tags/"+tag, a.token, nil); r.Status != 204 {
					t.Errorf("add tag %s: %d %s", tag, r.Status, r.Body)
				}
			}
			if r := env.Do(t, "DELETE", "/image/v2/images/"+im.ID+"/tags/lts", a.token, nil); r.Status != 204 {
				t.Errorf("delete tag: %d %s", r.Status, r.Body)
			}
			if got, _ := images.Get(ctx, a.image, im.ID).Extract(); !slices.Equal(got.Tags, []string{"stable"}) {
				t.Errorf("tags = %v, want [stable]", got.Tags)
			}

			// Isolation: a private image does not exist for another project.
			if _, err := images.Update(ctx, a.image, im.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: images.ImageVisibilityPrivate}}).Extract(); err != nil {
				t.Fatal(err)
			}
			_, err = images.Get(ctx, b.image, im.ID).Extract()
			wantStatus(t, err, 404, "B gets A's private image")
			wantStatus(t, images.Delete(ctx, b.image, im.ID).ExtractErr(), 404, "B deletes A's private image")
			_, err = imagedata.Download(ctx, b.image, im.ID).Extract()
			wantStatus(t, err, 404, "B downloads A's private image")
			_, err = images.Update(ctx, b.image, im.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "x"}}).Extract()
			wantStatus(t, err, 404, "B patches A's private image")
			if slices.Contains(listIDs(t, b.image, images.ListOpts{}), im.ID) {
				t.Error("B lists A's private image")
			}

			// Sharing: pending members do not list it by default; accepted ones do.
			if _, err := images.Update(ctx, a.image, im.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: images.ImageVisibilityShared}}).Extract(); err != nil {
				t.Fatal(err)
			}
			m, err := members.Create(ctx, a.image, im.ID, b.projectID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != "pending" || m.MemberID != b.projectID || m.ImageID != im.ID {
				t.Errorf("member = %+v", m)
			}
			_, err = members.Create(ctx, a.image, im.ID, b.projectID).Extract()
			wantStatus(t, err, 409, "add the same member twice")
			if slices.Contains(listIDs(t, b.image, images.ListOpts{}), im.ID) {
				t.Error("B lists an image it has not accepted")
			}
			if !slices.Equal(listIDs(t, b.image, images.ListOpts{MemberStatus: images.ImageMemberStatusPending, Visibility: images.ImageVisibilityShared}), []string{im.ID}) {
				t.Error("B does not list the image with member_status=pending")
			}
			_, err = members.Update(ctx, a.image, im.ID, b.projectID, members.UpdateOpts{Status: "accepted"}).Extract()
			wantStatus(t, err, 403, "the owner accepts for the member")
			if _, err := members.Update(ctx, b.image, im.ID, b.projectID, members.UpdateOpts{Status: "accepted"}).Extract(); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(listIDs(t, b.image, images.ListOpts{}), im.ID) {
				t.Error("B does not list an image it accepted")
			}
			rc, err = imagedata.Download(ctx, b.image, im.ID).Extract()
			if err != nil {
				t.Fatalf("member downloads: %v", err)
			}
			rc.Close()
			_, err = images.Update(ctx, b.image, im.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "mine"}}).Extract()
			wantStatus(t, err, 403, "member patches the image")
			wantStatus(t, images.Delete(ctx, b.image, im.ID).ExtractErr(), 403, "member deletes the image")
			pages, err := members.List(a.image, im.ID).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ms, _ := members.ExtractMembers(pages)
			if len(ms) != 1 || ms[0].Status != "accepted" {
				t.Errorf("members = %+v, want B accepted", ms)
			}
			if err := members.Delete(ctx, a.image, im.ID, b.projectID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			_, err = images.Get(ctx, b.image, im.ID).Extract()
			wantStatus(t, err, 404, "B gets the image after its membership was removed")

			// Protected images refuse deletion until unprotected.
			if _, err := images.Update(ctx, a.image, im.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: true}}).Extract(); err != nil {
				t.Fatal(err)
			}
			wantStatus(t, images.Delete(ctx, a.image, im.ID).ExtractErr(), 403, "delete a protected image")
			if _, err := images.Update(ctx, a.image, im.ID, images.UpdateOpts{images.ReplaceImageProtected{NewProtected: false}}).Extract(); err != nil {
				t.Fatal(err)
			}
			if err := images.Delete(ctx, a.image, im.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			_, err = images.Get(ctx, a.image, im.ID).Extract()
			wantStatus(t, err, 404, "get a deleted image")
			wantStatus(t, images.Delete(ctx, a.image, im.ID).ExtractErr(), 404, "delete a deleted image")
			if _, err := os.Stat(env.Cloud.Image.Files().Path(im.ID)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data of a deleted image is still on disk: %v", err)
			}
		})
	}
}

// TestVisibility checks Glance's rules for public and community images.
func TestVisibility(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	a, b := newTenant(t, env, "shop"), newTenant(t, env, "warehouse")
	admin := imageClient(t, env.Admin(t))

	pub := images.ImageVisibilityPublic
	_, err := images.Create(ctx, a.image, images.CreateOpts{Name: "p", Visibility: &pub}).Extract()
	wantStatus(t, err, 403, "a member creates a public image")
	public, err := images.Create(ctx, admin, images.CreateOpts{Name: "cirros", Visibility: &pub}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	comm := images.ImageVisibilityCommunity
	community, err := images.Create(ctx, a.image, images.CreateOpts{Name: "c", Visibility: &comm}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := images.Get(ctx, b.image, community.ID).Extract(); err != nil {
		t.Errorf("B gets a community image: %v", err)
	}
	if got := listIDs(t, b.image, images.ListOpts{}); !slices.Equal(got, []string{public.ID}) {
		t.Errorf("B's default list = %v, want only the public image", got)
	}
	if got := listIDs(t, b.image, images.ListOpts{Visibility: comm}); !slices.Equal(got, []string{community.ID}) {
		t.Errorf("B's community list = %v, want the community image", got)
	}
	_, err = images.Update(ctx, b.image, community.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "x"}}).Extract()
	wantStatus(t, err, 403, "B patches a community image")
	_, err = images.Update(ctx, a.image, community.ID, images.UpdateOpts{images.UpdateVisibility{Visibility: pub}}).Extract()
	wantStatus(t, err, 403, "the owner publicizes")
	_, err = images.Update(ctx, a.image, community.ID, images.UpdateOpts{images.UpdateImageProperty{Op: images.ReplaceOp, Name: "owner", Value: b.projectID}}).Extract()
	wantStatus(t, err, 403, "the owner gives its image away")
	if _, err := images.Update(ctx, admin, community.ID, images.UpdateOpts{images.UpdateImageProperty{Op: images.ReplaceOp, Name: "owner", Value: b.projectID}}).Extract(); err != nil {
		t.Errorf("admin changes the owner: %v", err)
	}
	if _, err := images.Update(ctx, b.image, community.ID, images.UpdateOpts{images.ReplaceImageName{NewName: "now mine"}}).Extract(); err != nil {
		t.Errorf("new owner patches: %v", err)
	}
	// Hidden images leave the default list only.
	if _, err := images.Update(ctx, admin, public.ID, images.UpdateOpts{images.ReplaceImageHidden{NewHidden: true}}).Extract(); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, b.image, images.ListOpts{}); !slices.Equal(got, []string{community.ID}) {
		t.Errorf("B's default list with the public image hidden = %v, want only its own community image", got)
	}
	if got := listIDs(t, b.image, images.ListOpts{Hidden: true}); !slices.Equal(got, []string{public.ID}) {
		t.Errorf("B's os_hidden=true list = %v", got)
	}
}

// TestListPaging walks a list in pages with gophercloud, which follows the
// "next" links, in both sort syntaxes.
func TestListPaging(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	a := newTenant(t, env, "shop")
	var want []string
	for i := range 7 {
		im, err := images.Create(ctx, a.image, images.CreateOpts{Name: fmt.Sprintf("img-%d", i%3), DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, im.ID)
	}
	slices.Reverse(want) // newest first
	if got := listIDs(t, a.image, images.ListOpts{Limit: 2}); !slices.Equal(got, want) {
		t.Errorf("paged default list = %v, want %v", got, want)
	}
	byName := listIDs(t, a.image, images.ListOpts{Limit: 3, Sort: "name:asc"})
	byKey := listIDs(t, a.image, images.ListOpts{Limit: 3, SortKey: "name", SortDir: "asc"})
	if len(byName) != 7 || !slices.Equal(byName, byKey) {
		t.Errorf("sorted by name: %v and %v, want the same 7 ids", byName, byKey)
	}
	r := env.Do(t, "GET", "/image/v2/images?limit=3&name=img-1", a.token, nil)
	body := r.JSON(t)
	if body["first"] != "/v2/images?limit=3&name=img-1" || body["schema"] != "/v2/schemas/images" || body["next"] != nil {
		t.Errorf("links = first %v schema %v next %v", body["first"], body["schema"], body["next"])
	}
	r = env.Do(t, "GET", "/image/v2/images?limit=1&name=img-1", a.token, nil)
	next, _ := r.JSON(t)["next"].(string)
	if !strings.HasPrefix(next, "/v2/images?limit=1&name=img-1&marker=") {
		t.Errorf("next = %q, want /v2/images?limit=1&name=img-1&marker=…", next)
	}
}

// TestQuota checks that quotas hold and say what to do.
func TestQuota(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	a := newTenant(t, env, "shop")
	env.Cloud.Image.SetLimits(svc.Limits{ImagesPerProject: 2, BytesPerProject: 3000, MaxImageSize: 2500,
		MembersPerImage: 1, TagsPerImage: 2, PropertiesPerImage: 2})
	var ids []string
	for i := range 2 {
		im, err := images.Create(ctx, a.image, images.CreateOpts{Name: fmt.Sprint(i), DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, im.ID)
	}
	r := env.Do(t, "POST", "/image/v2/images", a.token, []byte(`{"name": "third"}`))
	wantError(t, r, 413, "has 2 of its 2 images")

	// Over the per-image maximum, with and without a Content-Length.
	r = env.Do(t, "PUT", "/image/v2/images/"+ids[0]+"/file", a.token, make([]byte, 2600), "Content-Type", "application/octet-stream")
	wantError(t, r, 413, "maximum image size")
	r = upload(t, env, a.token, ids[0], io.MultiReader(bytes.NewReader(make([]byte, 2600))))
	wantError(t, r, 413, "maximum image size")
	// Within it, but past the project's total.
	if err := imagedata.Upload(ctx, a.image, ids[0], bytes.NewReader(make([]byte, 2000))).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	r = env.Do(t, "PUT", "/image/v2/images/"+ids[1]+"/file", a.token, make([]byte, 1500), "Content-Type", "application/octet-stream")
	wantError(t, r, 413, "stores 2000 bytes of its 3000 bytes limit and this upload needs 1500 bytes more")
	if im, _ := images.Get(ctx, a.image, ids[1]).Extract(); im.Status != images.ImageStatusQueued {
		t.Errorf("image after a refused upload is %s, want queued", im.Status)
	}
	// Deleting gives the quota back.
	if err := images.Delete(ctx, a.image, ids[0]).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := imagedata.Upload(ctx, a.image, ids[1], bytes.NewReader(make([]byte, 1500))).ExtractErr(); err != nil {
		t.Errorf("upload after freeing quota: %v", err)
	}
	r = env.Do(t, "GET", "/image/v2/info/usage", a.token, nil)
	usage, _ := r.JSON(t)["usage"].(map[string]any)
	if cnt, _ := usage["image_count_total"].(map[string]any); cnt["usage"] != float64(1) || cnt["limit"] != float64(2) {
		t.Errorf("usage = %v", usage)
	}
	r = env.Do(t, "PUT", "/image/v2/images/"+ids[1]+"/tags/a", a.token, nil)
	r = env.Do(t, "PUT", "/image/v2/images/"+ids[1]+"/tags/b", a.token, nil)
	r = env.Do(t, "PUT", "/image/v2/images/"+ids[1]+"/tags/c", a.token, nil)
	wantError(t, r, 413, "Maximum number of tags exceeded")
	leftovers, _ := os.ReadDir(filepath.Join(env.Cloud.Image.Files().Dir(), "tmp"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

// upload sends a body of unknown length (chunked).
func upload(t *testing.T, env *cloudtest.Env, token, id string, body io.Reader) cloudtest.Response {
	t.Helper()
	req, err := http.NewRequest("PUT", env.URL+"/image/v2/images/"+id+"/file", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cloudtest.Response{Status: -1, Body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return cloudtest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// failingReader returns n bytes, then an error: a client that dies mid-upload.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("client went away")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

// TestAbortedUpload checks that an upload cut short leaves the image
// queued, its quota given back and no data behind.
func TestAbortedUpload(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	a := newTenant(t, env, "shop")
	im, err := images.Create(ctx, a.image, images.CreateOpts{Name: "x", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", env.URL+"/image/v2/images/"+im.ID+"/file", &failingReader{n: 5 << 20})
	req.ContentLength = 10 << 20
	req.Header.Set("X-Auth-Token", a.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := images.Get(ctx, a.image, im.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == images.ImageStatusQueued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("image still %s after an aborted upload, want queued", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	leftovers, _ := os.ReadDir(filepath.Join(env.Cloud.Image.Files().Dir(), "tmp"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
	r := env.Do(t, "GET", "/image/v2/info/usage", a.token, nil)
	size, _ := r.JSON(t)["usage"].(map[string]any)["image_size_total"].(map[string]any)
	if size["usage"] != float64(0) {
		t.Errorf("bytes in use after an aborted upload = %v MiB, want 0", size["usage"])
	}
	// The image accepts a new upload.
	if err := imagedata.Upload(ctx, a.image, im.ID, strings.NewReader("data")).ExtractErr(); err != nil {
		t.Errorf("upload after an aborted one: %v", err)
	}
}

// TestImport runs the interoperable import: stage, import, active.
func TestImport(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	a := newTenant(t, env, "shop")
	r := env.Do(t, "GET", "/image/v2/info/import", a.token, nil)
	if diff := cmp.Diff(map[string]any{"import-methods": map[string]any{"description": "Import methods available.", "type": "array",
		"value": []any{"glance-direct"}}}, r.JSON(t)); diff != "" {
		t.Errorf("info/import (-want +got):\n%s", diff)
	}
	im, err := images.Create(ctx, a.image, images.CreateOpts{Name: "staged", DiskFormat: "qcow2", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	err = imageimport.Create(ctx, a.image, im.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr()
	wantStatus(t, err, 409, "import before staging")

	// A qcow2 header announcing a 1 GiB disk, then some data.
	data := append([]byte("QFI\xfb\x00\x00\x00\x03"), make([]byte, 16)...)
	data = append(data, 0, 0, 0, 0, 0x40, 0, 0, 0)
	data = append(data, randomBytes(t, 100000)...)
	if err := imagedata.Stage(ctx, a.image, im.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	got, _ := images.Get(ctx, a.image, im.ID).Extract()
	if got.Status != images.ImageStatusUploading || got.SizeBytes != int64(len(data)) {
		t.Errorf("after staging: %s, size %d; want uploading, %d", got.Status, got.SizeBytes, len(data))
	}
	if err := imageimport.Create(ctx, a.image, im.ID, imageimport.CreateOpts{Name: imageimport.GlanceDirectMethod}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for got.Status != images.ImageStatusActive {
		if time.Now().After(deadline) {
			t.Fatalf("image still %s after import", got.Status)
		}
		time.Sleep(10 * time.Millisecond)
		got, _ = images.Get(ctx, a.image, im.ID).Extract()
	}
	md := md5.Sum(data)
	if got.Checksum != hex.EncodeToString(md[:]) || got.SizeBytes != int64(len(data)) || got.VirtualSize != 1<<30 {
		t.Errorf("imported image: checksum %s size %d virtual %d", got.Checksum, got.SizeBytes, got.VirtualSize)
	}
	if got.Properties["os_glance_failed_import"] != "" || got.Properties["os_glance_import_task"] != nil {
		t.Errorf("import properties: %v", got.Properties)
	}
	r = env.Do(t, "GET", "/image/v2/images/"+im.ID+"/tasks", a.token, nil)
	tasks, _ := r.JSON(t)["tasks"].([]any)
	if len(tasks) != 1 || tasks[0].(map[string]any)["status"] != "success" {
		t.Errorf("tasks = %s", r.Body)
	}
	rc, err := imagedata.Download(ctx, a.image, im.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(back, data) {
		t.Error("imported data differs from the staged data")
	}
	if _, err := os.Stat(env.Cloud.Image.Files().StagePath(im.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staged data left after the import: %v", err)
	}
}

func wantError(t *testing.T, r cloudtest.Response, status int, msg string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
		return
	}
	var e struct {
		Message, Code, Title string
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Errorf("error body is not Glance's JSON: %q", r.Body)
		return
	}
	if e.Code != fmt.Sprintf("%d %s", status, http.StatusText(status)) || e.Title != http.StatusText(status) {
		t.Errorf("code/title = %q/%q", e.Code, e.Title)
	}
	if !strings.Contains(e.Message, msg) {
		t.Errorf("message %q does not say %q", e.Message, msg)
	}
	if !strings.HasPrefix(r.Header.Get("X-Openstack-Request-Id"), "req-") {
		t.Errorf("no request id: %v", r.Header)
	}
}

// TestErrorBodies checks that bad input gets Glance's status, its error
// body and a message that says what to change.
func TestErrorBodies(t *testing.T) {
	env := cloudtest.New(t)
	ctx := context.Background()
	a, b := newTenant(t, env, "shop"), newTenant(t, env, "warehouse")
	im, err := images.Create(ctx, a.image, images.CreateOpts{Name: "x", DiskFormat: "raw", ContainerFormat: "bare"}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	priv := images.ImageVisibilityPrivate
	secret, err := images.Create(ctx, a.image, images.CreateOpts{Name: "secret", Visibility: &priv}).Extract()
	if err != nil {
		t.Fatal(err)
	}
	img := "/image/v2/images/" + im.ID
	const patch = "application/openstack-images-v2.1-json-patch"
	for _, tc := range []struct {
		name, method, path, token, body, ctype string
		want                                   int
		msg                                    string
	}{
		{"no token", "GET", "/image/v2/images", "", "", "", 401, "X-Auth-Token"},
		{"unknown path", "GET", "/image/v2/nothing", a.token, "", "", 404, "could not be found"},
		{"bad method", "PUT", "/image/v2/images", a.token, "", "", 405, "not allowed"},
		{"missing image", "GET", "/image/v2/images/00000000-0000-0000-0000-000000000000", a.token, "", "", 404, "No image found"},
		{"other project's private image", "GET", "/image/v2/images/" + secret.ID, b.token, "", "", 404, "No image found"},
		{"malformed json", "POST", "/image/v2/images", a.token, `{"name":`, "application/json", 400, "Malformed JSON"},
		{"not an object", "POST", "/image/v2/images", a.token, `[]`, "application/json", 400, "JSON object"},
		{"read-only on create", "POST", "/image/v2/images", a.token, `{"status": "active"}`, "application/json", 403, "'status' is read-only"},
		{"reserved on create", "POST", "/image/v2/images", a.token, `{"os_glance_x": "1"}`, "application/json", 403, "reserved"},
		{"bad disk format", "POST", "/image/v2/images", a.token, `{"disk_format": "floppy"}`, "application/json", 400, "use one of ami"},
		{"bad min_ram", "POST", "/image/v2/images", a.token, `{"min_ram": "big"}`, "application/json", 400, "whole number"},
		{"negative min_disk", "POST", "/image/v2/images", a.token, `{"min_disk": -1}`, "application/json", 400, "negative"},
		{"property not a string", "POST", "/image/v2/images", a.token, `{"foo": 1}`, "application/json", 400, "must be a string"},
		{"bad id", "POST", "/image/v2/images", a.token, `{"id": "abc"}`, "application/json", 400, "UUID"},
		{"duplicate id", "POST", "/image/v2/images", a.token, `{"id": "` + im.ID + `"}`, "application/json", 409, "already exists"},
		{"name too long", "POST", "/image/v2/images", a.token, `{"name": "` + strings.Repeat("n", 256) + `"}`, "application/json", 400, "limit is 255"},
		{"public by a member", "POST", "/image/v2/images", a.token, `{"visibility": "public"}`, "application/json", 403, "publicize_image"},
		{"someone else's owner", "POST", "/image/v2/images", a.token, `{"owner": "` + b.projectID + `"}`, "application/json", 403, "omit 'owner'"},
		{"patch content type", "PATCH", img, a.token, `[]`, "application/json", 415, patch},
		{"patch not an array", "PATCH", img, a.token, `{}`, patch, 400, "JSON array"},
		{"patch bad op", "PATCH", img, a.token, `[{"op": "move", "path": "/name"}]`, patch, 400, "Invalid operation"},
		{"patch no value", "PATCH", img, a.token, `[{"op": "add", "path": "/name"}]`, patch, 400, "requires a member named \"value\""},
		{"patch bad pointer", "PATCH", img, a.token, `[{"op": "add", "path": "name", "value": "x"}]`, patch, 400, "does not start with"},
		{"patch deep pointer", "PATCH", img, a.token, `[{"op": "add", "path": "/tags/0", "value": "x"}]`, patch, 400, "Invalid JSON pointer"},
		{"patch read-only", "PATCH", img, a.token, `[{"op": "replace", "path": "/status", "value": "active"}]`, patch, 403, "read-only"},
		{"patch reserved", "PATCH", img, a.token, `[{"op": "add", "path": "/os_glance_foo", "value": "x"}]`, patch, 403, "reserved"},
		{"patch remove core", "PATCH", img, a.token, `[{"op": "remove", "path": "/name"}]`, patch, 403, "may not be removed"},
		{"patch replace missing", "PATCH", img, a.token, `[{"op": "replace", "path": "/nope", "value": "x"}]`, patch, 409, "does not exist"},
		{"patch bool type", "PATCH", img, a.token, `[{"op": "replace", "path": "/protected", "value": "true"}]`, patch, 400, "boolean"},
		{"patch locations", "PATCH", img, a.token, `[{"op": "add", "path": "/locations/-", "value": {"url": "http://x", "metadata": {}}}]`, patch, 403, "locations"},
		{"patch ramdisk_id", "PATCH", img, a.token, `[{"op": "add", "path": "/ramdisk_id", "value": "bad"}]`, patch, 400, "UUID"},
		{"upload content type", "PUT", img + "/file", a.token, `x`, "application/json", 415, "application/octet-stream"},
		{"members of a non-shared image", "GET", "/image/v2/images/" + secret.ID + "/members", a.token, "", "", 403, "Only shared images have members"},
		{"member without body field", "POST", img + "/members", a.token, `{}`, "application/json", 400, "Member to be added not specified"},
		{"bad member status", "PUT", img + "/members/x", a.token, `{"status": "maybe"}`, "application/json", 400, "Status must be"},
		{"deactivate queued", "POST", img + "/actions/deactivate", a.token, "", "", 403, "status 'queued'"},
		{"delete missing tag", "DELETE", img + "/tags/none", a.token, "", "", 404, "Tag none not found"},
		{"import without method", "POST", img + "/import", a.token, `{}`, "application/json", 400, "'method'"},
		{"import unknown method", "POST", img + "/import", a.token, `{"method": {"name": "web-download"}}`, "application/json", 400, "Unknown import method"},
		{"list bad limit", "GET", "/image/v2/images?limit=x", a.token, "", "", 400, "limit param must be an integer"},
		{"list bad sort key", "GET", "/image/v2/images?sort_key=owner", a.token, "", "", 400, "Invalid sort key"},
		{"list bad sort dir", "GET", "/image/v2/images?sort=name:up", a.token, "", "", 400, "Invalid sort direction"},
		{"list mixed sort syntax", "GET", "/image/v2/images?sort=name&sort_key=name", a.token, "", "", 400, "cannot be combined"},
		{"list bad marker", "GET", "/image/v2/images?marker=" + secret.ID, b.token, "", "", 400, "marker"},
		{"list bad visibility", "GET", "/image/v2/images?visibility=secret", a.token, "", "", 400, "Invalid visibility"},
		{"list bad member status", "GET", "/image/v2/images?member_status=x", a.token, "", "", 400, "Invalid status"},
		{"list bad range", "GET", "/image/v2/images?size_min=big", a.token, "", "", 400, "non-numeric"},
		{"list bad time", "GET", "/image/v2/images?created_at=gt:yesterday", a.token, "", "", 400, "ISO 8601"},
		{"list bad operator", "GET", "/image/v2/images?name=like:x", a.token, "", "", 400, "unknown operator"},
		{"list changes-since", "GET", "/image/v2/images?changes-since=2020-01-01", a.token, "", "", 400, "changes-since"},
		{"stores", "GET", "/image/v2/info/stores", a.token, "", "", 404, "Multi backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			var hdr []string
			if tc.ctype != "" {
				hdr = []string{"Content-Type", tc.ctype}
			}
			wantError(t, env.Do(t, tc.method, tc.path, tc.token, body, hdr...), tc.want, tc.msg)
		})
	}
}

// TestSchemasAndVersions checks the documents clients read before anything else.
func TestSchemasAndVersions(t *testing.T) {
	env := cloudtest.New(t)
	a := newTenant(t, env, "shop")
	for _, name := range []string{"image", "images", "member", "members", "task", "tasks"} {
		r := env.Do(t, "GET", "/image/v2/schemas/"+name, a.token, nil)
		if r.Status != 200 || r.JSON(t)["name"] != name {
			t.Errorf("schema %s: %d %s", name, r.Status, r.Body)
		}
	}
	r := env.Do(t, "GET", "/image/v2/schemas/image", a.token, nil)
	props := r.JSON(t)["properties"].(map[string]any)
	formats := props["disk_format"].(map[string]any)["enum"].([]any)
	if formats[0] != nil || !slices.Contains(formats, any("qcow2")) {
		t.Errorf("disk_format enum = %v", formats)
	}
	r = env.Do(t, "GET", "/image", "", nil)
	if r.Status != http.StatusMultipleChoices {
		t.Errorf("GET /image: %d, want 300", r.Status)
	}
	vs := r.JSON(t)["versions"].([]any)
	v0 := vs[0].(map[string]any)
	if v0["status"] != "CURRENT" || v0["links"].([]any)[0].(map[string]any)["href"] != env.URL+"/image/v2/" {
		t.Errorf("current version = %v", v0)
	}
}
