package store

// ErrNotFound is returned when a row a query needs does not exist.
var ErrNotFound error = &sentinel{msg: "not found", notFound: true}

// ErrConflict is returned when a write breaks a uniqueness constraint or a
// revision check.
var ErrConflict error = &sentinel{msg: "conflict", conflict: true}

// sentinel is the type of the store's errors that say what went wrong in
// terms a client could act on. Services translate them into their own
// OpenStack errors; one they forget reaches the API boundary, where package
// oserr (which imports nothing of the project) recognises it by its
// NotFound and Conflict methods: a missing row answers 404 and a clash 409
// there instead of a 500.
type sentinel struct {
	msg                string
	notFound, conflict bool
}

func (e *sentinel) Error() string { return e.msg }

// NotFound reports whether the error means a row that does not exist.
func (e *sentinel) NotFound() bool { return e.notFound }

// Conflict reports whether the error means a write that clashed with
// another (a taken unique key, a stale revision or generation).
func (e *sentinel) Conflict() bool { return e.conflict }
