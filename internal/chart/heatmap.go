package chart

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	colormap "gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Heatmap is a matrix drawn as colored cells, an attention alignment for instance: Values[r][c]
// is the cell of row r (drawn top to bottom, labelled YTicks[r]) and column c (XTicks[c]),
// from white at 0 to black at 1 (values are clamped to [0, 1]).
type Heatmap struct {
	Title, XLabel, YLabel string
	XTicks, YTicks        []string
	Values                [][]float64
}

type grid struct{ v [][]float64 }

func (g grid) Dims() (c, r int)   { return len(g.v[0]), len(g.v) }
func (g grid) Z(c, r int) float64 { return math.Min(1, math.Max(0, g.v[len(g.v)-1-r][c])) }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }
func (g grid) Min() float64       { return 0 }
func (g grid) Max() float64       { return 1 }
func (h Heatmap) rows() int       { return len(h.Values) }

// Save draws the heatmap into a PNG file at path, with square cells.
func (h Heatmap) Save(path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", path, r)
		}
	}()
	if h.rows() == 0 || len(h.Values[0]) == 0 {
		return fmt.Errorf("plot %s: %w", path, ErrNoData)
	}
	for _, row := range h.Values {
		if len(row) != len(h.Values[0]) {
			return fmt.Errorf("plot %s: rows of unequal lengths", path)
		}
	}
	cols, rows := len(h.Values[0]), h.rows()
	p := plot.New()
	p.Title.Text = h.Title
	p.X.Label.Text, p.Y.Label.Text = h.XLabel, h.YLabel
	// ExtendedBlackBody runs from black to white: reversed, 0 is white.
	p.Add(plotter.NewHeatMap(grid{h.Values}, colormap.Reverse(moreland.ExtendedBlackBody()).Palette(64)))
	labels := func(names []string, n int, flip bool) plot.ConstantTicks {
		var ticks plot.ConstantTicks
		for i := range n {
			label := ""
			if i < len(names) {
				label = names[i]
			}
			pos := float64(i)
			if flip {
				pos = float64(n - 1 - i)
			}
			ticks = append(ticks, plot.Tick{Value: pos, Label: label})
		}
		return ticks
	}
	p.X.Tick.Marker = labels(h.XTicks, cols, false)
	p.Y.Tick.Marker = labels(h.YTicks, rows, true)
	cell := vg.Points(22)
	img := vgimg.New(cell*vg.Length(cols)+vg.Inch, cell*vg.Length(rows)+vg.Inch)
	p.Draw(draw.New(img))
	return writePNG(path, img)
}
