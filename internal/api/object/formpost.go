package object

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/object"
)

// isForm reports whether a POST is a FormPost upload.
func isForm(r *http.Request) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "multipart/form-data" && params["boundary"] != ""
}

// maxFormValue bounds a form field (Swift's MAX_VALUE_LENGTH);
// maxFormFields bounds how many a form may have.
const (
	maxFormValue  = 4096
	maxFormFields = 100
)

// formErr is a FormPost failure: its text/plain body as Swift words it.
func formErr(status int, msg string) error {
	return textErr(status, "FormPost: %s", msg)
}

// formPost serves a browser's form upload (Swift's formpost middleware):
// the fields redirect, max_file_size, max_file_count, expires and
// signature (an HMAC over path, redirect, sizes and expiry with a TempURL
// key), then up to max_file_count files, each stored as the request path
// followed by its file name.
func (a *API) formPost(w http.ResponseWriter, r *http.Request, p Path) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return formErr(400, "invalid starting boundary")
	}
	attrs := map[string]string{}
	files, created := 0, 0
	status, message := 0, ""
	var keys svc.Keys
	keysRead := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formErr(400, "invalid starting boundary")
		}
		if part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, maxFormValue))
			if err != nil {
				return uploadErr(fmt.Errorf("%w: %v", svc.ErrClientGone, err))
			}
			_, _ = io.Copy(io.Discard, part)
			if name := part.FormName(); name != "" {
				if len(attrs) >= maxFormFields {
					return formErr(400, fmt.Sprintf("more than %d form fields", maxFormFields))
				}
				attrs[strings.ToLower(name)] = strings.TrimRight(string(v), "\r\n-")
			}
			continue
		}
		files++
		maxCount, err := strconv.Atoi(orDefault(attrs["max_file_count"], "0"))
		if err != nil {
			return formErr(400, "max_file_count not an integer")
		}
		if files > maxCount {
			status, message = 400, "max file count exceeded"
			break
		}
		if !keysRead {
			if keys, err = a.svc.TempURLKeys(r.Context(), p.Account, p.Container); err != nil {
				return err
			}
			keysRead = true
		}
		c, err := a.checkForm(r, attrs, keys, p)
		if err != nil {
			return err
		}
		maxSize, err := strconv.ParseInt(orDefault(attrs["max_file_size"], "0"), 10, 64)
		if err != nil {
			return formErr(400, "max_file_size not an integer")
		}
		name := p.Object + part.FileName()
		if p.Object == "" {
			name = part.FileName()
		}
		capped := &cappedReader{r: part, left: maxSize}
		in := svc.PutInput{Body: capped, Length: -1, Headers: map[string]string{}}
		in.ContentType = attrs["content-type"]
		if in.ContentType == "" {
			in.ContentType = part.Header.Get("Content-Type")
		}
		if ce := orDefault(attrs["content-encoding"], part.Header.Get("Content-Encoding")); ce != "" {
			in.Headers["content-encoding"] = ce
		}
		if v, ok := attrs["x_delete_at"]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return formErr(400, "x_delete_at not an integer: Unix timestamp required.")
			}
			in.DeleteAt = n
		}
		if v, ok := attrs["x_delete_after"]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return formErr(400, "x_delete_after not an integer: Number of seconds required.")
			}
			in.DeleteAt = a.now().Unix() + n
		}
		_, err = a.svc.Put(r.Context(), c, p.Account, p.Container, name, in)
		if err != nil && capped.over {
			return formErr(400, "max_file_size exceeded")
		}
		if err != nil {
			e := oserr.From(uploadErr(err))
			status, message = e.Status, e.Message
			break
		}
		created++
		status = 201
	}
	if status == 0 {
		status, message = 400, "no files to process"
	}
	line := fmt.Sprintf("%d %s", status, reasonOf(status))
	if redirect := attrs["redirect"]; redirect != "" {
		sep := "?"
		if strings.Contains(redirect, "?") {
			sep = "&"
		}
		loc := redirect + sep + "status=" + strconv.Itoa(status) + "&message=" + url.QueryEscape(message)
		body := `<html><body><p><a href="` + xmlEscape(loc) + `">Click to continue...</a></p></body></html>`
		w.Header().Set("Location", loc)
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusSeeOther)
		_, _ = io.WriteString(w, body)
		return nil
	}
	body := line
	if message != "" {
		body += "\r\nFormPost: " + message
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
	return nil
}

// checkForm verifies a form's expiry and signature; a valid one
// authorises its uploads as the key's owner.
func (a *API) checkForm(r *http.Request, attrs map[string]string, keys svc.Keys, p Path) (*svc.Caller, error) {
	exp, err := strconv.ParseInt(orDefault(attrs["expires"], "0"), 10, 64)
	if err != nil {
		return nil, formErr(400, "expired not an integer")
	}
	if exp < a.now().Unix() {
		return nil, formErr(401, "Form Expired")
	}
	algo, sig, ok := ParseSignature(attrs["signature"])
	if !ok {
		return nil, formErr(401, "Invalid Signature")
	}
	check := func(keys []string) bool {
		for _, path := range signedPaths(r.URL.Path) {
			body := fmt.Sprintf("%s\n%s\n%s\n%s\n%s", path, attrs["redirect"], orDefault(attrs["max_file_size"], "0"),
				orDefault(attrs["max_file_count"], "0"), orDefault(attrs["expires"], "0"))
			for _, k := range keys {
				if hmac.Equal([]byte(Sign(algo, k, body)), []byte(sig)) {
					return true
				}
			}
		}
		return false
	}
	c := &svc.Caller{Signed: true, Account: p.Account}
	switch {
	case check(keys.Account):
	case check(keys.Container):
		c.SignedContainer = p.Container
	default:
		return nil, formErr(401, "Invalid Signature")
	}
	return c, nil
}

// errTooBig is a form file past max_file_size.
var errTooBig = errors.New("max_file_size exceeded")

// cappedReader fails once more than left bytes are read.
type cappedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		c.over = true
		return n, errTooBig
	}
	return n, err
}
