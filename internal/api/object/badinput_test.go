package object_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestBadInput: names and metadata Swift refuses, malformed copies,
// missing lengths: each gets Swift's status and message, and nothing is
// written.
func TestBadInput(t *testing.T) {
	e := newSwiftEnv(t)
	a, tok := e.alice.account(), e.alice.token
	e.must(201, "PUT", a+"/c", tok, nil)
	for _, c := range []struct {
		name, method, path string
		body               []byte
		headers            []string
		status             int
		want               string
	}{
		{"container name too long", "PUT", "/" + strings.Repeat("c", 257), nil, nil, 400, "Container name length of 257 longer than 256"},
		{"object name too long", "PUT", "/c/" + strings.Repeat("o", 1025), []byte("x"), nil, 400, "Object name length of 1025 longer than 1024"},
		{"invalid UTF-8 object", "PUT", "/c/%ff%fe", []byte("x"), nil, 412, "Invalid UTF8 or contains NULL"},
		{"NUL in a name", "PUT", "/c/a%00b", []byte("x"), nil, 412, "Invalid UTF8 or contains NULL"},
		{"invalid UTF-8 container", "PUT", "/%c3%28", nil, nil, 412, "Invalid UTF8 or contains NULL"},
		{"metadata name too long", "POST", "/c", nil, []string{"X-Container-Meta-" + strings.Repeat("k", 129), "v"}, 400, "Metadata name too long"},
		{"metadata value too long", "PUT", "/c/o", []byte("x"), []string{"X-Object-Meta-K", strings.Repeat("v", 257)}, 400, "Metadata value longer than 256"},
		{"empty metadata name", "POST", "/c", nil, []string{"X-Container-Meta-", "v"}, 400, "Metadata name cannot be empty"},
		{"invalid UTF-8 metadata", "POST", "/c", nil, []string{"X-Container-Meta-K", "\xff"}, 400, "Metadata must be valid UTF-8"},
		{"copy from nowhere", "PUT", "/c/o", nil, []string{"X-Copy-From", "nocontainer"}, 412, "X-Copy-From header must be of the form <container name>/<object name>"},
		{"copy with a body", "PUT", "/c/o", []byte("x"), []string{"X-Copy-From", "c/src"}, 400, "Copy requests require a zero byte body"},
		{"copy without destination", "COPY", "/c/o", nil, nil, 412, "Destination header required"},
		{"copy of a missing object", "COPY", "/c/missing", nil, []string{"Destination", "c/dst"}, 404, "missing"},
		{"object in a missing container", "PUT", "/nope/o", []byte("x"), nil, 404, "Container nope does not exist"},
		{"bad storage policy", "PUT", "/c2", nil, []string{"X-Storage-Policy", "gold"}, 400, "Invalid X-Storage-Policy"},
		{"container sync", "POST", "/c", nil, []string{"X-Container-Sync-To", "//realm/cluster/AUTH_x/c"}, 400, "Container sync is not served"},
		{"versions in a bad container", "POST", "/c", nil, []string{"X-Versions-Location", "a/b"}, 400, "X-Versions-Location"},
		{"bad bulk archive format", "PUT", "?extract-archive=zip", []byte("x"), nil, 400, "Unsupported archive format"},
	} {
		r := e.do(c.method, a+c.path, tok, c.body, c.headers...)
		if r.Status != c.status || !strings.Contains(r.String(), c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, r.Status, r.Body, c.status, c.want)
		}
	}
	// 90 metadata items at most; 4096 bytes in all.
	var many []string
	for i := range 91 {
		many = append(many, fmt.Sprintf("X-Container-Meta-K%d", i), "v")
	}
	if r := e.must(400, "POST", a+"/c", tok, nil, many...); !strings.Contains(r.String(), "Too many metadata items; max 90") {
		t.Errorf("too many: %s", r.Body)
	}
	var large []string
	for i := range 20 {
		large = append(large, fmt.Sprintf("X-Container-Meta-K%d", i), strings.Repeat("v", 250))
	}
	if r := e.must(400, "POST", a+"/c", tok, nil, large...); !strings.Contains(r.String(), "Total metadata too large; max 4096") {
		t.Errorf("too large: %s", r.Body)
	}
	// Missing Content-Length (not chunked) is 411, written by hand as Go's
	// client always sends one.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s/c/nolength HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nConnection: close\r\n\r\n", a, tok)
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	conn.Close()
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 411") {
		t.Errorf("PUT without Content-Length: %q", buf[:n])
	}
	// Nothing of the above was written.
	if got := lines(e.do("GET", a+"/c", tok, nil).Body); len(got) != 0 {
		t.Errorf("objects after refused requests: %v", got)
	}
	if got := lines(e.do("GET", a, tok, nil).Body); len(got) != 1 {
		t.Errorf("containers after refused requests: %v", got)
	}
	if n := countFiles(t, e); n != 0 {
		t.Errorf("%d data files after refused requests", n)
	}
}
