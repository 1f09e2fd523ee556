package object_test

import (
	"strings"
	"testing"
)

// TestACLs: container read and write ACLs admit another project's user by
// id or by name, .r:* lets anyone read objects (listings only with
// .rlistings), a reader role reads but does not write, the reseller admin
// owns every account, and only owners see and set ACLs.
func TestACLs(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		e.must(201, "PUT", a+"/shared", tok, nil)
		e.must(201, "PUT", a+"/shared/doc", tok, []byte("secret"))

		// Before any ACL: bob (another project) is refused, anonymous too.
		e.must(403, "GET", a+"/shared/doc", e.bob.token, nil)
		e.must(403, "GET", a+"/shared", e.bob.token, nil)
		e.must(401, "GET", a+"/shared/doc", "", nil)

		// Read ACL by project id and user id.
		e.must(204, "POST", a+"/shared", tok, nil, "X-Container-Read", e.bob.projectID+":"+e.bob.id)
		if got := e.must(200, "GET", a+"/shared/doc", e.bob.token, nil).String(); got != "secret" {
			t.Errorf("bob read %q", got)
		}
		if got := lines(e.must(200, "GET", a+"/shared", e.bob.token, nil).Body); len(got) != 1 || got[0] != "doc" {
			t.Errorf("bob's listing %v", got)
		}
		r := e.must(204, "HEAD", a+"/shared", e.bob.token, nil)
		if r.Header.Get("X-Container-Read") != "" {
			t.Error("an ACL user sees the container's ACLs")
		}
		if r := e.must(204, "HEAD", a+"/shared", tok, nil); r.Header.Get("X-Container-Read") != e.bob.projectID+":"+e.bob.id {
			t.Errorf("the owner sees X-Container-Read %q", r.Header.Get("X-Container-Read"))
		}
		e.must(403, "PUT", a+"/shared/bob-wrote", e.bob.token, []byte("x"))
		e.must(403, "DELETE", a+"/shared/doc", e.bob.token, nil)
		e.must(403, "POST", a+"/shared", e.bob.token, nil, "X-Container-Read", ".r:*")
		e.must(403, "GET", a, e.bob.token, nil)

		// Write ACL by names (Default domain), read ACL cleared.
		e.must(204, "POST", a+"/shared", tok, nil, "X-Container-Write", "project-b:bob", "X-Remove-Container-Read", "x")
		e.must(201, "PUT", a+"/shared/bob-wrote", e.bob.token, []byte("from bob"))
		e.must(403, "GET", a+"/shared/bob-wrote", e.bob.token, nil)
		e.must(204, "DELETE", a+"/shared/bob-wrote", e.bob.token, nil)

		// Public read: objects for anyone; listings only with .rlistings.
		e.must(204, "POST", a+"/shared", tok, nil, "X-Container-Read", ".r:*", "X-Container-Write", "")
		if got := e.must(200, "GET", a+"/shared/doc", "", nil).String(); got != "secret" {
			t.Errorf("anonymous read %q", got)
		}
		e.must(200, "GET", a+"/shared/doc", e.bob.token, nil)
		e.must(401, "GET", a+"/shared", "", nil)
		e.must(401, "PUT", a+"/shared/anon", "", []byte("x"))
		e.must(204, "POST", a+"/shared", tok, nil, "X-Container-Read", ".r:*,.rlistings")
		e.must(200, "GET", a+"/shared", "", nil)
		// Referrer designations: only example.com (and not bad.example.com).
		e.must(204, "POST", a+"/shared", tok, nil, "X-Container-Read", ".r:.example.com,.r:-bad.example.com")
		e.must(200, "GET", a+"/shared/doc", "", nil, "Referer", "http://www.example.com/page")
		e.must(401, "GET", a+"/shared/doc", "", nil, "Referer", "http://bad.example.com/page")
		e.must(401, "GET", a+"/shared/doc", "", nil)

		// Bad ACLs are refused with Swift's messages.
		r = e.must(400, "POST", a+"/shared", tok, nil, "X-Container-Write", ".r:*")
		if !strings.Contains(r.String(), "Referrers not allowed in write ACL") {
			t.Errorf("referrer in write ACL: %s", r.Body)
		}
		r = e.must(400, "POST", a+"/shared", tok, nil, "X-Container-Read", ".r:")
		if !strings.Contains(r.String(), "No host/domain value after referrer designation") {
			t.Errorf("empty referrer: %s", r.Body)
		}
		e.must(400, "POST", a+"/shared", tok, nil, "X-Container-Read", ".x:y")

		// A reader reads its project's account and cannot write.
		e.must(200, "GET", a+"/shared/doc", e.carol.token, nil)
		e.must(204, "GET", a+"?prefix=zz", e.carol.token, nil)
		e.must(403, "PUT", a+"/shared/carol", e.carol.token, []byte("x"))
		e.must(403, "PUT", a+"/carol", e.carol.token, nil)

		// The reseller admin owns every account.
		reseller := e.grant(e.bob, "ResellerAdmin")
		e.must(200, "GET", a+"/shared/doc", reseller.token, nil)
		e.must(201, "PUT", a+"/by-reseller", reseller.token, nil)
		e.must(204, "DELETE", a+"/by-reseller", reseller.token, nil)
	})
}

