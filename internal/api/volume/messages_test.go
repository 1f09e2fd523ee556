package volume_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/service/volume/volumetest"
)

// TestFailureMessage: a volume the pool fails to create ends in error, and
// the user reads why in Cinder's user messages (3.3).
func TestFailureMessage(t *testing.T) {
	env := cloudtest.New(t)
	files := volumetest.New(t)
	files.FailOn("create", errors.New("pool full: 0 GB free of 1 GB needed; free space in DATA/volumes"))
	env.Cloud.Volume.SetBackend(files)
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	proj := projectID(t, env, tok)
	id := created(t, call(t, env, tok, proj, "POST", "/volumes", `{"volume": {"size": 1}}`), "volume")
	waitStatus(t, env, tok, proj, "volumes", id, "error")
	if r := call(t, env, tok, proj, "GET", "/messages", ""); r.Status != 404 {
		t.Errorf("messages at 3.0: %d", r.Status)
	}
	r := call(t, env, tok, proj, "GET", "/messages", "", "OpenStack-API-Version", "volume 3.3")
	if r.Status != 200 || !strings.Contains(string(r.Body), "pool full") || !strings.Contains(string(r.Body), id) {
		t.Fatalf("messages: %d %s", r.Status, r.Body)
	}
}
