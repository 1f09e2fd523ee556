package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// cliImage is what `openstack image show -f json` prints.
type cliImage struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Status     string         `json:"status"`
	Size       int64          `json:"size"`
	Checksum   string         `json:"checksum"`
	Visibility string         `json:"visibility"`
	DiskFormat string         `json:"disk_format"`
	Owner      string         `json:"owner"`
	Tags       []string       `json:"tags"`
	Properties map[string]any `json:"properties"`
}

// TestImageCLI drives Glance with the openstack CLI as its users do:
// upload a file, read it back byte for byte, list, set properties, share
// with another project, keep private images private, delete.
func TestImageCLI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		admin := c.CloudEnv()
		m := c.AdminAPI(t).NewMember("img")
		member := c.PasswordEnv(m.User, m.Password, m.Project)
		dir := t.TempDir()

		data := make([]byte, 3<<20+123)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(dir, "disk.raw")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		name := "e2e-" + randomHex(t, 4)
		var created cliImage
		// `image create --file` prints the image as it was before the
		// upload (queued); the state after it is what image show says.
		RunJSON(t, admin, &created, "image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare", name)
		if created.ID == "" || created.Name != name {
			t.Fatalf("image create: got %+v", created)
		}
		var shown cliImage
		RunJSON(t, admin, &shown, "image", "show", created.ID)
		sum := md5.Sum(data)
		if shown.Status != "active" || shown.Size != int64(len(data)) || shown.Checksum != hex.EncodeToString(sum[:]) {
			t.Errorf("image show after upload: status %s size %d checksum %s; want active, %d, %x", shown.Status, shown.Size, shown.Checksum, len(data), sum)
		}

		t.Run("save", func(t *testing.T) {
			dst := filepath.Join(dir, "saved.raw")
			MustRun(t, admin, "image", "save", "--file", dst, created.ID)
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("image save: %d bytes differ from the %d uploaded", len(got), len(data))
			}
		})

		t.Run("list", func(t *testing.T) {
			var list []struct{ ID, Name, Status string }
			RunJSON(t, admin, &list, "image", "list")
			if !slices.ContainsFunc(list, func(i struct{ ID, Name, Status string }) bool {
				return i.ID == created.ID && i.Name == name && i.Status == "active"
			}) {
				t.Errorf("image list: %s missing or not active: %+v", name, list)
			}
		})

		t.Run("set property and tag", func(t *testing.T) {
			MustRun(t, admin, "image", "set", "--property", "os_distro=debian", "--property", "hw_disk_bus=scsi", "--tag", "web", "--min-ram", "512", created.ID)
			var got cliImage
			RunJSON(t, admin, &got, "image", "show", created.ID)
			if got.Properties["os_distro"] != "debian" || got.Properties["hw_disk_bus"] != "scsi" || !slices.Contains(got.Tags, "web") {
				t.Errorf("image set: properties %v tags %v", got.Properties, got.Tags)
			}
			MustRun(t, admin, "image", "unset", "--property", "hw_disk_bus", created.ID)
			var after cliImage
			RunJSON(t, admin, &after, "image", "show", created.ID)
			if _, ok := after.Properties["hw_disk_bus"]; ok || after.Properties["os_distro"] != "debian" {
				t.Errorf("image unset --property hw_disk_bus: properties now %v", after.Properties)
			}
		})

		t.Run("share with a project", func(t *testing.T) {
			MustRun(t, admin, "image", "add", "project", created.ID, m.ProjectID)
			var members []struct {
				ImageID  string `json:"Image ID"`
				MemberID string `json:"Member ID"`
				Status   string `json:"Status"`
			}
			RunJSON(t, admin, &members, "image", "member", "list", created.ID)
			if len(members) != 1 || members[0].MemberID != m.ProjectID || members[0].Status != "pending" {
				t.Errorf("image member list: %+v, want %s pending", members, m.ProjectID)
			}
			MustRun(t, member, "image", "set", "--accept", created.ID)
			var list []struct{ ID string }
			RunJSON(t, member, &list, "image", "list")
			if !slices.ContainsFunc(list, func(i struct{ ID string }) bool { return i.ID == created.ID }) {
				t.Errorf("member's image list after accepting: %+v lacks %s", list, created.ID)
			}
			dst := filepath.Join(dir, "member.raw")
			MustRun(t, member, "image", "save", "--file", dst, created.ID)
			if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
				t.Error("member's image save differs from the upload")
			}
			Fail(t, Run(t, member, "image", "delete", created.ID), "403", "do not own", "Forbidden")
			MustRun(t, admin, "image", "remove", "project", created.ID, m.ProjectID)
		})

		t.Run("private stays private", func(t *testing.T) {
			var secret cliImage
			RunJSON(t, admin, &secret, "image", "create", "--private", "secret-"+randomHex(t, 4))
			Fail(t, Run(t, member, "image", "show", secret.ID), "No Image found", "Could not find", "404")
			var list []struct{ ID string }
			RunJSON(t, member, &list, "image", "list")
			if slices.ContainsFunc(list, func(i struct{ ID string }) bool { return i.ID == secret.ID }) {
				t.Errorf("member lists the admin project's private image %s", secret.ID)
			}
			MustRun(t, admin, "image", "delete", secret.ID)
		})

		t.Run("import", func(t *testing.T) {
			// --import stages the file and runs the glance-direct import.
			var imp cliImage
			RunJSON(t, admin, &imp, "image", "create", "--import", "--file", src, "--disk-format", "raw", "--container-format", "bare", "imported-"+randomHex(t, 4))
			deadline := time.Now().Add(30 * time.Second)
			var got cliImage
			for {
				RunJSON(t, admin, &got, "image", "show", imp.ID)
				if got.Status == "active" || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if got.Status != "active" || got.Checksum != hex.EncodeToString(sum[:]) {
				t.Errorf("imported image: status %s checksum %s, want active and %x", got.Status, got.Checksum, sum)
			}
			MustRun(t, admin, "image", "delete", imp.ID)
		})

		t.Run("deactivate", func(t *testing.T) {
			MustRun(t, admin, "image", "set", "--deactivate", created.ID)
			var got cliImage
			RunJSON(t, admin, &got, "image", "show", created.ID)
			if got.Status != "deactivated" {
				t.Errorf("image set --deactivate: status %s", got.Status)
			}
			MustRun(t, admin, "image", "set", "--activate", created.ID)
			RunJSON(t, admin, &got, "image", "show", created.ID)
			if got.Status != "active" {
				t.Errorf("image set --activate: status %s", got.Status)
			}
		})

		t.Run("delete", func(t *testing.T) {
			MustRun(t, admin, "image", "delete", created.ID)
			Fail(t, Run(t, admin, "image", "show", created.ID), "No Image found", "Could not find", "404")
		})
	})
}
