package object

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
	svc "github.com/onestack/onestack/internal/service/object"
	"github.com/onestack/onestack/internal/store"
)

// Static web: a container with X-Container-Meta-Web-Index or -Web-Listings
// serves as a web site to anonymous readers (and to a token's bearer who
// sends X-Web-Mode: true), as Swift's staticweb: the index object of a
// directory, an HTML listing (styled by -Web-Listings-CSS), and the
// <status><Web-Error> object for errors.

// webSite is a container's static web settings.
type webSite struct {
	index, errorPage, listings, css, label, dirType string
}

func webOf(md map[string]string) webSite {
	g := func(k string) string { return strings.TrimSpace(md["x-container-meta-web-"+k]) }
	return webSite{index: g("index"), errorPage: g("error"), listings: g("listings"), css: g("listings-css"),
		label: g("listings-label"), dirType: g("directory-type")}
}

// staticWeb serves a GET or HEAD as a web site when it applies; done says
// whether it answered.
func (a *API) staticWeb(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path) (bool, error) {
	if (r.Method != "GET" && r.Method != "HEAD") || (!c.Anonymous() && !truthy(r.Header.Get("X-Web-Mode"))) {
		return false, nil
	}
	info, err := a.svc.Container(r.Context(), c, p.Account, p.Container)
	if err != nil {
		if p.Object != "" {
			return false, nil // the object handler answers
		}
		return true, err
	}
	site := webOf(info.Metadata)
	if site.index == "" && site.listings == "" {
		if truthy(r.Header.Get("X-Web-Mode")) {
			return true, oserr.NotFound("Container %s is not a web site (no X-Container-Meta-Web-Index or -Web-Listings).", p.Container)
		}
		return false, nil
	}
	if p.Object == "" {
		if !strings.HasSuffix(r.URL.Path, "/") {
			return true, redirectSlash(w, r)
		}
		if site.index != "" {
			if done := a.webObject(w, r, c, p, site.index, http.StatusOK); done {
				return true, nil
			}
		}
		return true, a.webListing(w, r, c, p, site, "")
	}
	// An object: itself if it exists (a directory marker does not count).
	v, err := a.svc.Object(r.Context(), c, p.Account, p.Container, p.Object, svc.ReadOptions{})
	dirType := site.dirType
	if dirType == "" {
		dirType = "application/directory"
	}
	if err == nil && !(v.ContentType == dirType && v.Length <= 1) {
		return false, nil
	}
	if err != nil && !oserr.Is(err, 404) {
		return true, a.webError(w, r, c, p, site, err)
	}
	dir := strings.TrimSuffix(p.Object, "/") + "/"
	if site.index != "" {
		if _, err := a.svc.Object(r.Context(), c, p.Account, p.Container, dir+site.index, svc.ReadOptions{}); err == nil {
			if !strings.HasSuffix(r.URL.Path, "/") {
				return true, redirectSlash(w, r)
			}
			a.webObject(w, r, c, p, dir+site.index, http.StatusOK)
			return true, nil
		}
	}
	if !strings.HasSuffix(r.URL.Path, "/") {
		_, entries, err := a.svc.ListObjects(r.Context(), c, p.Account, p.Container, svc.ListQuery{Prefix: dir, Delimiter: "/", Limit: 1})
		if err != nil || len(entries) == 0 {
			return true, a.webError(w, r, c, p, site, oserr.NotFound("No object or directory %s in container %s.", p.Object, p.Container))
		}
		return true, redirectSlash(w, r)
	}
	return true, a.webListing(w, r, c, p, site, dir)
}

func redirectSlash(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Location", (&url.URL{Path: r.URL.Path + "/"}).EscapedPath())
	emptyBody(w, http.StatusMovedPermanently)
	return nil
}

// webObject answers with an object of the container at status; false when
// it does not exist.
func (a *API) webObject(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path, name string, status int) bool {
	v, err := a.svc.Object(r.Context(), c, p.Account, p.Container, name, svc.ReadOptions{Open: r.Method == "GET"})
	if err != nil {
		return false
	}
	if v.Data != nil {
		defer v.Data.Close()
	}
	objectResponseHeaders(w, v)
	stripTempURLHeaders(w)
	if status == http.StatusOK {
		_ = a.sendObject(w, r, v)
		return true
	}
	w.Header().Set("Content-Length", itoa(v.Length))
	w.WriteHeader(status)
	if v.Data != nil {
		_ = v.Data.WriteRange(r.Context(), w, 0, v.Length)
	}
	return true
}

