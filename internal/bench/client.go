package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Credentials are a Keystone password identity, as in clouds.yaml.
type Credentials struct {
	Username, Password                 string
	UserDomain, Project, ProjectDomain string
}

// microversion is the compute microversion every Nova call is made at.
const microversion = "2.79"

// client is an authenticated HTTP client for one cloud. It keeps one
// token for the run and renews it shortly before it expires or when the
// cloud answers 401.
type client struct {
	base  string // e.g. http://127.0.0.1:8000
	creds Credentials
	http  *http.Client

	mu        sync.Mutex
	token     string
	expires   time.Time
	projectID string
}

// httpError is a non-2xx answer.
type httpError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *httpError) Error() string {
	body := e.Body
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, strings.TrimSpace(body))
}

// checkLoopback refuses any cloud URL that is not on a loopback address:
// the bench creates thousands of servers and must never aim at a real cloud
// by mistake.
func checkLoopback(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("cloud URL %q: give http://HOST:PORT", raw)
	}
	host := u.Hostname()
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return "", fmt.Errorf("cloud URL %q is not a loopback address: the bench only drives a cloud on this machine (127.0.0.1, ::1 or localhost)", raw)
		}
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), nil
}

func newClient(base string, creds Credentials, conns int) *client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     time.Minute,
	}
	return &client{base: base, creds: creds, http: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// authenticate issues a project-scoped token with the password.
func (c *client) authenticate(ctx context.Context) error {
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": c.creds.Username, "domain": map[string]any{"name": c.creds.UserDomain}, "password": c.creds.Password}}},
		"scope": map[string]any{"project": map[string]any{"name": c.creds.Project, "domain": map[string]any{"name": c.creds.ProjectDomain}}},
	}}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/identity/v3/auth/tokens", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("authenticate as %s in project %s: %w", c.creds.Username, c.creds.Project,
			&httpError{Method: "POST", Path: "/identity/v3/auth/tokens", Status: resp.StatusCode, Body: string(rb)})
	}
	var tok struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
			Project   struct {
				ID string `json:"id"`
			} `json:"project"`
		} `json:"token"`
	}
	if err := json.Unmarshal(rb, &tok); err != nil {
		return fmt.Errorf("authenticate: token body: %w", err)
	}
	c.token, c.expires, c.projectID = resp.Header.Get("X-Subject-Token"), tok.Token.ExpiresAt, tok.Token.Project.ID
	if c.token == "" || c.projectID == "" {
		return errors.New("authenticate: the cloud answered without a token or a project")
	}
	return nil
}

// currentToken returns a token valid for at least two more minutes.
func (c *client) currentToken(ctx context.Context, stale string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == "" || c.token == stale || time.Until(c.expires) < 2*time.Minute {
		if err := c.authenticate(ctx); err != nil {
			return "", err
		}
	}
	return c.token, nil
}

// do sends one API call and decodes a JSON answer into out (when not nil).
// path is relative to the cloud's base URL or absolute (a next link). A
// 401 renews the token and retries once.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = c.base + path
	} else if _, err := checkLoopback(path); err != nil {
		return fmt.Errorf("refusing a link the cloud returned: %w", err)
	}
	stale := ""
	for attempt := 0; ; attempt++ {
		tok, err := c.currentToken(ctx, stale)
		if err != nil {
			return err
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return err
		}
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if strings.Contains(target, "/compute/") {
			req.Header.Set("OpenStack-API-Version", "compute "+microversion)
			req.Header.Set("X-OpenStack-Nova-API-Version", microversion)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			stale = tok
			continue
		}
		if resp.StatusCode/100 != 2 {
			return &httpError{Method: method, Path: path, Status: resp.StatusCode, Body: string(rb)}
		}
		if out != nil && len(rb) > 0 {
			if err := json.Unmarshal(rb, out); err != nil {
				return fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
			}
		}
		return nil
	}
}

// raw sends a body that is not JSON (an image upload).
func (c *client) raw(ctx context.Context, method, path, contentType string, body []byte) error {
	tok, err := c.currentToken(ctx, "")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", contentType)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return &httpError{Method: method, Path: path, Status: resp.StatusCode, Body: string(rb)}
	}
	return nil
}

// isNotFound reports whether err is a 404 answer.
func isNotFound(err error) bool {
	var he *httpError
	return errors.As(err, &he) && he.Status == http.StatusNotFound
}
