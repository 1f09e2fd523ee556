package cloud_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
)

// TestOverloadAnswers503: with every request slot taken (here one, held
// by an upload whose body is still arriving), another request gets a 503
// with Retry-After in its service's error format instead of hanging; once
// the slot is free the same request is served.
func TestOverloadAnswers503(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{MaxRequests: 1, MaxRequestsPerClient: -1})
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	r := env.Do(t, "POST", "/image/v2/images", tok, []byte(`{"name": "slow", "disk_format": "raw", "container_format": "bare"}`))
	id, _ := r.JSON(t)["id"].(string)

	body, feed := io.Pipe()
	// A failed check must not leave the upload open: the server's Close
	// would wait for it forever. Cleanups run last-registered first.
	t.Cleanup(func() { feed.CloseWithError(io.ErrUnexpectedEOF) })
	req, _ := http.NewRequest("PUT", env.URL+"/image/v2/images/"+id+"/file", body)
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	if _, err := feed.Write([]byte("first bytes")); err != nil { // the upload holds the slot now
		t.Fatal(err)
	}

	// Until the upload's request has reached the server, requests pass.
	over := env.Do(t, "GET", "/compute/v2.1/flavors", tok, nil)
	for i := 0; i < 200 && over.Status == http.StatusOK; i++ {
		time.Sleep(10 * time.Millisecond)
		over = env.Do(t, "GET", "/compute/v2.1/flavors", tok, nil)
	}
	if over.Status != http.StatusServiceUnavailable || over.Header.Get("Retry-After") != "1" {
		t.Fatalf("request over the limit: %d Retry-After %q: %s; want 503 with Retry-After 1", over.Status, over.Header.Get("Retry-After"), over.Body)
	}
	fault, _ := over.JSON(t)["serviceUnavailable"].(map[string]any)
	if msg, _ := fault["message"].(string); !strings.Contains(msg, "retry after a second") {
		t.Errorf("503 body %s, want Nova's serviceUnavailable saying to retry", over.Body)
	}

	feed.Close()
	if resp := <-done; resp == nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the slow upload: %v", resp)
	}
	if again := env.Do(t, "GET", "/compute/v2.1/flavors", tok, nil); again.Status != http.StatusOK {
		t.Errorf("after the slot freed: %d %s", again.Status, again.Body)
	}
}

// TestPerClientAnswers429: a client with as many requests in flight as one
// client may have gets a 429 with Retry-After in its service's format at
// once, while another client is still served; the first is served again
// once its request is done.
func TestPerClientAnswers429(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{MaxRequests: 16, MaxRequestsPerClient: 1})
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	other := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	r := env.Do(t, "POST", "/image/v2/images", tok, []byte(`{"name": "slow", "disk_format": "raw", "container_format": "bare"}`))
	id, _ := r.JSON(t)["id"].(string)

	body, feed := io.Pipe()
	// A failed check must not leave the upload open: the server's Close
	// would wait for it forever. Cleanups run last-registered first.
	t.Cleanup(func() { feed.CloseWithError(io.ErrUnexpectedEOF) })
	req, _ := http.NewRequest("PUT", env.URL+"/image/v2/images/"+id+"/file", body)
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	if _, err := feed.Write([]byte("first bytes")); err != nil {
		t.Fatal(err)
	}
	// The upload is inside the handler (past admission) once the image is
	// saving; asked by the other client, so the probe does not count
	// against the first. Until then a request of the first client could be
	// in flight when the upload arrives, and the upload would get the 429.
	for i := 0; ; i++ {
		im := env.Do(t, "GET", "/image/v2/images/"+id, other, nil)
		if im.JSON(t)["status"] == "saving" {
			break
		}
		if i == 1000 {
			t.Fatalf("the upload never started: image %s", im.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	over := env.Do(t, "GET", "/network/v2.0/networks", tok, nil)
	if over.Status != http.StatusTooManyRequests || over.Header.Get("Retry-After") != "1" {
		t.Fatalf("second request of a client at its bound: %d Retry-After %q: %s; want 429 with Retry-After 1", over.Status, over.Header.Get("Retry-After"), over.Body)
	}
	ne, _ := over.JSON(t)["NeutronError"].(map[string]any)
	if msg, _ := ne["message"].(string); ne["type"] != "HTTPTooManyRequests" || !strings.Contains(msg, "requests in progress") {
		t.Errorf("429 body %s, want a NeutronError saying why", over.Body)
	}
	if r := env.Do(t, "GET", "/network/v2.0/networks", other, nil); r.Status != http.StatusOK {
		t.Errorf("another client while the first is at its bound: %d %s, want 200", r.Status, r.Body)
	}
	feed.Close()
	if resp := <-done; resp == nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the slow upload: %v", resp)
	}
	if again := env.Do(t, "GET", "/network/v2.0/networks", tok, nil); again.Status != http.StatusOK {
		t.Errorf("after its request finished: %d %s", again.Status, again.Body)
	}
}
