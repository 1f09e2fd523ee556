// Package hostconsole carries a host's guest consoles between an agent
// that runs in its own process (`onestack agent`) and the control plane:
// the agent serves its guests' console logs and serial consoles over HTTP,
// and the control plane, presenting the key the agent registered, reads a
// log or opens a serial stream (an HTTP Upgrade to a raw byte stream).
package hostconsole

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// upgrade names the protocol a serial console switches to.
const upgrade = "onestack-serial"

// Source is a host's hypervisor as far as consoles go.
type Source interface {
	ConsoleOutput(id string) (string, error)
	SerialConsole(ctx context.Context, id string) (net.Conn, error)
}

// NewKey makes a random key for a console server.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Handler serves src's consoles to holders of key:
// GET /v1/consoles/{id}/log and GET /v1/consoles/{id}/serial (Upgrade).
func Handler(key string, src Source, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	authorized := func(w http.ResponseWriter, r *http.Request) bool {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(key)) != 1 {
			http.Error(w, "wrong or missing console key: the control plane presents the key this agent registered", http.StatusUnauthorized)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /v1/consoles/{id}/log", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		out, err := src.ConsoleOutput(r.PathValue("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, out)
	})
	mux.HandleFunc("GET /v1/consoles/{id}/serial", func(w http.ResponseWriter, r *http.Request) {
		if !authorized(w, r) {
			return
		}
		if !strings.EqualFold(r.Header.Get("Upgrade"), upgrade) {
			http.Error(w, "the serial console needs Upgrade: "+upgrade, http.StatusBadRequest)
			return
		}
		guest, err := src.SerialConsole(r.Context(), r.PathValue("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			guest.Close()
			http.Error(w, "this connection cannot be upgraded", http.StatusInternalServerError)
			return
		}
		conn, buf, err := hj.Hijack()
		if err != nil {
			guest.Close()
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + upgrade + "\r\n\r\n")
		if err := buf.Flush(); err != nil {
			conn.Close()
			guest.Close()
			return
		}
		log.Info("serial console opened", "server_id", r.PathValue("id"), "from", r.RemoteAddr)
		go splice(conn, buf.Reader, guest)
	})
	return mux
}

// splice copies both ways until either side ends, then closes both.
func splice(client net.Conn, pending io.Reader, guest net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(guest, io.MultiReader(pending, client)); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, guest); done <- struct{}{} }()
	<-done
	client.Close()
	guest.Close()
	<-done
}

// Client reads consoles from agents' console servers.
type Client struct {
	HTTP *http.Client
}

// Log reads server id's console log from the console server at base.
func (c Client) Log(ctx context.Context, base, key, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/v1/consoles/"+url.PathEscape(id)+"/log", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("the host's agent console server at %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the host's agent answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// DialSerial opens server id's serial console through the console server
// at base: a byte stream to and from the guest's serial port.
func (c Client) DialSerial(ctx context.Context, base, key, id string) (net.Conn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("the host's console URL %q is not http://HOST:PORT", base)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("the host's agent console server at %s: %w", base, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req, _ := http.NewRequest("GET", strings.TrimSuffix(base, "/")+"/v1/consoles/"+url.PathEscape(id)+"/serial", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", upgrade)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("the host's agent console server at %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		conn.Close()
		return nil, fmt.Errorf("the host's agent answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	_ = conn.SetDeadline(time.Time{})
	return &bufferedConn{Conn: conn, r: br}, nil
}

// bufferedConn is a connection whose first bytes were read ahead.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
