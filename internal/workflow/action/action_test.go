package action

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/onestack/onestack/internal/workflow/engine"
)

func stdAction(t *testing.T, name string) *engine.Action {
	t.Helper()
	for _, a := range Std(Config{AllowLoopback: true, CallbackURL: "http://cb/workflow/v2"}) {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no action %s", name)
	return nil
}

func TestHTTP(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		if r.URL.Path == "/missing" {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error": "no such thing"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
		fmt.Fprint(w, `{"n": 3, "list": [1.5, "x"]}`)
	}))
	defer srv.Close()
	a := stdAction(t, "std.http")
	res, err := a.Run(context.Background(), engine.Call{Input: map[string]any{"url": srv.URL + "/p", "method": "post",
		"params": map[string]any{"q": "a b"}, "json": map[string]any{"k": int64(1)}, "headers": map[string]any{"X-Num": int64(7)},
		"auth": "u:pw", "timeout": 5.0}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.(map[string]any)
	if m["status"] != int64(200) || m["content"].(map[string]any)["n"] != int64(3) || m["encoding"] != "utf-8" || m["cookies"].(map[string]any)["session"] != "abc" {
		t.Errorf("result: %v", m)
	}
	if got.Method != "POST" || got.URL.Query().Get("q") != "a b" || body != `{"k":1}` || got.Header.Get("X-Num") != "7" {
		t.Errorf("request: %s %s %q %v", got.Method, got.URL, body, got.Header)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "u" || p != "pw" {
		t.Errorf("basic auth %v %v", u, p)
	}
	_, err = a.Run(context.Background(), engine.Call{Input: map[string]any{"url": srv.URL + "/missing"}})
	var f *engine.Failure
	if !errors.As(err, &f) || f.Data.(map[string]any)["status"] != int64(404) || !strings.Contains(f.Msg, "404") {
		t.Errorf("404: %v", err)
	}
	// The metadata service's link-local address is never reached; loopback
	// only when allowed.
	if _, err := a.Run(context.Background(), engine.Call{Input: map[string]any{"url": "http://169.254.169.254/latest"}}); err == nil || !strings.Contains(err.Error(), "may not reach") {
		t.Errorf("link-local: %v", err)
	}
	strict := httpAction(Config{}, "std.http", false)
	if _, err := strict.Run(context.Background(), engine.Call{Input: map[string]any{"url": srv.URL}}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("loopback without AllowLoopback: %v", err)
	}
	if _, err := a.Run(context.Background(), engine.Call{Input: map[string]any{"url": "file:///etc/passwd"}}); err == nil {
		t.Error("a file URL was fetched")
	}
}

func TestMistralHTTPIsAsyncWithHeaders(t *testing.T) {
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hdr = r.Header }))
	defer srv.Close()
	res, err := stdAction(t, "std.mistral_http").Run(context.Background(), engine.Call{ActionID: "a1", ExecutionID: "x1", TaskID: "t1",
		WorkflowName: "wf", Input: map[string]any{"url": srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.(engine.Async); !ok {
		t.Errorf("result %v, want Async", res)
	}
	if hdr.Get("Mistral-Action-Execution-Id") != "a1" || hdr.Get("Mistral-Callback-URL") != "http://cb/workflow/v2/action_executions/a1" ||
		hdr.Get("Mistral-Workflow-Execution-Id") != "x1" || hdr.Get("Mistral-Task-Id") != "t1" {
		t.Errorf("headers %v", hdr)
	}
}

func TestJS(t *testing.T) {
	js := stdAction(t, "std.js")
	res, err := js.Run(context.Background(), engine.Call{Input: map[string]any{"script": "return $.xs.map(function(x) { return x * 2 })", "context": map[string]any{"xs": []any{int64(1), int64(2)}}}})
	if err != nil || fmt.Sprint(res) != "[2 4]" {
		t.Errorf("result %v %v", res, err)
	}
	start := time.Now()
	_, err = runJS(context.Background(), "while (true) {}", nil, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "longer than") || time.Since(start) > 5*time.Second {
		t.Errorf("an endless script: %v after %v", err, time.Since(start))
	}
	if _, err := js.Run(context.Background(), engine.Call{Input: map[string]any{"script": "throw new Error('boom')"}}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a throwing script: %v", err)
	}
}

// TestSSH runs std.ssh against a real SSH server (x/crypto/ssh's) on
// loopback that accepts one public key and runs "echo"-like commands.
func TestSSH(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(priv)
	hostPub, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	_ = hostPub
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	clientPub, _ := ssh.NewPublicKey(pub)
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if c.User() == "cirros" && string(k.Marshal()) == string(clientPub.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("denied")
	}}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveSSH(ln, cfg)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(block))
	_ = signer
	a := stdAction(t, "std.ssh")
	res, err := a.Run(context.Background(), engine.Call{Input: map[string]any{"cmd": "hello", "host": ln.Addr().String(), "username": "cirros", "private_key": key}})
	if err != nil || res != "ran: hello\n" {
		t.Fatalf("result %q %v", res, err)
	}
	_, err = a.Run(context.Background(), engine.Call{Input: map[string]any{"cmd": "fail", "host": ln.Addr().String(), "username": "cirros", "private_key": key}})
	var f *engine.Failure
	if !errors.As(err, &f) || !strings.Contains(f.Msg, "exit status 3") {
		t.Errorf("failing command: %v", err)
	}
	res, err = a.Run(context.Background(), engine.Call{Input: map[string]any{"cmd": "fail", "host": ln.Addr().String(), "username": "cirros", "private_key": key,
		"return_result_on_error": true}})
	if err != nil || res.(map[string]any)["exit_code"] != int64(3) {
		t.Errorf("return_result_on_error: %v %v", res, err)
	}
	if _, err := a.Run(context.Background(), engine.Call{Input: map[string]any{"cmd": "x", "host": ln.Addr().String(), "username": "root", "private_key": key}}); err == nil {
		t.Error("a wrong user logged in")
	}
	if _, err := a.Run(context.Background(), engine.Call{Input: map[string]any{"cmd": "x", "host": "h", "username": "u", "private_key_filename": "/root/.ssh/id_rsa"}}); err == nil {
		t.Error("a key file of the controller was offered")
	}
}

// serveSSH answers exec requests: "fail" exits 3, anything else prints
// "ran: CMD".
func serveSSH(ln net.Listener, cfg *ssh.ServerConfig) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			_, chans, reqs, err := ssh.NewServerConn(c, cfg)
			if err != nil {
				c.Close()
				return
			}
			go ssh.DiscardRequests(reqs)
			for nc := range chans {
				ch, creqs, err := nc.Accept()
				if err != nil {
					continue
				}
				go func() {
					for r := range creqs {
						if r.Type != "exec" {
							r.Reply(false, nil)
							continue
						}
						cmd := string(r.Payload[4:])
						r.Reply(true, nil)
						status := uint32(0)
						if cmd == "fail" {
							fmt.Fprint(ch.Stderr(), "it failed")
							status = 3
						} else {
							fmt.Fprintf(ch, "ran: %s\n", cmd)
						}
						ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
						ch.Close()
					}
				}()
			}
		}()
	}
}
