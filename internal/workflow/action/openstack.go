package action

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/workflow/engine"
	"github.com/onestack/onestack/internal/workflow/spec"
)

// OpenStackConfig is how the OpenStack actions reach the cloud's APIs.
type OpenStackConfig struct {
	// API serves the cloud's APIs in process (the same handler the
	// listener serves): calls go through its authentication, policy and
	// admission exactly as a client's would.
	API func() http.Handler
	// Endpoints maps a catalog type (compute, image, network, volumev3,
	// identity, load-balancer, placement) to its public URL, as the
	// catalog lists it ($(project_id)s substituted per call).
	Endpoints map[string]string
	// Region is the cloud's region; action_region must be it or empty.
	Region string
}

// osAction declares one OpenStack action: Mistral's name and input
// signature (the python client method's), the catalog type it calls and
// what it does.
type osAction struct {
	name, svc, sig string
	run            func(ctx context.Context, c *osClient, in map[string]any) (any, error)
}

// OpenStack returns the OpenStack actions: they call the cloud's own APIs
// with the credentials of the workflow's user, so a workflow can do what
// its user can and nothing more.
func OpenStack(cfg OpenStackConfig) []*engine.Action {
	var out []*engine.Action
	for _, decls := range [][]osAction{novaActions, glanceActions, neutronActions, cinderActions, keystoneActions, swiftActions} {
		for _, d := range decls {
			params, kwargs := parseSig(d.sig)
			if regional[strings.SplitN(d.name, ".", 2)[0]] {
				params = append(params, spec.Param{Name: "action_region", Default: "", HasDefault: true})
			}
			out = append(out, &engine.Action{Name: d.name, Params: params, Kwargs: kwargs,
				Description: fmt.Sprintf("Calls the %s API as the workflow's user (Mistral's %s).", d.svc, d.name),
				Run: func(ctx context.Context, call engine.Call) (any, error) {
					if r, _ := call.Input["action_region"].(string); r != "" && r != cfg.Region {
						return nil, fmt.Errorf("action_region %q is not served by this cloud (its region is %s)", r, cfg.Region)
					}
					in := make(map[string]any, len(call.Input))
					for k, v := range call.Input {
						if k != "action_region" {
							in[k] = v
						}
					}
					c, err := newOSClient(ctx, cfg, call, d)
					if err != nil {
						return nil, err
					}
					return d.run(ctx, c, in)
				}})
		}
	}
	return out
}

var regional = map[string]bool{"nova": true, "glance": true, "neutron": true, "cinder": true}

// unserved are the namespaces of Mistral's OpenStack actions for services
// this cloud does not run, with the service's name.
var unserved = map[string]string{"heat": "orchestration (Heat)", "aodh": "alarming (Aodh)", "gnocchi": "metrics (Gnocchi)",
	"trove": "database (Trove)", "ironic": "bare metal (Ironic)", "baremetal_introspection": "bare metal introspection (Ironic Inspector)",
	"swiftservice": "object storage bulk operations (SwiftService)", "zaqar": "messaging (Zaqar)", "designate": "DNS (Designate)",
	"magnum": "container infrastructure (Magnum)", "zun": "containers (Zun)", "manila": "shared file systems (Manila)",
	"barbican": "key manager (Barbican)", "murano": "application catalog (Murano)", "tacker": "NFV orchestration (Tacker)",
	"senlin": "clustering (Senlin)", "qinling": "functions (Qinling)", "vitrage": "root cause analysis (Vitrage)", "watcher": "optimization (Watcher)",
	"mistral": "Mistral client"}

// Unavailable explains why an OpenStack action of a service this cloud
// does not run cannot run, or returns "" for any other name. Such actions
// are accepted in definitions (a workflow may be portable across clouds)
// and fail their task when they run.
func Unavailable(name string) string {
	ns, _, ok := strings.Cut(name, ".")
	if !ok {
		return ""
	}
	if svc, ok := unserved[ns]; ok {
		return fmt.Sprintf("this cloud runs no %s service: the action %s cannot run here", svc, name)
	}
	return ""
}

// parseSig reads a python signature ("a, b=1, c=null, **kwargs").
func parseSig(s string) ([]spec.Param, bool) {
	var ps []spec.Param
	kwargs := false
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "**"):
			kwargs = true
		default:
			name, def, ok := strings.Cut(part, "=")
			if !ok {
				ps = append(ps, spec.Param{Name: name})
				continue
			}
			var v any
			if err := json.Unmarshal([]byte(def), &v); err != nil {
				v = def
			}
			ps = append(ps, spec.Param{Name: name, Default: engine.Normalize(v), HasDefault: true})
		}
	}
	return ps, kwargs
}

