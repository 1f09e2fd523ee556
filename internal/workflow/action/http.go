package action

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// Config shapes the actions that reach out.
type Config struct {
	// CallbackURL is the workflow API's public URL
	// (http://HOST/workflow/v2): std.mistral_http tells the receiver to
	// post the result to CallbackURL/action_executions/ID.
	CallbackURL string
	// HTTPTimeout is std.http's timeout when the input gives none (60 s).
	HTTPTimeout time.Duration
	// MaxResponseBytes bounds a response std.http reads (1 MiB).
	MaxResponseBytes int64
	// AllowLoopback lets std.http reach loopback addresses (an
	// all-in-one cloud's own API listens there). Link-local addresses
	// (the metadata service), multicast and unspecified ones are never
	// reached.
	AllowLoopback bool
	// SSHTimeout bounds a std.ssh command (10 min).
	SSHTimeout time.Duration
	// JSTimeout bounds a std.js script (5 s).
	JSTimeout time.Duration
}

func (c Config) httpTimeout() time.Duration {
	if c.HTTPTimeout > 0 {
		return c.HTTPTimeout
	}
	return 60 * time.Second
}

func (c Config) maxResponse() int64 {
	if c.MaxResponseBytes > 0 {
		return c.MaxResponseBytes
	}
	return 1 << 20
}

var httpParams = []spec.Param{p("url"), d("method", "GET"), d("params", nil), d("body", nil), d("json", nil), d("headers", nil),
	d("cookies", nil), d("auth", nil), d("timeout", nil), d("allow_redirects", nil), d("proxies", nil), d("verify", nil)}

func httpAction(cfg Config, name string, mistral bool) *engine.Action {
	desc := "Sends an HTTP request; its result is the response (content, status, headers, url, encoding, reason, cookies, elapsed)."
	if mistral {
		desc = "Sends an HTTP request with the Mistral-* headers and completes when the receiver posts its result to Mistral-Callback-URL."
	}
	return &engine.Action{Name: name, Description: desc, Params: httpParams, Run: func(ctx context.Context, c engine.Call) (any, error) {
		var extra map[string]string
		if mistral {
			extra = map[string]string{
				"Mistral-Workflow-Name":         c.WorkflowName,
				"Mistral-Workflow-Execution-Id": c.ExecutionID,
				"Mistral-Task-Id":               c.TaskID,
				"Mistral-Action-Execution-Id":   c.ActionID,
				"Mistral-Callback-URL":          strings.TrimRight(cfg.CallbackURL, "/") + "/action_executions/" + c.ActionID,
			}
		}
		res, err := doHTTP(ctx, cfg, c.Input, extra)
		if err != nil || !mistral {
			return res, err
		}
		return engine.Async{}, nil
	}}
}

// egressDialer refuses addresses a workflow must not reach.
func egressDialer(allowLoopback bool) *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return fmt.Errorf("cannot read the address %s", host)
		}
		switch {
		case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsMulticast(), ip.IsUnspecified():
			return fmt.Errorf("workflows may not reach %s (link-local, multicast or unspecified addresses, the metadata service among them)", ip)
		case ip.IsLoopback() && !allowLoopback:
			return fmt.Errorf("workflows may not reach the loopback address %s on this cloud", ip)
		}
		return nil
	}}
}

