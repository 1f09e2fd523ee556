package image

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := a.svc.Members(r.Context(), auth.From(r.Context()), r.PathValue("image_id"))
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(ms))
	for i := range ms {
		items = append(items, memberJSON(&ms[i]))
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"members": items, "schema": "/v2/schemas/members"})
	return nil
}

// createMember answers 200, not 201, as Glance does.
func (a *API) createMember(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	member, ok := body["member"].(string)
	if !ok {
		return oserr.BadRequest("Member to be added not specified: send {\"member\": \"PROJECT_ID\"}.")
	}
	m, err := a.svc.AddMember(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), member)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, memberJSON(&m))
	return nil
}

func (a *API) showMember(w http.ResponseWriter, r *http.Request) error {
	m, err := a.svc.Member(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), r.PathValue("member_id"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, memberJSON(&m))
	return nil
}

func (a *API) updateMember(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	status, ok := body["status"].(string)
	if !ok {
		return oserr.BadRequest("Status not specified: send {\"status\": \"accepted\"} (or pending, rejected).")
	}
	m, err := a.svc.UpdateMember(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), r.PathValue("member_id"), status)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, memberJSON(&m))
	return nil
}

func (a *API) deleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteMember(r.Context(), auth.From(r.Context()), r.PathValue("image_id"), r.PathValue("member_id")); err != nil {
		return err
	}
	rest.NoContent(w)
	return nil
}
