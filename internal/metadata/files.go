package metadata

import (
	"crypto/rand"
	"fmt"
	"io"
	"slices"
)

// Files renders the config drive's content as Nova's
// metadata_for_config_drive does: file path (slash-separated, relative to
// the drive's root) to content.
//
//   - ec2/{2009-04-04,latest}/meta-data.json, and user-data if any: the
//     versions Nova's default [api]config_drive_skip_versions keeps.
//   - openstack/<version>/ for every OpenStack version and "latest":
//     meta_data.json, user_data if any, and vendor_data.json,
//     network_data.json and vendor_data2.json from the versions that have
//     them. Like Nova's, the drive has no password file.
//
// Unlike [Lookup], meta_data.json carries admin_pass when set. Each
// meta_data.json has its own random_seed. The only error is VendorData that
// does not marshal as JSON.
func Files(inst Instance) (map[string][]byte, error) {
	return files(&inst, rand.Reader)
}

func files(inst *Instance, random io.Reader) (map[string][]byte, error) {
	out := make(map[string][]byte)
	for _, name := range ec2DriveVersions {
		v, _ := ec2Version(name)
		body, err := marshal(ec2MetaData(inst, v, true))
		if err != nil {
			return nil, fmt.Errorf("render ec2/%s/meta-data.json: %w", name, err)
		}
		out["ec2/"+name+"/meta-data.json"] = body
		if len(inst.UserData) > 0 {
			out["ec2/"+name+"/user-data"] = slices.Clone(inst.UserData)
		}
	}
	for _, name := range append(slices.Clone(openStackVersions), "latest") {
		v, _ := osVersion(name)
		for _, f := range osFileNames(inst, v) {
			if f == passwordName {
				continue
			}
			p := "openstack/" + name + "/" + f
			body, _, _, err := osFile(inst, v, f, random, true)
			if err != nil {
				return nil, fmt.Errorf("render %s: %w", p, err)
			}
			out[p] = slices.Clone(body)
		}
	}
	return out, nil
}
