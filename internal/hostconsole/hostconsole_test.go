package hostconsole

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoGuest is a guest whose console log is fixed and whose serial port
// answers each line with "echo: " and the line.
type echoGuest struct{ t *testing.T }

func (g echoGuest) ConsoleOutput(id string) (string, error) {
	if id != "vm-1" {
		return "", fmt.Errorf("server %s has no guest on this host", id)
	}
	return "boot log of vm-1\n", nil
}

func (g echoGuest) SerialConsole(_ context.Context, id string) (net.Conn, error) {
	if id != "vm-1" {
		return nil, fmt.Errorf("server %s has no guest on this host", id)
	}
	ours, theirs := net.Pipe()
	go func() {
		defer ours.Close()
		sc := bufio.NewScanner(ours)
		for sc.Scan() {
			if _, err := fmt.Fprintf(ours, "echo: %s\n", sc.Text()); err != nil {
				return
			}
		}
	}()
	return theirs, nil
}

func TestConsoles(t *testing.T) {
	srv := httptest.NewServer(Handler("right-key", echoGuest{t}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c Client

	if got, err := c.Log(ctx, srv.URL, "right-key", "vm-1"); err != nil || got != "boot log of vm-1\n" {
		t.Errorf("log: %q %v", got, err)
	}
	if _, err := c.Log(ctx, srv.URL, "wrong-key", "vm-1"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("log with a wrong key: %v, want a 401 refusal", err)
	}
	if _, err := c.Log(ctx, srv.URL, "right-key", "vm-2"); err == nil || !strings.Contains(err.Error(), "no guest on this host") {
		t.Errorf("log of a server not on the host: %v, want the host's reason", err)
	}
	if _, err := c.DialSerial(ctx, srv.URL, "wrong-key", "vm-1"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("serial with a wrong key: %v, want a 401 refusal", err)
	}

	conn, err := c.DialSerial(ctx, srv.URL, "right-key", "vm-1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, line := range []string{"uname", "ping -c 1 10.0.0.2"} {
		if _, err := fmt.Fprintf(conn, "%s\n", line); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != "echo: "+line+"\n" {
			t.Errorf("serial answer to %q: %q %v", line, got, err)
		}
	}
}
