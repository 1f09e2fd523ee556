package loadbalancer

import (
	"bytes"
	"net/http"
	"net/http/httptest"

	"github.com/onestack/onestack/internal/oserr"
)

// DecodeForTest runs the request decoder of one resource on body: the
// root object, the wire struct and its conversion to the service's input,
// as the create handler does (update handlers decode the same structs).
func DecodeForTest(member string, body []byte) error {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	var err error
	switch member {
	case "loadbalancer":
		var b wireLB
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "listener":
		var b wireListener
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "pool":
		var b wirePool
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "member":
		var b wireMember
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "members":
		_, err = decodeBatch(r)
	case "healthmonitor":
		var b wireMonitor
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "l7policy":
		var b wirePolicy
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "rule":
		var b wireRule
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = b.input()
		}
	case "quota":
		var b map[string]*wsInt
		if err = decodeRoot(r, member, &b); err == nil {
			_, err = quotaInput(b)
		}
	case "flavorprofile":
		var b wireFlavorProfile
		if err = decodeRoot(r, member, &b); err == nil {
			err = checkNames(b.Name, nil)
		}
	case "flavor":
		var b wireFlavor
		if err = decodeRoot(r, member, &b); err == nil {
			err = checkNames(b.Name, b.Description)
		}
	case "availability_zone_profile":
		var b wireZoneProfile
		if err = decodeRoot(r, member, &b); err == nil {
			err = checkNames(b.Name, nil)
		}
	case "availability_zone":
		var b wireZone
		if err = decodeRoot(r, member, &b); err == nil {
			err = checkNames(b.Name, b.Description)
		}
	default:
		panic("no decoder " + member)
	}
	return err
}

// ListForTest runs a list's query decoding (filters, sort, limit, marker,
// page_reverse, fields) over items and returns the status written.
func ListForTest(query string, items []map[string]any) int {
	a := &API{base: "http://x/load-balancer"}
	// Built by hand: any bytes may reach the query (a server's parser
	// passes them on; httptest.NewRequest would refuse some).
	r := httptest.NewRequest(http.MethodGet, "/load-balancer/v2/lbaas/pools", nil)
	r.URL.RawQuery = query
	w := httptest.NewRecorder()
	if err := a.listView(w, r, "pools", items); err != nil {
		if e, ok := err.(*oserr.Error); ok {
			return e.Status
		}
		return 500
	}
	return w.Code
}
