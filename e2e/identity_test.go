package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestUp checks what `onestack up` leaves for its user: a clouds.yaml and an
// openrc that work, a service list at /, and tokens and data that survive a
// graceful restart.
func TestUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		t.Run("clouds.yaml", func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(c.DataDir, "clouds.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Clouds map[string]struct {
					Auth struct {
						AuthURL           string `json:"auth_url"`
						Username          string `json:"username"`
						Password          string `json:"password"`
						ProjectName       string `json:"project_name"`
						UserDomainName    string `json:"user_domain_name"`
						ProjectDomainName string `json:"project_domain_name"`
					} `json:"auth"`
					RegionName string `json:"region_name"`
				} `json:"clouds"`
			}
			if err := yaml.Unmarshal(b, &cfg); err != nil {
				t.Fatalf("clouds.yaml is not YAML: %v\n%s", err, b)
			}
			oc, ok := cfg.Clouds["onestack"]
			if !ok {
				t.Fatalf("clouds.yaml has no cloud named onestack:\n%s", b)
			}
			if want := c.URL + "/identity/v3"; oc.Auth.AuthURL != want {
				t.Errorf("auth_url = %q, want %q", oc.Auth.AuthURL, want)
			}
			if oc.Auth.Username != "admin" || oc.Auth.ProjectName != "admin" || oc.Auth.Password != c.AdminPassword {
				t.Errorf("auth = user %q project %q password matches %v, want admin/admin and the --admin-password",
					oc.Auth.Username, oc.Auth.ProjectName, oc.Auth.Password == c.AdminPassword)
			}
			if oc.RegionName != "RegionOne" {
				t.Errorf("region_name = %q, want RegionOne", oc.RegionName)
			}
		})

		t.Run("openrc", func(t *testing.T) {
			// As the README says: source data/openrc, then use the CLI.
			cmd := exec.Command("/bin/bash", "-c", `source "$1" && exec `+openstackCLI+` token issue -f json`, "bash",
				filepath.Join(c.DataDir, "openrc"))
			cmd.Env = cleanEnv()
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("source openrc && openstack token issue: %v\n%s", err, stderr)
			}
			var tok map[string]any
			if err := json.Unmarshal(out, &tok); err != nil || tok["id"] == nil {
				t.Fatalf("token issue after sourcing openrc: want a token, got %s", out)
			}
		})

		t.Run("GET / lists identity", func(t *testing.T) {
			resp, err := http.Get(c.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Services []rootService `json:"services"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("GET /: want JSON, got %v", err)
			}
			i := slices.IndexFunc(body.Services, func(s rootService) bool { return s.Type == "identity" })
			if i < 0 {
				t.Fatalf("GET /: no identity service in %+v", body.Services)
			}
			if s := body.Services[i]; s.Path != "/identity" || s.URL != c.URL+"/identity" {
				t.Errorf("GET /: identity at path %q url %q, want /identity and %s/identity", s.Path, s.URL, c.URL)
			}
		})

		t.Run("restart keeps data and tokens", func(t *testing.T) {
			a := c.AdminAPI(t)
			m := a.NewMember("restart")
			memberToken := a.passwordToken(m.User, m.Password, m.Project)
			clouds, err := os.ReadFile(filepath.Join(c.DataDir, "clouds.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			c.Restart(t)
			// Started again without --admin-password: the admin keeps its
			// password and clouds.yaml stays as it was.
			if after, err := os.ReadFile(filepath.Join(c.DataDir, "clouds.yaml")); err != nil || string(after) != string(clouds) {
				t.Errorf("clouds.yaml changed across a restart without --admin-password (err %v):\nbefore:\n%s\nafter:\n%s", err, clouds, after)
			}
			a = c.AdminAPI(t)
			// The token keys live in the data dir, so tokens outlive the process.
			a.do("GET", "/identity/v3/auth/tokens", http.Header{"X-Subject-Token": {memberToken}}, nil, nil, http.StatusOK)
			a.do("GET", "/identity/v3/projects/"+m.ProjectID, nil, nil, nil, http.StatusOK)
			a.passwordToken(m.User, m.Password, m.Project)
		})
	})
}

// TestIdentity drives Keystone with the openstack CLI as its users do.
func TestIdentity(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		admin := c.CloudEnv()
		a := c.AdminAPI(t)

		t.Run("token issue", func(t *testing.T) {
			var tok struct {
				ID        string `json:"id"`
				Expires   string `json:"expires"`
				ProjectID string `json:"project_id"`
				UserID    string `json:"user_id"`
			}
			RunJSON(t, admin, &tok, "token", "issue")
			if tok.ID == "" || tok.ProjectID == "" || tok.UserID == "" {
				t.Errorf("token issue: want id, project_id and user_id, got %+v", tok)
			}
			// The CLI reprints Keystone's expires_at as 2006-01-02T15:04:05+0000.
			exp, err := time.Parse("2006-01-02T15:04:05-0700", tok.Expires)
			if err != nil {
				exp, err = time.Parse(time.RFC3339, tok.Expires)
			}
			if err != nil {
				t.Errorf("token issue: expires %q is not a time: %v", tok.Expires, err)
			} else if !exp.After(time.Now()) {
				t.Errorf("token issue: expires %s is in the past", exp)
			}
			var p struct {
				Projects []struct{ ID string } `json:"projects"`
			}
			a.do("GET", "/identity/v3/projects?name=admin", nil, nil, &p, http.StatusOK)
			if len(p.Projects) != 1 || p.Projects[0].ID != tok.ProjectID {
				t.Errorf("token issue: project_id %q is not the admin project %+v", tok.ProjectID, p.Projects)
			}
		})

		t.Run("catalog list", func(t *testing.T) {
			var cat []catalogEntry
			RunJSON(t, admin, &cat, "catalog", "list")
			i := slices.IndexFunc(cat, func(s catalogEntry) bool { return s.Type == "identity" })
			if i < 0 {
				t.Fatalf("catalog list: no identity service in %+v", cat)
			}
			eps := catalogEndpoints(t, cat[i].Endpoints)
			for _, iface := range []string{"public", "internal", "admin"} {
				url, ok := eps[iface]
				if !ok {
					t.Errorf("catalog list: identity has no %s endpoint: %s", iface, cat[i].Endpoints)
					continue
				}
				if !strings.HasPrefix(url, c.URL+"/identity") {
					t.Errorf("catalog list: identity %s endpoint %q does not point at %s/identity", iface, url, c.URL)
				}
			}
		})

		t.Run("project", func(t *testing.T) {
			name := "proj-" + randomHex(t, 4)
			var p struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				DomainID string `json:"domain_id"`
				Enabled  bool   `json:"enabled"`
			}
			RunJSON(t, admin, &p, "project", "create", "--description", "e2e", name)
			if p.ID == "" || p.Name != name || p.DomainID != "default" || !p.Enabled {
				t.Errorf("project create: want an enabled project %q in domain default, got %+v", name, p)
			}
			if !listHas(t, admin, name, "project", "list") {
				t.Errorf("project list: %q missing", name)
			}
			var shown struct {
				ID          string `json:"id"`
				Description string `json:"description"`
			}
			RunJSON(t, admin, &shown, "project", "show", name)
			if shown.ID != p.ID || shown.Description != "e2e" {
				t.Errorf("project show %s: want id %s description e2e, got %+v", name, p.ID, shown)
			}
			MustRun(t, admin, "project", "delete", name)
			Fail(t, Run(t, admin, "project", "show", p.ID), "No project with a name or ID", "404", "Could not find")
		})

		t.Run("user", func(t *testing.T) {
			m := a.NewMember("owner") // for its project
			name := "user-" + randomHex(t, 4)
			var u struct {
				ID               string `json:"id"`
				Name             string `json:"name"`
				DomainID         string `json:"domain_id"`
				DefaultProjectID string `json:"default_project_id"`
				Enabled          bool   `json:"enabled"`
			}
			RunJSON(t, admin, &u, "user", "create", "--password", "secret-"+randomHex(t, 4),
				"--project", m.Project, "--domain", "Default", name)
			if u.ID == "" || u.Name != name || u.DomainID != "default" || u.DefaultProjectID != m.ProjectID || !u.Enabled {
				t.Errorf("user create: want enabled user %q in domain default with default project %s, got %+v", name, m.ProjectID, u)
			}
			if !listHas(t, admin, name, "user", "list") {
				t.Errorf("user list: %q missing", name)
			}
			MustRun(t, admin, "user", "delete", name)
			if listHas(t, admin, name, "user", "list") {
				t.Errorf("user list: %q still listed after user delete", name)
			}
		})

		t.Run("group", func(t *testing.T) {
			m := a.NewMember("grouped")
			name := "group-" + randomHex(t, 4)
			var g struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				DomainID string `json:"domain_id"`
			}
			RunJSON(t, admin, &g, "group", "create", name)
			if g.ID == "" || g.Name != name || g.DomainID != "default" {
				t.Errorf("group create: want group %q in domain default, got %+v", name, g)
			}
			if !listHas(t, admin, name, "group", "list") {
				t.Errorf("group list: %q missing", name)
			}
			MustRun(t, admin, "group", "add", "user", name, m.User)
			// The CLI exits 0 either way; membership shows as "U in group G"
			// on stdout, its absence as "U not in group G" on stderr.
			r := MustRun(t, admin, "group", "contains", "user", name, m.User)
			if !strings.Contains(r.Stdout, m.User+" in group "+name) {
				t.Errorf("group contains user after group add user: want %q, got %s", m.User+" in group "+name, r)
			}
			MustRun(t, admin, "group", "remove", "user", name, m.User)
			r = MustRun(t, admin, "group", "contains", "user", name, m.User)
			if !strings.Contains(r.Stderr, "not in group") {
				t.Errorf("group contains user after group remove user: want \"not in group\", got %s", r)
			}
			MustRun(t, admin, "group", "delete", name)
			if listHas(t, admin, name, "group", "list") {
				t.Errorf("group list: %q still listed after group delete", name)
			}
		})

		t.Run("role", func(t *testing.T) {
			name := "role-" + randomHex(t, 4)
			var r struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			}
			RunJSON(t, admin, &r, "role", "create", name)
			if r.ID == "" || r.Name != name {
				t.Errorf("role create: want role %q, got %+v", name, r)
			}
			names := listNames(t, admin, "role", "list")
			for _, want := range []string{name, "admin", "member", "reader"} {
				if !slices.Contains(names, want) {
					t.Errorf("role list: %q missing from %q", want, names)
				}
			}
			MustRun(t, admin, "role", "delete", name)
			if listHas(t, admin, name, "role", "list") {
				t.Errorf("role list: %q still listed after role delete", name)
			}
		})

		t.Run("role assignment", func(t *testing.T) {
			m := a.NewMember("assigned")
			other := "target-" + randomHex(t, 4)
			MustRun(t, admin, "project", "create", other)
			MustRun(t, admin, "role", "add", "--project", other, "--user", m.User, "member")
			want := assignment{Role: "member", User: m.User + "@Default", Project: other + "@Default"}
			as := assignments(t, admin, other)
			if !slices.Contains(as, want) {
				t.Errorf("role assignment list --project %s --names: want %+v, got %+v", other, want, as)
			}
			MustRun(t, admin, "role", "remove", "--project", other, "--user", m.User, "member")
			if as := assignments(t, admin, other); slices.Contains(as, want) {
				t.Errorf("role assignment list after role remove: %+v still listed in %+v", want, as)
			}
		})

		t.Run("application credential", func(t *testing.T) {
			m := a.NewMember("appcred")
			member := c.PasswordEnv(m.User, m.Password, m.Project)
			name := "ac-" + randomHex(t, 4)
			var ac struct {
				ID        string `json:"id"`
				Name      string `json:"name"`
				Secret    string `json:"secret"`
				ProjectID string `json:"project_id"`
			}
			RunJSON(t, member, &ac, "application", "credential", "create", name)
			if ac.ID == "" || ac.Secret == "" || ac.Name != name || ac.ProjectID != m.ProjectID {
				t.Fatalf("application credential create: want id, secret, name %q and project %s, got %+v", name, m.ProjectID, ac)
			}
			var shown map[string]any
			RunJSON(t, member, &shown, "application", "credential", "show", name)
			if shown["id"] != ac.ID || shown["project_id"] != m.ProjectID {
				t.Errorf("application credential show %s: want id %s project %s, got %v", name, ac.ID, m.ProjectID, shown)
			}
			if s, _ := shown["secret"].(string); s != "" {
				t.Errorf("application credential show: reveals the secret")
			}
			var tok struct {
				ProjectID string `json:"project_id"`
				UserID    string `json:"user_id"`
			}
			RunJSON(t, c.AppCredEnv(ac.ID, ac.Secret), &tok, "token", "issue")
			if tok.ProjectID != m.ProjectID || tok.UserID != m.UserID {
				t.Errorf("token issue with the application credential: want project %s user %s, got %+v", m.ProjectID, m.UserID, tok)
			}
			Fail(t, Run(t, c.AppCredEnv(ac.ID, "wrong-"+ac.Secret), "token", "issue"), "401")
			MustRun(t, member, "application", "credential", "delete", name)
			Fail(t, Run(t, c.AppCredEnv(ac.ID, ac.Secret), "token", "issue"), "401", "404")
		})

		t.Run("trust", func(t *testing.T) {
			trustor, trustee := a.NewMember("trustor"), a.NewMember("trustee")
			var roles struct {
				Roles []struct{ ID string } `json:"roles"`
			}
			a.do("GET", "/identity/v3/roles?name=member", nil, nil, &roles, http.StatusOK)
			// A member cannot look roles and users up by name, so the CLI is
			// given ids (as against Keystone).
			owner := c.PasswordEnv(trustor.User, trustor.Password, trustor.Project)
			var tr struct {
				ID            string `json:"id"`
				Impersonation bool   `json:"impersonation"`
				ProjectID     string `json:"project_id"`
				Roles         string `json:"roles"`
				ExpiresAt     string `json:"expires_at"`
			}
			RunJSON(t, owner, &tr, "trust", "create", "--project", trustor.ProjectID, "--role", roles.Roles[0].ID,
				"--impersonate", "--expiration", "2031-01-02T03:04:05", trustor.UserID, trustee.UserID)
			if tr.ID == "" || !tr.Impersonation || tr.ProjectID != trustor.ProjectID || tr.Roles != "member" || tr.ExpiresAt != "2031-01-02T03:04:05.000000Z" {
				t.Fatalf("trust create: got %+v", tr)
			}
			var shown map[string]any
			RunJSON(t, owner, &shown, "trust", "show", tr.ID)
			if shown["trustee_user_id"] != trustee.UserID {
				t.Errorf("trust show: %v", shown)
			}
			if !slices.ContainsFunc(listIDs(t, admin, "trust", "list"), func(id string) bool { return id == tr.ID }) {
				t.Errorf("trust list (admin): %s missing", tr.ID)
			}
			// The trustee's token for the trust is the trustor's (impersonation)
			// on the trustor's project, and works with the other APIs.
			asTrustee := Env{"OS_AUTH_URL=" + c.URL + "/identity/v3", "OS_IDENTITY_API_VERSION=3", "OS_REGION_NAME=RegionOne",
				"OS_USER_ID=" + trustee.UserID, "OS_PASSWORD=" + trustee.Password, "OS_TRUST_ID=" + tr.ID}
			var tok struct {
				ProjectID string `json:"project_id"`
				UserID    string `json:"user_id"`
			}
			RunJSON(t, asTrustee, &tok, "token", "issue")
			if tok.ProjectID != trustor.ProjectID || tok.UserID != trustor.UserID {
				t.Errorf("token issue with the trust: want project %s user %s, got %+v", trustor.ProjectID, trustor.UserID, tok)
			}
			MustRun(t, asTrustee, "server", "list")
			Fail(t, Run(t, c.PasswordEnv(trustee.User, trustee.Password, trustee.Project), "trust", "delete", tr.ID), "403")
			MustRun(t, owner, "trust", "delete", tr.ID)
			Fail(t, Run(t, asTrustee, "token", "issue"), "Could not find trust")
		})

		t.Run("member cannot list users", func(t *testing.T) {
			m := a.NewMember("nosy")
			r := Run(t, c.PasswordEnv(m.User, m.Password, m.Project), "user", "list")
			Fail(t, r, "403", "not authorized", "Forbidden")
		})

		t.Run("wrong password", func(t *testing.T) {
			r := Run(t, c.PasswordEnv("admin", "not-"+c.AdminPassword, "admin"), "token", "issue")
			Fail(t, r, "401")
		})

		t.Run("disabled user's token", func(t *testing.T) {
			m := a.NewMember("leaver")
			userToken := strings.TrimSpace(MustRun(t, c.PasswordEnv(m.User, m.Password, m.Project),
				"token", "issue", "-f", "value", "-c", "id").Stdout)
			adminToken := strings.TrimSpace(MustRun(t, admin, "token", "issue", "-f", "value", "-c", "id").Stdout)
			if userToken == "" || adminToken == "" {
				t.Fatalf("token issue -f value -c id printed nothing")
			}
			check := &api{t: t, c: c, token: adminToken}
			subject := http.Header{"X-Subject-Token": {userToken}}
			check.do("GET", "/identity/v3/auth/tokens", subject, nil, nil, http.StatusOK)
			MustRun(t, admin, "user", "set", "--disable", m.User)
			check.do("GET", "/identity/v3/auth/tokens", subject, nil, nil, http.StatusNotFound)
			Fail(t, Run(t, c.PasswordEnv(m.User, m.Password, m.Project), "token", "issue"), "401")
		})
	})
}

// listHas reports whether `openstack ARGS -f json` lists an entry named name.
func listHas(t *testing.T, env Env, name string, args ...string) bool {
	t.Helper()
	return slices.Contains(listNames(t, env, args...), name)
}

// listIDs returns the ID column of `openstack ARGS -f json`.
func listIDs(t *testing.T, env Env, args ...string) []string {
	t.Helper()
	var rows []struct {
		ID string `json:"ID"`
	}
	RunJSON(t, env, &rows, args...)
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// listNames returns the Name column of `openstack ARGS -f json`.
func listNames(t *testing.T, env Env, args ...string) []string {
	t.Helper()
	var rows []struct {
		Name string `json:"Name"`
	}
	RunJSON(t, env, &rows, args...)
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	return names
}

// assignment is one row of `role assignment list --names -f json`.
type assignment struct {
	Role    string `json:"Role"`
	User    string `json:"User"`
	Group   string `json:"Group"`
	Project string `json:"Project"`
	Domain  string `json:"Domain"`
}

func assignments(t *testing.T, env Env, project string) []assignment {
	t.Helper()
	var as []assignment
	RunJSON(t, env, &as, "role", "assignment", "list", "--project", project, "--names")
	return as
}

// rootService is one entry of the service list at GET /.
type rootService struct {
	Type string `json:"type"`
	Path string `json:"path"`
	URL  string `json:"url"`
}

// catalogEntry is one row of `catalog list -f json`.
type catalogEntry struct {
	Name      string          `json:"Name"`
	Type      string          `json:"Type"`
	Endpoints json.RawMessage `json:"Endpoints"`
}

// catalogEndpoints maps interface to URL from the Endpoints column of
// `catalog list -f json`: a list of endpoint objects, or (older clients) the
// human-readable "RegionOne\n  public: URL\n" text.
func catalogEndpoints(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	eps := map[string]string{}
	var list []struct {
		Interface string `json:"interface"`
		URL       string `json:"url"`
		Region    string `json:"region"`
		RegionID  string `json:"region_id"`
	}
	if err := json.Unmarshal(raw, &list); err == nil {
		for _, e := range list {
			if e.Region != "RegionOne" && e.RegionID != "RegionOne" {
				t.Errorf("catalog list: %s endpoint %s is not in RegionOne", e.Interface, e.URL)
			}
			eps[e.Interface] = e.URL
		}
		return eps
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		t.Fatalf("catalog list: Endpoints is neither a list nor text: %s", raw)
	}
	for _, line := range strings.Split(text, "\n") {
		iface, url, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if ok {
			eps[iface] = url
		}
	}
	return eps
}
