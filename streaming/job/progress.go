package job

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// progress shows how the job advances.
type progress interface {
	// phase starts a phase of tasks tasks, of which done are done; bytes,
	// when read is not nil, is the input the phase reads, read advancing
	// as it is read.
	phase(name string, tasks int, bytes int64, read func() int64, done int)
	taskDone()
	// println prints a message line without disturbing the display.
	println(line string)
	stop()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// termSize returns the columns and rows of the terminal w (0 when
// unknown).
func termSize(w io.Writer) (cols, rows int) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Col), int(ws.Row)
}

// fitsBars reports whether the terminal w has room for bars: a terminal
// that says it has no columns or no rows (a pseudo-terminal nobody sized)
// gets lines, since the bars would draw nothing there.
func fitsBars(w io.Writer) bool {
	cols, rows := termSize(w)
	return cols > 0 && rows > 0
}

func newProgress(ctx context.Context, o *Options) progress {
	w := o.Stderr
	if w == nil {
		w = io.Discard
	}
	tty := isTerminal(w)
	switch {
	case o.Quiet || o.Progress == ProgressOff:
		return &lines{w: w}
	case tty && fitsBars(w):
		return newBars(ctx, w, o.Name)
	}
	return &lines{w: w, name: o.Name, show: true, start: time.Now()}
}

// lines prints a plain line per phase change (or nothing but messages).
type lines struct {
	mu    sync.Mutex
	w     io.Writer
	name  string
	show  bool
	start time.Time
	cur   string
	t0    time.Time
	tasks int
	done  int
}

func (l *lines) phase(name string, tasks int, bytes int64, _ func() int64, done int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.show {
		return
	}
	l.end()
	l.cur, l.t0, l.tasks, l.done = name, time.Now(), tasks, done
	if bytes > 0 {
		fmt.Fprintf(l.w, "%s: %s: %d tasks, %s", l.name, name, tasks, humanBytes(bytes))
	} else {
		fmt.Fprintf(l.w, "%s: %s: %d tasks", l.name, name, tasks)
	}
	if done > 0 {
		fmt.Fprintf(l.w, " (%d done before)", done)
	}
	fmt.Fprintln(l.w)
}

// end reports the end of the current phase.
func (l *lines) end() {
	if l.cur != "" {
		fmt.Fprintf(l.w, "%s: %s: %d/%d tasks done in %.2f s\n", l.name, l.cur, l.done, l.tasks, time.Since(l.t0).Seconds())
		l.cur = ""
	}
}

func (l *lines) taskDone() {
	l.mu.Lock()
	l.done++
	l.mu.Unlock()
}

func (l *lines) println(s string) {
	l.mu.Lock()
	fmt.Fprintln(l.w, s)
	l.mu.Unlock()
}

func (l *lines) stop() {
	l.mu.Lock()
	if l.show {
		l.end()
	}
	l.mu.Unlock()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// bars shows progress bars on a terminal, updated in place.
type bars struct {
	name  string
	p     *mpb.Progress
	mu    sync.Mutex
	bar   *mpb.Bar
	tasks *atomic.Int64
	stopc chan struct{}
	wg    sync.WaitGroup
	all   []*mpb.Bar
	// byTasks: the current bar counts tasks, not bytes; total is its
	// total.
	byTasks bool
	total   int64
}

func newBars(ctx context.Context, w io.Writer, name string) *bars {
	return &bars{name: name, p: mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(40),
		mpb.WithRefreshRate(150*time.Millisecond)), stopc: make(chan struct{})}
}

func (b *bars) phase(name string, tasks int, bytes int64, read func() int64, done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finishBar()
	// Each phase counts its own tasks.
	count := new(atomic.Int64)
	count.Store(int64(done))
	b.tasks = count
	byBytes := read != nil && bytes > 0
	taskDecor := decor.Any(func(decor.Statistics) string {
		return fmt.Sprintf("%d/%d tasks", count.Load(), tasks)
	}, decor.WCSyncWidth)
	var pre, app []decor.Decorator
	pre = append(pre, decor.Name(fmt.Sprintf("%-7s", name)), taskDecor)
	total := int64(tasks)
	if byBytes {
		total = bytes
		pre = append(pre, decor.Name(" "), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncWidth))
		app = append(app, decor.OnComplete(decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WC{W: 14}), "done"),
			decor.Name(" "), decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO), ""))
	} else {
		app = append(app, decor.OnComplete(decor.Percentage(decor.WC{W: 5}), "done"))
	}
	bar := b.p.AddBar(max(total, 1), mpb.PrependDecorators(pre...), mpb.AppendDecorators(app...))
	if byBytes {
		bar.SetCurrent(min(read(), bytes-1))
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					if bar.Completed() || bar.Aborted() {
						return
					}
					bar.SetCurrent(min(read(), bytes-1))
				case <-b.stopc:
					return
				}
			}
		}()
	} else {
		bar.SetCurrent(int64(done))
	}
	b.byTasks = !byBytes
	b.bar, b.total = bar, max(total, 1)
	b.all = append(b.all, bar)
}

// finishBar completes the current bar.
func (b *bars) finishBar() {
	if b.bar != nil && !b.bar.Completed() && !b.bar.Aborted() {
		b.bar.SetCurrent(b.total)
	}
}

func (b *bars) taskDone() {
	b.mu.Lock()
	if b.tasks != nil {
		b.tasks.Add(1)
	}
	if b.bar != nil && b.byTasks {
		b.bar.Increment()
	}
	b.mu.Unlock()
}

func (b *bars) println(s string) {
	b.p.Write([]byte(s + "\n"))
}

func (b *bars) stop() {
	close(b.stopc)
	b.wg.Wait()
	b.mu.Lock()
	b.finishBar()
	for _, bar := range b.all {
		if !bar.Completed() {
			bar.Abort(false)
		}
	}
	b.mu.Unlock()
	b.p.Wait()
}
