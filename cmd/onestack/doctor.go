package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onestack/onestack/internal/doctor"
	"github.com/onestack/onestack/internal/store"
)

// hostDirs collects repeated --host-dir NAME=DIR flags.
type hostDirs map[string]string

func (h hostDirs) String() string { return fmt.Sprint(map[string]string(h)) }

func (h hostDirs) Set(v string) error {
	name, dir, ok := strings.Cut(v, "=")
	if !ok || name == "" || dir == "" {
		return fmt.Errorf("want NAME=DIR, e.g. remote-1=/var/lib/onestack/agent")
	}
	h[name] = dir
	return nil
}

// doctorCmd runs `onestack doctor`: checks the cloud's invariants and
// prints each problem with the command that repairs it; exits 1 when
// there is any.
func doctorCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("onestack doctor", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "the cloud's data directory (its SQLite store and DIR/hosts/* of its in-process qemu hosts)")
	database := fs.String("database", "", "postgres://… when the cloud uses PostgreSQL")
	stuck := fs.Duration("stuck-after", 10*time.Minute, "a task running longer than this is reported as stuck")
	dirs := hostDirs{}
	fs.Var(dirs, "host-dir", "NAME=DIR: also check the guests of qemu host NAME (an agent's --data-dir) on this machine; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := absPaths(dataDir); err != nil {
		return err
	}
	for name, dir := range dirs {
		if err := absPaths(&dir); err != nil {
			return err
		}
		dirs[name] = dir
	}
	if ents, err := os.ReadDir(filepath.Join(*dataDir, "hosts")); err == nil {
		for _, e := range ents {
			if _, given := dirs[e.Name()]; e.IsDir() && !given {
				dirs[e.Name()] = filepath.Join(*dataDir, "hosts", e.Name())
			}
		}
	}
	if *database == "" {
		if _, err := os.Stat(filepath.Join(*dataDir, "onestack.db")); err != nil {
			return fmt.Errorf("no store in %s: give the cloud's --data-dir (or --database)", *dataDir)
		}
	}
	db, err := store.Open(ctx, store.Options{URL: *database, DataDir: *dataDir})
	if err != nil {
		return err
	}
	defer db.Close()
	ps, err := doctor.Check(ctx, doctor.Config{DB: db, HostDirs: dirs, StuckAfter: *stuck})
	if err != nil {
		return err
	}
	if len(ps) == 0 {
		fmt.Printf("onestack doctor: no problems (%d local hosts checked)\n", len(dirs))
		return nil
	}
	for _, p := range ps {
		fmt.Println(p)
	}
	fmt.Printf("onestack doctor: %d problems\n", len(ps))
	return errProblems
}
