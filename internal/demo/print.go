package demo

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printer writes the transcript: each line stamped with the simulated
// time, colour only when asked.
type printer struct {
	out   io.Writer
	color bool
	now   func() time.Time
}

const (
	cReset  = "\x1b[0m"
	cBold   = "\x1b[1m"
	cDim    = "\x1b[2m"
	cRed    = "\x1b[31m"
	cGreen  = "\x1b[32m"
	cYellow = "\x1b[33m"
	cCyan   = "\x1b[36m"
)

func (p *printer) paint(code, s string) string {
	if !p.color || s == "" {
		return s
	}
	return code + s + cReset
}

func (p *printer) stamp() string { return p.paint(cDim, p.now().UTC().Format("15:04:05")) }

// heading prints a step title.
func (p *printer) heading(n int, title string) {
	fmt.Fprintf(p.out, "\n%s %s\n", p.paint(cBold+cCyan, fmt.Sprintf("%d.", n)), p.paint(cBold, title))
}

// say prints a plain line.
func (p *printer) say(format string, a ...any) {
	fmt.Fprintf(p.out, "  %s  %s\n", p.stamp(), fmt.Sprintf(format, a...))
}

// ok, bad and warn print a line with a coloured mark.
func (p *printer) ok(format string, a ...any) {
	fmt.Fprintf(p.out, "  %s  %s %s\n", p.stamp(), p.paint(cGreen, "✓"), fmt.Sprintf(format, a...))
}

func (p *printer) bad(format string, a ...any) {
	fmt.Fprintf(p.out, "  %s  %s %s\n", p.stamp(), p.paint(cRed, "✗"), fmt.Sprintf(format, a...))
}

func (p *printer) warn(format string, a ...any) {
	fmt.Fprintf(p.out, "  %s  %s %s\n", p.stamp(), p.paint(cYellow, "!"), fmt.Sprintf(format, a...))
}

// detail prints an indented continuation line, wrapped at about 100
// columns.
func (p *printer) detail(label, text string) {
	const width = 96
	pad := strings.Repeat(" ", 14)
	words := strings.Fields(text)
	line := pad + p.paint(cDim, label) + " "
	n := len(pad) + len(label) + 1
	for _, w := range words {
		if n+len(w) > width && n > len(pad)+len(label)+1 {
			fmt.Fprintln(p.out, strings.TrimRight(line, " "))
			line, n = pad+strings.Repeat(" ", len(label)+1), len(pad)+len(label)+1
		}
		line += w + " "
		n += len(w) + 1
	}
	fmt.Fprintln(p.out, strings.TrimRight(line, " "))
}

// table prints rows aligned under a header.
func (p *printer) table(header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(widths) && len([]rune(c)) > widths[i] {
				widths[i] = len([]rune(c))
			}
		}
	}
	row := func(cells []string, code string) {
		var sb strings.Builder
		sb.WriteString("    ")
		for i, c := range cells {
			if i == len(cells)-1 {
				sb.WriteString(c)
				break
			}
			sb.WriteString(c + strings.Repeat(" ", widths[i]-len([]rune(c))+2))
		}
		fmt.Fprintln(p.out, p.paint(code, strings.TrimRight(sb.String(), " ")))
	}
	row(header, cDim)
	for _, r := range rows {
		row(r, "")
	}
}
