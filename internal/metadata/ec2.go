package metadata

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// ec2Versions are the EC2 metadata versions Nova serves (VERSIONS in
// nova/api/metadata/base.py); "latest" is the last one. Their content is
// Amazon's 2009-04-04 format, with older versions showing fewer keys.
var ec2Versions = []string{
	"1.0",
	"2007-01-19",
	"2007-03-01",
	"2007-08-29",
	"2007-10-10",
	"2007-12-15",
	"2008-02-01",
	"2008-09-01",
	"2009-04-04",
}

// ec2DriveVersions are the EC2 versions written to a config drive: Nova's
// default [api]config_drive_skip_versions leaves only these two.
var ec2DriveVersions = []string{"2009-04-04", "latest"}

func ec2Version(name string) (int, bool) {
	if name == "latest" {
		return len(ec2Versions) - 1, true
	}
	i := slices.Index(ec2Versions, name)
	return i, i >= 0
}

func ec2AtLeast(v int, name string) bool {
	return v >= slices.Index(ec2Versions, name)
}

// The EC2 tree is built as nested map[string]any (directories) with
// string, int, []string and nil leaves, the shape Nova's find_path_in_tree
// walks and ec2_md_print lists. A directory holding a listingName key is
// listed under that name by its parent instead of "<key>/": that is how
// public-keys/ lists "0=keyname".
const listingName = "_name"

// ec2MetaData builds the meta-data tree of EC2 version v. forDrive drops
// the listing-only names, as Nova does before writing meta-data.json.
func ec2MetaData(inst *Instance, v int, forDrive bool) map[string]any {
	md := map[string]any{
		"ami-id":            ec2ID("ami-", inst.ImageID),
		"ami-launch-index":  inst.LaunchIndex,
		"ami-manifest-path": "FIXME", // Nova's literal value
		"instance-id":       ec2ID("i-", inst.UUID),
		"hostname":          inst.Hostname,
		"local-ipv4":        firstIPv4(inst.FixedIPs),
		"reservation-id":    inst.ReservationID,
		"security-groups":   nonNil(inst.SecurityGroups),
	}
	if inst.KeyName != "" {
		k := map[string]any{"openssh-key": inst.KeyData}
		if !forDrive {
			k[listingName] = "0=" + inst.KeyName
		}
		md["public-keys"] = map[string]any{"0": k}
	}
	if ec2AtLeast(v, "2007-01-19") {
		md["local-hostname"] = inst.Hostname
		md["public-hostname"] = inst.Hostname
		public := ""
		if len(inst.FloatingIPs) > 0 {
			public = inst.FloatingIPs[0]
		}
		md["public-ipv4"] = public
	}
	if ec2AtLeast(v, "2007-08-29") {
		md["instance-type"] = inst.FlavorName
	}
	if ec2AtLeast(v, "2007-12-15") {
		root := inst.RootDeviceName
		if root == "" {
			root = "/dev/vda"
		}
		md["block-device-mapping"] = map[string]any{
			"ami":  strings.TrimPrefix(root, "/dev/"),
			"root": root,
		}
	}
	if ec2AtLeast(v, "2008-02-01") {
		md["placement"] = map[string]any{"availability-zone": nilIfEmpty(inst.AvailabilityZone)}
	}
	if ec2AtLeast(v, "2008-09-01") {
		md["instance-action"] = "none"
	}
	return md
}

// ec2Root is what a GET of /<version> walks: meta-data and, if the server
// has any, user-data.
func ec2Root(inst *Instance, v int) map[string]any {
	root := map[string]any{"meta-data": ec2MetaData(inst, v, false)}
	if len(inst.UserData) > 0 {
		root["user-data"] = inst.UserData
	}
	return root
}

// ec2ID formats an EC2-style id from a UUID. Nova prints the database's
// integer id as %08x; onestack has no integer ids, so it uses the UUID's
// first 8 hex digits instead: stable and the same shape. Empty input gives
// nil (null), as Nova's ami-id for a server booted from a volume.
func ec2ID(prefix, uuid string) any {
	if uuid == "" {
		return nil
	}
	h := strings.ToLower(strings.ReplaceAll(uuid, "-", ""))
	if len(h) > 8 {
		h = h[:8]
	}
	return prefix + h
}

// firstIPv4 is local-ipv4: Nova takes the first IPv4 fixed address.
func firstIPv4(addrs []string) any {
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Unmap().Is4() {
			return a
		}
	}
	return nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ec2Walk follows path tokens down the tree; ok is false where Nova would
// answer 404. Unlike Nova it also answers 404, not 500, for a token below a
// leaf, and never exposes the listing-only names.
func ec2Walk(node any, tokens []string) (any, bool) {
	for _, t := range tokens {
		dir, isDir := node.(map[string]any)
		if !isDir || t == listingName {
			return nil, false
		}
		child, ok := dir[t]
		if !ok {
			return nil, false
		}
		node = child
	}
	return node, true
}

// ec2Print renders a node as Nova's ec2_md_print does: a directory lists
// its sorted keys one a line, subdirectories with a trailing "/" (or their
// listing name); a list has one item a line; no trailing newline. A nil
// leaf prints as empty, where Nova would print Python's "None".
func ec2Print(node any) []byte {
	switch n := node.(type) {
	case map[string]any:
		keys := make([]string, 0, len(n))
		for k := range n {
			if k != listingName {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var b strings.Builder
		for i, k := range keys {
			if i > 0 {
				b.WriteByte('\n')
			}
			if sub, ok := n[k].(map[string]any); ok {
				if name, ok := sub[listingName].(string); ok {
					b.WriteString(name)
				} else {
					b.WriteString(k + "/")
				}
				continue
			}
			b.WriteString(k)
		}
		return []byte(b.String())
	case []string:
		return []byte(strings.Join(n, "\n"))
	case []byte:
		return n
	case string:
		return []byte(n)
	case int:
		return []byte(strconv.Itoa(n))
	default:
		return []byte{}
	}
}
