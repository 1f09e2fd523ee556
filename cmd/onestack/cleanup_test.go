package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestCleanupSkipsFilesInHosts runs `onestack cleanup` on the data
// directory a qemu cloud with --accel auto leaves: DATA/hosts holds the
// accelerator verdict accel.json beside the host folders. Cleanup reads
// only the folders (it failed with "accel.json/guests: not a directory").
func TestCleanupSkipsFilesInHosts(t *testing.T) {
	data := t.TempDir()
	hosts := filepath.Join(data, "hosts")
	if err := os.MkdirAll(filepath.Join(hosts, "host-1", "guests", "0c5e7d5a-5555-4e6b-9f4e-000000000001"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hosts, "accel.json"), []byte(`{"name":"tcg"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "external-netns"), []byte("os0000-ext\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cleanupCmd(context.Background(), []string{"--data-dir", data}); err != nil {
		t.Fatalf("onestack cleanup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "external-netns")); !os.IsNotExist(err) {
		t.Errorf("DATA/external-netns is left after cleanup: %v", err)
	}
	if _, err := os.Stat(filepath.Join(hosts, "host-1", "guests", "0c5e7d5a-5555-4e6b-9f4e-000000000001")); err != nil {
		t.Errorf("cleanup removed a guest's files (records and disks stay): %v", err)
	}
}
