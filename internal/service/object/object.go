package object

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/fault"
	"github.com/onestack/onestack/internal/oserr"
	"github.com/onestack/onestack/internal/store"
)

// Object headers with meaning, stored in an object's metadata beside its
// x-object-meta-* items.
const (
	ObjectManifest    = "x-object-manifest"     // a DLO's "container/prefix"
	StaticLargeObject = "x-static-large-object" // "True" on an SLO manifest
)

// StoredHeaders are the headers an object keeps besides x-object-meta-*
// (Swift's object server allowed_headers); a POST replaces them all.
var StoredHeaders = []string{"content-disposition", "content-encoding", "cache-control", "content-language", "expires",
	"x-robots-tag", ObjectManifest}

// Kind says how an object's data is read.
type Kind int

// The kinds of object.
const (
	Plain Kind = iota // its own data
	SLO               // the segments its manifest lists
	DLO               // the objects under its X-Object-Manifest prefix
)

// KindOf returns the kind of a stored object.
func KindOf(o store.Object) Kind {
	switch {
	case o.Metadata[StaticLargeObject] != "":
		return SLO
	case o.Metadata[ObjectManifest] != "":
		return DLO
	}
	return Plain
}

// PutInput is an object upload.
type PutInput struct {
	Body   io.Reader
	Length int64 // -1: chunked, unknown until the end
	// ETag is the MD5 (hex) the client says the data has; "" for none.
	ETag string
	// ContentType is stored as given; "" guesses it from the name.
	ContentType string
	// Headers are the object's metadata: x-object-meta-* and StoredHeaders,
	// by lower-case name.
	Headers map[string]string
	// DeleteAt is X-Delete-At (unix seconds), 0 for none.
	DeleteAt int64
	// IfNoneMatch (If-None-Match: *) refuses to replace an object (412).
	IfNoneMatch bool
	// manifest is set by the SLO code: the stored JSON's logical size and
	// SLO etag.
	sloSize int64
	sloETag string
}

// GuessType is the content type of a name by its extension, or
// application/octet-stream.
func GuessType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// CheckDeleteAt validates an expiry time against now, as Swift.
func CheckDeleteAt(at, now int64) error {
	if at <= now {
		return textErr(400, "X-Delete-At in past")
	}
	return nil
}

// Put stores an object from its streamed data. The data lands in a file
// first; the object exists (in listings, for reads) only once its row is
// committed, and whatever it replaces stays whole until then.
func (s *Service) Put(ctx context.Context, c *Caller, account, container, name string, in PutInput) (store.Object, error) {
	if err := CheckObjectName(name); err != nil {
		return store.Object{}, err
	}
	if err := CheckMeta("object", in.Headers); err != nil {
		return store.Object{}, err
	}
	if in.DeleteAt != 0 {
		if err := CheckDeleteAt(in.DeleteAt, s.now().Unix()); err != nil {
			return store.Object{}, err
		}
	}
	_, ct, err := s.access(ctx, c, account, container, opObjectWrite, false)
	if err != nil {
		return store.Object{}, err
	}
	if ct == nil {
		return store.Object{}, notFound("Container %s does not exist in account %s; create it first (openstack container create %s).", container, account, container)
	}
	if in.Length > MaxFileSize {
		return store.Object{}, textErr(413, "Your request is too large.")
	}
	if in.Length >= 0 {
		if err := s.checkQuotas(ctx, account, *ct, name, in.Length); err != nil {
			return store.Object{}, err
		}
	}
	if in.IfNoneMatch {
		if _, err := s.lookup(ctx, account, container, name); err == nil {
			return store.Object{}, &oserr.Error{Status: 412, Message: "If-None-Match: * and object " + name + " exists."}
		}
	}
	up, err := s.files.create()
	if err != nil {
		return store.Object{}, err
	}
	limit := int64(MaxFileSize)
	if in.Length >= 0 {
		limit = in.Length
	}
	size, sum, err := copyMD5(up.file, receiving{in.Body}, limit, func() error {
		if in.Length >= 0 {
			return textErr(400, "The request body is longer than its Content-Length of %d bytes.", in.Length)
		}
		return textErr(413, "Your request is too large.")
	})
	if err == nil && in.Length >= 0 && size != in.Length {
		err = ErrClientGone
	}
	var re *readError
	if errors.As(err, &re) {
		err = fmt.Errorf("%w: %v", ErrClientGone, re.err)
	}
	if err == nil && in.ETag != "" && !strings.EqualFold(strings.Trim(in.ETag, `"`), sum) {
		err = &oserr.Error{Status: 422, Message: fmt.Sprintf("The MD5 of the data received (%s) does not match the ETag header (%s); upload again, and check the ETag you send.", sum, in.ETag)}
	}
	if err == nil {
		err = up.finish()
	}
	if err != nil {
		up.abort()
		return store.Object{}, err
	}
	fault.Point(fault.ObjectWritten)
	ctype := in.ContentType
	if ctype == "" {
		ctype = GuessType(name)
	}
	o := store.Object{ID: up.id, Account: account, Container: container, Name: name, Size: size, ListSize: size,
		ETag: sum, ContentType: ctype, Modified: s.now(), DeleteAt: in.DeleteAt, Metadata: storedHeaders(in.Headers)}
	if in.sloETag != "" {
		o.ListSize, o.SLOETag = in.sloSize, in.sloETag
		o.Metadata[StaticLargeObject] = "True"
	}
	var check func(*store.Tx) error
	if in.IfNoneMatch {
		check = func(tx *store.Tx) error {
			if _, err := tx.GetObject(ctx, account, container, name); err == nil {
				return &oserr.Error{Status: 412, Message: "If-None-Match: * and object " + name + " exists."}
			}
			return nil
		}
	}
	if err := s.commit(ctx, o, check); err != nil {
		up.abort()
		return store.Object{}, err
	}
	up.settle()
	return o, nil
}

