package object

import (
	"encoding/json"
	"net/http"
	"strconv"

	svc "github.com/onestack/onestack/internal/service/object"
)

// Capabilities is what GET /info says is served: Swift's constraints and
// one section per middleware whose behaviour this API has. Nothing is
// listed that is not served (no container sync, no symlinks, no object
// versioning API beyond versioned writes, no S3).
func Capabilities() map[string]any {
	digests := []string{"sha1", "sha256", "sha512"}
	return map[string]any{
		"swift": map[string]any{
			"version":                    "onestack",
			"max_file_size":              svc.MaxFileSize,
			"max_meta_name_length":       svc.MaxMetaNameLength,
			"max_meta_value_length":      svc.MaxMetaValueLength,
			"max_meta_count":             svc.MaxMetaCount,
			"max_meta_overall_size":      svc.MaxMetaOverallSize,
			"max_header_size":            svc.MaxHeaderSize,
			"max_object_name_length":     svc.MaxObjectNameLength,
			"container_listing_limit":    svc.ContainerListingLimit,
			"account_listing_limit":      svc.AccountListingLimit,
			"max_account_name_length":    svc.MaxAccountNameLength,
			"max_container_name_length":  svc.MaxContainerNameLen,
			"extra_header_count":         0,
			"valid_api_versions":         []string{"v1", "v1.0"},
			"policies":                   []map[string]any{{"name": svc.PolicyName, "default": true}},
			"strict_cors_mode":           true,
			"allow_account_management":   false,
			"account_autocreate":         true,
			"auto_create_account_prefix": ".",
		},
		"tempurl": map[string]any{
			"methods":                 tempURLMethods,
			"incoming_remove_headers": []string{"x-timestamp"},
			"incoming_allow_headers":  []string{},
			"outgoing_remove_headers": []string{"x-object-meta-*"},
			"outgoing_allow_headers":  []string{"x-object-meta-public-*"},
			"allowed_digests":         digests,
		},
		"formpost":         map[string]any{"allowed_digests": digests},
		"slo":              map[string]any{"max_manifest_segments": 1000, "max_manifest_size": 8 << 20, "yield_frequency": 10, "allow_async_delete": false},
		"dlo":              map[string]any{"max_segments": 10000},
		"bulk_delete":      map[string]any{"max_deletes_per_request": svc.MaxDeletesPerRequest, "max_failed_deletes": 1000},
		"bulk_upload":      map[string]any{"max_containers_per_extraction": 10000, "max_failed_extractions": 1000},
		"account_quotas":   map[string]any{},
		"container_quotas": map[string]any{},
		"staticweb":        map[string]any{},
		"crossdomain":      map[string]any{},
		"versioned_writes": map[string]any{"allowed_flags": []string{"x-versions-location", "x-history-location"}},
	}
}

// info serves GET /info (no token needed).
func (a *API) info(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case "GET", "HEAD":
	case "OPTIONS":
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		emptyBody(w, http.StatusOK)
		return nil
	default:
		return methodNotAllowed(w, r, "GET, HEAD, OPTIONS")
	}
	body, _ := json.Marshal(Capabilities())
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == "GET" {
		_, _ = w.Write(body)
	}
	return nil
}

// healthcheck serves GET /healthcheck: "OK" while the service answers.
func (a *API) healthcheck(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method != "HEAD" {
		_, _ = w.Write([]byte("OK"))
	}
	return nil
}

// crossdomainPolicy is Swift's default cross-domain policy (for Flash).
const crossdomainPolicy = `<?xml version="1.0"?>
<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/cross-domain-policy.dtd" >
<cross-domain-policy>
<allow-access-from domain="*" secure="false" />
</cross-domain-policy>`

// crossdomain serves GET /crossdomain.xml.
func (a *API) crossdomain(w http.ResponseWriter, r *http.Request) error {
	if r.Method != "GET" && r.Method != "HEAD" {
		return methodNotAllowed(w, r, "GET, HEAD")
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(crossdomainPolicy)))
	w.WriteHeader(http.StatusOK)
	if r.Method == "GET" {
		_, _ = w.Write([]byte(crossdomainPolicy))
	}
	return nil
}
