// Package image serves Glance's v2 API under /image: routes, request
// decoding (JSON bodies, JSON-patch documents, raw image data), policy
// answers in Glance's words and Glance's wire format over the image service.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strings"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/image"
)

// Prefix is where Glance is mounted.
const Prefix = "/image"

// API is the Glance v2 HTTP API.
type API struct {
	svc *svc.Service
	// base is the public URL of the image endpoint, e.g. http://127.0.0.1:8000/image.
	base      string
	validator auth.Validator
	log       *slog.Logger
}

// New returns the API over s in env.
func New(s *svc.Service, env rest.Env) *API {
	return &API{svc: s, validator: env.Validator, base: env.Base(Prefix), log: env.Logger()}
}

// Service returns the routes ready to mount. Bodies are not size-limited
// at the door because image data is a body; JSON bodies are limited where
// they are decoded and image data by the service's maximum image size.
func (a *API) Service() *rest.Service {
	return &rest.Service{Prefix: Prefix, Format: Format, Validator: a.validator, Routes: a.routes(), Log: a.log,
		MaxBody: math.MaxInt64, Versions: a.versions, Endpoints: []rest.Endpoint{{Type: "image", Name: "glance"}}}
}

// Format renders errors as Glance (webob) does for clients that accept
// JSON: {"message", "code": "404 Not Found", "title": "Not Found"}.
func Format(e *oserr.Error, _ string) any {
	title := http.StatusText(e.Status)
	return map[string]any{"message": e.Message, "code": fmt.Sprintf("%d %s", e.Status, title), "title": title}
}

// authenticated lets any valid token through: Glance's default policy
// checks ownership per image, in the service.
func authenticated(*auth.Credentials, *http.Request) error { return nil }

func (a *API) routes() []rest.Route {
	in := authenticated
	return []rest.Route{
		rest.R("GET", "/versions", nil, a.versionList),

		rest.R("GET", "/v2/images", in, a.listImages),
		rest.R("POST", "/v2/images", in, a.createImage),
		rest.R("GET", "/v2/images/{image_id}", in, a.showImage),
		rest.R("PATCH", "/v2/images/{image_id}", in, a.updateImage),
		rest.R("DELETE", "/v2/images/{image_id}", in, a.deleteImage),
		rest.R("PUT", "/v2/images/{image_id}/file", in, a.upload),
		rest.R("GET", "/v2/images/{image_id}/file", in, a.download),
		rest.R("PUT", "/v2/images/{image_id}/stage", in, a.stage),
		rest.R("POST", "/v2/images/{image_id}/import", in, a.importImage),
		rest.R("GET", "/v2/images/{image_id}/tasks", in, a.imageTasks),
		rest.R("PUT", "/v2/images/{image_id}/tags/{tag}", in, a.addTag),
		rest.R("DELETE", "/v2/images/{image_id}/tags/{tag}", in, a.deleteTag),
		rest.R("POST", "/v2/images/{image_id}/actions/deactivate", in, a.deactivate),
		rest.R("POST", "/v2/images/{image_id}/actions/reactivate", in, a.reactivate),

		rest.R("GET", "/v2/images/{image_id}/members", in, a.listMembers),
		rest.R("POST", "/v2/images/{image_id}/members", in, a.createMember),
		rest.R("GET", "/v2/images/{image_id}/members/{member_id}", in, a.showMember),
		rest.R("PUT", "/v2/images/{image_id}/members/{member_id}", in, a.updateMember),
		rest.R("DELETE", "/v2/images/{image_id}/members/{member_id}", in, a.deleteMember),

		rest.R("GET", "/v2/schemas/image", in, a.schema(imageSchema)),
		rest.R("GET", "/v2/schemas/images", in, a.schema(imagesSchema)),
		rest.R("GET", "/v2/schemas/member", in, a.schema(memberSchema)),
		rest.R("GET", "/v2/schemas/members", in, a.schema(membersSchema)),
		rest.R("GET", "/v2/schemas/task", in, a.schema(taskSchema)),
		rest.R("GET", "/v2/schemas/tasks", in, a.schema(tasksSchema)),

		rest.R("GET", "/v2/info/import", in, a.infoImport),
		rest.R("GET", "/v2/info/stores", in, a.infoStores),
		rest.R("GET", "/v2/info/usage", in, a.infoUsage),
	}
}

// versionIDs are the versions Glance Zed advertises with one store and
// no cache API: 2.8 (multiple stores) and 2.10–2.14 (tasks, cache) are
// left out because what they add is not served.
var versionIDs = []string{"v2.15", "v2.9", "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0"}

func (a *API) versionDoc() map[string]any {
	var vs []map[string]any
	for i, id := range versionIDs {
		status := "SUPPORTED"
		if i == 0 {
			status = "CURRENT"
		}
		vs = append(vs, map[string]any{"id": id, "status": status,
			"links": []map[string]any{{"rel": "self", "href": a.base + "/v2/"}}})
	}
	return map[string]any{"versions": vs}
}

// versions answers version discovery at the endpoint root with 300
// Multiple Choices, as Glance does.
func (a *API) versions(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusMultipleChoices, a.versionDoc())
	return nil
}

func (a *API) versionList(w http.ResponseWriter, _ *http.Request) error {
	rest.WriteJSON(w, http.StatusOK, a.versionDoc())
	return nil
}

// decodeJSON reads a JSON body of at most rest.MaxBody bytes, numbers as
// json.Number so that integers stay exact.
func decodeJSON(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.Body == nil {
		return nil, oserr.BadRequest("Body expected in request: send a JSON document.")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, rest.MaxBody))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var mbe *http.MaxBytesError
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &mbe):
			return nil, oserr.TooLarge("The request body is larger than the limit of %d bytes; send a smaller body.", mbe.Limit)
		case errors.Is(err, io.EOF):
			return nil, oserr.BadRequest("Body expected in request: send a JSON document.")
		case errors.As(err, &syn):
			return nil, oserr.BadRequest("Malformed JSON in request body: %s at byte %d.", syn.Error(), syn.Offset)
		default:
			return nil, oserr.BadRequest("Malformed JSON in request body: %v.", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, oserr.BadRequest("Malformed JSON in request body: data after the JSON document; send exactly one.")
	}
	return v, nil
}

// decodeObject reads a JSON object body.
func decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	v, err := decodeJSON(w, r)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, oserr.BadRequest("The request body must be a JSON object, not %s.", jsonKind(v))
	}
	return m, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// mediaType is the request's Content-Type without parameters.
func mediaType(r *http.Request) string {
	t, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return strings.TrimSpace(strings.ToLower(r.Header.Get("Content-Type")))
	}
	return t
}
