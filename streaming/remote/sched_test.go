package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func fakeRunner(names ...string) (*Runner, []*Host, *bytes.Buffer) {
	var warn bytes.Buffer
	r := &Runner{warn: &warn, busy: map[*Host]int{}, failures: map[*Host]int{}, excluded: map[*Host]bool{},
		last: map[string]*Host{}, changed: make(chan struct{})}
	var hs []*Host
	for _, n := range names {
		h := &Host{Login: Login{Host: n, Slots: 1}, lost: make(chan struct{})}
		hs = append(hs, h)
	}
	r.hosts = hs
	return r, hs, &warn
}

func TestSchedule(t *testing.T) {
	ctx := context.Background()
	r, hs, warn := fakeRunner("a", "b")
	fail := errors.New("mapper failed")

	// A retry avoids the host of the failed attempt when another is free.
	h, _ := r.acquire(ctx, "m1")
	r.release(h, "m1", fail, ctx)
	h2, _ := r.acquire(ctx, "m1")
	if h2 == h {
		t.Errorf("retry of m1 on %s again", h.Login.Host)
	}
	r.release(h2, "m1", nil, ctx)

	// But uses it when it is the only one with a free slot.
	other, _ := r.acquire(ctx, "m2")
	if other == h {
		other2, _ := r.acquire(ctx, "m9")
		r.release(other, "m2", nil, ctx)
		other = other2
	}
	h3, err := r.acquire(ctx, "m1")
	if err != nil || h3 != h {
		t.Errorf("acquire with one free host = %v, %v", h3, err)
	}
	r.release(h3, "m1", nil, ctx)
	r.release(other, "m2", nil, ctx)

	// Three failures exclude a host, with one warning.
	a := hs[0]
	for i := 0; i < MaxHostFailures; i++ {
		r.mu.Lock()
		r.busy[a]++
		r.mu.Unlock()
		r.release(a, fmt.Sprintf("m%d", 10+i), fail, ctx)
	}
	if !r.excluded[a] || strings.Count(warn.String(), "excluded") != 1 {
		t.Errorf("after %d failures: excluded %v, warnings %q", MaxHostFailures, r.excluded[a], warn.String())
	}
	for i := 0; i < 3; i++ {
		h, _ := r.acquire(ctx, "m20")
		if h == a {
			t.Fatal("an excluded host got a task")
		}
		r.release(h, "m20", nil, ctx)
	}

	// A lost host's failures do not count against it.
	r2, hs2, _ := fakeRunner("c")
	for i := 0; i < 5; i++ {
		h, _ := r2.acquire(ctx, "m1")
		r2.release(h, "m1", fmt.Errorf("x: %w", ErrHostLost), ctx)
	}
	if r2.excluded[hs2[0]] {
		t.Error("a host excluded for losses")
	}

	// Waiting for a slot ends with the context, and at once when every
	// host is gone.
	b := hs[1]
	hb, _ := r.acquire(ctx, "m30")
	if hb != b {
		t.Fatalf("acquire = %v, want b", hb)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := r.acquire(cctx, "m31"); err == nil {
		t.Error("acquire with no free slot returned")
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.acquire(ctx, "m32")
		done <- err
	}()
	b.lose(errors.New("gone"))
	r.signal()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "no host left") {
		t.Errorf("acquire after every host was lost: %v", err)
	}
}

// TestScheduleNear: a reduce task goes to the host keeping most of its
// input among the least busy hosts only.
func TestScheduleNear(t *testing.T) {
	ctx := context.Background()
	r, hs, _ := fakeRunner("a", "b", "c")
	for _, h := range hs {
		h.Login.Slots = 2
	}
	b := hs[1]
	if h, _ := r.acquireNear(ctx, "r0", b); h != b {
		t.Errorf("idle hosts: r0 on %s, want b", h.Login.Host)
	}
	for i := 1; i < 3; i++ {
		if h, _ := r.acquireNear(ctx, fmt.Sprintf("r%d", i), b); h == b {
			t.Errorf("r%d on the busier b", i)
		}
	}
	if h, _ := r.acquireNear(ctx, "r3", b); h != b {
		t.Errorf("even load again: r3 on %s, want b", h.Login.Host)
	}
}
