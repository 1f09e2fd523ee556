package identity

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
)

func authRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, Prefix+"/v3/auth/tokens", bytes.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, rest.MaxBody)
	return r
}

func TestDecodeAuth(t *testing.T) {
	for _, c := range []struct {
		name   string
		body   string
		want   svc.AuthRequest
		status int // 0: success
	}{
		{
			name: "password, project by name",
			body: `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"pw"}}},
				"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}`,
			want: svc.AuthRequest{Methods: []string{"password"}, User: svc.UserSelector{Name: "admin", DomainName: "Default"}, Password: "pw",
				Scope: svc.Scope{ProjectName: "admin", ProjectDomainID: "default"}},
		},
		{
			name: "token, unscoped",
			body: `{"auth":{"identity":{"methods":["token"],"token":{"id":"tok"}},"scope":"unscoped"}}`,
			want: svc.AuthRequest{Methods: []string{"token"}, Token: "tok", Scope: svc.Scope{Unscoped: true}},
		},
		{
			name: "application credential by name, system scope",
			body: `{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"name":"ci","secret":"s","user":{"id":"u"}}},"scope":{"system":{"all":true}}}}`,
			want: svc.AuthRequest{Methods: []string{"application_credential"}, AppCred: &svc.AppCredAuth{Name: "ci", Secret: "s", User: svc.UserSelector{ID: "u"}},
				Scope: svc.Scope{System: true}},
		},
		{name: "no identity", body: `{"auth":{}}`, status: 400},
		{name: "password without user", body: `{"auth":{"identity":{"methods":["password"],"password":{}}}}`, status: 400},
		{name: "token without id", body: `{"auth":{"identity":{"methods":["token"],"token":{}}}}`, status: 400},
		{name: "app cred missing", body: `{"auth":{"identity":{"methods":["application_credential"]}}}`, status: 400},
		{name: "scope string", body: `{"auth":{"identity":{"methods":[]},"scope":"project"}}`, status: 400},
		{name: "empty project scope", body: `{"auth":{"identity":{"methods":[]},"scope":{"project":{}}}}`, status: 400},
		{name: "system not all", body: `{"auth":{"identity":{"methods":[]},"scope":{"system":{}}}}`, status: 400},
		{name: "scope of wrong type", body: `{"auth":{"identity":{"methods":[]},"scope":[1]}}`, status: 400},
		{name: "methods of wrong type", body: `{"auth":{"identity":{"methods":"password"}}}`, status: 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeAuth(authRequest([]byte(c.body)))
			if c.status != 0 {
				if !oserr.Is(err, c.status) {
					t.Fatalf("decodeAuth = %v, want %d", err, c.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("decodeAuth (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeAuth: any body yields a request or a 4xx *oserr.Error, and a
// decoded request has what each of its methods needs.
func FuzzDecodeAuth(f *testing.F) {
	for _, s := range []string{
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"pw"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}`,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"u","password":"pw"}}},"scope":{"domain":{"id":"default"}}}}`,
		`{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},"scope":"unscoped"}}`,
		`{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"a","secret":"s"}}}}`,
		`{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"name":"a","secret":"s","user":{"name":"u","domain":{"id":"d"}}}}}}`,
		`{"auth":{"identity":{"methods":["password","token"],"token":{"id":"t"}},"scope":{"system":{"all":true}}}}`,
		`{"auth":{"identity":{"methods":[]},"scope":{"project":{"id":"p"},"domain":{"name":"d"}}}}`,
		`{"auth":{"identity":null}}`, `{"auth":null}`, `{}`, `null`, `[]`, ``, `{"auth":{"identity":{"methods":[null]}}}`,
		`{"auth":{"identity":{"methods":["token"],"token":{"id":"t"}},"scope":{"project":null}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeAuth(authRequest(body))
		if err != nil {
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Message == "" {
				t.Fatalf("decodeAuth error %v, want a 4xx *oserr.Error with a message", err)
			}
			return
		}
		if slices.Contains(req.Methods, "token") && req.Token == "" {
			t.Fatalf("token method decoded without a token: %+v", req)
		}
		if slices.Contains(req.Methods, "application_credential") && req.AppCred == nil {
			t.Fatalf("application_credential method decoded without one: %+v", req)
		}
		if req.Scope.Unscoped && req.Scope != (svc.Scope{Unscoped: true}) {
			t.Fatalf("unscoped request with a scope: %+v", req.Scope)
		}
	})
}
