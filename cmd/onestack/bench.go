package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/onestack/onestack/internal/bench"
)

// benchCmd runs `onestack bench`: many users at once against a running
// cloud on this machine, through its public API; prints one JSON document.
func benchCmd(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "boot" {
		return bootBenchCmd(ctx, args[1:])
	}
	var cfg bench.Config
	fs := flag.NewFlagSet("onestack bench", flag.ContinueOnError)
	fs.StringVar(&cfg.CloudURL, "cloud-url", "http://127.0.0.1:8000", "base URL of the running cloud (loopback addresses only)")
	clouds := fs.String("clouds-yaml", "./data/clouds.yaml", "clouds.yaml with the admin credentials (written by 'onestack up' into its data dir)")
	cloud := fs.String("cloud", "onestack", "entry in clouds.yaml")
	fs.IntVar(&cfg.Servers, "servers", 100, "servers to boot, list, show and delete")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "clients calling the API at once")
	fs.StringVar(&cfg.Flavor, "flavor", "bench.tiny", "flavor to boot (created with 1 vCPU, 64 MB, 1 GB if missing)")
	fs.StringVar(&cfg.Image, "image", "bench-tiny", "image to boot (created public, with a few bytes, if missing)")
	fs.IntVar(&cfg.ListLimit, "list-limit", 1000, "page size of the timed listings")
	fs.IntVar(&cfg.ListPasses, "list-passes", 3, "full listings to time")
	fs.IntVar(&cfg.ShowSample, "shows", 500, "shows of random servers to time")
	fs.DurationVar(&cfg.WaitTimeout, "wait-timeout", 0, "bound on each wait for the cloud (all ACTIVE, all gone); default 10m")
	fs.DurationVar(&cfg.Churn, "churn", 0, "instead of one boot wave, create and delete at --rate for this long (e.g. 10m)")
	fs.Float64Var(&cfg.Rate, "rate", 10, "churn: creates per second")
	fs.DurationVar(&cfg.Lifetime, "lifetime", 0, "churn: how long each server lives before its delete; default 30s")
	fs.IntVar(&cfg.PID, "pid", 0, "control plane process for peak RSS (default: the local process listening on the URL's port)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "churn: the control plane's data dir, to report the SQLite store's size")
	logLevel := fs.String("log-level", "info", "progress on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.Log, cfg.Credentials, err = benchIdentity(*logLevel, *clouds, *cloud); err != nil {
		return err
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// bootBenchCmd runs `onestack bench boot`: real guests through the API
// against bare qemu with the same image and accelerator; prints JSON.
func bootBenchCmd(ctx context.Context, args []string) error {
	var cfg bench.BootConfig
	fs := flag.NewFlagSet("onestack bench boot", flag.ContinueOnError)
	fs.StringVar(&cfg.CloudURL, "cloud-url", "http://127.0.0.1:8000", "base URL of the running cloud, with qemu hosts (loopback only)")
	clouds := fs.String("clouds-yaml", "./data/clouds.yaml", "clouds.yaml with the admin credentials")
	cloud := fs.String("cloud", "onestack", "entry in clouds.yaml")
	fs.StringVar(&cfg.ImageFile, "image-file", "", "qcow2 image to boot both ways (onestack image build-tiny --output FILE makes one)")
	fs.StringVar(&cfg.Marker, "marker", "onestack-guest-ready", "console line that ends a boot")
	fs.IntVar(&cfg.Runs, "runs", 3, "boots of each kind to time (after one that warms the image cache)")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "the cloud's data dir, for the host-side breakdown")
	fs.BoolVar(&cfg.Network, "network", false, "boot on a tenant network behind a router (made and removed by the bench) and also time create → floating IP answering ping from DATA/external-netns; each guest is deleted before the next boot")
	fs.IntVar(&cfg.PID, "pid", 0, "control plane process, for memory per guest (default: the process listening on the URL's port)")
	logLevel := fs.String("log-level", "info", "progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.ImageFile == "" {
		return fmt.Errorf("give --image-file (build one with onestack image build-tiny --output tiny.qcow2)")
	}
	if err := absPaths(&cfg.ImageFile, &cfg.DataDir); err != nil {
		return err
	}
	var err error
	if cfg.Log, cfg.Credentials, err = benchIdentity(*logLevel, *clouds, *cloud); err != nil {
		return err
	}
	if cfg.PID == 0 {
		cfg.PID = bench.ListenerPID(cfg.CloudURL)
	}
	res, err := bench.RunBoot(ctx, cfg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// benchIdentity is the logger and the admin identity a bench runs with.
func benchIdentity(logLevel, clouds, cloud string) (*slog.Logger, bench.Credentials, error) {
	log, err := newLogger(logLevel)
	if err != nil {
		return nil, bench.Credentials{}, err
	}
	creds, err := readCredentials(clouds, cloud)
	if err != nil {
		return nil, bench.Credentials{}, err
	}
	return log, bench.Credentials{Username: creds.Username, Password: creds.Password,
		UserDomain: creds.Domain, Project: creds.Project, ProjectDomain: creds.Domain}, nil
}