// receiving passes the fault point ObjectReceiving once data arrives: a
// crash in the middle of an upload.
type receiving struct{ io.Reader }

func (r receiving) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if n > 0 {
		fault.Point(fault.ObjectReceiving)
	}
	return n, err
}

// storedHeaders keeps the headers an object stores: x-object-meta-* items
// (empty values too, as Swift keeps them) and the non-empty StoredHeaders.
func storedHeaders(h map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		switch {
		case strings.HasPrefix(k, "x-object-meta-"):
			out[k] = v
		case v != "" && containsFold(StoredHeaders, k):
			out[k] = v
		}
	}
	return out
}

// commit records o in one transaction: the row, the container's counters,
// the object it replaces (removed, or moved into the versions container),
// the quotas checked against what is really there. check, if set, runs in
// the transaction first (a copy checks its source still matches). After
// the commit the replaced data is removed.
func (s *Service) commit(ctx context.Context, o store.Object, check func(*store.Tx) error) error {
	condemned := map[string]bool{}
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		ct, err := tx.LockObjectContainer(ctx, o.Account, o.Container)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Container %s was deleted while the object was uploaded.", o.Container)
		} else if err != nil {
			return err
		}
		old, err := tx.GetObject(ctx, o.Account, o.Container, o.Name)
		replacing := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		dCount, dBytes := int64(1), o.Size
		if replacing {
			dCount, dBytes = 0, o.Size-old.Size
		}
		if err := s.quotasTx(ctx, tx, o.Account, ct, dBytes, dCount); err != nil {
			return err
		}
		if replacing {
			moved, err := s.versionOut(ctx, tx, ct, old)
			if err != nil {
				return err
			}
			if !moved {
				if err := s.files.condemn(old.ID); err != nil {
					return err
				}
				condemned[old.ID] = true
				if err := tx.DeleteObjectRow(ctx, old.ID); err != nil {
					return err
				}
			}
		}
		if err := tx.CreateObject(ctx, o); err != nil {
			return err
		}
		if err := tx.AddObjectContainerUsage(ctx, o.Account, o.Container, dCount, dBytes); err != nil {
			return err
		}
		fault.Point(fault.ObjectCommitting)
		return nil
	})
	if err != nil {
		for id := range condemned {
			s.files.spare(id)
		}
		return err
	}
	fault.Point(fault.ObjectCommitted)
	for id := range condemned {
		s.files.remove(id)
	}
	return nil
}