// webError answers err, with the container's error page for its status
// when it has one.
func (a *API) webError(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path, site webSite, err error) error {
	e := oserr.From(err)
	if site.errorPage != "" && a.webObject(w, r, c, p, fmt.Sprintf("%d%s", e.Status, site.errorPage), e.Status) {
		return nil
	}
	return err
}

// webListing answers with an HTML listing of the directory prefix.
func (a *API) webListing(w http.ResponseWriter, r *http.Request, c *svc.Caller, p Path, site webSite, prefix string) error {
	label := r.URL.Path
	if site.label != "" {
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, Prefix+"/"), "/", 4)
		rest := ""
		if len(parts) == 4 {
			rest = parts[3]
		}
		label = site.label + "/" + rest
	}
	if !truthy(site.listings) {
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of " + html.EscapeString(label) + "</title>\n")
		b.WriteString("</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing.   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>")
		if site.index != "" {
			b.WriteString("<h1>Index File Not Found</h1> <p>The owner of this web site has set  <b>X-Container-Meta-Web-Index: " + html.EscapeString(site.index) + "</b>.  However, this file is not found.</p>")
		}
		b.WriteString(" </body>\n</html>\n")
		return a.webError(w, r, c, p, site, &oserr.Error{Status: 404, Message: b.String(), Type: "html"})
	}
	_, entries, err := a.svc.ListObjects(r.Context(), c, p.Account, p.Container, svc.ListQuery{Prefix: prefix, Delimiter: "/"})
	if err != nil {
		return a.webError(w, r, c, p, site, err)
	}
	if prefix != "" && len(entries) == 0 {
		return a.webError(w, r, c, p, site, oserr.NotFound("Directory %s of container %s is empty.", prefix, p.Container))
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of " + html.EscapeString(label) + "</title>\n")
	if site.css != "" {
		css := url.PathEscape(site.css)
		if strings.HasPrefix(site.css, "/") || strings.HasPrefix(site.css, "http://") || strings.HasPrefix(site.css, "https://") {
			css = site.css
		} else {
			css = strings.Repeat("../", strings.Count(prefix, "/")) + css
		}
		b.WriteString(`  <link rel="stylesheet" type="text/css" href="` + css + "\" />\n")
	} else {
		b.WriteString("  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   th {text-align: left; padding: 0px 1em 0px 1em;}\n   td {padding: 0px 1em 0px 1em;}\n   a {text-decoration: none;}\n  </style>\n")
	}
	b.WriteString(" </head>\n <body>\n  <h1 id=\"title\">Listing of " + html.EscapeString(label) + "</h1>\n  <table id=\"listing\">\n   <tr id=\"heading\">\n    <th class=\"colname\">Name</th>\n    <th class=\"colsize\">Size</th>\n    <th class=\"coldate\">Date</th>\n   </tr>\n")
	if prefix != "" {
		b.WriteString("   <tr id=\"parent\" class=\"item\">\n    <td class=\"colname\"><a href=\"../\">../</a></td>\n    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n")
	}
	row := func(class, href, name, size, date string) {
		b.WriteString("   <tr class=\"item " + class + "\">\n    <td class=\"colname\"><a href=\"./" + href + "\">" + html.EscapeString(name) +
			"</a></td>\n    <td class=\"colsize\">" + size + "</td>\n    <td class=\"coldate\">" + date + "</td>\n   </tr>\n")
	}
	for _, e := range entries {
		if e.Subdir != "" {
			d := strings.TrimPrefix(e.Subdir, prefix)
			row("subdir", strings.ReplaceAll(escapeObject(d), ".", "%2E"), d, "&nbsp;", "&nbsp;")
		}
	}
	for _, e := range entries {
		if e.Subdir == "" {
			o := e.Item
			n := strings.TrimPrefix(o.Name, prefix)
			row(typeClasses(o), strings.ReplaceAll(escapeObject(n), ".", "%2E"), n, humanSize(o.Bytes),
				strings.Replace(strings.Split(isoTime(o.Modified), ".")[0], "T", " ", 1))
		}
	}
	b.WriteString("  </table>\n </body>\n</html>\n")
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Content-Length", itoa(int64(b.Len())))
	w.WriteHeader(http.StatusOK)
	if r.Method == "GET" {
		_, _ = io.WriteString(w, b.String())
	}
	return nil
}

func typeClasses(o store.ObjectEntry) string {
	var out []string
	for t := range strings.SplitSeq(strings.ToLower(o.ContentType), "/") {
		out = append(out, "type-"+html.EscapeString(t))
	}
	return strings.Join(out, " ")
}

// humanSize is Swift's human_readable: 1024-based with K, Ki… suffixes.
func humanSize(n int64) string {
	suffixes := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(suffixes)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%.0f%s", v, suffixes[i])
}
