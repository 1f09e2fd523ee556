package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// zeros is a deterministic stand-in for crypto/rand.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func testInstance() Instance {
	return Instance{
		UUID:             "5b9f3a2e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
		Name:             "web 1",
		Hostname:         "web-1.novalocal",
		ProjectID:        "f7ac731cc11f40efbc03a9f9e1d1d21f",
		AvailabilityZone: "nova",
		LaunchIndex:      2,
		KeyName:          "mykey",
		KeyData:          "ssh-ed25519 AAAAC3Nza mykey\n",
		Meta:             map[string]string{"role": "webserver", "html": "<b>&</b>"},
		UserData:         []byte("#cloud-config\nhostname: web\n"),
		ImageID:          "C0FFEE12-3456-7890-abcd-ef0123456789",
		FlavorName:       "m1.small",
		ReservationID:    "r-3kq8h2xy",
		SecurityGroups:   []string{"default", "web"},
		FixedIPs:         []string{"fd00::5", "10.0.0.5"},
		FloatingIPs:      []string{"203.0.113.7"},
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

func TestMetaDataKeysPerVersion(t *testing.T) {
	folsom := []string{"availability_zone", "hostname", "keys", "launch_index", "meta", "name", "public_keys", "uuid"}
	grizzly := append(slices.Clone(folsom), "random_seed")
	liberty := append(slices.Clone(grizzly), "project_id")
	newton := append(slices.Clone(liberty), "devices")
	victoria := append(slices.Clone(newton), "dedicated_cpus")
	want := map[string][]string{
		"2012-08-10": folsom,
		"2013-04-04": grizzly,
		"2013-10-17": grizzly,
		"2015-10-15": liberty,
		"2016-06-30": newton,
		"2016-10-06": newton,
		"2017-02-22": newton,
		"2018-08-27": newton,
		"2020-10-14": victoria,
		"2025-04-04": victoria,
		"latest":     victoria,
	}
	if got := len(want) - 1; got != len(openStackVersions) {
		t.Fatalf("test covers %d versions, package has %d", got, len(openStackVersions))
	}
	inst := testInstance()
	for version, keys := range want {
		t.Run(version, func(t *testing.T) {
			body, ct, err := Lookup(inst, "/openstack/"+version+"/meta_data.json")
			if err != nil {
				t.Fatal(err)
			}
			if ct != "application/json" {
				t.Errorf("content type %q, want application/json", ct)
			}
			got := slices.Sorted(maps.Keys(decode(t, body)))
			slices.Sort(keys)
			if diff := cmp.Diff(keys, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetaDataContent(t *testing.T) {
	inst := testInstance()
	inst.AdminPass = "s3cret"
	seed := strings.Repeat("A", 683) + "=" // base64 of 512 zero bytes
	tests := []struct {
		name     string
		inst     Instance
		forDrive bool
		want     string
	}{{
		name:     "drive",
		inst:     inst,
		forDrive: true,
		want: `{"uuid":"5b9f3a2e-1c2d-4e5f-8a9b-0c1d2e3f4a5b","meta":{"html":"<b>&</b>","role":"webserver"},"admin_pass":"s3cret",` +
			`"public_keys":{"mykey":"ssh-ed25519 AAAAC3Nza mykey\n"},"keys":[{"name":"mykey","type":"ssh","data":"ssh-ed25519 AAAAC3Nza mykey\n"}],` +
			`"hostname":"web-1.novalocal","name":"web 1","launch_index":2,"availability_zone":"nova","random_seed":"` + seed + `",` +
			`"project_id":"f7ac731cc11f40efbc03a9f9e1d1d21f","devices":[],"dedicated_cpus":[]}`,
	}, {
		name: "service hides admin_pass",
		inst: inst,
		want: `{"uuid":"5b9f3a2e-1c2d-4e5f-8a9b-0c1d2e3f4a5b","meta":{"html":"<b>&</b>","role":"webserver"},` +
			`"public_keys":{"mykey":"ssh-ed25519 AAAAC3Nza mykey\n"},"keys":[{"name":"mykey","type":"ssh","data":"ssh-ed25519 AAAAC3Nza mykey\n"}],` +
			`"hostname":"web-1.novalocal","name":"web 1","launch_index":2,"availability_zone":"nova","random_seed":"` + seed + `",` +
			`"project_id":"f7ac731cc11f40efbc03a9f9e1d1d21f","devices":[],"dedicated_cpus":[]}`,
	}, {
		name: "bare: no meta, no keys, no zone",
		inst: Instance{UUID: "u", Hostname: "h", Name: "n", KeyData: "ignored without a name"},
		want: `{"uuid":"u","hostname":"h","name":"n","launch_index":0,"availability_zone":null,"random_seed":"` + seed + `",` +
			`"project_id":"","devices":[],"dedicated_cpus":[]}`,
	}, {
		name: "x509 key",
		inst: Instance{UUID: "u", KeyName: "k", KeyData: "CERT", KeyType: "x509", AvailabilityZone: "az1"},
		want: `{"uuid":"u","public_keys":{"k":"CERT"},"keys":[{"name":"k","type":"x509","data":"CERT"}],"hostname":"","name":"",` +
			`"launch_index":0,"availability_zone":"az1","random_seed":"` + seed + `","project_id":"","devices":[],"dedicated_cpus":[]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := osVersion("latest")
			got, err := metaDataJSON(&tt.inst, v, zeros{}, tt.forDrive)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("meta_data.json (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRandomSeedFresh(t *testing.T) {
	inst := testInstance()
	seed := func() string {
		body, _, err := Lookup(inst, "/openstack/latest/meta_data.json")
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, body)["random_seed"].(string)
	}
	a, b := seed(), seed()
	if len(a) != 684 || a == b {
		t.Errorf("random_seed not 512 fresh bytes: %d chars, repeated=%v", len(a), a == b)
	}
}

func TestFilesPaths(t *testing.T) {
	versions := append(slices.Clone(openStackVersions), "latest")
	osFiles := func(userData bool) []string {
		var out []string
		for _, v := range versions {
			out = append(out, "openstack/"+v+"/meta_data.json")
			if userData {
				out = append(out, "openstack/"+v+"/user_data")
			}
			i, _ := osVersion(v)
			if osAtLeast(i, versionHavana) {
				out = append(out, "openstack/"+v+"/vendor_data.json")
			}
			if osAtLeast(i, versionLiberty) {
				out = append(out, "openstack/"+v+"/network_data.json")
			}
			if osAtLeast(i, versionNewtonTwo) {
				out = append(out, "openstack/"+v+"/vendor_data2.json")
			}
		}
		return out
	}
	withUserData := testInstance()
	without := testInstance()
	without.UserData = nil
	tests := []struct {
		name string
		inst Instance
		want []string
	}{
		{"user data", withUserData, append(osFiles(true),
			"ec2/2009-04-04/meta-data.json", "ec2/2009-04-04/user-data", "ec2/latest/meta-data.json", "ec2/latest/user-data")},
		{"no user data", without, append(osFiles(false),
			"ec2/2009-04-04/meta-data.json", "ec2/latest/meta-data.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Files(tt.inst)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(tt.want)
			if diff := cmp.Diff(tt.want, slices.Sorted(maps.Keys(files))); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			if ud, ok := files["openstack/latest/user_data"]; ok && !bytes.Equal(ud, tt.inst.UserData) {
				t.Errorf("user_data = %q, want %q", ud, tt.inst.UserData)
			}
			if ud, ok := files["ec2/latest/user-data"]; ok && !bytes.Equal(ud, tt.inst.UserData) {
				t.Errorf("user-data = %q, want %q", ud, tt.inst.UserData)
			}
		})
	}
}

func TestFilesEC2MetaData(t *testing.T) {
	files, err := Files(testInstance())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ami-id":               "ami-c0ffee12",
		"ami-launch-index":     float64(2),
		"ami-manifest-path":    "FIXME",
		"block-device-mapping": map[string]any{"ami": "vda", "root": "/dev/vda"},
		"hostname":             "web-1.novalocal",
		"instance-action":      "none",
		"instance-id":          "i-5b9f3a2e",
		"instance-type":        "m1.small",
		"local-hostname":       "web-1.novalocal",
		"local-ipv4":           "10.0.0.5",
		"placement":            map[string]any{"availability-zone": "nova"},
		"public-hostname":      "web-1.novalocal",
		"public-ipv4":          "203.0.113.7",
		"public-keys":          map[string]any{"0": map[string]any{"openssh-key": "ssh-ed25519 AAAAC3Nza mykey\n"}},
		"reservation-id":       "r-3kq8h2xy",
		"security-groups":      []any{"default", "web"},
	}
	for _, v := range []string{"2009-04-04", "latest"} {
		if diff := cmp.Diff(want, decode(t, files["ec2/"+v+"/meta-data.json"])); diff != "" {
			t.Errorf("ec2/%s/meta-data.json (-want +got):\n%s", v, diff)
		}
	}

	bare, err := Files(Instance{UUID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, bare["ec2/latest/meta-data.json"])
	for k, w := range map[string]any{"ami-id": nil, "local-ipv4": nil, "public-ipv4": "", "security-groups": []any{}, "placement": map[string]any{"availability-zone": nil}} {
		if diff := cmp.Diff(w, got[k]); diff != "" {
			t.Errorf("bare %s (-want +got):\n%s", k, diff)
		}
	}
	if _, ok := got["public-keys"]; ok {
		t.Error("public-keys present without a keypair")
	}
}

func TestNetworkData(t *testing.T) {
	inst := Instance{UUID: "u", Network: &NetworkData{
		Links: []Link{
			{ID: "tapcd9f6d46-4a", VIFID: "cd9f6d46-4a3a-43ab-a466-994af9db96fc", Type: "bridge", EthernetMACAddress: "fa:16:3e:9c:bf:3d"},
			{ID: "tap11111111-22", VIFID: "11111111-2222-3333-4444-555555555555", Type: "phy", MTU: new(1450), EthernetMACAddress: "fa:16:3e:00:00:01"},
		},
		Networks: []Network{
			{ID: "network0", Type: "ipv4_dhcp", Link: "tapcd9f6d46-4a", NetworkID: "99e88329-f20d-4741-9593-25bf07847b16", Netmask: "ignored without an address"},
			{ID: "network1", Type: "ipv4", Link: "tap11111111-22", NetworkID: "net-2", IPAddress: "10.0.0.5", Netmask: "255.255.255.0",
				Routes:   []Route{{Network: "0.0.0.0", Netmask: "0.0.0.0", Gateway: "10.0.0.1"}},
				Services: []Service{{Type: "dns", Address: "10.0.0.2"}}},
			{ID: "network2", Type: "ipv6_slaac", Link: "tap11111111-22", NetworkID: "net-2", IPAddress: "fd00::5", Netmask: "ffff:ffff:ffff:ffff::"},
		},
		Services: []Service{{Type: "dns", Address: "8.8.8.8"}},
	}}
	want := `{"links":[` +
		`{"id":"tapcd9f6d46-4a","vif_id":"cd9f6d46-4a3a-43ab-a466-994af9db96fc","type":"bridge","mtu":null,"ethernet_mac_address":"fa:16:3e:9c:bf:3d"},` +
		`{"id":"tap11111111-22","vif_id":"11111111-2222-3333-4444-555555555555","type":"phy","mtu":1450,"ethernet_mac_address":"fa:16:3e:00:00:01"}],` +
		`"networks":[` +
		`{"id":"network0","type":"ipv4_dhcp","link":"tapcd9f6d46-4a","network_id":"99e88329-f20d-4741-9593-25bf07847b16"},` +
		`{"id":"network1","type":"ipv4","link":"tap11111111-22","ip_address":"10.0.0.5","netmask":"255.255.255.0",` +
		`"routes":[{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"10.0.0.1"}],"network_id":"net-2","services":[{"type":"dns","address":"10.0.0.2"}]},` +
		`{"id":"network2","type":"ipv6_slaac","link":"tap11111111-22","ip_address":"fd00::5","netmask":"ffff:ffff:ffff:ffff::",` +
		`"routes":[],"network_id":"net-2","services":[]}],` +
		`"services":[{"type":"dns","address":"8.8.8.8"}]}`
	tests := []struct {
		name string
		inst Instance
		want string
	}{
		{"nil", Instance{}, `{"links":[],"networks":[],"services":[]}`},
		{"empty lists", Instance{Network: &NetworkData{}}, `{"links":[],"networks":[],"services":[]}`},
		{"dhcp and static", inst, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct, err := Lookup(tt.inst, "/openstack/latest/network_data.json")
			if err != nil {
				t.Fatal(err)
			}
			if ct != "text/plain" {
				t.Errorf("content type %q, want Nova's text/plain", ct)
			}
			if diff := cmp.Diff(tt.want, string(body)); diff != "" {
				t.Errorf("network_data.json (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVendorData(t *testing.T) {
	tests := []struct {
		name      string
		vendor    map[string]any
		want, two string
	}{
		{"none", nil, `{}`, `{"static":{}}`},
		{"static", map[string]any{"testing": map[string]any{"value1": 1, "value3": "three"}},
			`{"testing":{"value1":1,"value3":"three"}}`, `{"static":{"testing":{"value1":1,"value3":"three"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := Instance{VendorData: tt.vendor}
			for path, want := range map[string]string{"vendor_data.json": tt.want, "vendor_data2.json": tt.two} {
				body, ct, err := Lookup(inst, "/openstack/latest/"+path)
				if err != nil {
					t.Fatal(err)
				}
				if ct != "application/json" || string(body) != want {
					t.Errorf("%s = %s (%s), want %s (application/json)", path, body, ct, want)
				}
			}
		})
	}

	bad := Instance{UUID: "u", VendorData: map[string]any{"ch": make(chan int)}}
	if _, err := Files(bad); err == nil || !strings.Contains(err.Error(), "vendor_data.json") {
		t.Errorf("Files with unmarshalable vendor data: err = %v, want one naming vendor_data.json", err)
	}
	if _, _, err := Lookup(bad, "/openstack/latest/vendor_data2.json"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup with unmarshalable vendor data: err = %v, want a non-404 error", err)
	}
}

func TestLookup(t *testing.T) {
	inst := testInstance()
	inst.AdminPass = "never served"
	noKey := testInstance()
	noKey.KeyName, noKey.UserData = "", nil
	const text, js = "text/plain", "application/json"
	ec2Versions := "1.0\n2007-01-19\n2007-03-01\n2007-08-29\n2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\nlatest"
	latestKeys := "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nhostname\ninstance-action\ninstance-id\n" +
		"instance-type\nlocal-hostname\nlocal-ipv4\nplacement/\npublic-hostname\npublic-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"
	tests := []struct {
		name, path string
		inst       *Instance // testInstance() when nil
		want, ct   string
		notFound   bool
	}{
		// EC2 tree.
		{name: "root", path: "/", want: ec2Versions, ct: text},
		{name: "empty path", path: "", want: ec2Versions, ct: text},
		{name: "ec2 alias", path: "/ec2", want: ec2Versions, ct: text},
		{name: "version", path: "/latest", want: "meta-data/\nuser-data", ct: text},
		{name: "version without user data", path: "/2009-04-04/", inst: &noKey, want: "meta-data/", ct: text},
		{name: "meta-data listing", path: "/latest/meta-data/", want: latestKeys, ct: text},
		{name: "meta-data listing without slash", path: "/2009-04-04/meta-data", want: latestKeys, ct: text},
		{name: "meta-data under ec2", path: "/ec2/latest/meta-data/", want: latestKeys, ct: text},
		{name: "meta-data 1.0", path: "/1.0/meta-data/", ct: text,
			want: "ami-id\nami-launch-index\nami-manifest-path\nhostname\ninstance-id\nlocal-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"},
		{name: "meta-data 2007-12-15", path: "/2007-12-15/meta-data/", ct: text,
			want: "ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nhostname\ninstance-id\ninstance-type\n" +
				"local-hostname\nlocal-ipv4\npublic-hostname\npublic-ipv4\npublic-keys/\nreservation-id\nsecurity-groups"},
		{name: "meta-data without key", path: "/latest/meta-data/", inst: &noKey, ct: text,
			want: strings.Replace(latestKeys, "public-keys/\n", "", 1)},
		{name: "instance-id", path: "/latest/meta-data/instance-id", want: "i-5b9f3a2e", ct: text},
		{name: "ami-id", path: "/latest/meta-data/ami-id", want: "ami-c0ffee12", ct: text},
		{name: "ami-id from volume", path: "/latest/meta-data/ami-id", inst: &Instance{}, want: "", ct: text},
		{name: "hostname", path: "/latest/meta-data/hostname", want: "web-1.novalocal", ct: text},
		{name: "local-hostname", path: "/latest/meta-data/local-hostname", want: "web-1.novalocal", ct: text},
		{name: "public-hostname", path: "/latest/meta-data/public-hostname", want: "web-1.novalocal", ct: text},
		{name: "local-ipv4 skips ipv6", path: "/latest/meta-data/local-ipv4", want: "10.0.0.5", ct: text},
		{name: "public-ipv4", path: "/latest/meta-data/public-ipv4", want: "203.0.113.7", ct: text},
		{name: "public-ipv4 none", path: "/latest/meta-data/public-ipv4", inst: &Instance{}, want: "", ct: text},
		{name: "ami-launch-index", path: "/latest/meta-data/ami-launch-index", want: "2", ct: text},
		{name: "instance-type", path: "/latest/meta-data/instance-type", want: "m1.small", ct: text},
		{name: "instance-action", path: "/latest/meta-data/instance-action", want: "none", ct: text},
		{name: "placement", path: "/latest/meta-data/placement/", want: "availability-zone", ct: text},
		{name: "availability-zone", path: "/latest/meta-data/placement/availability-zone", want: "nova", ct: text},
		{name: "public-keys", path: "/latest/meta-data/public-keys/", want: "0=mykey", ct: text},
		{name: "public-keys/0", path: "/latest/meta-data/public-keys/0/", want: "openssh-key", ct: text},
		{name: "openssh-key", path: "/latest/meta-data/public-keys/0/openssh-key", want: "ssh-ed25519 AAAAC3Nza mykey\n", ct: text},
		{name: "reservation-id", path: "/latest/meta-data/reservation-id", want: "r-3kq8h2xy", ct: text},
		{name: "security-groups", path: "/latest/meta-data/security-groups", want: "default\nweb", ct: text},
		{name: "block-device-mapping", path: "/latest/meta-data/block-device-mapping/", want: "ami\nroot", ct: text},
		{name: "block-device-mapping/ami", path: "/latest/meta-data/block-device-mapping/ami", want: "vda", ct: text},
		{name: "block-device-mapping/root", path: "/latest/meta-data/block-device-mapping/root", inst: &Instance{RootDeviceName: "/dev/sda"}, want: "/dev/sda", ct: text},
		{name: "user-data", path: "/latest/user-data", want: "#cloud-config\nhostname: web\n", ct: text},
		{name: "cleaned", path: "latest/./meta-data//../meta-data/hostname", want: "web-1.novalocal", ct: text},

		// OpenStack tree.
		{name: "openstack", path: "/openstack", ct: text,
			want: "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\n2020-10-14\n2025-04-04\nlatest"},
		{name: "openstack/latest", path: "/openstack/latest/", ct: text,
			want: "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json"},
		{name: "openstack folsom", path: "/openstack/2012-08-10", ct: text, want: "meta_data.json\nuser_data"},
		{name: "openstack havana no user data", path: "/openstack/2013-10-17", inst: &noKey, ct: text,
			want: "meta_data.json\npassword\nvendor_data.json"},
		{name: "openstack liberty", path: "/openstack/2015-10-15", ct: text,
			want: "meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json"},
		{name: "user_data", path: "/openstack/2012-08-10/user_data", want: "#cloud-config\nhostname: web\n", ct: text},
		{name: "password", path: "/openstack/latest/password", want: "", ct: text},
		{name: "vendor_data.json", path: "/openstack/latest/vendor_data.json", want: "{}", ct: js},

		// 404s.
		{name: "unknown ec2 version", path: "/2010-01-01/meta-data/", notFound: true},
		{name: "unknown key", path: "/latest/meta-data/kernel-id", notFound: true},
		{name: "below a leaf", path: "/latest/meta-data/hostname/x", notFound: true},
		{name: "below a list", path: "/latest/meta-data/security-groups/default", notFound: true},
		{name: "listing name", path: "/latest/meta-data/public-keys/0/_name", notFound: true},
		{name: "second key", path: "/latest/meta-data/public-keys/1", notFound: true},
		{name: "no keypair", path: "/latest/meta-data/public-keys/", inst: &noKey, notFound: true},
		{name: "no user-data", path: "/latest/user-data", inst: &noKey, notFound: true},
		{name: "dynamic", path: "/latest/dynamic/instance-identity/document", notFound: true},
		{name: "unknown openstack version", path: "/openstack/2011-01-01/meta_data.json", notFound: true},
		{name: "openstack version listing unknown", path: "/openstack/foo", notFound: true},
		{name: "no user_data", path: "/openstack/latest/user_data", inst: &noKey, notFound: true},
		{name: "password before grizzly", path: "/openstack/2012-08-10/password", notFound: true},
		{name: "vendor_data before havana", path: "/openstack/2013-04-04/vendor_data.json", notFound: true},
		{name: "network_data before liberty", path: "/openstack/2013-10-17/network_data.json", notFound: true},
		{name: "vendor_data2 before newton", path: "/openstack/2016-06-30/vendor_data2.json", notFound: true},
		{name: "below a file", path: "/openstack/latest/meta_data.json/uuid", notFound: true},
		{name: "content", path: "/openstack/content/0000", notFound: true},
		{name: "unknown file", path: "/openstack/latest/secrets", notFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := inst
			if tt.inst != nil {
				in = *tt.inst
			}
			body, ct, err := Lookup(in, tt.path)
			if tt.notFound {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("Lookup(%q) = %q, %v; want ErrNotFound", tt.path, body, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.path, err)
			}
			if diff := cmp.Diff(tt.want, string(body)); diff != "" {
				t.Errorf("Lookup(%q) body (-want +got):\n%s", tt.path, diff)
			}
			if ct != tt.ct {
				t.Errorf("Lookup(%q) content type %q, want %q", tt.path, ct, tt.ct)
			}
		})
	}
}

func TestLookupHidesAdminPass(t *testing.T) {
	inst := testInstance()
	inst.AdminPass = "s3cret"
	for _, v := range append(slices.Clone(openStackVersions), "latest") {
		body, _, err := Lookup(inst, "/openstack/"+v+"/meta_data.json")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(body, []byte("s3cret")) {
			t.Errorf("%s meta_data.json serves admin_pass: %s", v, body)
		}
	}
	files, err := Files(inst)
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, files["openstack/latest/meta_data.json"])["admin_pass"]; got != "s3cret" {
		t.Errorf("config drive admin_pass = %v, want s3cret", got)
	}
}

func FuzzLookup(f *testing.F) {
	for _, p := range []string{
		"", "/", "/latest/meta-data/", "/latest/meta-data/public-keys/0/openssh-key", "/openstack/latest/meta_data.json",
		"/openstack/2012-08-10/password", "//..//", "/ec2/../openstack", "/openstack/latest/../../../etc", "\x00/%2e%2e",
		"/latest/meta-data/public-keys/0/_name", "/latest/meta-data/security-groups/default/x",
	} {
		f.Add(p)
	}
	inst := testInstance()
	f.Fuzz(func(t *testing.T, p string) {
		body, ct, err := lookup(&inst, p, zeros{})
		switch {
		case err != nil && !errors.Is(err, ErrNotFound):
			t.Fatalf("Lookup(%q): unexpected error %v", p, err)
		case err == nil && ct != "text/plain" && ct != "application/json":
			t.Fatalf("Lookup(%q): content type %q", p, ct)
		case err == nil && body == nil:
			t.Fatalf("Lookup(%q): nil body", p)
		}
	})
}

func BenchmarkFiles(b *testing.B) {
	inst := testInstance()
	for b.Loop() {
		if _, err := Files(inst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupMetaData(b *testing.B) {
	inst := testInstance()
	for b.Loop() {
		if _, _, err := Lookup(inst, "/openstack/latest/meta_data.json"); err != nil {
			b.Fatal(err)
		}
	}
}
