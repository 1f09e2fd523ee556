package compute

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"

	"github.com/onestack/onestack/internal/api/rest"
	"github.com/onestack/onestack/internal/auth"
	"github.com/onestack/onestack/internal/oserr"
)

// Console protocols and types Nova's schema accepts (mks and webmks from 2.8).
var (
	consoleProtocols = map[string]int{"vnc": 6, "spice": 6, "rdp": 6, "serial": 6, "mks": 8}
	consoleTypes     = map[string]int{"novnc": 6, "xvpvnc": 6, "rdp-html5": 6, "spice-html5": 6, "serial": 6, "webmks": 8}
)

// consoleURL is where a console token is used: the serial proxy on this
// listener, with the scheme of the public URL turned into ws/wss.
func (a *API) consoleURL(token string) string {
	base := a.base
	switch {
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	}
	return base + "/serial-console/?token=" + url.QueryEscape(token)
}

// createRemoteConsole is POST /servers/{id}/remote-consoles (2.6+).
func (a *API) createRemoteConsole(w http.ResponseWriter, r *http.Request) error {
	if !at(r, 6) {
		return oserr.NotFound("The resource could not be found: remote-consoles needs microversion 2.6 or later (before it, use the os-getSerialConsole action).")
	}
	var b struct {
		RC *struct {
			Protocol string `json:"protocol"`
			Type     string `json:"type"`
		} `json:"remote_console"`
	}
	if err := rest.Decode(r, &b, true); err != nil {
		return err
	}
	if b.RC == nil {
		return oserr.BadRequest("Invalid input for field/attribute remote_console: 'remote_console' is a required property.")
	}
	if v, ok := consoleProtocols[b.RC.Protocol]; !ok || !at(r, v) {
		return oserr.BadRequest("Invalid input for field/attribute protocol: %q is not one of vnc, spice, rdp, serial (mks from 2.8).", b.RC.Protocol)
	}
	if v, ok := consoleTypes[b.RC.Type]; !ok || !at(r, v) {
		return oserr.BadRequest("Invalid input for field/attribute type: %q is not one of novnc, xvpvnc, rdp-html5, spice-html5, serial (webmks from 2.8).", b.RC.Type)
	}
	token, err := a.svc.RemoteConsole(r.Context(), auth.From(r.Context()), r.PathValue("id"), b.RC.Protocol, b.RC.Type)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"remote_console": map[string]string{
		"protocol": b.RC.Protocol, "type": b.RC.Type, "url": a.consoleURL(token)}})
	return nil
}

// legacyConsole answers the os-get*Console actions (until 2.5).
func (a *API) legacyConsole(ctx context.Context, w http.ResponseWriter, r *http.Request, c *auth.Credentials, id, action string, arg json.RawMessage) error {
	if at(r, 6) {
		return oserr.NotFound("There is no such action: %s (from microversion 2.6 use POST /servers/%s/remote-consoles).", action, id)
	}
	var b struct {
		Type string `json:"type"`
	}
	if len(arg) > 0 && string(arg) != "null" {
		if err := json.Unmarshal(arg, &b); err != nil {
			return oserr.BadRequest("Invalid input for action %s: %v.", action, err)
		}
	}
	protocol := map[string]string{"os-getVNCConsole": "vnc", "os-getSPICEConsole": "spice", "os-getRDPConsole": "rdp", "os-getSerialConsole": "serial"}[action]
	if b.Type == "" {
		return oserr.BadRequest("Invalid input for field/attribute type: 'type' is a required property.")
	}
	token, err := a.svc.RemoteConsole(ctx, c, id, protocol, b.Type)
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"console": map[string]string{"type": b.Type, "url": a.consoleURL(token)}})
	return nil
}

// showConsoleToken is GET /os-console-auth-tokens/{token} (admin): what a
// console token connects to. Before 2.31 Nova shows only rdp-html5
// tokens, which do not exist here.
func (a *API) showConsoleToken(w http.ResponseWriter, r *http.Request) error {
	if !at(r, 31) {
		return oserr.Unauthorized("The requested console type details are not accessible: serial console tokens are shown from microversion 2.31.")
	}
	t, err := a.svc.LookupConsoleToken(r.PathValue("token"))
	if err != nil {
		return err
	}
	rest.WriteJSON(w, http.StatusOK, map[string]any{"console": map[string]any{
		"instance_uuid": t.ServerID, "host": t.Host, "port": nil, "internal_access_path": nil}})
	return nil
}

// serialProxy is the websocket end of a serial console URL: it checks the
// token (no Keystone token: the URL is the credential, for ten minutes)
// and joins the websocket to the guest's serial port, bytes both ways.
func (a *API) serialProxy(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	conn, t, err := a.svc.OpenSerial(ctx, r.URL.Query().Get("token"))
	if err != nil {
		return err
	}
	defer conn.Close()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}, InsecureSkipVerify: true})
	if err != nil {
		return nil // Accept answered the client itself
	}
	defer ws.CloseNow()
	a.log.Info("serial console opened", "server_id", t.ServerID, "host", t.Host)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer cancel()
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if werr := ws.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			if !errors.Is(err, context.Canceled) && websocket.CloseStatus(err) == -1 && !errors.Is(err, io.EOF) {
				a.log.Debug("serial console closed", "server_id", t.ServerID, "error", err)
			}
			ws.Close(websocket.StatusNormalClosure, "")
			return nil
		}
		if _, err := conn.Write(data); err != nil {
			ws.Close(websocket.StatusGoingAway, "the guest's serial port closed")
			return nil
		}
	}
}