// osClient calls one service of the cloud as the workflow's user.
type osClient struct {
	api    http.Handler
	base   string // the service's path below the public URL
	token  string
	action string
}

func newOSClient(ctx context.Context, cfg OpenStackConfig, call engine.Call, d osAction) (*osClient, error) {
	if cfg.API == nil || cfg.API() == nil {
		return nil, errors.New("the cloud's APIs are not available to workflows")
	}
	ep, ok := cfg.Endpoints[d.svc]
	if !ok {
		return nil, fmt.Errorf("this cloud serves no %s API", d.svc)
	}
	if call.Credentials == nil {
		return nil, errors.New("the workflow has no credentials to call OpenStack APIs with")
	}
	creds, err := call.Credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot act for the workflow's user: %v", err)
	}
	u, err := url.Parse(strings.ReplaceAll(ep, "$(project_id)s", creds.ProjectID()))
	if err != nil {
		return nil, err
	}
	return &osClient{api: cfg.API(), base: strings.TrimRight(u.Path, "/"), token: creds.Token, action: d.name}, nil
}

// do sends one request and decodes the answer; a failure carries the
// service's message and body (never the token).
func (c *osClient) do(ctx context.Context, method, path string, q url.Values, body any, hdr map[string]string) (any, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot encode the request: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req := httptest.NewRequest(method, target, rd).WithContext(ctx)
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("X-Auth-Token", c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "onestack-workflow "+c.action)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.api.ServeHTTP(rec, req)
	res := rec.Result()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	var v any
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			v = string(data)
		} else {
			v = engine.Normalize(jsonNumbers(v))
		}
	}
	if res.StatusCode >= 400 {
		return nil, res.Header, &engine.Failure{Msg: fmt.Sprintf("%s %s returned %d %s: %s", method, target, res.StatusCode,
			http.StatusText(res.StatusCode), errorMessage(v)), Data: v}
	}
	return v, res.Header, nil
}

// doRaw sends one request with a raw body and returns the raw answer
// (Swift's objects are not JSON).
func (c *osClient) doRaw(ctx context.Context, method, path string, q url.Values, body []byte, hdr map[string]string) ([]byte, http.Header, error) {
	target := c.base + path
	if strings.HasPrefix(path, "//") { // outside the service's base (Swift's /info)
		target = path[1:]
	}
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd).WithContext(ctx)
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("X-Auth-Token", c.token)
	req.Header.Set("User-Agent", "onestack-workflow "+c.action)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.api.ServeHTTP(rec, req)
	res := rec.Result()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if res.StatusCode >= 400 {
		return nil, res.Header, &engine.Failure{Msg: fmt.Sprintf("%s %s returned %d %s: %s", method, target, res.StatusCode,
			http.StatusText(res.StatusCode), clip(strings.TrimSpace(string(data)), 500)), Data: string(data)}
	}
	return data, res.Header, nil
}

// errorMessage finds the message in an OpenStack error body (Nova's
// {"itemNotFound": {"message"}}, Neutron's {"NeutronError": {...}},
// Keystone's {"error": {...}}, Mistral's and Octavia's faultstring).
func errorMessage(v any) string {
	switch x := v.(type) {
	case string:
		return clip(strings.TrimSpace(x), 500)
	case map[string]any:
		for _, k := range []string{"message", "faultstring", "detail", "title"} {
			if s, ok := x[k].(string); ok && s != "" {
				return clip(s, 500)
			}
		}
		for _, k := range exprvalue.SortedKeys(x) {
			if m, ok := x[k].(map[string]any); ok {
				if s := errorMessage(m); s != "" {
					return s
				}
			}
			if l, ok := x[k].([]any); ok && len(l) > 0 {
				if s := errorMessage(l[0]); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// idOf reads a resource reference: an id, or an object with an id (as
// Mistral passes results of earlier actions).
func idOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if id, ok := x["id"]; ok {
			return exprvalue.Str(id)
		}
	case nil:
		return ""
	}
	return exprvalue.Str(v)
}

// path fills {name} placeholders from the input (ids escaped).
func path(tmpl string, in map[string]any) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.IndexByte(tmpl[i:], '}')
		b.WriteString(tmpl[:i])
		name := tmpl[i+1 : i+j]
		id := idOf(in[name])
		if id == "" {
			return "", fmt.Errorf("%s is required", name)
		}
		b.WriteString(url.PathEscape(id))
		tmpl = tmpl[i+j+1:]
	}
}

// field picks key from a response object ("" keeps it whole).
func field(v any, key string) any {
	if key == "" {
		return v
	}
	if m, ok := v.(map[string]any); ok {
		return m[key]
	}
	return v
}

