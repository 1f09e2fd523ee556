package network

import (
	"bytes"
	"net/http"
	"net/http/httptest"
)

// DecodeForTest runs the request decoder of one resource (its wire
// struct and the conversion to the service's input) on body.
func DecodeForTest(member string, body []byte, create bool) error {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	var err error
	switch member {
	case "network":
		var b *networkReq
		if b, err = decodeBody[networkReq](r, member); err == nil {
			_, err = b.input()
		}
	case "subnet":
		var b *subnetReq
		if b, err = decodeBody[subnetReq](r, member); err == nil {
			_, err = b.input(create)
		}
	case "subnetpool":
		var b *subnetPoolReq
		if b, err = decodeBody[subnetPoolReq](r, member); err == nil {
			_, err = b.input()
		}
	case "port":
		var b *portReq
		if b, err = decodeBody[portReq](r, member); err == nil {
			_, err = b.input()
		}
	case "router":
		var b *routerReq
		if b, err = decodeBody[routerReq](r, member); err == nil {
			_, err = b.input()
		}
	case "floatingip":
		var b *fipReq
		if b, err = decodeBody[fipReq](r, member); err == nil {
			_, err = b.input()
		}
	case "security_group_rule":
		var b *ruleReq
		if b, err = decodeBody[ruleReq](r, member); err == nil {
			_, err = intOrNull("port_range_min", b.PortMin)
		}
	}
	return err
}

// IfMatchForTest parses an If-Match header.
func IfMatchForTest(h string) (int64, error) {
	r := httptest.NewRequest(http.MethodPut, "/", nil)
	r.Header.Set("If-Match", h)
	return ifMatch(r)
}
