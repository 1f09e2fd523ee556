package e2e

import (
	"os"
	"strings"
	"testing"
)

// oscPlacement is where Debian's python3-osc-placement puts the plugin that
// adds `openstack resource provider …` to the CLI.
const oscPlacement = "/usr/lib/python3/dist-packages/osc_placement"

// requirePlacementCLI skips when the osc-placement plugin is missing: it is
// a separate Debian package (python3-osc-placement) that not every machine has.
func requirePlacementCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(oscPlacement); err != nil {
		t.Skipf("%s not found: install it with `apt-get install python3-osc-placement`", oscPlacement)
	}
}

// TestPlacement drives Placement with osc-placement as an operator does:
// version negotiation, providers, inventories, traits, aggregates,
// candidates, allocations and the errors that stop over-commit.
func TestPlacement(t *testing.T) {
	requirePlacementCLI(t)
	forEachBackend(t, func(t *testing.T, c *Cloud) {
		admin := c.CloudEnv()
		// "1" makes osc-placement negotiate: it asks for 1.29 and would
		// fall back to the max_version of a 406.
		var rp struct {
			UUID       string `json:"uuid"`
			Name       string `json:"name"`
			Generation int    `json:"generation"`
			Root       string `json:"root_provider_uuid"`
		}
		RunJSON(t, admin, &rp, "--os-placement-api-version", "1", "resource", "provider", "create", "e2e-host")
		if rp.UUID == "" || rp.Name != "e2e-host" || rp.Generation != 0 || rp.Root != rp.UUID {
			t.Fatalf("resource provider create: %+v", rp)
		}
		pl := func(args ...string) []string { return append([]string{"--os-placement-api-version", "1.39"}, args...) }
		// The CLI splits "resource provider" into words.
		words := func(args ...string) []string {
			var out []string
			for _, a := range args {
				out = append(out, strings.Fields(a)...)
			}
			return out
		}
		run := func(v any, args ...string) { t.Helper(); RunJSON(t, admin, v, pl(words(args...)...)...) }

		var listed []struct{ UUID string }
		run(&listed, "resource provider list", "--name", "e2e-host")
		if len(listed) != 1 || listed[0].UUID != rp.UUID {
			t.Errorf("resource provider list --name e2e-host: %+v", listed)
		}

		var invs []struct {
			ResourceClass   string  `json:"resource_class"`
			Total           int     `json:"total"`
			AllocationRatio float64 `json:"allocation_ratio"`
		}
		run(&invs, "resource provider inventory set", rp.UUID, "--resource", "VCPU=8", "--resource", "VCPU:allocation_ratio=4",
			"--resource", "MEMORY_MB=4096", "--resource", "DISK_GB=100")
		if len(invs) != 3 {
			t.Fatalf("inventory set: %+v", invs)
		}
		MustRun(t, admin, pl(words("trait create", "CUSTOM_E2E_RACK")...)...)
		var traits []struct{ Name string }
		run(&traits, "resource provider trait set", "--trait", "CUSTOM_E2E_RACK", "--trait", "HW_CPU_X86_AVX2", rp.UUID)
		if len(traits) != 2 {
			t.Errorf("trait set: %+v", traits)
		}
		var aggs []struct{ UUID string }
		run(&aggs, "resource provider aggregate set", "--aggregate", "11111111-2222-4333-8444-555555555555", "--generation", "2", rp.UUID)
		if len(aggs) != 1 {
			t.Errorf("aggregate set: %+v", aggs)
		}
		// A stale generation is refused with Placement's message.
		Fail(t, Run(t, admin, pl(words("resource provider aggregate set", "--aggregate", "11111111-2222-4333-8444-555555555555", "--generation", "2", rp.UUID)...)...),
			"generation", "409")

		var cands []struct {
			Allocation string `json:"allocation"`
			Provider   string `json:"resource provider"`
			Capacity   string `json:"inventory used/capacity"`
		}
		run(&cands, "allocation candidate list", "--resource", "VCPU=2", "--required", "CUSTOM_E2E_RACK")
		if len(cands) != 1 || cands[0].Provider != rp.UUID || !strings.Contains(cands[0].Capacity, "VCPU=0/32") {
			t.Errorf("allocation candidate list: %+v", cands)
		}

		const server = "5e2b7b3a-0000-4000-8000-0000000005e1"
		var allocs []struct {
			Provider  string         `json:"resource_provider"`
			Resources map[string]int `json:"resources"`
		}
		run(&allocs, "resource provider allocation set", server, "--allocation", "rp="+rp.UUID+",VCPU=2,MEMORY_MB=512",
			"--project-id", "shop", "--user-id", "ops", "--consumer-type", "INSTANCE")
		run(&allocs, "resource provider allocation show", server)
		if len(allocs) != 1 || allocs[0].Resources["VCPU"] != 2 {
			t.Errorf("allocation show: %+v", allocs)
		}
		var usage []struct {
			ResourceClass string `json:"resource_class"`
			Usage         int    `json:"usage"`
		}
		run(&usage, "resource provider usage show", rp.UUID)
		for _, u := range usage {
			if u.ResourceClass == "VCPU" && u.Usage != 2 {
				t.Errorf("usage show: VCPU %d, want 2", u.Usage)
			}
		}
		// Over-commit and removing used inventory are refused with a reason.
		Fail(t, Run(t, admin, pl(words("resource provider allocation set", "5e2b7b3a-0000-4000-8000-0000000005e2", "--allocation",
			"rp="+rp.UUID+",VCPU=40", "--project-id", "shop", "--user-id", "ops", "--consumer-type", "INSTANCE")...)...),
			"30 VCPU free, 40 requested")
		Fail(t, Run(t, admin, pl(words("resource provider inventory delete", rp.UUID, "--resource-class", "VCPU")...)...), "in use")
		Fail(t, Run(t, admin, pl(words("resource provider delete", rp.UUID)...)...), "has allocations")

		MustRun(t, admin, pl(words("resource provider allocation delete", server)...)...)
		MustRun(t, admin, pl(words("resource provider delete", rp.UUID)...)...)
		Fail(t, Run(t, admin, pl(words("resource provider show", rp.UUID)...)...), "No resource provider")
	})
}
