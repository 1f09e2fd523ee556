package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// sshAction runs a command over SSH on one host or a list of hosts (a
// guest, say), authenticating with the private key (or password) given
// as input. Keys on the controller (private_key_filename) are not
// offered to workflows: they belong to the cloud, not to its users. Host
// keys are not verified, as Mistral does not verify them.
func sshAction(cfg Config) *engine.Action {
	return &engine.Action{Name: "std.ssh",
		Description: "Runs cmd over SSH on host (or each of a list of hosts) as username with private_key or password; its result is the command's output.",
		Params: []spec.Param{p("cmd"), p("host"), p("username"), d("password", ""), d("private_key_filename", nil), d("private_key", nil),
			d("return_result_on_error", false)},
		Run: func(ctx context.Context, c engine.Call) (any, error) {
			if c.Input["private_key_filename"] != nil {
				return nil, errors.New("private_key_filename is not supported: keys on the controller are not offered to workflows; pass the key itself in private_key")
			}
			cmd := exprvalue.Str(c.Input["cmd"])
			user := exprvalue.Str(c.Input["username"])
			password, _ := c.Input["password"].(string)
			key, _ := c.Input["private_key"].(string)
			full := exprvalue.Truthy(c.Input["return_result_on_error"])
			var hosts []string
			switch h := c.Input["host"].(type) {
			case string:
				hosts = []string{h}
			case []any:
				for _, x := range h {
					hosts = append(hosts, exprvalue.Str(x))
				}
			default:
				return nil, fmt.Errorf("host must be a host name or a list of them, not a %s", exprvalue.Kind(h))
			}
			timeout := cfg.SSHTimeout
			if timeout <= 0 {
				timeout = 10 * time.Minute
			}
			var results []any
			for _, h := range hosts {
				code, stdout, stderr, err := runSSH(ctx, h, user, password, key, cmd, timeout)
				if err != nil {
					return nil, fmt.Errorf("Failed to execute ssh cmd '%s' on %s: %v", cmd, h, err)
				}
				if full {
					results = append(results, map[string]any{"stdout": stdout, "stderr": stderr, "exit_code": int64(code)})
					continue
				}
				if code != 0 {
					return nil, &engine.Failure{Msg: fmt.Sprintf("Failed to execute ssh cmd '%s' on %s: exit status %d: %s", cmd, h, code, clip(strings.TrimSpace(stderr), 500)),
						Data: map[string]any{"stdout": stdout, "stderr": stderr, "exit_code": int64(code)}}
				}
				results = append(results, stdout)
			}
			if len(results) == 1 {
				return results[0], nil
			}
			return results, nil
		}}
}

func runSSH(ctx context.Context, host, user, password, key, cmd string, timeout time.Duration) (int, string, string, error) {
	var methods []ssh.AuthMethod
	if key != "" {
		var signer ssh.Signer
		var err error
		if password != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(password))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return 0, "", "", fmt.Errorf("cannot read private_key: %v", err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if password != "" {
		methods = append(methods, ssh.Password(password))
	}
	if len(methods) == 0 {
		return 0, "", "", errors.New("give private_key or password")
	}
	addr := host
	if _, _, err := net.SplitHostPort(host); err != nil {
		addr = net.JoinHostPort(host, "22")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, "", "", err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{User: user, Auth: methods,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 30 * time.Second})
	if err != nil {
		conn.Close()
		return 0, "", "", err
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return 0, "", "", err
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &limited{b: &stdout, max: 1 << 20}, &limited{b: &stderr, max: 1 << 20}
	err = sess.Run(cmd)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String(), nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), stdout.String(), stderr.String(), nil
	case ctx.Err() != nil:
		return 0, "", "", fmt.Errorf("the command did not finish within %v", timeout)
	}
	return 0, "", "", err
}

// limited keeps the first max bytes written.
type limited struct {
	b   *bytes.Buffer
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}
