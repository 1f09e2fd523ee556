// Command onestack is a private cloud in one binary that speaks the
// OpenStack APIs. It parses flags and wires the packages; nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/onestack/onestack/internal/fault"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `onestack — a private cloud in one binary that speaks the OpenStack APIs

Usage:
  onestack up [flags]            run everything in one process (see 'onestack up -h')
  onestack controller [flags]    run the control plane only, sharing a PostgreSQL database with other controllers
  onestack agent [flags]         run one host agent against a control plane (see 'onestack agent -h')
  onestack keys rotate [flags]   rotate the token signing keys
  onestack bench [flags]         boot, list, show and delete many servers on a local cloud; print JSON figures
  onestack image build-tiny --output FILE   build the tiny test guest image (qcow2) from Debian packages
  onestack doctor [flags]        check the cloud's records against each other and this machine's guests; print repairs
  onestack cleanup --data-dir D  remove the guests, namespaces, links and nftables tables a crashed run left
  onestack version               print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv)
	if errors.Is(err, errProblems) {
		os.Exit(1) // already printed
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "onestack:", err)
		os.Exit(1)
	}
}

// errProblems ends a command that found and printed problems, exit 1.
var errProblems = errors.New("problems found")

func run(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("name a subcommand")
	}
	if f := getenv("ONESTACK_FAULTS"); f != "" {
		// Crash tests only: the process kills itself at these points.
		if err := fault.Enable(strings.Split(f, ",")); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "onestack: WARNING: fault points armed (ONESTACK_FAULTS=%s): this process will kill itself there\n", f)
	}
	switch args[0] {
	case "up":
		return up(ctx, args[1:], getenv)
	case "controller":
		return controllerCmd(ctx, args[1:], getenv)
	case "agent":
		return agentCmd(ctx, args[1:])
	case "bench":
		return benchCmd(ctx, args[1:])
	case "doctor":
		return doctorCmd(ctx, args[1:])
	case "cleanup":
		return cleanupCmd(ctx, args[1:])
	case "keys":
		return keys(args[1:])
	case "image":
		return imageCmd(ctx, args[1:])
	case "version", "--version", "-v":
		fmt.Println("onestack", version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// absPaths makes each non-empty path absolute against the working
// directory, once at start. Every path onestack stores (the image cache's
// entries, guests' specs) or hands to QEMU, qemu-img and the storage daemon
// must be absolute: QEMU resolves a relative backing file against the
// overlay's own directory, not the working directory, and guests and
// daemons outlive the process that started them (a later start may run
// elsewhere).
func absPaths(paths ...*string) error {
	for _, p := range paths {
		if *p == "" {
			continue
		}
		a, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("resolve the path %s: %w", *p, err)
		}
		*p = a
	}
	return nil
}
