package volume

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/volume"
)

// Cinder's user messages (3.3) are how a user learns why a volume or a
// snapshot failed. Here they are derived from the failed resources
// themselves: one message per volume or snapshot in an error status, with
// the reason the worker recorded, for as long as it stays failed.

func (a *API) messageRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", p("/messages"), reader, a.listMessages),
		rest.R("GET", p("/messages/{id}"), reader, a.showMessage),
	}
}

var messageSpace = uuid.MustParse("5d3c1f0e-8a61-4c4e-9a55-6f3c2a0b7e11")

func (a *API) messages(r *http.Request) ([]map[string]any, error) {
	if !at(r, 3) {
		return nil, oserr.NotFound("The messages API needs microversion 3.3 or later; send OpenStack-API-Version: volume 3.3.")
	}
	c := auth.From(r.Context())
	out := []map[string]any{}
	add := func(kind, id, event, msg string, at time.Time) {
		if msg == "" {
			return
		}
		mid := uuid.NewSHA1(messageSpace, []byte(kind+":"+id+":"+msg)).String()
		out = append(out, map[string]any{"id": mid, "event_id": event, "user_message": msg, "message_level": "ERROR",
			"resource_type": kind, "resource_uuid": id, "request_id": nil, "created_at": stamp(at),
			"guaranteed_until": stamp(at.Add(30 * 24 * time.Hour)), "links": a.links(r, "messages", mid)})
	}
	for _, st := range []string{svc.StatusError, svc.StatusErrorDeleting, svc.StatusErrorExtend} {
		vols, _, err := a.svc.List(r.Context(), c, svc.ListQuery{Status: st})
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			add("VOLUME", v.ID, "VOLUME_VOLUME_001_002", v.ErrorMessage, v.UpdatedAt)
		}
	}
	for _, st := range []string{svc.StatusError, svc.StatusErrorDeleting} {
		sns, err := a.svc.ListSnapshots(r.Context(), c, svc.SnapshotQuery{Status: st})
		if err != nil {
			return nil, err
		}
		for _, s := range sns {
			add("VOLUME_SNAPSHOT", s.ID, "VOLUME_VOLUME_SNAPSHOT_001_003", s.ErrorMessage, s.UpdatedAt)
		}
	}
	return out, nil
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.messages(r)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"messages": ms})
	return nil
}

func (a *API) showMessage(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.messages(r)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m["id"] == r.PathValue("id") {
			rest.WriteJSON(w, http.StatusOK, map[string]any{"message": m})
			return nil
		}
	}
	return oserr.NotFound("Message %s could not be found.", r.PathValue("id"))
}
