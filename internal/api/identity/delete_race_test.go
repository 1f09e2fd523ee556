package identity_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/storetest"
)

// TestConcurrentProjectDeletes deletes one project from several clients at
// once: one gets 204 and every other a 404 in Keystone's body, never a 500.
// On PostgreSQL the losers find the project, then wait on the winner's row
// lock and delete nothing; the service returns the store's ErrNotFound as
// it is, and the API's fallback for untranslated store errors answers it.
func TestConcurrentProjectDeletes(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env := cloudtest.NewOn(t, backend)
			admin := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
			for round := range 5 {
				r := env.Do(t, "POST", "/identity/v3/projects", admin, fmt.Appendf(nil, `{"project": {"name": "doomed-%d"}}`, round))
				if r.Status != http.StatusCreated {
					t.Fatalf("create project: %d %s", r.Status, r.Body)
				}
				id := r.JSON(t)["project"].(map[string]any)["id"].(string)
				answers := deleteAtOnce(t, env.URL+"/identity/v3/projects/"+id, admin, 6)
				deleted := 0
				for _, a := range answers {
					switch {
					case a.status == http.StatusNoContent:
						deleted++
					case a.status == http.StatusNotFound && a.body["error"] != nil:
						if e := a.body["error"].(map[string]any); e["code"] != float64(404) || e["message"] == "" {
							t.Errorf("404 body %v is not Keystone's", a.body)
						}
					default:
						t.Errorf("concurrent delete of project %s answered %d %v; want 204 or Keystone's 404", id, a.status, a.body)
					}
				}
				if deleted != 1 {
					t.Errorf("%d of the concurrent deletes answered 204, want 1", deleted)
				}
			}
		})
	}
}

type answer struct {
	status int
	body   map[string]any
}

// deleteAtOnce sends n DELETEs of url together and returns their answers.
func deleteAtOnce(t *testing.T, url, token string, n int) []answer {
	t.Helper()
	out := make([]answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req, err := http.NewRequest("DELETE", url, nil)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("X-Auth-Token", token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			out[i].status = resp.StatusCode
			if resp.StatusCode != http.StatusNoContent {
				errs[i] = json.NewDecoder(resp.Body).Decode(&out[i].body)
			}
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("DELETE %s: %v", url, err)
		}
	}
	return out
}
