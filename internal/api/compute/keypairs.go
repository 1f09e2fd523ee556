package compute

import (
	"net/http"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
	pagination "github.com/onestack/onestack/internal/page"
	svc "github.com/onestack/onestack/internal/service/compute"
)

// keypairRoutes declares os-keypairs. Keypairs belong to users; any role
// may manage its own, admins anyone's (user_id, 2.10).
func (a *API) keypairRoutes() []rest.Route {
	return []rest.Route{
		rest.R("GET", "/v2.1/os-keypairs", reader, a.listKeypairs),
		rest.R("POST", "/v2.1/os-keypairs", reader, a.createKeypair),
		rest.R("GET", "/v2.1/os-keypairs/{name}", reader, a.showKeypair),
		rest.R("DELETE", "/v2.1/os-keypairs/{name}", reader, a.deleteKeypair),
	}
}

// decodeKeypairCreate decodes POST /os-keypairs at microversion 2.minor:
// type arrives at 2.2, user_id at 2.10.
func decodeKeypairCreate(body []byte, minor int) (svc.KeypairCreate, error) {
	allowed := []string{"name", "public_key"}
	if minor >= 2 {
		allowed = append(allowed, "type")
	}
	if minor >= 10 {
		allowed = append(allowed, "user_id")
	}
	m, err := wrapped(body, "keypair", allowed, []string{"name"})
	if err != nil {
		return svc.KeypairCreate{}, err
	}
	var req svc.KeypairCreate
	if req.Name, err = str(m["name"], "name"); err != nil {
		return req, err
	}
	if !svc.ValidKeypairName(req.Name) {
		return req, oserr.BadRequest("Invalid input for field/attribute name: keypair names are 1 to 255 letters, digits, spaces, '_' and '-', and may not start or end with a space.")
	}
	if raw, ok := m["public_key"]; ok {
		if req.PublicKey, err = str(raw, "public_key"); err != nil {
			return req, err
		}
		req.HasPublicKey = true
	}
	if raw, ok := m["type"]; ok {
		if req.Type, err = str(raw, "type"); err != nil {
			return req, err
		}
		if req.Type != svc.KeypairSSH && req.Type != svc.KeypairX509 {
			return req, oserr.BadRequest("Invalid input for field/attribute type: %q is not one of ssh, x509.", req.Type)
		}
	}
	if raw, ok := m["user_id"]; ok {
		if req.UserID, err = str(raw, "user_id"); err != nil {
			return req, err
		}
	}
	return req, nil
}

func (a *API) createKeypair(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	req, err := decodeKeypairCreate(body, mv(r).Minor)
	if err != nil {
		return err
	}
	kp, private, err := a.svc.CreateKeypair(r.Context(), auth.From(r.Context()), req)
	if err != nil {
		return err
	}
	v := map[string]any{"name": kp.Name, "public_key": kp.PublicKey, "fingerprint": kp.Fingerprint, "user_id": kp.UserID}
	if private != "" {
		v["private_key"] = private
	}
	status := http.StatusOK
	if at(r, 2) {
		v["type"] = kp.Type // 2.2
		status = http.StatusCreated
	}
	rest.WriteJSON(w, status, map[string]any{"keypair": v})
	return nil
}

// keypairUser is the user_id query parameter, honoured from 2.10.
func keypairUser(r *http.Request) string {
	if !at(r, 10) {
		return ""
	}
	return r.URL.Query().Get("user_id")
}

func (a *API) showKeypair(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id"); err != nil {
		return err
	}
	kp, err := a.svc.Keypair(r.Context(), auth.From(r.Context()), keypairUser(r), r.PathValue("name"))
	if err != nil {
		return err
	}
	v := map[string]any{"name": kp.Name, "public_key": kp.PublicKey, "fingerprint": kp.Fingerprint, "user_id": kp.UserID,
		"created_at": microTS(kp.CreatedAt), "deleted": false, "deleted_at": nil, "updated_at": nil, "id": svc.KeypairID(kp)}
	if at(r, 2) {
		v["type"] = kp.Type
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"keypair": v})
	return nil
}

func (a *API) listKeypairs(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id", "limit", "marker"); err != nil {
		return err
	}
	p := pagination.Request{}
	limit := 0
	if at(r, 35) {
		l, marker, err := page(r.URL.Query())
		if err != nil {
			return err
		}
		limit, p = l, pagination.Request{Limit: l, Marker: marker}
	}
	kps, err := a.svc.Keypairs(r.Context(), auth.From(r.Context()), keypairUser(r), p)
	if err != nil {
		return err
	}
	items := make([]any, len(kps))
	for i, kp := range kps {
		v := map[string]any{"name": kp.Name, "public_key": kp.PublicKey, "fingerprint": kp.Fingerprint}
		if at(r, 2) {
			v["type"] = kp.Type
		}
		items[i] = map[string]any{"keypair": v}
	}
	body := map[string]any{"keypairs": items}
	if at(r, 35) && len(kps) > 0 {
		if links := a.nextLinks(r, "os-keypairs", len(kps), limit, kps[len(kps)-1].Name); links != nil {
			body["keypairs_links"] = links
		}
	}
	rest.WriteJSON(w, http.StatusOK, body)
	return nil
}

func (a *API) deleteKeypair(w http.ResponseWriter, r *http.Request) error {
	if err := onlyQuery(r, 75, "user_id"); err != nil {
		return err
	}
	if err := a.svc.DeleteKeypair(r.Context(), auth.From(r.Context()), keypairUser(r), r.PathValue("name")); err != nil {
		return err
	}
	if at(r, 2) {
		rest.NoContent(w)
	} else {
		w.WriteHeader(http.StatusAccepted)
	}
	return nil
}
