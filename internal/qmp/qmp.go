// Package qmp is a client of the QEMU Machine Protocol: one connection to
// a QEMU's or a qemu-storage-daemon's monitor socket, commands with
// deadlines, asynchronous events skipped. It is plumbing below the qemu
// and storage drivers.
package qmp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// Conn is one connection to a monitor socket. QEMU serves one client per
// socket at a time: callers keep it so (the agent's one worker per guest,
// the storage pool's mutex). Every call has a deadline.
type Conn struct {
	conn net.Conn
	r    *bufio.Reader
}

// Error is an error QEMU answered with.
type Error struct {
	Class, Desc string
}

func (e *Error) Error() string { return e.Class + ": " + e.Desc }

// Dial connects to sock and leaves capabilities negotiation done.
func Dial(ctx context.Context, sock string) (*Conn, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	q := &Conn{conn: conn, r: bufio.NewReader(conn)}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := q.read(&greeting); err != nil || greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("no QMP greeting on %s: %v", sock, err)
	}
	if _, err := q.Exec(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

// Close closes the connection.
func (q *Conn) Close() error { return q.conn.Close() }

func (q *Conn) read(v any) error {
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// Exec runs one command and returns its "return" value, skipping the
// asynchronous events QEMU interleaves.
func (q *Conn) Exec(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = q.conn.SetDeadline(deadline)
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Class string `json:"class"`
				Desc  string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := q.read(&resp); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case resp.Event != "":
			continue
		case resp.Error != nil:
			return nil, fmt.Errorf("qmp %s: %w", cmd, &Error{resp.Error.Class, resp.Error.Desc})
		default:
			return resp.Return, nil
		}
	}
}

// Status is QEMU's run state: running, paused, shutdown, inmigrate,
// postmigrate, prelaunch, …
func (q *Conn) Status(ctx context.Context) (string, error) {
	raw, err := q.Exec(ctx, "query-status", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	err = json.Unmarshal(raw, &st)
	return st.Status, err
}
