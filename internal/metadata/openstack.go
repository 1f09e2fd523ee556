package metadata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// The OpenStack metadata versions, oldest first, as Nova lists them
// (OPENSTACK_VERSIONS in nova/api/metadata/base.py). Each names the release
// that changed the format; "latest" is the last one.
const (
	versionFolsom    = "2012-08-10" // meta_data.json, user_data
	versionGrizzly   = "2013-04-04" // random_seed, password
	versionHavana    = "2013-10-17" // vendor_data.json
	versionLiberty   = "2015-10-15" // project_id, network_data.json
	versionNewtonOne = "2016-06-30" // devices
	versionNewtonTwo = "2016-10-06" // vendor_data2.json
	versionOcata     = "2017-02-22" // devices: nic vlan
	versionRocky     = "2018-08-27" // devices: nic vf_trusted
	versionVictoria  = "2020-10-14" // dedicated_cpus
	versionEpoxy     = "2025-04-04" // devices: share
)

var openStackVersions = []string{
	versionFolsom, versionGrizzly, versionHavana, versionLiberty,
	versionNewtonOne, versionNewtonTwo, versionOcata, versionRocky,
	versionVictoria, versionEpoxy,
}

// File names inside an OpenStack version directory.
const (
	metaDataName    = "meta_data.json"
	userDataName    = "user_data"
	passwordName    = "password"
	vendorDataName  = "vendor_data.json"
	networkDataName = "network_data.json"
	vendorData2Name = "vendor_data2.json"
)

const (
	mimeText = "text/plain"
	mimeJSON = "application/json"
)

// osVersion resolves an OpenStack version name ("latest" included) to its
// index in openStackVersions, so that "at least version X" is an integer
// comparison.
func osVersion(name string) (int, bool) {
	if name == "latest" {
		return len(openStackVersions) - 1, true
	}
	i := slices.Index(openStackVersions, name)
	return i, i >= 0
}

// osAtLeast reports whether version index v includes the change made in
// version name.
func osAtLeast(v int, name string) bool {
	return v >= slices.Index(openStackVersions, name)
}

// osFileNames lists the files of version v, in Nova's order.
func osFileNames(inst *Instance, v int) []string {
	names := []string{metaDataName}
	if len(inst.UserData) > 0 {
		names = append(names, userDataName)
	}
	if osAtLeast(v, versionGrizzly) {
		names = append(names, passwordName)
	}
	if osAtLeast(v, versionHavana) {
		names = append(names, vendorDataName)
	}
	if osAtLeast(v, versionLiberty) {
		names = append(names, networkDataName)
	}
	if osAtLeast(v, versionNewtonTwo) {
		names = append(names, vendorData2Name)
	}
	return names
}

// osFile renders one file of version v; ok is false if v has no such file.
// The password is always empty: onestack does not store one posted by a
// guest yet, and the POST side belongs to the HTTP service.
func osFile(inst *Instance, v int, name string, random io.Reader, forDrive bool) (body []byte, contentType string, ok bool, err error) {
	if !slices.Contains(osFileNames(inst, v), name) {
		return nil, "", false, nil
	}
	switch name {
	case metaDataName:
		body, err = metaDataJSON(inst, v, random, forDrive)
		return body, mimeJSON, true, err
	case userDataName:
		return inst.UserData, mimeText, true, nil
	case passwordName:
		return []byte{}, mimeText, true, nil
	case vendorDataName:
		body, err = marshal(vendorData(inst))
		return body, mimeJSON, true, err
	case vendorData2Name:
		body, err = marshal(map[string]any{"static": vendorData(inst)})
		return body, mimeJSON, true, err
	case networkDataName:
		// Nova serves network_data.json as text/plain: unlike the other
		// JSON files its handler never sets the JSON type.
		body, err = networkJSON(inst.Network)
		return body, mimeText, true, err
	}
	return nil, "", false, nil
}

func vendorData(inst *Instance) map[string]any {
	if inst.VendorData == nil {
		return map[string]any{}
	}
	return inst.VendorData
}

// metaData is meta_data.json in Nova's key order. Keys that appeared in a
// later version are pointers, set only from that version on.
type metaData struct {
	UUID             string            `json:"uuid"`
	Meta             map[string]string `json:"meta,omitempty"`
	AdminPass        string            `json:"admin_pass,omitempty"` // config drive only
	PublicKeys       map[string]string `json:"public_keys,omitempty"`
	Keys             []key             `json:"keys,omitempty"`
	Hostname         string            `json:"hostname"`
	Name             string            `json:"name"`
	LaunchIndex      int               `json:"launch_index"`
	AvailabilityZone *string           `json:"availability_zone"`
	RandomSeed       *string           `json:"random_seed,omitempty"`    // 2013-04-04
	ProjectID        *string           `json:"project_id,omitempty"`     // 2015-10-15
	Devices          *[]any            `json:"devices,omitempty"`        // 2016-06-30
	DedicatedCPUs    *[]int            `json:"dedicated_cpus,omitempty"` // 2020-10-14
}

type key struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// randomSeedBytes is how much entropy Nova hands each guest in random_seed,
// fresh on every render, for guests that seed their RNG from it early in
// boot.
const randomSeedBytes = 512

func metaDataJSON(inst *Instance, v int, random io.Reader, forDrive bool) ([]byte, error) {
	md := metaData{
		UUID:             inst.UUID,
		Hostname:         inst.Hostname,
		Name:             inst.Name,
		LaunchIndex:      inst.LaunchIndex,
		AvailabilityZone: nullable(inst.AvailabilityZone),
	}
	if len(inst.Meta) > 0 {
		md.Meta = inst.Meta
	}
	if forDrive {
		md.AdminPass = inst.AdminPass
	}
	if inst.KeyName != "" {
		typ := inst.KeyType
		if typ == "" {
			typ = "ssh"
		}
		md.PublicKeys = map[string]string{inst.KeyName: inst.KeyData}
		md.Keys = []key{{Name: inst.KeyName, Type: typ, Data: inst.KeyData}}
	}
	if osAtLeast(v, versionGrizzly) {
		seed := make([]byte, randomSeedBytes)
		if _, err := io.ReadFull(random, seed); err != nil {
			return nil, fmt.Errorf("read random_seed: %w", err)
		}
		md.RandomSeed = new(base64.StdEncoding.EncodeToString(seed))
	}
	if osAtLeast(v, versionLiberty) {
		md.ProjectID = new(inst.ProjectID)
	}
	if osAtLeast(v, versionNewtonOne) {
		// Device role tags are not modelled yet: no tagged devices.
		md.Devices = &[]any{}
	}
	if osAtLeast(v, versionVictoria) {
		// No CPU pinning yet: no dedicated CPUs.
		md.DedicatedCPUs = &[]int{}
	}
	return marshal(md)
}

// nullable maps "" to nil, which marshals as null where Nova has None.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// marshal encodes v as compact JSON without HTML escaping (guests read
// these files, not browsers) and without a trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
