package object

import (
	"context"
	"fmt"
	"strings"

	"github.com/onestack/onestack/internal/oserr"
)

// MaxDeletesPerRequest bounds a bulk delete, as Swift's bulk middleware
// (max_deletes_per_request).
const MaxDeletesPerRequest = 10000

// BulkResult is what a bulk operation reports, as Swift's bulk middleware:
// counts and the failures, each a path with its status.
type BulkResult struct {
	Deleted, NotFound, Created int
	Errors                     [][2]string
	// Status is the worst failure's (400 when some failed), 200 otherwise.
	Status int
	// Body explains a failure of the whole operation.
	Body string
}

// BulkDelete deletes "/container/object" and "/container" paths of an
// account in order (objects before their containers, as the client lists
// them); each path is authorised on its own.
func (s *Service) BulkDelete(ctx context.Context, c *Caller, account string, paths []string) BulkResult {
	res := BulkResult{Status: 200}
	for _, p := range paths {
		p = "/" + strings.TrimLeft(p, "/")
		cont, name, isObj := strings.Cut(p[1:], "/")
		var err error
		switch {
		case cont == "":
			err = textErr(400, "Invalid container name")
		case isObj && name != "":
			err = s.Delete(ctx, c, account, cont, name)
		default:
			err = s.DeleteContainer(ctx, c, account, cont)
		}
		if err == nil {
			res.Deleted++
			continue
		}
		e := oserr.From(err)
		switch {
		case e.Status == 404:
			res.NotFound++
		case e.Status >= 500:
			res.Errors = append(res.Errors, [2]string{quotePath(p), "500 Internal Error"})
			res.Status = 502
		default:
			res.Errors = append(res.Errors, [2]string{quotePath(p), fmt.Sprintf("%d %s", e.Status, reason(e.Status))})
			if res.Status == 200 {
				res.Status = 400
			}
		}
	}
	return res
}
