package linux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named namespaces are mounted (as iproute2 does).
const netnsDir = "/var/run/netns"

// inNS runs fn on an OS thread switched into the named namespace, for the
// few things netlink handles cannot do from outside: creating sockets and
// taps, writing per-namespace sysctls. The thread is returned to the
// original namespace; if that fails it stays locked so the runtime
// discards it instead of reusing a thread in the wrong namespace.
func inNS(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter namespace %s: %w", name, err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it exits with the goroutine.
		return errors.Join(ferr, fmt.Errorf("return from namespace %s: %w", name, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// nsExists reports whether the named namespace is mounted.
func nsExists(name string) bool {
	_, err := os.Stat(netnsDir + "/" + name)
	return err == nil
}

// sharedNetnsDir makes netnsDir a mount point of its own with shared
// propagation, as `ip netns add` does before its first namespace. Were the
// first namespaces mounted on the plain directory, the first `ip netns add`
// run afterwards (by anyone) would bind-mount the directory over them: they
// would still exist but could no longer be removed ("Device or resource
// busy").
func sharedNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s on itself: %w", netnsDir, err)
		}
		err = unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", netnsDir, err)
	}
	return nil
}

// ensureNS creates the named namespace if it does not exist and brings its
// loopback up. It reports whether it created it.
func ensureNS(name string) (bool, error) {
	if nsExists(name) {
		return false, nil
	}
	if err := sharedNetnsDir(); err != nil {
		return false, err
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return false, fmt.Errorf("get current namespace: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name) // switches this thread into it
	if err != nil {
		if serr := netns.Set(orig); serr != nil {
			return false, errors.Join(err, serr)
		}
		runtime.UnlockOSThread()
		return false, fmt.Errorf("create namespace %s: %w", name, err)
	}
	h.Close()
	lerr := func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}()
	if err := netns.Set(orig); err != nil {
		return true, fmt.Errorf("return from namespace %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	if lerr != nil {
		return true, fmt.Errorf("bring up lo in %s: %w", name, lerr)
	}
	return true, nil
}

// deleteNS removes a named namespace; a missing one is not an error.
func deleteNS(name string) error {
	if !nsExists(name) {
		return nil
	}
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// handleAt returns a netlink handle whose sockets live in the named
// namespace ("" is the current one).
func handleAt(name string) (*netlink.Handle, error) {
	if name == "" {
		return netlink.NewHandle()
	}
	ns, err := netns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace %s: %w", name, err)
	}
	return h, nil
}

// nsFd opens the named namespace for passing to netlink as a link's target.
func nsFd(name string) (netns.NsHandle, error) {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return 0, fmt.Errorf("open namespace %s: %w", name, err)
	}
	return ns, nil
}

// nft runs one nft script atomically in the named namespace. nft -f
// applies the whole script in one netlink transaction or nothing.
func nft(ctx context.Context, name, script string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := []string{"-f", "-"}
	cmd := exec.CommandContext(ctx, "nft", args...)
	if name != "" {
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", name, "nft"}, args...)...)
	}
	cmd.Stdin = strings.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", nsLabel(name), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// nftOutput runs an nft command (e.g. "list ruleset") in the namespace.
func nftOutput(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nft", args...)
	if name != "" {
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", name, "nft"}, args...)...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nft %s in %s: %w: %s", strings.Join(args, " "), nsLabel(name), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// writeSysctl writes a per-namespace sysctl (path under /proc/sys) from
// inside the namespace: /proc/sys/net follows the opening thread's
// namespace.
func writeSysctl(name, path, value string) error {
	return inNS(name, func() error {
		cur, err := os.ReadFile("/proc/sys/" + path)
		if err == nil && strings.TrimSpace(string(cur)) == value {
			return nil
		}
		if err := os.WriteFile("/proc/sys/"+path, []byte(value), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", path, value, nsLabel(name), err)
		}
		return nil
	})
}

func nsLabel(name string) string {
	if name == "" {
		return "the current namespace"
	}
	return "namespace " + name
}
