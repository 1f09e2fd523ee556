package cloud_test

import (
	"context"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/bench"
	"github.com/onestack/onestack/internal/cloudtest"
)

func TestPurgeDeletedRemovesServersPastRetention(t *testing.T) {
	env := cloudtest.NewWith(t, cloudtest.Options{DeletedRetention: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Boot and delete a few servers through the API.
	res, err := bench.Run(ctx, bench.Config{
		CloudURL:    env.URL,
		Credentials: bench.Credentials{Username: "admin", Password: cloudtest.AdminPassword, UserDomain: "Default", Project: "admin", ProjectDomain: "Default"},
		Servers:     5, Concurrency: 2, WaitTimeout: 30 * time.Second,
	})
	if err != nil || res.Failures != 0 {
		t.Fatalf("bench: %v %+v", err, res)
	}
	tok := env.Token(t, "admin", cloudtest.AdminPassword, "admin")
	deleted := func() int {
		r := env.Do(t, "GET", "/compute/v2.1/servers?deleted=true", tok, nil)
		return len(r.JSON(t)["servers"].([]any))
	}
	if n := deleted(); n != 5 {
		t.Fatalf("%d deleted servers listed before the purge, want 5", n)
	}
	time.Sleep(5 * time.Millisecond) // past the retention
	n, err := env.Cloud.PurgeDeleted(ctx)
	if err != nil || n != 5 {
		t.Fatalf("purged %d (%v), want 5", n, err)
	}
	if n := deleted(); n != 0 {
		t.Errorf("%d deleted servers listed after the purge, want 0", n)
	}
}
