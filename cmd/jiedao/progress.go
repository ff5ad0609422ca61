package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// progress draws a bar on a terminal and writes a plain line every few
// seconds otherwise (logs, CI).
type progress struct {
	w     io.Writer
	label string
	bar   *progressbar.ProgressBar
	last  time.Time
	done  int64
	total int64
}

func newProgress(w io.Writer, label string) *progress {
	p := &progress{w: w, label: label, last: time.Now()}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowBytes(false), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	return p
}

// Set reports done out of total (total 0 when unknown).
func (p *progress) Set(done, total int64) {
	p.done, p.total = done, total
	if p.bar != nil {
		if total > 0 && p.bar.GetMax64() != total {
			p.bar.ChangeMax64(total)
		}
		p.bar.Set64(done)
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		if total > 0 {
			fmt.Fprintf(p.w, "%s: %.0f%%\n", p.label, 100*float64(done)/float64(total))
		} else {
			fmt.Fprintf(p.w, "%s: %d\n", p.label, done)
		}
	}
}

// Done finishes the bar.
func (p *progress) Done() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
