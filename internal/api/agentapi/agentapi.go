// Package agentapi serves the control plane to host agents in other
// processes, under /agent/v1: register, heartbeat, watch (a long poll) and
// report. It is hostapi.Plane over HTTP; only admin tokens may use it.
package agentapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/hostapi"
	"github.com/onestack/onestack/internal/oserr"
)

// Prefix is where the agent API is mounted.
const Prefix = "/agent"

// Plane is what the API serves: the compute service's side of hostapi.Plane
// with a bounded wait for watches.
type Plane interface {
	hostapi.Plane
	WatchWait(ctx context.Context, host string, since int64, wait time.Duration) ([]hostapi.Guest, int64, error)
}

// NetworkPlane is the networking side the API serves: the host's desired
// data plane (a long poll with a bounded wait) and the agent's report.
type NetworkPlane interface {
	WatchNetworkWait(ctx context.Context, host string, since int64, wait time.Duration) (hostapi.HostNetwork, error)
	ReportNetwork(ctx context.Context, r hostapi.NetworkReport) error
}

// LoadBalancerPlane is the load-balancer side the API serves: the host's
// load balancers (a long poll with a bounded wait) and the agent's report.
type LoadBalancerPlane interface {
	WatchLoadBalancersWait(ctx context.Context, host string, since int64, wait time.Duration) (hostapi.LoadBalancerSet, error)
	ReportLoadBalancers(ctx context.Context, r hostapi.LoadBalancerReport) error
}

// waitParam reads a long poll's since and wait query parameters.
func waitParam(r *http.Request) (since int64, wait time.Duration, err error) {
	since, err = strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
	if err != nil || since < 0 {
		return 0, 0, oserr.BadRequest("since must be a revision number ≥ 0.")
	}
	wait = 25 * time.Second
	if v := r.URL.Query().Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil || wait < 0 || wait > time.Minute {
			return 0, 0, oserr.BadRequest("wait must be a duration up to 1m, e.g. 25s.")
		}
	}
	return since, wait, nil
}

// Service returns the agent API over p, over n for the agents' data
// plane and over lb for their load balancers (n and lb may be nil: no
// networking or load-balancer routes).
func Service(p Plane, n NetworkPlane, lb LoadBalancerPlane, v auth.Validator) *rest.Service {
	admin := func(c *auth.Credentials, _ *http.Request) error {
		if c.IsAdmin() {
			return nil
		}
		return oserr.Forbidden("The agent API needs an admin token; run the agent with the cloud's admin credentials.")
	}
	return &rest.Service{Prefix: Prefix, MaxBody: 1 << 40, Format: oserr.Plain, Validator: v, Unmetered: []string{"/"}, Routes: []rest.Route{
		rest.R("POST", "/v1/hosts", admin, func(w http.ResponseWriter, r *http.Request) error {
			var h hostapi.HostInfo
			if err := rest.Decode(r, &h, true); err != nil {
				return err
			}
			if err := p.Register(r.Context(), h); err != nil {
				return err
			}
			rest.NoContent(w)
			return nil
		}),
		rest.R("POST", "/v1/hosts/{host}/heartbeat", admin, func(w http.ResponseWriter, r *http.Request) error {
			if err := p.Heartbeat(r.Context(), r.PathValue("host")); err != nil {
				return err
			}
			rest.NoContent(w)
			return nil
		}),
		rest.R("GET", "/v1/hosts/{host}/watch", admin, func(w http.ResponseWriter, r *http.Request) error {
			since, wait, err := waitParam(r)
			if err != nil {
				return err
			}
			gs, next, err := p.WatchWait(r.Context(), r.PathValue("host"), since, wait)
			if err != nil {
				return err
			}
			if gs == nil {
				gs = []hostapi.Guest{}
			}
			rest.WriteJSON(w, http.StatusOK, hostapi.WatchResponse{Guests: gs, Next: next})
			return nil
		}),
		rest.R("PUT", "/v1/images/{id}/file", admin, func(w http.ResponseWriter, r *http.Request) error {
			if err := p.UploadImage(r.Context(), r.PathValue("id"), r.Body); err != nil {
				return err
			}
			rest.NoContent(w)
			return nil
		}),
		rest.R("GET", "/v1/images/{id}/file", admin, func(w http.ResponseWriter, r *http.Request) error {
			data, f, err := p.DownloadImage(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			defer data.Close()
			desc, _ := json.Marshal(f)
			w.Header().Set(hostapi.ImageFileHeader, string(desc))
			w.Header().Set("Content-Type", "application/octet-stream")
			if f.Size > 0 {
				w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
			}
			w.WriteHeader(http.StatusOK)
			_, _ = io.Copy(w, data) // a broken copy shows as a short body: the agent's checksum catches it
			return nil
		}),
		rest.R("GET", "/v1/hosts/{host}/network", admin, func(w http.ResponseWriter, r *http.Request) error {
			if n == nil {
				return oserr.NotFound("This cloud runs no networking service.")
			}
			since, wait, err := waitParam(r)
			if err != nil {
				return err
			}
			hn, err := n.WatchNetworkWait(r.Context(), r.PathValue("host"), since, wait)
			if err != nil {
				return err
			}
			rest.WriteJSON(w, http.StatusOK, hn)
			return nil
		}),
		rest.R("POST", "/v1/hosts/{host}/network/report", admin, func(w http.ResponseWriter, r *http.Request) error {
			if n == nil {
				return oserr.NotFound("This cloud runs no networking service.")
			}
			var rep hostapi.NetworkReport
			if err := rest.Decode(r, &rep, true); err != nil {
				return err
			}
			rep.Host = r.PathValue("host")
			if err := n.ReportNetwork(r.Context(), rep); err != nil {
				return err
			}
			rest.NoContent(w)
			return nil
		}),
		rest.R("GET", "/v1/hosts/{host}/loadbalancers", admin, func(w http.ResponseWriter, r *http.Request) error {
			if lb == nil {
				return oserr.NotFound("This cloud runs no load-balancer service.")
			}
			since, wait, err := waitParam(r)
			if err != nil {
				return err
			}
			set, err := lb.WatchLoadBalancersWait(r.Context(), r.PathValue("host"), since, wait)
			if err != nil {
				return err
			}
			rest.WriteJSON(w, http.StatusOK, set)
			return nil
		}),
		rest.R("POST", "/v1/hosts/{host}/loadbalancers/report", admin, func(w http.ResponseWriter, r *http.Request) error {
			if lb == nil {
				return oserr.NotFound("This cloud runs no load-balancer service.")
			}
			var rep hostapi.LoadBalancerReport
			if err := rest.Decode(r, &rep, true); err != nil {
				return err
			}
			rep.Host = r.PathValue("host")
			if err := lb.ReportLoadBalancers(r.Context(), rep); err != nil {
				return err
			}
			rest.NoContent(w)
			return nil
		}),
		rest.R("POST", "/v1/reports", admin, func(w http.ResponseWriter, r *http.Request) error {
			var rep hostapi.Report
			if err := rest.Decode(r, &rep, true); err != nil {
				return err
			}
			if err := p.Report(r.Context(), rep); err != nil {
				return err
			}
			rest.NoContent(w)
			return nil
		}),
	}}
}
