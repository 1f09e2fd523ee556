package image

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestIdleBody checks that an image body may take longer than the
// server's ReadTimeout while data flows, and fails once the client stalls.
func TestIdleBody(t *testing.T) {
	defer func(d time.Duration) { idleTimeout = d }(idleTimeout)
	idleTimeout = 300 * time.Millisecond
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, newIdleBody(w, r))
		got <- result{n, err}
	}))
	srv.Config.ReadTimeout = 500 * time.Millisecond
	srv.Start()
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Trickle for longer than ReadTimeout, never pausing past idleTimeout.
	chunk := make([]byte, 1000)
	for range 10 {
		if _, err := conn.Write(chunk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Then stall.
	select {
	case r := <-got:
		if r.err == nil || r.n != 10000 {
			t.Errorf("stalled body: read %d bytes, err %v; want 10000 and a timeout", r.n, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled body was never timed out")
	}
}
