package object

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/onestack/onestack/internal/store"
)

// Dynamic large objects: an object with X-Object-Manifest "container/prefix"
// reads as the objects of that container whose names start with prefix, in
// name order, as they are when it is read.

// CheckManifestHeader validates an X-Object-Manifest value.
func CheckManifestHeader(v string) error {
	c, _, ok := strings.Cut(v, "/")
	if !ok || c == "" || strings.Contains(v, "?") || strings.Contains(v, "&") {
		return textErr(400, "X-Object-Manifest must be in the format container/prefix")
	}
	return nil
}

// openDLO fills v from its segments: their total length and the etag of
// their etags (quoted), and on open the content reading them.
func (s *Service) openDLO(ctx context.Context, c *Caller, v *ObjectView, open bool) error {
	value := v.Metadata[ObjectManifest]
	cont, prefix, _ := strings.Cut(value, "/")
	if u, err := url.PathUnescape(cont); err == nil {
		cont = u
	}
	if u, err := url.PathUnescape(prefix); err == nil {
		prefix = u
	}
	if _, _, err := s.access(ctx, c, v.Account, cont, opContainerRead, true); err != nil {
		return err
	}
	var segs []store.Object
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		lower := prefix
		incl := true
		now := s.now().Unix()
		for {
			r := store.NameRange{Lower: lower, LowerIncl: incl, Upper: after(prefix), Limit: 1000}
			if prefix == "" {
				r.Upper = ""
			}
			page, err := tx.ListObjects(ctx, v.Account, cont, "", r)
			if err != nil {
				return err
			}
			for _, o := range page {
				if o.DeleteAt == 0 || o.DeleteAt > now {
					segs = append(segs, o)
				}
			}
			if len(page) < r.Limit {
				return nil
			}
			lower, incl = page[len(page)-1].Name, false
		}
	})
	if err != nil {
		return err
	}
	h := md5.New()
	var total int64
	for _, o := range segs {
		h.Write([]byte(o.ETag))
		total += o.Size
	}
	v.Length, v.ETag = total, `"`+hex.EncodeToString(h.Sum(nil))+`"`
	if open {
		v.Data = &dloContent{s: s, segs: segs, what: v.Container + "/" + v.Name}
	}
	return nil
}

// dloContent reads the segments a DLO had when it was opened.
type dloContent struct {
	s    *Service
	segs []store.Object
	what string
}

func (d *dloContent) Close() error { return nil }

func (d *dloContent) WriteRange(ctx context.Context, w io.Writer, off, n int64) error {
	var pos int64
	for _, o := range d.segs {
		if n <= 0 {
			return nil
		}
		end := pos + o.Size
		if end <= off {
			pos = end
			continue
		}
		from := max(off-pos, 0)
		take := min(o.Size-from, n)
		f, err := d.s.openFile(o.ID)
		if err != nil {
			return fmt.Errorf("segment %s/%s of large object %s: %w", o.Container, o.Name, d.what, err)
		}
		err = fileContent{f}.WriteRange(ctx, w, from, take)
		f.Close()
		if err != nil {
			return err
		}
		off += take
		n -= take
		pos = end
	}
	if n > 0 {
		return fmt.Errorf("large object %s lost segments while it was read", d.what)
	}
	return nil
}
