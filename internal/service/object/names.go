package object

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/onestack/onestack/internal/oserr"
)

// Swift's constraints, as /info publishes them (swift.common.constraints
// defaults).
const (
	MaxFileSize           = 5368709122
	MaxMetaNameLength     = 128
	MaxMetaValueLength    = 256
	MaxMetaCount          = 90
	MaxMetaOverallSize    = 4096
	MaxHeaderSize         = 8192
	MaxObjectNameLength   = 1024
	ContainerListingLimit = 10000
	AccountListingLimit   = 10000
	MaxAccountNameLength  = 256
	MaxContainerNameLen   = 256
	// ResellerPrefix starts every account name keystoneauth serves.
	ResellerPrefix = "AUTH_"
	// PolicyName is the one storage policy.
	PolicyName = "Policy-0"
)

// Text marks an error whose message is Swift's plain-text body (the API
// renders it as text/plain); other errors get Swift's HTML page with the
// message added.
const Text = "text/plain"

// textErr is an error answered with msg as a text/plain body.
func textErr(status int, format string, args ...any) *oserr.Error {
	return (&oserr.Error{Status: status, Message: fmt.Sprintf(format, args...)}).WithType(Text)
}

// ValidUTF8 reports whether s is valid UTF-8 without NUL, as Swift's
// check_utf8 wants every name.
func ValidUTF8(s string) bool {
	return s != "" && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// CheckAccountName validates an account name from a path.
func CheckAccountName(name string) error {
	if !ValidUTF8(name) {
		return textErr(412, "Invalid UTF8 or contains NULL")
	}
	if len(name) > MaxAccountNameLength {
		return textErr(400, "Account name length of %d longer than %d", len(name), MaxAccountNameLength)
	}
	return nil
}

// CheckContainerName validates a container name.
func CheckContainerName(name string) error {
	if !ValidUTF8(name) {
		return textErr(412, "Invalid UTF8 or contains NULL")
	}
	if len(name) > MaxContainerNameLen {
		return textErr(400, "Container name length of %d longer than %d", len(name), MaxContainerNameLen)
	}
	if strings.Contains(name, "/") {
		return textErr(400, "Container name cannot contain '/'")
	}
	return nil
}

// CheckObjectName validates an object name.
func CheckObjectName(name string) error {
	if !ValidUTF8(name) {
		return textErr(412, "Invalid UTF8 or contains NULL")
	}
	if len(name) > MaxObjectNameLength {
		return textErr(400, "Object name length of %d longer than %d", len(name), MaxObjectNameLength)
	}
	return nil
}

// Meta is a metadata change: Set values by lower-case header name (an empty
// value removes the key, as Swift's X-Remove-* and empty headers do).
type Meta map[string]string

// CheckMeta validates user metadata headers of one kind ("account",
// "container", "object") as Swift's check_metadata: names and values within
// their lengths, at most MaxMetaCount items and MaxMetaOverallSize bytes.
// h maps lower-case header names to values; only x-<kind>-meta-* count.
func CheckMeta(kind string, h map[string]string) error {
	prefix := "x-" + kind + "-meta-"
	count, size := 0, 0
	for k, v := range h {
		if len(v) > MaxHeaderSize {
			return textErr(400, "Header value too long: %s", trunc(k, MaxMetaNameLength))
		}
		key, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if key == "" {
			return textErr(400, "Metadata name cannot be empty")
		}
		if !utf8.ValidString(key) || !utf8.ValidString(v) {
			return textErr(400, "Metadata must be valid UTF-8")
		}
		count++
		size += len(key) + len(v)
		if len(key) > MaxMetaNameLength {
			return textErr(400, "Metadata name too long: %s%s", prefix, key)
		}
		if len(v) > MaxMetaValueLength {
			return textErr(400, "Metadata value longer than %d: %s%s", MaxMetaValueLength, prefix, key)
		}
		if count > MaxMetaCount {
			return textErr(400, "Too many metadata items; max %d", MaxMetaCount)
		}
		if size > MaxMetaOverallSize {
			return textErr(400, "Total metadata too large; max %d", MaxMetaOverallSize)
		}
	}
	return nil
}

// checkStoredMeta checks the metadata a container or account would hold
// after a change, as Swift's servers check the whole set.
func checkStoredMeta(kind string, m map[string]string) error {
	prefix := "x-" + kind + "-meta-"
	count, size := 0, 0
	for k, v := range m {
		if key, ok := strings.CutPrefix(k, prefix); ok {
			count++
			size += len(key) + len(v)
		}
	}
	if count > MaxMetaCount {
		return textErr(400, "Too many metadata items; max %d", MaxMetaCount)
	}
	if size > MaxMetaOverallSize {
		return textErr(400, "Total metadata too large; max %d", MaxMetaOverallSize)
	}
	return nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// apply merges a change into stored metadata: empty values remove keys.
func apply(stored map[string]string, change Meta) map[string]string {
	out := make(map[string]string, len(stored)+len(change))
	for k, v := range stored {
		out[k] = v
	}
	for k, v := range change {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// ValidUTF8OrEmpty reports whether s is empty or valid UTF-8 without NUL.
func ValidUTF8OrEmpty(s string) bool { return s == "" || ValidUTF8(s) }
