package rest

import (
	"hash/fnv"
	"net"
	"net/http"
	"strings"
	"sync"
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
	// perClient bounds one client's requests in flight (0: no bound): a
	// client over it gets a 429 at once, so one runaway script cannot take
	// every slot from the others. A client is its token, else its address.
	perClient int
	mu        sync.Mutex
	inFlight  map[uint64]int
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

// PerClient bounds each client's requests in flight to n (0: none).
func (a *Admission) PerClient(n int) *Admission {
	a.perClient, a.inFlight = n, map[uint64]int{}
	return a
}

// clientKey names the client of r: a hash of its token, else of its
// address (the port differs per connection and is left out).
func clientKey(r *http.Request) uint64 {
	h := fnv.New64a()
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		h.Write([]byte("t:" + tok))
	} else {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		h.Write([]byte("a:" + host))
	}
	return h.Sum64()
}

// enter counts a request of client k, unless the client is at its bound.
func (a *Admission) enter(k uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[k] >= a.perClient {
		return false
	}
	a.inFlight[k]++
	return true
}

func (a *Admission) leave(k uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[k]--; a.inFlight[k] <= 0 {
		delete(a.inFlight, k)
	}
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
		if a.perClient > 0 {
			k := clientKey(r)
			if !a.enter(k) {
				s := &Service{Format: a.format(r.URL.Path)}
				s.WriteError(w, r, oserr.TooManyRequests(1, "This client already has %d requests in progress, the most one client may have at once; wait for them (or retry after a second) instead of sending more in parallel (onestack up --max-requests-per-client raises the bound).", a.perClient))
				return
			}
			defer a.leave(k)
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
