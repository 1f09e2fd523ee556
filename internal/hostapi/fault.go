package hostapi

import (
	"errors"
	"net/http"
)

// StepError is a step of a guest operation that failed on a host: what the
// host was doing, why it failed (in words that say what to do), and whose
// fault it is. Agents report the step and the code with the error, so the
// server's fault names the step, and is a 500 only when the cloud is at
// fault.
type StepError struct {
	// Step is what the host was doing, e.g. "create the root disk".
	Step string
	// Err is why it failed.
	Err error
	// User is set when what the request asked for (its image, its flavor,
	// its volumes) caused the failure rather than the cloud.
	User bool
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }

func (e *StepError) Unwrap() error { return e.Err }

// Code is the fault's code: 400 for a failure the request caused, 500 for
// one of the cloud's.
func (e *StepError) Code() int {
	if e.User {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// CloudFault is err as the failure of step where the cloud is at fault (a
// host that cannot write its disk, a QEMU that does not start). An err
// that already is a StepError names a more precise step and is returned
// as is; nil stays nil.
func CloudFault(step string, err error) error { return stepError(step, err, false) }

// UserFault is err as the failure of step that what the request asked for
// caused (an image that does not boot, a flavor's disk smaller than the
// image): the fault's code is 400. An err that already is a StepError is
// returned as is; nil stays nil.
func UserFault(step string, err error) error { return stepError(step, err, true) }

func stepError(step string, err error, user bool) error {
	if err == nil {
		return nil
	}
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	return &StepError{Step: step, Err: err, User: user}
}
