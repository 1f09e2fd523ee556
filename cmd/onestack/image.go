package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/onestack/onestack/internal/guestimage"
)

// imageCmd handles `onestack image build-tiny`: the tiny test guest image
// (qcow2), built from Debian packages without root.
func imageCmd(ctx context.Context, args []string) error {
	const usage = "usage: onestack image build-tiny --output FILE [--cache-dir DIR]"
	if len(args) == 0 || args[0] != "build-tiny" {
		return fmt.Errorf("%s", usage)
	}
	var opts guestimage.Options
	fs := flag.NewFlagSet("onestack image build-tiny", flag.ContinueOnError)
	fs.StringVar(&opts.Output, "output", "", "qcow2 file to write (required)")
	fs.StringVar(&opts.CacheDir, "cache-dir", defaultCacheDir(os.Getenv), "where downloaded .deb packages are kept between builds")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; %s", fs.Arg(0), usage)
	}
	if opts.Output == "" {
		return fmt.Errorf("--output is required; %s", usage)
	}
	if opts.CacheDir == "" {
		return fmt.Errorf("--cache-dir is empty; name a directory for the downloaded packages")
	}
	if err := absPaths(&opts.Output, &opts.CacheDir); err != nil {
		return err
	}
	opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	res, err := guestimage.Build(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %.1f MB qcow2 (%d MB disk), kernel %s, built in %s\n",
		res.Path, float64(res.Size)/1e6, res.VirtualSize>>20, res.KernelRelease, res.Duration.Round(10*time.Millisecond))
	fmt.Printf("upload: openstack image create --disk-format qcow2 --container-format bare --file %s --public tiny\n", res.Path)
	return nil
}
