package main

import (
	"context"
	"strings"
	"testing"
)

// TestImageCmdUsage checks the argument errors; the build itself is
// tested in internal/guestimage.
func TestImageCmdUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no verb", nil, "usage: onestack image build-tiny"},
		{"unknown verb", []string{"build-huge"}, "usage: onestack image build-tiny"},
		{"no output", []string{"build-tiny"}, "--output is required"},
		{"stray argument", []string{"build-tiny", "--output", "x.qcow2", "extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"build-tiny", "--size", "1"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := imageCmd(context.Background(), tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("imageCmd(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}
