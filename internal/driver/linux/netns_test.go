package linux

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestNamespaceRemovableAfterIPNetnsAdd: a namespace onestack made first,
// on a machine where /run/netns is still a plain directory, can be removed
// after someone runs `ip netns add` (which bind-mounts /run/netns over
// itself unless it is already a shared mount: without sharedNetnsDir that
// mount covered ours, and removing it failed with "Device or resource
// busy"). It runs in a private mount namespace with an empty /run, so the
// machine's own /run/netns is not touched.
func TestNamespaceRemovableAfterIPNetnsAdd(t *testing.T) {
	if os.Getenv("ONESTACK_NETNS_CHILD") == "1" {
		fail := func(format string, a ...any) {
			fmt.Fprintf(os.Stderr, format+"\n", a...)
			os.Exit(1)
		}
		if _, err := ensureNS("ostest-first"); err != nil {
			fail("create: %v", err)
		}
		if out, err := exec.Command("ip", "netns", "add", "ostest-second").CombinedOutput(); err != nil {
			fail("ip netns add: %v %s", err, out)
		}
		if err := deleteNS("ostest-first"); err != nil {
			fail("remove the first namespace after ip netns add: %v", err)
		}
		if nsExists("ostest-first") {
			fail("the first namespace is still there after its removal")
		}
		os.Exit(0)
	}
	needNetAdmin(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	// The mount namespace, and with it every namespace mounted in it,
	// ends with the child.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs onestack-test /run && exec "$0" -test.run '^TestNamespaceRemovableAfterIPNetnsAdd$'`, os.Args[0])
	cmd.Env = append(os.Environ(), "ONESTACK_NETNS_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
