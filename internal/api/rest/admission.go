package rest

import (
	"net/http"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/oserr"
)

// Admission bounds how many API requests are served at once. A request
// over the bound waits up to a short time for a slot; then it gets a 503
// with Retry-After in its service's error format, rather than a timeout:
// a client backs off and retries instead of piling on.
type Admission struct {
	slots chan struct{}
	wait  time.Duration
	// formats maps a path prefix to its service's error format; exempt
	// prefixes (long polls) are not counted.
	formats map[string]oserr.Format
	exempt  []string
}

// NewAdmission allows max requests at once, each waiting up to wait for a
// slot. Paths under an exempt prefix are never limited.
func NewAdmission(max int, wait time.Duration, formats map[string]oserr.Format, exempt ...string) *Admission {
	return &Admission{slots: make(chan struct{}, max), wait: wait, formats: formats, exempt: exempt}
}

// Wrap limits next.
func (a *Admission) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range a.exempt {
			if strings.HasPrefix(r.URL.Path, p) {
				next.ServeHTTP(w, r)
				return
			}
		}
		select {
		case a.slots <- struct{}{}:
		default:
			t := time.NewTimer(a.wait)
			select {
			case a.slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				s := &Service{Format: a.format(r.URL.Path)}
				s.WriteError(w, r, oserr.Unavailable(1, "The cloud is serving %d requests at once, its limit; retry after a second (onestack up --max-requests raises the limit).", cap(a.slots)))
				return
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		defer func() { <-a.slots }()
		next.ServeHTTP(w, r)
	})
}

func (a *Admission) format(path string) oserr.Format {
	for p, f := range a.formats {
		if strings.HasPrefix(path, p) {
			return f
		}
	}
	return oserr.Plain
}
