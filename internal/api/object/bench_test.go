package object_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/onestack/onestack/internal/cloudtest"
	"github.com/onestack/onestack/internal/store"
	"github.com/onestack/onestack/internal/storetest"
)

// benchCloud is a test cloud for benchmarks on the backend
// ONESTACK_BENCH_BACKEND names (sqlite by default), with the admin's token
// and account.
type benchCloud struct {
	*cloudtest.Env
	tok, acct string
	client    *http.Client
}

func newBenchCloud(b *testing.B) *benchCloud {
	b.Helper()
	backend := os.Getenv("ONESTACK_BENCH_BACKEND")
	if backend == "" {
		backend = "sqlite"
	}
	if backend == "postgres" && os.Getenv(storetest.EnvPostgres) == "" {
		b.Skip("ONESTACK_BENCH_BACKEND=postgres needs " + storetest.EnvPostgres)
	}
	env := cloudtest.NewWith(b, cloudtest.Options{Backend: backend, Hosts: 1, MaxRequestsPerClient: -1})
	c := &benchCloud{Env: env, tok: env.Token(b, "admin", cloudtest.AdminPassword, "admin"),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}}
	r := env.Do(b, "GET", "/identity/v3/auth/projects", c.tok, nil)
	for _, p := range r.JSON(b)["projects"].([]any) {
		if m := p.(map[string]any); m["name"] == "admin" {
			c.acct = "/object/v1/AUTH_" + m["id"].(string)
		}
	}
	c.send(b, "PUT", c.acct+"/bench", nil, 201)
	return c
}

// send makes one request, drains the answer into io.Discard and checks
// its status; it returns the bytes received.
func (c *benchCloud) send(b *testing.B, method, path string, body io.Reader, want int, headers ...string) int64 {
	req, err := http.NewRequest(method, c.URL+path, body)
	if err != nil {
		b.Fatal(err)
	}
	if r, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(r.Len())
	}
	req.Header.Set("X-Auth-Token", c.tok)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d", method, path, res.StatusCode, want)
	}
	return n
}

// ddMBps runs dd over the same bytes: writing them to a file in dir with
// fsync (as a PUT syncs), and reading that file back to /dev/null (from
// the page cache, as a GET of a just-written object reads).
func ddMBps(b *testing.B, dir string, data []byte) (write, read float64) {
	b.Helper()
	out := filepath.Join(dir, "dd.bin")
	defer os.Remove(out)
	cmd := exec.Command("dd", "of="+out, "bs=1M", "iflag=fullblock", "conv=fsync", "status=none")
	cmd.Stdin = bytes.NewReader(data)
	start := time.Now()
	if o, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("dd write: %v %s", err, o)
	}
	write = float64(len(data)) / 1e6 / time.Since(start).Seconds()
	start = time.Now()
	if o, err := exec.Command("dd", "if="+out, "of=/dev/null", "bs=1M", "status=none").CombinedOutput(); err != nil {
		b.Fatalf("dd read: %v %s", err, o)
	}
	read = float64(len(data)) / 1e6 / time.Since(start).Seconds()
	return write, read
}

// loopbackMBps is how fast this machine moves the bytes of a file over a
// loopback TCP connection to a reader that discards them, with sendfile:
// the ceiling of any HTTP GET here, whatever the server does.
func loopbackMBps(b *testing.B, dir string, data []byte) float64 {
	b.Helper()
	path := filepath.Join(dir, "loop.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	defer os.Remove(path)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	start := time.Now()
	_, _ = io.Copy(conn, f)
	conn.Close()
	if n := <-done; n != int64(len(data)) {
		b.Fatalf("loopback moved %d bytes", n)
	}
	return float64(len(data)) / 1e6 / time.Since(start).Seconds()
}

// md5MBps is how fast this machine hashes the bytes: a PUT must (its ETag
// is their MD5), on one core.
func md5MBps(data []byte) float64 {
	start := time.Now()
	md5.Sum(data)
	return float64(len(data)) / 1e6 / time.Since(start).Seconds()
}

// benchThroughput times PUT and GET of size-byte objects against dd of the
// same bytes in the same run, and reports MB/s and the ratios.
func benchThroughput(b *testing.B, size int) {
	c := newBenchCloud(b)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	var putT, getT time.Duration
	var ddW, ddR, md5R, loop float64
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("%s/o%d", c.acct+"/bench", i%4)
		start := time.Now()
		c.send(b, "PUT", name, bytes.NewReader(data), 201)
		putT += time.Since(start)
		start = time.Now()
		if n := c.send(b, "GET", name, nil, 200); n != int64(size) {
			b.Fatalf("GET returned %d bytes", n)
		}
		getT += time.Since(start)
		w, r := ddMBps(b, c.Cloud.DataDir(), data)
		ddW, ddR, md5R = ddW+w, ddR+r, md5R+md5MBps(data)
		loop += loopbackMBps(b, c.Cloud.DataDir(), data)
		i++
	}
	n := float64(i)
	put := float64(size) * n / 1e6 / putT.Seconds()
	get := float64(size) * n / 1e6 / getT.Seconds()
	b.ReportMetric(put, "PUT-MB/s")
	b.ReportMetric(get, "GET-MB/s")
	b.ReportMetric(ddW/n, "dd-write-MB/s")
	b.ReportMetric(ddR/n, "dd-read-MB/s")
	b.ReportMetric(md5R/n, "md5-MB/s")
	b.ReportMetric(100*put/(ddW/n), "PUT-%-of-dd")
	b.ReportMetric(100*get/(ddR/n), "GET-%-of-dd")
	b.ReportMetric(100*put/min(ddW/n, md5R/n), "PUT-%-of-min(dd,md5)")
	b.ReportMetric(loop/n, "loopback-sendfile-MB/s")
	b.ReportMetric(100*get/min(ddR/n, loop/n), "GET-%-of-min(dd,loopback)")
}

