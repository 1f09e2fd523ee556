package object_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/objectstorage/v1/objects"
)

func hmacHex(key, body string, sha256sum bool) string {
	m := hmac.New(sha1.New, []byte(key))
	if sha256sum {
		m = hmac.New(sha256.New, []byte(key))
	}
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// TestTempURL: a URL signed with the account's (or a container's) key
// reads, writes or heads one object without a token until it expires;
// anything else about it is a 401.
func TestTempURL(t *testing.T) {
	e := newSwiftEnv(t)
	ctx := context.Background()
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/c", tok, nil)
	e.must(201, "PUT", a+"/c/report.pdf", tok, []byte("quarterly"), "X-Object-Meta-Private", "p", "X-Object-Meta-Public-Tag", "t")
	e.must(204, "POST", a, tok, nil, "X-Account-Meta-Temp-URL-Key", "secret-key")

	// gophercloud signs with sha1 over /v1/AUTH_…/c/o.
	u, err := objects.CreateTempURL(ctx, e.aliceSC, "c", "report.pdf", objects.CreateTempURLOpts{Method: "GET", TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "quarterly" {
		t.Fatalf("TempURL GET: %d %q", res.StatusCode, body)
	}
	if res.Header.Get("Content-Disposition") != `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` ||
		res.Header.Get("X-Object-Meta-Private") != "" || res.Header.Get("X-Object-Meta-Public-Tag") != "t" {
		t.Errorf("TempURL GET headers %v", res.Header)
	}
	path := u[len(e.URL):]
	e.must(200, "HEAD", path, "", nil) // HEAD with a GET signature
	e.must(200, "GET", path+"&inline", "", nil)
	e.must(401, "PUT", path, "", []byte("x")) // a GET signature does not write
	e.must(401, "GET", strings.Replace(path, "report.pdf", "other.pdf", 1), "", nil)
	e.must(401, "GET", a+"/c/report.pdf?temp_url_sig=abc&temp_url_expires=9999999999", "", nil)

	// sha256 over the path as the client sees it (/object/v1/…), as
	// Tempest signs; a PUT.
	exp := time.Now().Add(time.Minute).Unix()
	full := a + "/c/upload.bin"
	sig := hmacHex("secret-key", fmt.Sprintf("PUT\n%d\n%s", exp, full), true)
	e.must(201, "PUT", fmt.Sprintf("%s?temp_url_sig=%s&temp_url_expires=%d", full, sig, exp), "", []byte("uploaded"))
	if got := e.must(200, "GET", full, tok, nil).String(); got != "uploaded" {
		t.Errorf("TempURL PUT stored %q", got)
	}
	// Expired.
	old := time.Now().Add(-time.Second).Unix()
	sig = hmacHex("secret-key", fmt.Sprintf("GET\n%d\n%s", old, full), true)
	r := e.must(401, "GET", fmt.Sprintf("%s?temp_url_sig=%s&temp_url_expires=%d", full, sig, old), "", nil)
	if !strings.HasPrefix(r.String(), "401 Unauthorized: Temp URL invalid") {
		t.Errorf("expired TempURL: %s", r.Body)
	}
	// Key-2 and container keys work; after the key changes, old URLs fail.
	e.must(204, "POST", a+"/c", tok, nil, "X-Container-Meta-Temp-URL-Key", "container-key")
	sig = hmacHex("container-key", fmt.Sprintf("GET\n%d\n%s", exp, full), false)
	e.must(200, "GET", fmt.Sprintf("%s?temp_url_sig=%s&temp_url_expires=%d", full, sig, exp), "", nil)
	e.must(204, "POST", a, tok, nil, "X-Account-Meta-Temp-URL-Key", "rotated")
	e.must(401, "GET", path, "", nil)
	// Prefix URLs sign every object under a prefix.
	e.must(201, "PUT", a+"/c/docs/a", tok, []byte("A"))
	sig = hmacHex("rotated", fmt.Sprintf("GET\n%d\nprefix:%s", exp, a+"/c/docs/"), true)
	e.must(200, "GET", fmt.Sprintf("%s?temp_url_sig=%s&temp_url_expires=%d&temp_url_prefix=docs/", a+"/c/docs/a", sig, exp), "", nil)
	e.must(401, "GET", fmt.Sprintf("%s?temp_url_sig=%s&temp_url_expires=%d&temp_url_prefix=docs/", a+"/c/report.pdf", sig, exp), "", nil)
	// The account's keys are only shown to its owner.
	if r := e.must(204, "HEAD", a, tok, nil); r.Header.Get("X-Account-Meta-Temp-Url-Key") != "rotated" {
		t.Errorf("owner's HEAD: %v", r.Header)
	}
}

// TestFormPost uploads files from an HTML form signed with the account's
// key, and refuses expired and badly signed forms.
func TestFormPost(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/uploads", tok, nil)
	e.must(204, "POST", a, tok, nil, "X-Account-Meta-Temp-URL-Key", "form-key")
	form := func(key string, expires int64, maxSize, maxCount int, files ...string) ([]byte, string) {
		path := a + "/uploads/user1_"
		sig := hmacHex(key, fmt.Sprintf("%s\n%s\n%d\n%d\n%d", path, "", maxSize, maxCount, expires), false)
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for _, kv := range [][2]string{{"redirect", ""}, {"max_file_size", fmt.Sprint(maxSize)}, {"max_file_count", fmt.Sprint(maxCount)},
			{"expires", fmt.Sprint(expires)}, {"signature", sig}} {
			_ = mw.WriteField(kv[0], kv[1])
		}
		for i, f := range files {
			w, _ := mw.CreateFormFile(fmt.Sprintf("file%d", i), fmt.Sprintf("f%d.txt", i))
			_, _ = w.Write([]byte(f))
		}
		mw.Close()
		return b.Bytes(), mw.FormDataContentType()
	}
	exp := time.Now().Add(time.Minute).Unix()
	body, ctype := form("form-key", exp, 100, 2, "hello", "world")
	r := e.must(201, "POST", a+"/uploads/user1_", "", body, "Content-Type", ctype)
	if !strings.HasPrefix(r.String(), "201 Created") {
		t.Errorf("form post: %s", r.Body)
	}
	if got := lines(e.must(200, "GET", a+"/uploads", tok, nil).Body); len(got) != 2 || got[0] != "user1_f0.txt" {
		t.Errorf("uploaded %v", got)
	}
	if got := e.must(200, "GET", a+"/uploads/user1_f1.txt", tok, nil).String(); got != "world" {
		t.Errorf("file 1: %q", got)
	}
	body, ctype = form("form-key", time.Now().Add(-time.Second).Unix(), 100, 2, "x")
	if r := e.must(401, "POST", a+"/uploads/user1_", "", body, "Content-Type", ctype); !strings.Contains(r.String(), "FormPost: Form Expired") {
		t.Errorf("expired form: %s", r.Body)
	}
	body, ctype = form("wrong-key", exp, 100, 2, "x")
	if r := e.must(401, "POST", a+"/uploads/user1_", "", body, "Content-Type", ctype); !strings.Contains(r.String(), "FormPost: Invalid Signature") {
		t.Errorf("badly signed form: %s", r.Body)
	}
	body, ctype = form("form-key", exp, 3, 2, "too large")
	if r := e.must(400, "POST", a+"/uploads/user1_", "", body, "Content-Type", ctype); !strings.Contains(r.String(), "max_file_size exceeded") {
		t.Errorf("large file: %s", r.Body)
	}
	body, ctype = form("form-key", exp, 100, 1, "a", "b")
	if r := e.do("POST", a+"/uploads/user1_", "", body, "Content-Type", ctype); r.Status != 400 || !strings.Contains(r.String(), "max file count exceeded") {
		t.Errorf("too many files: %d %s", r.Status, r.Body)
	}
	// The first file of the last form went in before the second was
	// refused (as Swift); nothing of the others.
	if got := lines(e.must(200, "GET", a+"/uploads", tok, nil).Body); len(got) != 2 {
		t.Errorf("after refused forms: %v", got)
	}
	if got := e.must(200, "GET", a+"/uploads/user1_f0.txt", tok, nil).String(); got != "a" {
		t.Errorf("file 0 is %q", got)
	}
}
