package metadata

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// ErrNotFound is returned by [Lookup] for a path the metadata service does
// not serve: the HTTP layer answers 404.
var ErrNotFound = errors.New("no such metadata path")

// Lookup answers one metadata service request path for inst, the way Nova's
// metadata API does on 169.254.169.254: it returns the body and its content
// type, [ErrNotFound] for a path Nova would answer 404, or another error if
// the instance cannot be rendered (VendorData that is not JSON).
//
// The path is the request path; a missing leading "/", a trailing "/" and
// "." or ".." elements are cleaned away first, as Nova normalises it.
// Served trees:
//
//   - /openstack lists the versions, one a line, then "latest".
//   - /openstack/<version> lists that version's files: meta_data.json,
//     user_data (if any), password (from 2013-04-04), vendor_data.json
//     (2013-10-17), network_data.json (2015-10-15) and vendor_data2.json
//     (2016-10-06). Each is served below it. password is always empty.
//   - / (and /ec2) lists the EC2 versions, 1.0 to 2009-04-04, then "latest".
//     Any other path not under /openstack is EC2, optionally below /ec2:
//     /<version> lists meta-data/ and user-data (if any);
//     /<version>/meta-data/ lists its keys, directories ending in "/";
//     public-keys/ lists "0=<keyname>", and public-keys/0/openssh-key is the
//     key. instance-id is "i-" and the UUID's first 8 hex digits, as Nova's
//     "i-%08x" of its integer database id, which onestack does not have.
//
// Listings have one entry a line and no trailing newline. Each
// meta_data.json carries a fresh random_seed.
func Lookup(inst Instance, p string) (body []byte, contentType string, err error) {
	return lookup(&inst, p, rand.Reader)
}

func lookup(inst *Instance, p string, random io.Reader) ([]byte, string, error) {
	clean := path.Clean("/" + p)
	tokens := strings.Split(clean, "/")[1:]
	switch tokens[0] {
	case "":
		tokens = []string{"ec2"}
	case "ec2", "openstack":
	default:
		tokens = append([]string{"ec2"}, tokens...)
	}
	notFound := fmt.Errorf("metadata path %q: %w", clean, ErrNotFound)

	if tokens[0] == "openstack" {
		// Nova hides versions dated after today; all of these are past.
		if len(tokens) == 1 {
			return listing(openStackVersions), mimeText, nil
		}
		v, ok := osVersion(tokens[1])
		if !ok {
			return nil, "", notFound
		}
		if len(tokens) == 2 {
			return []byte(strings.Join(osFileNames(inst, v), "\n")), mimeText, nil
		}
		body, ct, ok, err := osFile(inst, v, strings.Join(tokens[2:], "/"), random, false)
		if err != nil {
			return nil, "", fmt.Errorf("metadata path %q: %w", clean, err)
		}
		if !ok {
			return nil, "", notFound
		}
		return body, ct, nil
	}

	if len(tokens) == 1 {
		return listing(ec2Versions), mimeText, nil
	}
	v, ok := ec2Version(tokens[1])
	if !ok {
		return nil, "", notFound
	}
	node, ok := ec2Walk(ec2Root(inst, v), tokens[2:])
	if !ok {
		return nil, "", notFound
	}
	return ec2Print(node), mimeText, nil
}

// listing renders a version list as Nova does: one a line, then "latest".
func listing(versions []string) []byte {
	return []byte(strings.Join(versions, "\n") + "\nlatest")
}