// BenchmarkThroughput1MiB: PUT and GET of 1 MiB objects vs dd.
func BenchmarkThroughput1MiB(b *testing.B) { benchThroughput(b, 1<<20) }

// BenchmarkThroughput256MiB: PUT and GET of 256 MiB objects vs dd.
func BenchmarkThroughput256MiB(b *testing.B) { benchThroughput(b, 256<<20) }

// BenchmarkSmallObjects32Clients: 32 clients PUT, then GET, 4 KiB objects;
// the rate and the p99 latency of each.
func BenchmarkSmallObjects32Clients(b *testing.B) {
	c := newBenchCloud(b)
	const clients, perClient = 32, 100
	data := bytes.Repeat([]byte("x"), 4096)
	run := func(method string, want int) (rate float64, p99 time.Duration) {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		for w := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, perClient)
				for j := range perClient {
					var body io.Reader
					if method == "PUT" {
						body = bytes.NewReader(data)
					}
					t := time.Now()
					c.send(b, method, fmt.Sprintf("%s/bench/small-%d-%d", c.acct, w, j), body, want)
					local = append(local, time.Since(t))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)*99/100]
	}
	var putRate, getRate float64
	var putP99, getP99 time.Duration
	n := 0
	for b.Loop() {
		r, p := run("PUT", 201)
		putRate, putP99 = putRate+r, putP99+p
		r, p = run("GET", 200)
		getRate, getP99 = getRate+r, getP99+p
		n++
	}
	b.ReportMetric(putRate/float64(n), "PUT/s")
	b.ReportMetric(float64(putP99.Microseconds())/1000/float64(n), "PUT-p99-ms")
	b.ReportMetric(getRate/float64(n), "GET/s")
	b.ReportMetric(float64(getP99.Microseconds())/1000/float64(n), "GET-p99-ms")
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkListing1M fills a container with 1,000,000 object rows and
// times listings: the first page as Swift answers it by default (10,000
// names, plain text, and in JSON as the swift and openstack CLIs ask for
// it), a JSON page of 1,000, and the same deep in the
// container (after a marker half-way), which a keyset query serves as
// fast as the first. Reports p50 and p99 over 200 requests each.
func BenchmarkListing1M(b *testing.B) {
	c := newBenchCloud(b)
	total := 1000000
	if v, err := strconv.Atoi(os.Getenv("ONESTACK_BENCH_LISTING_ROWS")); err == nil && v >= 20000 {
		total = v // a smaller container, for profiling
	}
	account := strings.TrimPrefix(c.acct, "/object/v1/")
	fill := time.Now()
	now := time.Now()
	for start := 0; start < total; start += 20000 {
		err := c.Cloud.DB.Write(context.Background(), func(tx *store.Tx) error {
			for i := start; i < start+20000; i++ {
				o := store.Object{ID: fmt.Sprintf("%032x", i), Account: account, Container: "bench", Name: fmt.Sprintf("photos/%04d/%07d.jpg", i%1000, i),
					Size: 4096, ListSize: 4096, ETag: "0f343b0931126a20f133d67c2b018a3b", ContentType: "image/jpeg", Modified: now, Metadata: map[string]string{}}
				if err := tx.CreateObject(context.Background(), o); err != nil {
					return err
				}
			}
			return tx.AddObjectContainerUsage(context.Background(), account, "bench", 20000, 20000*4096)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d rows in %v", total, time.Since(fill).Round(time.Second))
	time1 := func(path string, wantBytes int) time.Duration {
		t := time.Now()
		if n := c.send(b, "GET", path, nil, 200); n < int64(wantBytes) {
			b.Fatalf("GET %s: %d bytes", path, n)
		}
		return time.Since(t)
	}
	pct := func(ds []time.Duration, p int) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)*p/100].Microseconds()) / 1000
	}
	cases := []struct{ name, query string }{
		{"first-10000-plain", ""},
		{"first-10000-json", "?format=json"},
		{"first-1000-json", "?format=json&limit=1000"},
		{"deep-1000-json", "?format=json&limit=1000&marker=photos/0500/"},
		{"prefix-delimiter", "?prefix=photos/0500/&delimiter=/&limit=1000"},
	}
	lat := make([][]time.Duration, len(cases))
	cpu := make([]time.Duration, len(cases))
	for b.Loop() {
		for i, k := range cases {
			lat[i] = lat[i][:0]
			before := cpuTime()
			for range 200 {
				lat[i] = append(lat[i], time1(c.acct+"/bench"+k.query, 1000))
			}
			cpu[i] = (cpuTime() - before) / 200
		}
	}
	// Latency percentiles depend on what else the machine runs; the CPU
	// time per request (client and server, both in this process) is what
	// one listing costs, and its latency on an idle core.
	for i, k := range cases {
		b.ReportMetric(pct(lat[i], 50), k.name+"-p50-ms")
		b.ReportMetric(pct(lat[i], 99), k.name+"-p99-ms")
		b.ReportMetric(float64(cpu[i].Microseconds())/1000, k.name+"-cpu-ms")
	}
}
