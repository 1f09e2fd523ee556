package identity

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/identity"
)

// decodeTrustBody is what createTrust does before calling the service.
func decodeTrustBody(b []byte) (svc.TrustInput, error) {
	r := httptest.NewRequest(http.MethodPost, Prefix+"/v3/OS-TRUST/trusts", bytes.NewReader(b))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, rest.MaxBody)
	f, err := body(r, "trust")
	if err != nil {
		return svc.TrustInput{}, err
	}
	return decodeTrust(f)
}

func TestDecodeTrust(t *testing.T) {
	exp := time.Date(2031, 2, 3, 4, 5, 6, 789000000, time.UTC)
	for _, c := range []struct {
		name   string
		body   string
		want   svc.TrustInput
		status int // 0: success
	}{
		{
			name: "api-ref sample",
			body: `{"trust": {"expires_at": "2031-02-03T04:05:06.789Z", "impersonation": true, "allow_redelegation": true,
				"project_id": "ddef321", "roles": [{"name": "member"}, {"id": "ed7b78"}], "trustee_user_id": "86c0d5", "trustor_user_id": "a0fdfd"}}`,
			want: svc.TrustInput{TrustorUserID: "a0fdfd", TrusteeUserID: "86c0d5", ProjectID: "ddef321", Impersonation: true,
				ExpiresAt: &exp, AllowRedelegation: true, Roles: []svc.TrustRole{{Name: "member"}, {ID: "ed7b78"}}, Extra: map[string]any{}},
		},
		{
			name: "nulls and extras",
			body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": false, "project_id": null, "expires_at": null,
				"remaining_uses": null, "allow_redelegation": null, "redelegation_count": null, "roles": null, "id": "mine", "links": {}, "color": "blue"}}`,
			want: svc.TrustInput{TrustorUserID: "a", TrusteeUserID: "b", Extra: map[string]any{"color": "blue"}},
		},
		{
			name: "counts",
			body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": false, "remaining_uses": 5, "redelegation_count": 0}}`,
			want: svc.TrustInput{TrustorUserID: "a", TrusteeUserID: "b", RemainingUses: new(5), RedelegationCount: new(0), Extra: map[string]any{}},
		},
		{name: "no trustee", body: `{"trust": {"trustor_user_id": "a", "impersonation": true}}`, status: 400},
		{name: "empty trustor", body: `{"trust": {"trustor_user_id": "", "trustee_user_id": "b", "impersonation": true}}`, status: 400},
		{name: "long trustor", body: `{"trust": {"trustor_user_id": "` + string(bytes.Repeat([]byte("a"), 65)) + `", "trustee_user_id": "b", "impersonation": true}}`, status: 400},
		{name: "impersonation null", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": null}}`, status: 400},
		{name: "project id with a slash", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "project_id": "a/b"}}`, status: 400},
		{name: "uses as string", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "remaining_uses": "3"}}`, status: 400},
		{name: "uses negative", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "remaining_uses": -1}}`, status: 400},
		{name: "huge uses", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "remaining_uses": 1e300}}`, status: 400},
		{name: "count negative", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "redelegation_count": -1}}`, status: 400},
		{name: "redelegation flag as string", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "allow_redelegation": "true"}}`, status: 400},
		{name: "roles object", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "roles": {"name": "x"}}}`, status: 400},
		{name: "empty role", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "roles": [{}]}}`, status: 400},
		{name: "role with unknown key", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "roles": [{"role": "x"}]}}`, status: 400},
		{name: "role name number", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "roles": [{"name": 3}]}}`, status: 400},
		{name: "expires_at number", body: `{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "expires_at": 3}}`, status: 400},
		{name: "trust is a list", body: `{"trust": []}`, status: 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeTrustBody([]byte(c.body))
			if c.status != 0 {
				if !oserr.Is(err, c.status) {
					t.Fatalf("decode = %+v, %v; want %d", got, err, c.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeTrust: any body yields a trust input or a 4xx *oserr.Error, and
// a decoded input holds what the service relies on.
func FuzzDecodeTrust(f *testing.F) {
	for _, s := range []string{
		`{"trust": {"expires_at": "2031-02-03T04:05:06.789Z", "impersonation": true, "allow_redelegation": true, "project_id": "ddef321", "roles": [{"name": "member"}], "trustee_user_id": "86c0d5", "trustor_user_id": "a0fdfd"}}`,
		`{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": false, "remaining_uses": 3, "redelegation_count": 0, "roles": [{"id": "r"}]}}`,
		`{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": null, "roles": [{"id": "r", "name": "n"}]}}`,
		`{"trust": {"trustor_user_id": 1, "trustee_user_id": [], "impersonation": {}}}`,
		`{"trust": null}`, `{"trust": []}`, `{}`, `null`, ``, `[`, `{"trust": {"roles": [null, 1, "x", {}]}}`,
		`{"trust": {"trustor_user_id": "a", "trustee_user_id": "b", "impersonation": true, "remaining_uses": 1e400}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := decodeTrustBody(b)
		if err != nil {
			var e *oserr.Error
			if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Message == "" {
				t.Fatalf("decode error %v, want a 4xx *oserr.Error with a message", err)
			}
			return
		}
		if in.TrustorUserID == "" || in.TrusteeUserID == "" {
			t.Fatalf("decoded without trustor or trustee: %+v", in)
		}
		if in.RemainingUses != nil && *in.RemainingUses < 1 || in.RedelegationCount != nil && *in.RedelegationCount < 0 {
			t.Fatalf("decoded counts out of range: %+v", in)
		}
		for _, r := range in.Roles {
			if (r.ID == "") == (r.Name == "") {
				t.Fatalf("role with both or neither of id and name: %+v", r)
			}
		}
		for _, k := range []string{"trustor_user_id", "roles", "id", "links", "deleted_at"} {
			if _, ok := in.Extra[k]; ok {
				t.Fatalf("extra keeps %q: %+v", k, in.Extra)
			}
		}
	})
}