// checkQuotas refuses early an upload of size bytes to name that cannot
// fit (Swift's quota middlewares check before the data is read); commit
// checks again with what is really there. A replacement counts only what
// it adds.
func (s *Service) checkQuotas(ctx context.Context, account string, ct store.ObjectContainer, name string, size int64) error {
	return s.db.Read(ctx, func(tx *store.Tx) error {
		count := int64(1)
		if old, err := tx.GetObject(ctx, account, ct.Name, name); err == nil {
			size -= old.Size
			count = 0
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return s.quotasTx(ctx, tx, account, ct, size, count)
	})
}

func (s *Service) quotasTx(ctx context.Context, tx *store.Tx, account string, ct store.ObjectContainer, bytes, count int64) error {
	if q, ok := quota(ct.Metadata[ContainerQuotaBytes]); ok && bytes > 0 && ct.BytesUsed+bytes > q {
		return textErr(413, "Upload exceeds quota. Container %s holds %d bytes of its quota of %d (X-Container-Meta-Quota-Bytes); delete objects or raise the quota.", ct.Name, ct.BytesUsed, q)
	}
	if q, ok := quota(ct.Metadata[ContainerQuotaCount]); ok && count > 0 && ct.ObjectCount+count > q {
		return textErr(413, "Upload exceeds quota. Container %s holds %d objects, its quota (X-Container-Meta-Quota-Count); delete objects or raise the quota.", ct.Name, ct.ObjectCount)
	}
	if bytes <= 0 {
		return nil
	}
	a, err := tx.GetObjectAccount(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if q, ok := quota(a.Metadata[AccountQuotaBytes]); ok {
		u, err := tx.ObjectAccountUsage(ctx, account)
		if err != nil {
			return err
		}
		if u.Bytes+bytes > q {
			return textErr(413, "Upload exceeds quota. Account %s holds %d bytes of its quota of %d (X-Account-Meta-Quota-Bytes, set by a reseller admin).", account, u.Bytes, q)
		}
	}
	return nil
}

func quota(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	q, err := strconv.ParseInt(v, 10, 64)
	return q, err == nil
}

// ReadOptions shape an object read.
type ReadOptions struct {
	// Open opens the data (GET); a HEAD leaves it closed.
	Open bool
	// Manifest reads a large object's manifest itself
	// (multipart-manifest=get) rather than its segments.
	Manifest bool
}

// ObjectView is an object as a GET or HEAD answers it.
type ObjectView struct {
	store.Object
	Kind Kind
	// Length and ETag are the response's: a large object's total and its
	// etag (quoted, as Swift sends a large object's).
	Length int64
	ETag   string
	// Data is the content (nil unless opened); the caller closes it.
	Data Content
}

// Object reads an object for a GET or HEAD.
func (s *Service) Object(ctx context.Context, c *Caller, account, container, name string, opt ReadOptions) (*ObjectView, error) {
	_, ct, err := s.access(ctx, c, account, container, opObjectRead, true)
	if err != nil {
		return nil, err
	}
	if ct == nil {
		return nil, notFound("Container %s does not exist in account %s.", container, account)
	}
	for attempt := 0; ; attempt++ {
		o, err := s.lookup(ctx, account, container, name)
		if err != nil {
			return nil, err
		}
		v := &ObjectView{Object: o, Kind: KindOf(o), Length: o.Size, ETag: o.ETag}
		if opt.Manifest && v.Kind != Plain {
			v.Kind = Plain
		}
		switch v.Kind {
		case SLO:
			err = s.openSLO(ctx, c, v, opt.Open)
		case DLO:
			err = s.openDLO(ctx, c, v, opt.Open)
		default:
			if opt.Open {
				var f *os.File
				if f, err = s.openFile(o.ID); err == nil {
					v.Data = fileContent{f}
				}
			}
		}
		if errors.Is(err, errReplaced) && attempt < 3 {
			continue // overwritten between the row and the file: read again
		}
		return v, err
	}
}

// errReplaced is a data file removed after its row was read.
var errReplaced = errors.New("object data replaced while opening it")

// openFile opens the data of id: errReplaced when it is gone (the object
// was overwritten or deleted since its row was read).
func (s *Service) openFile(id string) (*os.File, error) {
	f, err := s.files.open(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errReplaced
	}
	return f, err
}

// lookup reads a live object: 404 when missing or expired.
func (s *Service) lookup(ctx context.Context, account, container, name string) (store.Object, error) {
	var o store.Object
	err := s.db.Read(ctx, func(tx *store.Tx) (err error) {
		o, err = tx.GetObject(ctx, account, container, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.DeleteAt != 0 && o.DeleteAt <= s.now().Unix()) {
		return o, notFound("Object %s does not exist in container %s.", name, container)
	}
	return o, err
}

// Post replaces an object's metadata (Swift's POST replaces every
// x-object-meta-* item and stored header; the data stays).
func (s *Service) Post(ctx context.Context, c *Caller, account, container, name string, headers map[string]string, contentType string, deleteAt int64) error {
	if err := CheckMeta("object", headers); err != nil {
		return err
	}
	if deleteAt > 0 {
		if err := CheckDeleteAt(deleteAt, s.now().Unix()); err != nil {
			return err
		}
	}
	_, ct, err := s.access(ctx, c, account, container, opObjectWrite, false)
	if err != nil {
		return err
	}
	if ct == nil {
		return notFound("Container %s does not exist in account %s.", container, account)
	}
	return s.db.Write(ctx, func(tx *store.Tx) error {
		o, err := tx.GetObject(ctx, account, container, name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && o.DeleteAt != 0 && o.DeleteAt <= s.now().Unix()) {
			return notFound("Object %s does not exist in container %s.", name, container)
		} else if err != nil {
			return err
		}
		md := storedHeaders(headers)
		if v := o.Metadata[StaticLargeObject]; v != "" {
			md[StaticLargeObject] = v
		}
		o.Metadata = md
		if contentType != "" {
			o.ContentType = contentType
		}
		if deleteAt >= 0 {
			o.DeleteAt = deleteAt
		}
		o.Modified = s.now()
		return tx.UpdateObjectMetadata(ctx, o)
	})
}

// Delete removes an object; in a container with a versions location the
// newest earlier version takes its place (stack mode) or it becomes a
// version itself (history mode).
func (s *Service) Delete(ctx context.Context, c *Caller, account, container, name string) error {
	_, ct, err := s.access(ctx, c, account, container, opObjectWrite, false)
	if err != nil {
		return err
	}
	if ct == nil {
		return notFound("Container %s does not exist in account %s.", container, account)
	}
	return s.remove(ctx, account, container, name, false)
}

// remove deletes the object at a name in one transaction and its data
// after it. A user's delete applies the container's versioning and finds
// nothing at an expired object; the reaper's removes only an object that
// is still expired.
func (s *Service) remove(ctx context.Context, account, container, name string, reaper bool) error {
	condemned := ""
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		condemned = ""
		ct, err := tx.LockObjectContainer(ctx, account, container)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Container %s does not exist.", container)
		} else if err != nil {
			return err
		}
		o, err := tx.GetObject(ctx, account, container, name)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("Object %s does not exist in container %s.", name, container)
		} else if err != nil {
			return err
		}
		expired := o.DeleteAt != 0 && o.DeleteAt <= s.now().Unix()
		switch {
		case reaper && !expired:
			return nil // its expiry moved
		case !reaper && expired:
			return notFound("Object %s does not exist in container %s.", name, container)
		case !reaper:
			if archived, err := s.versionArchive(ctx, tx, ct, o); err != nil || archived {
				return err
			}
		}
		if err := s.files.condemn(o.ID); err != nil {
			return err
		}
		condemned = o.ID
		if err := tx.DeleteObjectRow(ctx, o.ID); err != nil {
			return err
		}
		if err := tx.AddObjectContainerUsage(ctx, account, container, -1, -o.Size); err != nil {
			return err
		}
		if reaper {
			return nil
		}
		return s.versionRestore(ctx, tx, ct, name)
	})
	if err != nil {
		if condemned != "" {
			s.files.spare(condemned)
		}
		return err
	}
	if condemned != "" {
		fault.Point(fault.ObjectDeleteCommitted)
		s.files.remove(condemned)
	}
	return nil
}

// Timestamp is Swift's X-Timestamp of t: seconds with five decimals.
func Timestamp(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%05d", us/1e6, (us%1e6)/10)
}
