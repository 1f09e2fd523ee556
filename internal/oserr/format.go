package oserr

import "net/http"

// Format turns an error into the body a service's clients expect: a value
// rendered as JSON, or a Text written as it is.
type Format func(e *Error, requestID string) any

// Text is an error body that is not JSON (Swift answers in plain text or
// HTML): written as Body with the given Content-Type.
type Text struct {
	ContentType string
	Body        string
}

// Keystone renders {"error": {"code", "title", "message"}}.
func Keystone(e *Error, _ string) any {
	return map[string]any{"error": map[string]any{
		"code":    e.Status,
		"title":   http.StatusText(e.Status),
		"message": e.Message,
	}}
}

// novaKeys are the top-level keys Nova (and Cinder) use per status.
var novaKeys = map[int]string{
	400: "badRequest",
	401: "unauthorized",
	403: "forbidden",
	404: "itemNotFound",
	405: "HTTPMethodNotAllowed",
	406: "HTTPNotAcceptable",
	409: "conflictingRequest",
	413: "overLimit",
	415: "HTTPUnsupportedMediaType",
	429: "overLimit",
	501: "notImplemented",
	503: "serviceUnavailable",
}

// Nova renders {"itemNotFound": {"code", "message"}} and its siblings, as
// Nova and Cinder do.
func Nova(e *Error, _ string) any {
	key := e.Type
	if key == "" {
		key = novaKeys[e.Status]
	}
	if key == "" {
		key = "computeFault"
	}
	return map[string]any{key: map[string]any{"code": e.Status, "message": e.Message}}
}

// neutronTypes are Neutron's default exception names per status.
var neutronTypes = map[int]string{
	400: "HTTPBadRequest",
	401: "HTTPUnauthorized",
	403: "HTTPForbidden",
	404: "HTTPNotFound",
	405: "HTTPMethodNotAllowed",
	409: "HTTPConflict",
	412: "HTTPPreconditionFailed",
	413: "HTTPRequestEntityTooLarge",
	429: "HTTPTooManyRequests",
	501: "HTTPNotImplemented",
	503: "HTTPServiceUnavailable",
}

// Neutron renders {"NeutronError": {"type", "message", "detail"}}.
func Neutron(e *Error, _ string) any {
	t := e.Type
	if t == "" {
		t = neutronTypes[e.Status]
	}
	if t == "" {
		t = "HTTPInternalServerError"
	}
	return map[string]any{"NeutronError": map[string]any{"type": t, "message": e.Message, "detail": ""}}
}

// Placement renders {"errors": [{"status", "title", "detail", "request_id", "code"}]}.
func Placement(e *Error, requestID string) any {
	code := e.Type
	if code == "" {
		code = "placement.undefined_code"
	}
	return map[string]any{"errors": []any{map[string]any{
		"status":     e.Status,
		"title":      http.StatusText(e.Status),
		"detail":     e.Message,
		"request_id": requestID,
		"code":       code,
	}}}
}

// Plain renders {"code", "title", "message"} for endpoints outside any
// service (the root document).
func Plain(e *Error, _ string) any {
	return map[string]any{"code": e.Status, "title": http.StatusText(e.Status), "message": e.Message}
}
