package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Churn is the result of the churn mode.
type Churn struct {
	Seconds         float64 `json:"seconds"`
	Rate            float64 `json:"rate_per_second"`
	LifetimeSeconds float64 `json:"lifetime_seconds"`
	Creates         int     `json:"creates"`
	Deletes         int     `json:"deletes"`
	// Skipped counts ticks with every client busy: the rate was not held.
	Skipped int      `json:"skipped"`
	Minutes []Minute `json:"minutes"`
	// DBBytesStart and DBBytesEnd size the SQLite store (database and
	// write-ahead log) in the data dir, or say "unknown".
	DBBytesStart any `json:"db_bytes_start"`
	DBBytesEnd   any `json:"db_bytes_end"`
}

// Minute is one minute of churn.
type Minute struct {
	Minute  int     `json:"minute"`
	Creates int     `json:"creates"`
	Deletes int     `json:"deletes"`
	Create  Latency `json:"create"`
	Delete  Latency `json:"delete"`
	Show    Latency `json:"show"`
	List    Latency `json:"list"`
	DBBytes any     `json:"db_bytes"`
}

type minuteRec struct {
	create, del, show, list recorder
}

func (b *run) dbBytes() any {
	if n, ok := dbSize(b.cfg.DataDir); ok {
		return n
	}
	return "unknown"
}

// churn creates Rate servers per second for the duration, deletes each
// Lifetime after its create, shows one live server per second and lists
// one page every five seconds; then it deletes what is left.
func (b *run) churn(ctx context.Context, r *Result) error {
	cfg := b.cfg
	log := cfg.Log
	ch := &Churn{Rate: cfg.Rate, LifetimeSeconds: cfg.Lifetime.Seconds(), DBBytesStart: b.dbBytes()}
	r.Churn = ch
	var mu sync.Mutex
	var mins []*minuteRec
	var dbAt []any
	type live struct {
		id      string
		created time.Time
	}
	var lives []live // oldest first
	start := time.Now()
	bucket := func() *minuteRec {
		m := int(time.Since(start) / time.Minute)
		mu.Lock()
		defer mu.Unlock()
		for len(mins) <= m {
			mins = append(mins, &minuteRec{})
		}
		return mins[m]
	}
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	spawn := func(fn func()) bool {
		select {
		case sem <- struct{}{}:
		default:
			return false
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn()
		}()
		return true
	}
	log.Info("churn", "duration", cfg.Churn, "rate", cfg.Rate, "lifetime", cfg.Lifetime, "name_prefix", b.prefix)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	end := time.NewTimer(cfg.Churn)
	defer end.Stop()
	var seq, creates, deletes int
	lastShow, lastList, lastMinute := time.Time{}, time.Time{}, 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end.C:
			break loop
		case <-tick.C:
		}
		if m := int(time.Since(start) / time.Minute); m != lastMinute {
			mu.Lock()
			dbAt = append(dbAt, b.dbBytes())
			mu.Unlock()
			lastMinute = m
		}
		seq++
		name := fmt.Sprintf("%s%07d", b.prefix, seq)
		ok := spawn(func() {
			t := time.Now()
			id, err := b.create(ctx, name)
			if err != nil {
				b.fails.add(err)
				return
			}
			bucket().create.add(time.Since(t))
			mu.Lock()
			lives = append(lives, live{id, t})
			creates++
			mu.Unlock()
		})
		if !ok {
			mu.Lock()
			ch.Skipped++
			mu.Unlock()
		}
		// Delete what has lived long enough.
		mu.Lock()
		var due []string
		for len(lives) > 0 && time.Since(lives[0].created) >= cfg.Lifetime && len(due) < 4 {
			due, lives = append(due, lives[0].id), lives[1:]
		}
		mu.Unlock()
		for _, id := range due {
			id := id
			if !spawn(func() { b.deleteOne(ctx, id, bucket, &mu, &deletes) }) {
				mu.Lock()
				lives = append([]live{{id, time.Time{}}}, lives...) // retry on the next tick
				ch.Skipped++
				mu.Unlock()
			}
		}
		if time.Since(lastShow) >= time.Second {
			lastShow = time.Now()
			mu.Lock()
			var id string
			if len(lives) > 0 {
				id = lives[len(lives)/2+rand.IntN(len(lives)-len(lives)/2)].id
			}
			mu.Unlock()
			if id != "" {
				spawn(func() {
					t := time.Now()
					if err := b.c.do(ctx, "GET", "/compute/v2.1/servers/"+id, nil, nil); err != nil {
						b.fails.add(err)
						return
					}
					bucket().show.add(time.Since(t))
				})
			}
		}
		if time.Since(lastList) >= 5*time.Second {
			lastList = time.Now()
			spawn(func() {
				t := time.Now()
				if err := b.c.do(ctx, "GET", fmt.Sprintf("/compute/v2.1/servers/detail?limit=%d", cfg.ListLimit), nil, nil); err != nil {
					b.fails.add(err)
					return
				}
				bucket().list.add(time.Since(t))
			})
		}
	}
	wg.Wait()
	ch.Seconds = round(time.Since(start).Seconds(), 2)
	ch.Creates, ch.Deletes = creates, deletes
	log.Info("churn over; counting errors and deleting what is left", "creates", creates, "deletes", deletes, "left", len(lives))
	if err := b.waitCount(ctx, "BUILD", 0); err != nil {
		b.fails.add(err)
	}
	var err error
	if r.Errors, err = b.count(ctx, "ERROR"); err != nil {
		return err
	}
	var delLat recorder
	b.parallel(ctx, len(lives), func(i int) {
		t := time.Now()
		if err := b.c.do(ctx, "DELETE", "/compute/v2.1/servers/"+lives[i].id, nil, nil); err != nil && !isNotFound(err) {
			b.fails.add(err)
			return
		}
		delLat.add(time.Since(t))
	})
	if err := b.waitCount(ctx, "", 0); err != nil {
		b.fails.add(err)
	}
	r.Delete = delLat.summary()
	ch.DBBytesEnd = b.dbBytes()
	for i, m := range mins {
		mm := Minute{Minute: i + 1, Create: m.create.summary(), Delete: m.del.summary(), Show: m.show.summary(), List: m.list.summary()}
		mm.Creates, mm.Deletes = mm.Create.Count, mm.Delete.Count
		if i < len(dbAt) {
			mm.DBBytes = dbAt[i]
		} else {
			mm.DBBytes = ch.DBBytesEnd
		}
		ch.Minutes = append(ch.Minutes, mm)
	}
	r.Servers = creates
	return ctx.Err()
}

func (b *run) deleteOne(ctx context.Context, id string, bucket func() *minuteRec, mu *sync.Mutex, deletes *int) {
	t := time.Now()
	if err := b.c.do(ctx, "DELETE", "/compute/v2.1/servers/"+id, nil, nil); err != nil && !isNotFound(err) {
		b.fails.add(err)
		return
	}
	bucket().del.add(time.Since(t))
	mu.Lock()
	*deletes++
	mu.Unlock()
}
