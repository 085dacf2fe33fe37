package cmd

import (
	"io"
	"strings"
	"unicode/utf8"
)

// table is rows of cells, the first row the header, printed in columns
// two spaces apart. On a terminal narrower than the table, the columns
// named in drop go first, in that order, until it fits (the JSON and
// Markdown reports always have them all).
type table struct {
	rows [][]string
	drop []string
}

// width is the printed width of the table with the columns kept.
func (t *table) width(keep []bool) int {
	w := 0
	for c, k := range keep {
		if !k {
			continue
		}
		m := 0
		for _, r := range t.rows {
			if c < len(r) {
				m = max(m, utf8.RuneCountInString(r[c]))
			}
		}
		if w > 0 {
			w += 2
		}
		w += m
	}
	return w
}

// write prints the table to w within columns (0: no limit).
func (t *table) write(w io.Writer, columns int) {
	if len(t.rows) == 0 {
		return
	}
	keep := make([]bool, len(t.rows[0]))
	for i := range keep {
		keep[i] = true
	}
	for _, name := range t.drop {
		if columns <= 0 || t.width(keep) <= columns {
			break
		}
		for c, h := range t.rows[0] {
			if h == name {
				keep[c] = false
			}
		}
	}
	widths := make([]int, len(keep))
	for _, r := range t.rows {
		for c, cell := range r {
			if c < len(widths) {
				widths[c] = max(widths[c], utf8.RuneCountInString(cell))
			}
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		b.Reset()
		first := true
		for c, cell := range r {
			if c >= len(keep) || !keep[c] {
				continue
			}
			if !first {
				b.WriteString("  ")
			}
			first = false
			b.WriteString(cell)
			b.WriteString(strings.Repeat(" ", widths[c]-utf8.RuneCountInString(cell)))
		}
		io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n")
	}
}
