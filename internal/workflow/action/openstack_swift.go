package action

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/onestack/onestack/internal/exprvalue"
	"github.com/onestack/onestack/internal/workflow/engine"
)

// swiftclient's Connection methods: listings come back as
// [headers, listing], objects as [headers, content], heads as headers
// (lower-case names), puts of objects as the etag.

func swiftHeaders(h map[string][]string) map[string]any {
	out := map[string]any{}
	for k, v := range h {
		out[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out
}

func swiftIn(in map[string]any, keys ...string) url.Values {
	q := url.Values{}
	for _, k := range keys {
		if v, ok := in[k]; ok && v != nil && v != false {
			q.Set(k, exprvalue.Str(v))
		}
	}
	return q
}

func swiftReqHeaders(in map[string]any) map[string]string {
	out := map[string]string{}
	if h, ok := in["headers"].(map[string]any); ok {
		for k, v := range h {
			out[k] = exprvalue.Str(v)
		}
	}
	return out
}

func swiftPath(in map[string]any, names ...string) string {
	p := ""
	for _, n := range names {
		p += "/" + url.PathEscape(exprvalue.Str(in[n]))
	}
	return p
}

// swiftList lists an account or a container as JSON.
func swiftList(name, sig string, names []string) osAction {
	return osAction{name, "object-store", sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		q := swiftIn(in, "marker", "limit", "prefix", "end_marker", "delimiter", "path")
		q.Set("format", "json")
		data, h, err := c.doRaw(ctx, "GET", swiftPath(in, names...), q, nil, swiftReqHeaders(in))
		if err != nil {
			return nil, err
		}
		listing := engine.Decode(string(data))
		if listing == nil {
			listing = []any{}
		}
		return []any{swiftHeaders(h), listing}, nil
	}}
}

func swiftSimple(name, sig, method string, names []string, result func(h map[string][]string, data []byte) any) osAction {
	return osAction{name, "object-store", sig, func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		data, h, err := c.doRaw(ctx, method, swiftPath(in, names...), nil, nil, swiftReqHeaders(in))
		if err != nil || result == nil {
			return nil, err
		}
		return result(h, data), nil
	}}
}

func headersOnly(h map[string][]string, _ []byte) any { return swiftHeaders(h) }

var swiftActions = []osAction{
	swiftList("swift.get_account", "marker=null, limit=null, prefix=null, end_marker=null, full_listing=false, headers=null, delimiter=null", nil),
	swiftSimple("swift.head_account", "headers=null", "HEAD", nil, headersOnly),
	swiftSimple("swift.post_account", "headers, response_dict=null, query_string=null, data=null", "POST", nil, nil),
	swiftList("swift.get_container", "container, marker=null, limit=null, prefix=null, delimiter=null, end_marker=null, version_marker=null, path=null, full_listing=false, headers=null, query_string=null", []string{"container"}),
	swiftSimple("swift.head_container", "container, headers=null", "HEAD", []string{"container"}, headersOnly),
	swiftSimple("swift.put_container", "container, headers=null, response_dict=null, query_string=null", "PUT", []string{"container"}, nil),
	swiftSimple("swift.post_container", "container, headers, response_dict=null", "POST", []string{"container"}, nil),
	swiftSimple("swift.delete_container", "container, response_dict=null, query_string=null, headers={}", "DELETE", []string{"container"}, nil),
	swiftSimple("swift.get_object", "container, obj, resp_chunk_size=null, query_string=null, response_dict=null, headers=null", "GET", []string{"container", "obj"},
		func(h map[string][]string, data []byte) any { return []any{swiftHeaders(h), string(data)} }),
	swiftSimple("swift.head_object", "container, obj, headers=null, query_string=null", "HEAD", []string{"container", "obj"}, headersOnly),
	swiftSimple("swift.post_object", "container, obj, headers, response_dict=null", "POST", []string{"container", "obj"}, nil),
	swiftSimple("swift.delete_object", "container, obj, query_string=null, response_dict=null, headers=null", "DELETE", []string{"container", "obj"}, nil),
	{"swift.put_object", "object-store", "container, obj, contents, content_length=null, etag=null, chunk_size=null, content_type=null, headers=null, query_string=null, response_dict=null",
		func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			var body []byte
			switch x := in["contents"].(type) {
			case string:
				body = []byte(x)
			case nil:
			default:
				body, _ = json.Marshal(x)
			}
			hdr := swiftReqHeaders(in)
			if ct, ok := in["content_type"].(string); ok && ct != "" {
				hdr["Content-Type"] = ct
			}
			if et, ok := in["etag"].(string); ok && et != "" {
				hdr["ETag"] = et
			}
			_, h, err := c.doRaw(ctx, "PUT", swiftPath(in, "container", "obj"), nil, body, hdr)
			if err != nil {
				return nil, err
			}
			return strings.Trim(h.Get("Etag"), `"`), nil
		}},
	{"swift.copy_object", "object-store", "container, obj, destination=null, headers=null, fresh_metadata=null, response_dict=null",
		func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
			hdr := swiftReqHeaders(in)
			if d, ok := in["destination"].(string); ok && d != "" {
				hdr["Destination"] = d
			}
			if exprvalue.Truthy(in["fresh_metadata"]) {
				hdr["X-Fresh-Metadata"] = "true"
			}
			_, _, err := c.doRaw(ctx, "COPY", swiftPath(in, "container", "obj"), nil, nil, hdr)
			return nil, err
		}},
	{"swift.get_capabilities", "object-store", "url=null", func(ctx context.Context, c *osClient, in map[string]any) (any, error) {
		base := c.base
		if i := strings.Index(base, "/v1/"); i >= 0 {
			base = base[:i]
		}
		data, _, err := c.doRaw(ctx, "GET", "/"+base+"/info", nil, nil, nil)
		if err != nil {
			return nil, err
		}
		return engine.Decode(string(data)), nil
	}},
}
