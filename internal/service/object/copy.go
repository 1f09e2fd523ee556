package object

import (
	"context"
	"io"
	"strings"

	"github.com/onestack/onestack/internal/store"
)

// CopyInput is a server-side copy (COPY with Destination, or PUT with
// X-Copy-From).
type CopyInput struct {
	SrcAccount, SrcContainer, SrcName string
	// Headers are the request's object headers (x-object-meta-*, stored
	// headers); ContentType is the request's, "" to keep the source's.
	Headers     map[string]string
	ContentType string
	DeleteAt    int64
	// Fresh drops the source's metadata (X-Fresh-Metadata: true).
	Fresh bool
	// Manifest copies a large object's manifest rather than its data
	// (?multipart-manifest=get).
	Manifest bool
}

// Copied is what a copy answers besides the new object.
type Copied struct {
	store.Object
	Source store.Object
}

// Copy copies an object server-side, as Swift's copy middleware: the
// source is read with the caller's rights, the destination written with
// them; metadata comes from the source unless Fresh, overridden by the
// request's. A large object is copied whole (its data), unless Manifest.
func (s *Service) Copy(ctx context.Context, c *Caller, account, container, name string, in CopyInput) (Copied, error) {
	src, err := s.Object(ctx, c, in.SrcAccount, in.SrcContainer, in.SrcName, ReadOptions{Open: true, Manifest: in.Manifest})
	if err != nil {
		return Copied{}, err
	}
	defer src.Data.Close()
	headers := map[string]string{}
	if !in.Fresh {
		for k, v := range src.Metadata {
			if k == ObjectManifest || k == StaticLargeObject {
				continue
			}
			headers[k] = v
		}
	}
	if in.Manifest && src.Metadata[ObjectManifest] != "" {
		headers[ObjectManifest] = src.Metadata[ObjectManifest]
	}
	for k, v := range in.Headers {
		headers[k] = v
	}
	ctype := in.ContentType
	if ctype == "" {
		ctype = src.ContentType
	}
	deleteAt := in.DeleteAt
	if deleteAt == 0 && !in.Fresh {
		deleteAt = src.DeleteAt
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(src.Data.WriteRange(ctx, pw, 0, src.Length)) }()
	defer pr.Close()
	put := PutInput{Body: pr, Length: src.Length, ContentType: ctype, Headers: headers, DeleteAt: deleteAt}
	if src.Kind == Plain && !strings.HasPrefix(src.ETag, `"`) {
		put.ETag = src.ETag
	}
	if in.Manifest && KindOf(src.Object) == SLO {
		put.sloSize, put.sloETag = src.ListSize, src.SLOETag
	}
	o, err := s.Put(ctx, c, account, container, name, put)
	if err != nil {
		return Copied{}, err
	}
	return Copied{Object: o, Source: src.Object}, nil
}
