package hostapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WatchResponse is the agent API's answer to a watch.
type WatchResponse struct {
	Guests []Guest `json:"guests"`
	Next   int64   `json:"next"`
}

// Credentials authenticate an agent with Keystone.
type Credentials struct {
	Username, Password, Project, Domain string
}

// Client is Plane over HTTP, for agents in another process than the
// control plane. It gets and renews its token itself.
type Client struct {
	// bases are the controllers, e.g. http://127.0.0.1:8000; requests go to
	// one of them and move to the next when it cannot be reached.
	bases []string
	creds Credentials
	http  *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
	cur     int // index into bases, guarded by mu
}

// base is the controller requests go to now.
func (c *Client) base() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bases[c.cur]
}

// failover moves to the next controller after base could not be reached
// (once per failure: concurrent requests that failed on the same one move
// it once).
func (c *Client) failover(base string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bases) > 1 && c.bases[c.cur] == base {
		c.cur = (c.cur + 1) % len(c.bases)
	}
}

// NewClient returns a client of the control plane at base: one URL, or
// several comma-separated controllers sharing one database.
func NewClient(base string, creds Credentials) *Client {
	if creds.Domain == "" {
		creds.Domain = "Default"
	}
	var bases []string
	for _, b := range strings.Split(base, ",") {
		if b = strings.TrimRight(strings.TrimSpace(b), "/"); b != "" {
			bases = append(bases, b)
		}
	}
	if len(bases) == 0 {
		bases = []string{""}
	}
	return &Client{bases: bases, creds: creds, http: &http.Client{Timeout: 40 * time.Second}}
}

func (c *Client) authToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.expires) > 5*time.Minute {
		return c.token, nil
	}
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{"user": map[string]any{
			"name": c.creds.Username, "password": c.creds.Password, "domain": map[string]any{"name": c.creds.Domain}}}},
		"scope": map[string]any{"project": map[string]any{"name": c.creds.Project, "domain": map[string]any{"name": c.creds.Domain}}},
	}}
	b, _ := json.Marshal(body)
	base := c.bases[c.cur] // mu is held
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/identity/v3/auth/tokens?nocatalog", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if len(c.bases) > 1 {
			c.cur = (c.cur + 1) % len(c.bases)
		}
		return "", fmt.Errorf("authenticate with %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("authenticate with %s as %s: HTTP %d: %s", base, c.creds.Username, resp.StatusCode, msg)
	}
	var doc struct {
		Token struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	c.token, c.expires = resp.Header.Get("X-Subject-Token"), doc.Token.ExpiresAt
	return c.token, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	tok, err := c.authToken(ctx)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	base := c.base()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			c.failover(base)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusUnauthorized {
			c.mu.Lock()
			c.token = ""
			c.mu.Unlock()
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(msg))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Register implements Plane.
func (c *Client) Register(ctx context.Context, h HostInfo) error {
	return c.do(ctx, "POST", "/agent/v1/hosts", h, nil)
}

// Heartbeat implements Plane.
func (c *Client) Heartbeat(ctx context.Context, host string) error {
	return c.do(ctx, "POST", "/agent/v1/hosts/"+host+"/heartbeat", nil, nil)
}

// Watch implements Plane with a 25 s long poll.
func (c *Client) Watch(ctx context.Context, host string, since int64) ([]Guest, int64, error) {
	var out WatchResponse
	err := c.do(ctx, "GET", fmt.Sprintf("/agent/v1/hosts/%s/watch?since=%d&wait=25s", host, since), nil, &out)
	if err != nil {
		return nil, since, err
	}
	return out.Guests, out.Next, nil
}

// UploadImage implements Plane, streaming data to the control plane.
func (c *Client) UploadImage(ctx context.Context, imageID string, data io.Reader) error {
	tok, err := c.authToken(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "PUT", c.base()+"/agent/v1/images/"+imageID+"/file", data)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := (&http.Client{}).Do(req) // no overall timeout: images are large
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("upload image %s: HTTP %d: %s", imageID, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// DownloadImage implements Plane, streaming an image's data from the
// control plane; the file's description comes in response headers.
func (c *Client) DownloadImage(ctx context.Context, imageID string) (io.ReadCloser, ImageFile, error) {
	tok, err := c.authToken(ctx)
	if err != nil {
		return nil, ImageFile{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base()+"/agent/v1/images/"+imageID+"/file", nil)
	if err != nil {
		return nil, ImageFile{}, err
	}
	req.Header.Set("X-Auth-Token", tok)
	resp, err := (&http.Client{}).Do(req) // no overall timeout: images are large
	if err != nil {
		return nil, ImageFile{}, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, ImageFile{}, fmt.Errorf("download image %s: HTTP %d: %s", imageID, resp.StatusCode, bytes.TrimSpace(msg))
	}
	var f ImageFile
	if err := json.Unmarshal([]byte(resp.Header.Get(ImageFileHeader)), &f); err != nil {
		resp.Body.Close()
		return nil, ImageFile{}, fmt.Errorf("download image %s: bad %s header: %w", imageID, ImageFileHeader, err)
	}
	return resp.Body, f, nil
}

// ImageFileHeader carries an ImageFile as JSON with a download.
const ImageFileHeader = "X-Onestack-Image-File"

// Report implements Plane.
func (c *Client) Report(ctx context.Context, r Report) error {
	return c.do(ctx, "POST", "/agent/v1/reports", r, nil)
}

// WatchNetwork implements NetworkPlane over the agent API.
func (c *Client) WatchNetwork(ctx context.Context, host string, since int64) (HostNetwork, error) {
	var hn HostNetwork
	err := c.do(ctx, "GET", fmt.Sprintf("/agent/v1/hosts/%s/network?since=%d", host, since), nil, &hn)
	return hn, err
}

// ReportNetwork implements NetworkPlane over the agent API.
func (c *Client) ReportNetwork(ctx context.Context, r NetworkReport) error {
	return c.do(ctx, "POST", fmt.Sprintf("/agent/v1/hosts/%s/network/report", r.Host), r, nil)
}

// WatchLoadBalancers implements LoadBalancerPlane over the agent API.
func (c *Client) WatchLoadBalancers(ctx context.Context, host string, since int64) (LoadBalancerSet, error) {
	var set LoadBalancerSet
	err := c.do(ctx, "GET", fmt.Sprintf("/agent/v1/hosts/%s/loadbalancers?since=%d", host, since), nil, &set)
	return set, err
}

// ReportLoadBalancers implements LoadBalancerPlane over the agent API.
func (c *Client) ReportLoadBalancers(ctx context.Context, r LoadBalancerReport) error {
	return c.do(ctx, "POST", fmt.Sprintf("/agent/v1/hosts/%s/loadbalancers/report", r.Host), r, nil)
}
