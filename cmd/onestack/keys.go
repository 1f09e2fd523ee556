package main

import (
	"flag"
	"fmt"
	"path/filepath"

	idsvc "github.com/onestack/onestack/internal/service/identity"
)

// keys handles `onestack keys rotate`.
func keys(args []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return fmt.Errorf("usage: onestack keys rotate [--data-dir DIR] [--keep N]")
	}
	fs := flag.NewFlagSet("onestack keys rotate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./data", "data directory of the cloud")
	keep := fs.Int("keep", 5, "how many keys to keep (staged + primary + secondaries)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	dir := filepath.Join(*dataDir, "fernet-keys")
	k, err := idsvc.LoadKeyRing(dir, *keep)
	if err != nil {
		return err
	}
	if err := k.Rotate(); err != nil {
		return err
	}
	fmt.Printf("rotated token keys in %s; restart onestack (or every controller sharing the directory) to sign with the new primary\n", dir)
	return nil
}
