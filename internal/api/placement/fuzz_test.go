package placement

import (
	"errors"
	"testing"

	"github.com/onestack/onestack/internal/microversion"
	"github.com/onestack/onestack/internal/oserr"
)

// checkDecodeError fails unless err is nil or a 400/413 the client can act on.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *oserr.Error
	if !errors.As(err, &e) || (e.Status != 400 && e.Status != 413) {
		t.Fatalf("decoder returned %v, want nil or a 400", err)
	}
	if e.Message == "" {
		t.Fatal("a 400 without a message")
	}
}

// FuzzDecodeAllocations feeds PUT /allocations/{consumer_uuid} and POST
// /allocations bodies at every body-changing microversion: the decoders
// must never panic and must answer a 400 or a request whose amounts are
// positive and whose providers are UUIDs.
func FuzzDecodeAllocations(f *testing.F) {
	for _, seed := range []string{
		`{"allocations": [{"resource_provider": {"uuid": "4e8e5957-649f-477b-9e5b-f1f75b21c03c"}, "resources": {"VCPU": 1}}]}`,
		`{"allocations": {"4e8e5957-649f-477b-9e5b-f1f75b21c03c": {"resources": {"VCPU": 1, "MEMORY_MB": 512}}}, "project_id": "p", "user_id": "u"}`,
		`{"allocations": {}, "project_id": "p", "user_id": "u", "consumer_generation": 3}`,
		`{"allocations": {"4e8e5957-649f-477b-9e5b-f1f75b21c03c": {"resources": {"DISK_GB": 20}, "generation": 2}}, "project_id": "p", "user_id": "u", "consumer_generation": null, "consumer_type": "INSTANCE", "mappings": {"": ["4e8e5957-649f-477b-9e5b-f1f75b21c03c"]}}`,
		`{"allocations": {"x": {"resources": {"VCPU": -1}}}}`,
		`{"allocations": {"4e8e5957-649f-477b-9e5b-f1f75b21c03c": {"resources": {"VCPU": 1.5}}}, "project_id": "p", "user_id": "u"}`,
		`[]`, `null`, `{`, ``,
	} {
		f.Add([]byte(seed), uint8(28))
	}
	f.Fuzz(func(t *testing.T, body []byte, minor uint8) {
		v := microversion.Version{Major: 1, Minor: int(minor % 40)}
		req, err := decodeConsumer(body, v, "4e8e5957-649f-477b-9e5b-f1f75b21c03c", minor%2 == 0)
		checkDecodeError(t, err)
		if err == nil {
			for p, res := range req.Resources {
				if len(p) != 36 || len(res) == 0 {
					t.Fatalf("accepted provider %q with %d classes", p, len(res))
				}
				for rc, n := range res {
					if n < 1 || rc == "" {
						t.Fatalf("accepted %s: %d", rc, n)
					}
				}
			}
			if v.AtLeast(mv(8)) && (req.Consumer.ProjectID == "" || req.Consumer.UserID == "") {
				t.Fatal("accepted a body without project_id/user_id at >= 1.8")
			}
		}
		_, err = decodeManyConsumers(body, v, minor%3 == 0)
		checkDecodeError(t, err)
	})
}

// FuzzDecodeInventories feeds PUT .../inventories and the single-inventory
// bodies: no panic, a 400 or a complete inventory.
func FuzzDecodeInventories(f *testing.F) {
	for _, seed := range []string{
		`{"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 8, "allocation_ratio": 16.0}, "MEMORY_MB": {"total": 4096, "reserved": 512, "min_unit": 1, "max_unit": 4096, "step_size": 256}}}`,
		`{"resource_provider_generation": 0, "inventories": {}}`,
		`{"resource_class": "DISK_GB", "total": 100}`,
		`{"resource_provider_generation": 7, "total": 10, "reserved": 10}`,
		`{"inventories": {"vcpu": {"total": 1}}}`,
		`{"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 99999999999999999999}}}`,
		`{"resource_provider_generation": 1, "inventories": {"VCPU": {"reserved": 1}}}`,
		`null`, `[`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, invs, err := decodeInventories(body)
		checkDecodeError(t, err)
		for rc, i := range invs {
			if rc == "" || i.MinUnit == 0 && i.Total != 0 && i.StepSize == 0 {
				t.Fatalf("accepted %q: %+v", rc, i)
			}
		}
		for _, create := range []bool{true, false} {
			class, gen, _, err := decodeInventory(body, create)
			checkDecodeError(t, err)
			if err == nil && create && class == "" {
				t.Fatal("accepted a POST inventory without a resource class")
			}
			if err == nil && !create && gen == nil {
				t.Fatal("accepted a PUT inventory without a generation")
			}
		}
	})
}
