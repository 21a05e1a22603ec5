// Package chart draws the line charts of the examples and benchmarks (PNG, with gonum/plot).
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one line: its name in the legend and its points. NaN values are skipped.
// Color, when positive, picks palette entry Color-1 so related series can share a color.
type Series struct {
	Name string
	X, Y []float64
	// Color indexes the palette (0 = by position); Dashed draws a dashed line (a peer, say).
	Color  int
	Dashed bool
}

// Chart describes a chart.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	// YMax, when above the data, raises the top of the y axis (room for the legend); 0 = fit the data.
	YMax   float64
	Series []Series
}

var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

// ErrNoData is Save's error for a chart with no point to draw (none at all, or none positive on a
// log axis); no file is written.
var ErrNoData = errors.New("no data to plot")

// Save draws the chart into a PNG file at path, 8x5 inches.
func (c Chart) Save(path string) (err error) {
	defer func() {
		// gonum/plot panics on some degenerate axes; a chart is never worth a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", path, r)
		}
	}()
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	if c.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if !c.LogX {
		p.X.Tick.Marker = niceTicks{}
	}
	if !c.LogY {
		p.Y.Tick.Marker = niceTicks{}
	}
	legend := plot.NewLegend() // drawn beside the data, not over it
	legend.Top = true
	legend.Left = true
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range c.Series {
		var pts plotter.XYs
		for j := range s.X {
			if j < len(s.Y) && !math.IsNaN(s.Y[j]) && !math.IsNaN(s.X[j]) && (!c.LogX || s.X[j] > 0) && (!c.LogY || s.Y[j] > 0) {
				pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		drawn += len(pts)
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		ci := i
		if s.Color > 0 {
			ci = s.Color - 1
		}
		col := palette[ci%len(palette)]
		line.Color = col
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		line.Width = vg.Points(1.5)
		points.Color = col
		points.Radius = vg.Points(1.5)
		p.Add(line)
		if len(pts) <= 60 {
			p.Add(points)
		}
		legend.Add(s.Name, line)
	}
	if drawn == 0 {
		return fmt.Errorf("plot %s: %w", path, ErrNoData)
	}
	if c.YMax > p.Y.Max {
		p.Y.Max = c.YMax
	}
	img := vgimg.New(8*vg.Inch, 5*vg.Inch)
	dc := draw.New(img)
	width := legend.Rectangle(dc).Size().X + vg.Points(12)
	p.Draw(draw.Crop(dc, 0, -width, 0, 0))
	legendArea := draw.Crop(dc, dc.Max.X-dc.Min.X-width+vg.Points(6), 0, 0, -vg.Points(30)) // below the title's height
	legend.Draw(legendArea)
	return writePNG(path, img)
}

// writePNG writes img into a PNG file at path.
func writePNG(path string, img *vgimg.Canvas) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Close()
}

// niceTicks labels a linear axis at round steps (1, 2 or 5 times a power of ten) that give it 5 to 10
// labels, with an unlabelled tick halfway between: gonum's default labels only 3 or 4 values.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 10 {
			step *= m
			break
		}
	}
	prec := max(0, -int(math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		if half := v + step/2; half <= hi {
			ticks = append(ticks, plot.Tick{Value: half})
		}
	}
	return ticks
}
