package main

import (
	"path/filepath"
	"testing"
)

// TestServePathsAbsolute checks that `onestack up` and `onestack
// controller` resolve a relative --data-dir and --cache-dir once, at
// start: everything below them stores and hands out absolute paths.
func TestServePathsAbsolute(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	getenv := func(string) string { return "" }
	for _, tc := range []struct {
		name       string
		args       []string
		controller bool
	}{
		{"up", []string{"--data-dir", "data", "--cache-dir", "cache"}, false},
		{"up default", []string{"--cache-dir", "./cache"}, false},
		{"controller", []string{"--data-dir", "./data", "--cache-dir", "cache", "--database", "postgres://u:p@127.0.0.1/db"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseServe("onestack", tc.args, getenv, tc.controller)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(wd, "data"); c.dataDir != want {
				t.Errorf("data dir = %q, want %q", c.dataDir, want)
			}
			if want := filepath.Join(wd, "cache"); c.cacheDir != want {
				t.Errorf("cache dir = %q, want %q", c.cacheDir, want)
			}
		})
	}
}
