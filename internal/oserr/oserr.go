// Package oserr defines the errors every layer returns to say what a client
// did wrong, and how each OpenStack service renders them on the wire.
//
// It sits below every API and service package. A service returns an *Error
// built with one of the constructors (NotFound, BadRequest, …); the API layer
// renders it with the body format of its own OpenStack service. A store
// error no service translated becomes a generic 404 or 409 (Untranslated);
// any other error a bare 500 whose cause is logged, never shown.
package oserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error a client can act on: its Status and Message go on the
// wire, its Cause (if any) only into the log.
type Error struct {
	Status int
	// Message is shown to the client; it says what to change.
	Message string
	// Type is the machine-readable name some services expose (Neutron's
	// "type", e.g. "NetworkNotFound"); empty means the status's default.
	Type string
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int
	// Cause is the internal error behind this one; it is logged, not shown.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// WithType returns a copy of e carrying the service-specific type name t.
func (e *Error) WithType(t string) *Error {
	c := *e
	c.Type = t
	return &c
}

// WithCause returns a copy of e that records cause for the log.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

func newf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400: the request is malformed or a value is invalid.
func BadRequest(format string, args ...any) *Error {
	return newf(http.StatusBadRequest, format, args...)
}

// Unauthorized is a 401: missing, wrong or expired credentials.
func Unauthorized(format string, args ...any) *Error {
	return newf(http.StatusUnauthorized, format, args...)
}

// Forbidden is a 403: authenticated, but policy does not allow it.
func Forbidden(format string, args ...any) *Error { return newf(http.StatusForbidden, format, args...) }

// NotFound is a 404.
func NotFound(format string, args ...any) *Error { return newf(http.StatusNotFound, format, args...) }

// MethodNotAllowed is a 405.
func MethodNotAllowed(format string, args ...any) *Error {
	return newf(http.StatusMethodNotAllowed, format, args...)
}

// NotAcceptable is a 406, e.g. an unsupported microversion.
func NotAcceptable(format string, args ...any) *Error {
	return newf(http.StatusNotAcceptable, format, args...)
}

// Conflict is a 409: the request clashes with the current state.
func Conflict(format string, args ...any) *Error { return newf(http.StatusConflict, format, args...) }

// PreconditionFailed is a 412: an If-Match revision did not match.
func PreconditionFailed(format string, args ...any) *Error {
	return newf(http.StatusPreconditionFailed, format, args...)
}

// TooLarge is a 413: the body exceeds the limit.
func TooLarge(format string, args ...any) *Error {
	return newf(http.StatusRequestEntityTooLarge, format, args...)
}

// UnsupportedMediaType is a 415.
func UnsupportedMediaType(format string, args ...any) *Error {
	return newf(http.StatusUnsupportedMediaType, format, args...)
}

// TooManyRequests is a 429 with a Retry-After in seconds.
func TooManyRequests(retryAfter int, format string, args ...any) *Error {
	e := newf(http.StatusTooManyRequests, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// NotImplemented is a 501: a valid request for something not built yet.
func NotImplemented(format string, args ...any) *Error {
	return newf(http.StatusNotImplemented, format, args...)
}

// Unavailable is a 503 with a Retry-After in seconds.
func Unavailable(retryAfter int, format string, args ...any) *Error {
	e := newf(http.StatusServiceUnavailable, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// Internal is the error shown for anything that is not an *Error: the
// cause is logged under the request id and never shown.
func Internal(cause error) *Error {
	return &Error{
		Status:  http.StatusInternalServerError,
		Message: "An unexpected error prevented the server from fulfilling your request; the cause is logged under this request's id.",
		Cause:   cause,
	}
}

// From returns err as an *Error. An error a lower layer marks as a missing
// row or a clash (see Untranslated) becomes a 404 or 409 with a generic
// message; any other error becomes Internal.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if e := untranslated(err); e != nil {
		return e
	}
	return Internal(err)
}

// notFound and conflict are how the store marks its errors (ErrNotFound,
// ErrConflict and its kin) without this package importing it.
type (
	notFound interface{ NotFound() bool }
	conflict interface{ Conflict() bool }
)

// Untranslated reports whether err is a lower layer's missing-row or
// conflict error that no service turned into an *Error. From answers it
// with a generic 404 or 409 rather than a 500, but each one is a bug: the
// service should say which resource is missing or what clashed.
func Untranslated(err error) bool {
	var e *Error
	return !errors.As(err, &e) && untranslated(err) != nil
}

func untranslated(err error) *Error {
	var nf notFound
	if errors.As(err, &nf) && nf.NotFound() {
		return NotFound("The resource could not be found; it may have been deleted meanwhile: check the ids in the request.").WithCause(err)
	}
	var c conflict
	if errors.As(err, &c) && c.Conflict() {
		return Conflict("The request conflicts with the current state of the resource; another request may have changed it meanwhile: read it again and retry.").WithCause(err)
	}
	return nil
}

// Is reports whether err is an *Error with the given status.
func Is(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}