// query turns the given input keys (and a search_opts mapping) into
// query parameters.
func query(in map[string]any, skip ...string) url.Values {
	q := url.Values{}
	add := func(k string, v any) {
		switch x := v.(type) {
		case nil:
		case []any:
			for _, it := range x {
				q.Add(k, exprvalue.Str(it))
			}
		case bool:
			if x {
				q.Set(k, "True")
			} else {
				q.Set(k, "False")
			}
		default:
			q.Set(k, exprvalue.Str(x))
		}
	}
	for _, k := range exprvalue.SortedKeys(in) {
		if k == "search_opts" || contains(skip, k) {
			continue
		}
		add(k, in[k])
	}
	if so, ok := in["search_opts"].(map[string]any); ok {
		for _, k := range exprvalue.SortedKeys(so) {
			add(k, so[k])
		}
	}
	return q
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Declarations built from the common shapes.

func get(name, svc, sig, tmpl, key string) osAction {
	return osAction{name, svc, sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path(tmpl, in)
		if err != nil {
			return nil, err
		}
		v, _, err := c.do(ctx, "GET", p, nil, nil, nil)
		return field(v, key), err
	}}
}

func del(name, svc, sig, tmpl string) osAction {
	return osAction{name, svc, sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path(tmpl, in)
		if err != nil {
			return nil, err
		}
		_, _, err = c.do(ctx, "DELETE", p, nil, nil, nil)
		return nil, err
	}}
}

// list lists a collection; skip names the inputs that are not filters.
func list(name, svc, sig, tmpl, key string, skip ...string) osAction {
	return osAction{name, svc, sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p := tmpl
		if d, ok := in["detailed"].(bool); ok && !d {
			p = strings.TrimSuffix(p, "/detail")
		}
		v, _, err := c.do(ctx, "GET", p, query(in, append(skip, "detailed", "retrieve_all")...), nil, nil)
		if v2, ok := field(v, key).([]any); ok || v == nil {
			return v2, err
		}
		return field(v, key), err
	}}
}

// find lists a collection and returns the first item whose fields equal
// every input (python clients' find()).
func find(name, svc, sig, tmpl, key string) osAction {
	return osAction{name, svc, sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		v, _, err := c.do(ctx, "GET", tmpl, nil, nil, nil)
		if err != nil {
			return nil, err
		}
		items, _ := field(v, key).([]any)
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			match := true
			for k, want := range in {
				if !exprvalue.Equal(m[k], want) && exprvalue.Str(m[k]) != exprvalue.Str(want) {
					match = false
					break
				}
			}
			if match {
				return m, nil
			}
		}
		return nil, fmt.Errorf("No %s matching %s.", strings.TrimSuffix(key, "s"), exprvalue.Str(in))
	}}
}

// send sends a body built from the input and picks key of the answer.
func send(name, svc, sig, method, tmpl, key string, body func(in map[string]any) (any, error)) osAction {
	return osAction{name, svc, sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		p, err := path(tmpl, in)
		if err != nil {
			return nil, err
		}
		var b any
		if body != nil {
			if b, err = body(in); err != nil {
				return nil, err
			}
		}
		v, _, err := c.do(ctx, method, p, nil, b, nil)
		return field(v, key), err
	}}
}

// wrap builds {root: {the given inputs that are set}}, renaming per ren.
func wrap(root string, keys []string, ren map[string]string) func(map[string]any) (any, error) {
	return func(in map[string]any) (any, error) {
		m := map[string]any{}
		for _, k := range keys {
			if v, ok := in[k]; ok && v != nil {
				n := k
				if r, ok := ren[k]; ok {
					n = r
				}
				m[n] = v
			}
		}
		if root == "" {
			return m, nil
		}
		return map[string]any{root: m}, nil
	}
}

// bodyIn passes the input's body as the request body (neutronclient's
// create_*(body) and update_*(x, body)).
func bodyIn(in map[string]any) (any, error) {
	b, ok := in["body"].(map[string]any)
	if !ok && in["body"] != nil {
		return nil, fmt.Errorf("body must be a mapping (for example {\"port\": {\"network_id\": ...}})")
	}
	return b, nil
}

func constBody(v any) func(map[string]any) (any, error) {
	return func(map[string]any) (any, error) { return v, nil }
}

// kwargsOf returns the inputs beyond the given names.
func kwargsOf(in map[string]any, named ...string) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		if !contains(named, k) {
			out[k] = v
		}
	}
	return out
}

var _ = sort.Strings
var _ = base64.StdEncoding