// TestTenantIsolation: another project's member gets 403 on every
// operation on an account that is not its own, for containers and objects
// that exist and that do not; nothing of the account leaks.
func TestTenantIsolation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *swiftEnv) {
		a, tok := e.alice.account(), e.alice.token
		e.must(201, "PUT", a+"/private", tok, nil, "X-Container-Meta-Secret", "s")
		e.must(201, "PUT", a+"/private/obj", tok, []byte("data"))
		e.must(204, "POST", a, tok, nil, "X-Account-Meta-Temp-URL-Key", "k")
		bob := e.bob.token
		for _, c := range []struct{ method, path string }{
			{"GET", a}, {"HEAD", a}, {"POST", a}, {"POST", a + "?bulk-delete"},
			{"GET", a + "/private"}, {"HEAD", a + "/private"}, {"PUT", a + "/private"}, {"POST", a + "/private"}, {"DELETE", a + "/private"},
			{"PUT", a + "/new"}, {"GET", a + "/missing"}, {"DELETE", a + "/missing"},
			{"GET", a + "/private/obj"}, {"HEAD", a + "/private/obj"}, {"PUT", a + "/private/obj"}, {"POST", a + "/private/obj"},
			{"DELETE", a + "/private/obj"}, {"COPY", a + "/private/obj"}, {"GET", a + "/private/missing"}, {"PUT", a + "/private/new"},
			{"PUT", a + "/private/new?multipart-manifest=put"}, {"DELETE", a + "/private/obj?multipart-manifest=delete"},
		} {
			var body []byte
			headers := []string{"Destination", "private/copy"}
			switch {
			case strings.Contains(c.path, "bulk-delete"):
				body = []byte("/private/obj\n")
			case strings.Contains(c.path, "multipart-manifest=put"):
				body = []byte(`[{"path": "/private/obj"}]`)
			case c.method == "PUT" || c.method == "POST":
				body = []byte("x")
				headers = append(headers, "X-Container-Read", ".r:*")
			}
			r := e.do(c.method, c.path, bob, body, headers...)
			if c.path == a+"?bulk-delete" {
				// A bulk delete answers 200 with each path's failure.
				if r.Status != 200 || !strings.Contains(r.String(), "403 Forbidden") || strings.Contains(r.String(), "Number Deleted: 1") {
					t.Errorf("%s %s as bob: %d %s", c.method, c.path, r.Status, r.Body)
				}
				continue
			}
			if r.Status != 403 {
				t.Errorf("%s %s as another project's member: %d, want 403: %s", c.method, c.path, r.Status, r.Body)
			}
			if strings.Contains(r.String(), "data") || r.Header.Get("X-Container-Meta-Secret") != "" || r.Header.Get("X-Account-Meta-Temp-Url-Key") != "" {
				t.Errorf("%s %s leaked: %v %s", c.method, c.path, r.Header, r.Body)
			}
		}
		// Bob's own account is his, and empty.
		e.must(204, "GET", e.bob.account(), bob, nil)
		// Nothing changed for alice.
		if got := e.must(200, "GET", a+"/private/obj", tok, nil).String(); got != "data" {
			t.Errorf("alice's object is now %q", got)
		}
		if got := lines(e.must(200, "GET", a, tok, nil).Body); len(got) != 1 {
			t.Errorf("alice's containers: %v", got)
		}
	})
}
