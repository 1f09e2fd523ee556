package object

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	svc "github.com/onestack/onestack/internal/service/object"
)

// Digests are the HMAC digests TempURL and FormPost signatures may use.
var Digests = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// tempURLMethods are the methods a TempURL may be signed for.
var tempURLMethods = []string{"GET", "HEAD", "PUT", "POST", "DELETE"}

// ParseSignature reads a signature as Swift's extract_digest_and_algorithm:
// hex (its length names the digest: 40 sha1, 64 sha256, 128 sha512) or
// "<digest>:<base64>". It returns the digest's name and the signature in
// hex.
func ParseSignature(sig string) (string, string, bool) {
	if algo, b64, ok := strings.Cut(sig, ":"); ok {
		if strings.ContainsAny(b64, "-_") && !strings.ContainsAny(b64, "+/") {
			b64 = strings.NewReplacer("-", "+", "_", "/").Replace(b64)
		}
		raw, err := base64.StdEncoding.DecodeString(b64 + strings.Repeat("=", (4-len(b64)%4)%4))
		if err != nil {
			return "", "", false
		}
		if _, ok := Digests[algo]; !ok {
			return "", "", false
		}
		return algo, hex.EncodeToString(raw), true
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return "", "", false
	}
	algo := map[int]string{40: "sha1", 64: "sha256", 128: "sha512"}[len(sig)]
	return algo, strings.ToLower(sig), algo != ""
}

// Sign computes a signature over body with key.
func Sign(algo, key, body string) string {
	m := hmac.New(Digests[algo], []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// signedPaths are the paths a signature may have been computed over: as
// the client addressed it (with /object), and as a Swift proxy at the root
// sees it (/v1/...), which is what `swift tempurl` signs.
func signedPaths(p string) []string {
	return []string{p, strings.TrimPrefix(p, Prefix)}
}

// tempURLExpires reads temp_url_expires: unix seconds or ISO 8601 UTC.
func tempURLExpires(v string) (int64, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}
	if t, err := time.Parse("2006-01-02T15:04:05Z", v); err == nil {
		return t.Unix(), true
	}
	return 0, false
}

// tempURLCaller checks a TempURL's signature: a GET, HEAD, PUT, POST or
// DELETE of an object (or, with temp_url_prefix, of any object under a
// prefix), before its expiry, signed with a key of the account or of the
// container, optionally for an IP range. A valid one authorises the
// request as its signer's; anything else is a 401.
func (a *API) tempURLCaller(r *http.Request, p Path, c *svc.Caller) (*svc.Caller, error) {
	q := r.URL.Query()
	invalid := func(why string) error {
		return textErr(http.StatusUnauthorized, "401 Unauthorized: Temp URL invalid\n%s\n", why)
	}
	sig, exp := q.Get("temp_url_sig"), q.Get("temp_url_expires")
	if sig == "" || exp == "" {
		return nil, invalid("Send both temp_url_sig and temp_url_expires.")
	}
	expires, ok := tempURLExpires(exp)
	if !ok {
		return nil, invalid("temp_url_expires must be unix seconds or 2006-01-02T15:04:05Z.")
	}
	if expires < a.now().Unix() {
		return nil, invalid(fmt.Sprintf("The URL expired at %s.", time.Unix(expires, 0).UTC().Format(time.RFC3339)))
	}
	algo, sig, ok := ParseSignature(sig)
	if !ok {
		return nil, invalid("temp_url_sig is not a sha1, sha256 or sha512 HMAC in hex or <digest>:<base64>.")
	}
	if !containsString(tempURLMethods, r.Method) || p.Container == "" {
		return nil, invalid("A TempURL signs a GET, HEAD, PUT, POST or DELETE of an object.")
	}
	prefix, hasPrefix := q.Get("temp_url_prefix"), q.Has("temp_url_prefix")
	if hasPrefix && !strings.HasPrefix(p.Object, prefix) {
		return nil, invalid("The object is not under temp_url_prefix.")
	}
	if !hasPrefix && p.Object == "" {
		return nil, invalid("A TempURL signs a GET, HEAD, PUT, POST or DELETE of an object.")
	}
	ipRange := q.Get("temp_url_ip_range")
	if q.Has("temp_url_ip_range") {
		if !inRange(r.RemoteAddr, ipRange) {
			return nil, invalid("The client's address is not in temp_url_ip_range.")
		}
	}
	keys, err := a.svc.TempURLKeys(r.Context(), p.Account, p.Container)
	if err != nil {
		return nil, err
	}
	if len(keys.Account)+len(keys.Container) == 0 {
		return nil, invalid("The account has no TempURL key (X-Account-Meta-Temp-URL-Key).")
	}
	methods := []string{r.Method}
	if r.Method == "HEAD" {
		methods = []string{"HEAD", "GET", "POST", "PUT"}
	}
	match := func(keys []string) bool {
		for _, full := range signedPaths(strings.TrimSuffix(r.URL.Path, "")) {
			path := full
			if hasPrefix {
				i := strings.LastIndex(full, "/"+p.Container+"/")
				path = "prefix:" + full[:i+len(p.Container)+2] + prefix
			}
			for _, m := range methods {
				body := fmt.Sprintf("%s\n%d\n%s", m, expires, path)
				if ipRange != "" {
					body = "ip=" + ipRange + "\n" + body
				}
				for _, k := range keys {
					if hmac.Equal([]byte(Sign(algo, k, body)), []byte(sig)) {
						return true
					}
				}
			}
		}
		return false
	}
	switch {
	case match(keys.Account):
		c.Signed, c.Account = true, p.Account
	case match(keys.Container):
		c.Signed, c.Account, c.SignedContainer = true, p.Account, p.Container
	default:
		return nil, invalid("The signature does not match this method, path and expiry with any of the account's or container's TempURL keys.")
	}
	return c, nil
}

func inRange(remote, cidr string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	if pfx, err := netip.ParsePrefix(cidr); err == nil {
		return pfx.Contains(ip.Unmap())
	}
	if one, err := netip.ParseAddr(cidr); err == nil {
		return one == ip.Unmap()
	}
	return false
}

// stripTempURLHeaders removes what a TempURL answer must not show: user
// metadata other than x-object-meta-public-*, as Swift's tempurl.
func stripTempURLHeaders(w http.ResponseWriter) {
	for k := range w.Header() {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-object-meta-") && !strings.HasPrefix(lk, "x-object-meta-public-") {
			w.Header().Del(k)
		}
	}
}
