package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmp is one connection to the storage daemon's monitor. The daemon
// serves one monitor client at a time; the pool's mutex keeps it so.
type qmp struct {
	conn net.Conn
	r    *bufio.Reader
	// events holds the asynchronous events read while waiting for
	// replies, oldest first.
	events []string
}

type qmpError struct{ Class, Desc string }

func (e *qmpError) Error() string { return e.Class + ": " + e.Desc }

func dialQMP(ctx context.Context, sock string) (*qmp, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	q := &qmp{conn: conn, r: bufio.NewReader(conn)}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := q.read(&greeting); err != nil || greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("no QMP greeting on %s: %v", sock, err)
	}
	if _, err := q.exec(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmp) Close() error { return q.conn.Close() }

func (q *qmp) read(v any) error {
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// exec runs one command and returns its "return" value.
func (q *qmp) exec(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
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
			q.events = append(q.events, resp.Event)
		case resp.Error != nil:
			return nil, fmt.Errorf("qmp %s: %w", cmd, &qmpError{resp.Error.Class, resp.Error.Desc})
		default:
			return resp.Return, nil
		}
	}
}