func doHTTP(ctx context.Context, cfg Config, in map[string]any, extra map[string]string) (any, error) {
	raw, _ := in["url"].(string)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q is not an http:// or https:// URL", raw)
	}
	method := strings.ToUpper(exprvalue.Str(in["method"]))
	if in["method"] == nil || method == "" {
		method = "GET"
	}
	if in["proxies"] != nil {
		return nil, errors.New("proxies are not supported on this cloud; remove the proxies input")
	}
	switch q := in["params"].(type) {
	case nil:
	case map[string]any:
		vals := u.Query()
		for _, k := range exprvalue.SortedKeys(q) {
			switch v := q[k].(type) {
			case []any:
				for _, it := range v {
					vals.Add(k, exprvalue.Str(it))
				}
			case nil:
			default:
				vals.Set(k, exprvalue.Str(v))
			}
		}
		u.RawQuery = vals.Encode()
	case string:
		if u.RawQuery != "" {
			u.RawQuery += "&" + q
		} else {
			u.RawQuery = q
		}
	default:
		return nil, fmt.Errorf("params must be a mapping or a string, not a %s", exprvalue.Kind(q))
	}
	var body io.Reader
	contentType := ""
	if in["body"] != nil && in["json"] != nil {
		return nil, errors.New("only one of the parameters 'json' and 'body' can be passed")
	}
	switch b := in["body"].(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case map[string]any, []any:
		j, _ := json.Marshal(b)
		body = bytes.NewReader(j)
	default:
		body = strings.NewReader(exprvalue.Str(b))
	}
	if in["json"] != nil {
		j, err := json.Marshal(in["json"])
		if err != nil {
			return nil, fmt.Errorf("json cannot be encoded: %v", err)
		}
		body, contentType = bytes.NewReader(j), "application/json"
	}
	timeout := cfg.httpTimeout()
	if t := seconds(in["timeout"]); t > 0 {
		timeout = t
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("cannot build the request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if h, ok := in["headers"].(map[string]any); ok {
		for k, v := range h {
			req.Header.Set(k, exprvalue.Str(v))
		}
	} else if in["headers"] != nil {
		return nil, fmt.Errorf("headers must be a mapping, not a %s", exprvalue.Kind(in["headers"]))
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	if c, ok := in["cookies"].(map[string]any); ok {
		for _, k := range exprvalue.SortedKeys(c) {
			req.AddCookie(&http.Cookie{Name: k, Value: exprvalue.Str(c[k])})
		}
	}
	switch a := in["auth"].(type) {
	case nil:
	case string:
		user, pass, ok := strings.Cut(a, ":")
		if !ok {
			return nil, errors.New("auth must be \"user:password\"")
		}
		req.SetBasicAuth(user, pass)
	case []any:
		if len(a) != 2 {
			return nil, errors.New("auth must be [user, password]")
		}
		req.SetBasicAuth(exprvalue.Str(a[0]), exprvalue.Str(a[1]))
	default:
		return nil, errors.New("auth must be \"user:password\"")
	}
	tlsCfg := &tls.Config{}
	switch v := in["verify"].(type) {
	case bool:
		tlsCfg.InsecureSkipVerify = !v
	case nil:
	default:
		return nil, errors.New("verify must be true or false (a CA bundle path on the controller is not supported)")
	}
	tr := &http.Transport{DialContext: egressDialer(cfg.AllowLoopback).DialContext, TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 15 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	if ar, ok := in["allow_redirects"].(bool); ok && !ar {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Failed to send HTTP request: %v", err)
	}
	defer resp.Body.Close()
	max := cfg.maxResponse()
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("Failed to read the HTTP response: %v", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("HTTP response is too large (more than %d bytes)", max)
	}
	result := responseResult(resp, data, time.Since(start))
	if resp.StatusCode < 200 || resp.StatusCode > 306 {
		return nil, &engine.Failure{Msg: fmt.Sprintf("HTTP %s %s returned %s: %s", method, u.Redacted(), resp.Status, clip(string(data), 500)), Data: result}
	}
	return result, nil
}

func responseResult(resp *http.Response, data []byte, elapsed time.Duration) map[string]any {
	var content any = string(data)
	if len(data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil && !dec.More() {
			content = engine.Normalize(jsonNumbers(v))
		}
	}
	headers := map[string]any{}
	for k, vs := range resp.Header {
		headers[k] = strings.Join(vs, ", ")
	}
	cookies := map[string]any{}
	for _, c := range resp.Cookies() {
		cookies[c.Name] = c.Value
	}
	var encoding any
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && params["charset"] != "" {
		encoding = params["charset"]
	}
	return map[string]any{
		"content": content, "status": int64(resp.StatusCode), "headers": headers, "url": resp.Request.URL.String(), "history": []any{},
		"encoding": encoding, "reason": http.StatusText(resp.StatusCode), "cookies": cookies, "elapsed": elapsed.Seconds(),
	}
}

func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		n, ok := exprvalue.Number(x)
		if !ok {
			return x.String()
		}
		return n.Value()
	case map[string]any:
		for k, it := range x {
			x[k] = jsonNumbers(it)
		}
	case []any:
		for i, it := range x {
			x[i] = jsonNumbers(it)
		}
	}
	return v
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
