package optim

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// ScheduleKind names a learning-rate schedule.
type ScheduleKind string

// Schedules.
const (
	Constant ScheduleKind = "constant" // Peak after warmup
	Cosine   ScheduleKind = "cosine"   // after warmup, cosine from Peak to Floor at TotalSteps
	Linear   ScheduleKind = "linear"   // after warmup, straight line from Peak to Floor at TotalSteps
	Noam     ScheduleKind = "noam"     // inverse square root: Peak·min(s/W, sqrt(W/s)) (Vaswani et al. 2017)
)

// Schedule is a learning rate as a function of the 1-based step s (the step being taken):
//
//	warmup (s <= WarmupSteps, all kinds but noam): Peak · s / WarmupSteps
//	constant: Peak
//	cosine:   Floor + (Peak - Floor) · (1 + cos(π·p)) / 2,  p = clamp((s - W) / (TotalSteps - W), 0, 1)
//	linear:   Peak + (Floor - Peak) · p
//	noam:     Peak · min(s / W, sqrt(W / s))
//
// Noam's form is Vaswani et al.'s d^-0.5 · min(s^-0.5, s·W^-1.5) normalised to peak at Peak when s = W:
// their schedule is Peak = d^-0.5 · W^-0.5.
type Schedule struct {
	Kind ScheduleKind
	// Peak is the learning rate after warmup (e.g. 1e-3).
	Peak float64
	// WarmupSteps is the length of the linear warmup (0 = none; noam needs it positive).
	WarmupSteps int
	// TotalSteps is where cosine and linear reach Floor (e.g. the run's length).
	TotalSteps int
	// Floor is the final learning rate of cosine and linear (e.g. Peak/10).
	Floor float64
}

// ConstantLR is a constant schedule without warmup.
func ConstantLR(lr float64) Schedule { return Schedule{Kind: Constant, Peak: lr} }

// Validate returns an error naming a bad value, or nil.
func (s Schedule) Validate() error {
	switch s.Kind {
	case Constant, Cosine, Linear, Noam:
	default:
		return fmt.Errorf("schedule kind %q is not one of constant, cosine, linear, noam", s.Kind)
	}
	if !(s.Peak > 0) || math.IsInf(s.Peak, 0) {
		return fmt.Errorf("schedule Peak %g must be a positive number", s.Peak)
	}
	if s.WarmupSteps < 0 {
		return fmt.Errorf("schedule WarmupSteps %d must not be negative", s.WarmupSteps)
	}
	if s.Kind == Noam && s.WarmupSteps == 0 {
		return fmt.Errorf("schedule noam needs WarmupSteps > 0")
	}
	if (s.Kind == Cosine || s.Kind == Linear) && s.TotalSteps <= s.WarmupSteps {
		return fmt.Errorf("schedule %s needs TotalSteps (%d) > WarmupSteps (%d)", s.Kind, s.TotalSteps, s.WarmupSteps)
	}
	if s.Floor < 0 || s.Floor > s.Peak {
		return fmt.Errorf("schedule Floor %g must be in [0, Peak=%g]", s.Floor, s.Peak)
	}
	return nil
}

// At returns the learning rate of the 1-based step s.
func (s Schedule) At(step int) float64 {
	st, w := float64(step), float64(s.WarmupSteps)
	if s.Kind == Noam {
		return s.Peak * math.Min(st/w, math.Sqrt(w/st))
	}
	if s.WarmupSteps > 0 && step <= s.WarmupSteps {
		return s.Peak * st / w
	}
	switch s.Kind {
	case Cosine, Linear:
		p := math.Min(1, math.Max(0, (st-w)/float64(s.TotalSteps-s.WarmupSteps)))
		if s.Kind == Cosine {
			return s.Floor + (s.Peak-s.Floor)*(1+math.Cos(math.Pi*p))/2
		}
		return s.Peak + (s.Floor-s.Peak)*p
	}
	return s.Peak
}

// Graph is [Schedule.At] in the graph: step is a float scalar node, and so is the result.
func (s Schedule) Graph(step *graph.Node) *graph.Node {
	g := step.Graph()
	dtype := step.DType()
	c := func(x float64) *graph.Node { return graph.Scalar(g, dtype, x) }
	w := float64(s.WarmupSteps)
	if s.Kind == Noam {
		return graph.MulScalar(graph.Min(graph.DivScalar(step, w), graph.Sqrt(graph.Div(c(w), step))), s.Peak)
	}
	var after *graph.Node
	switch s.Kind {
	case Cosine, Linear:
		p := graph.DivScalar(graph.AddScalar(step, -w), float64(s.TotalSteps-s.WarmupSteps))
		p = graph.Min(c(1), graph.Max(c(0), p))
		if s.Kind == Cosine {
			after = graph.AddScalar(graph.MulScalar(graph.OnePlus(graph.Cos(graph.MulScalar(p, math.Pi))), (s.Peak-s.Floor)/2), s.Floor)
		} else {
			after = graph.AddScalar(graph.MulScalar(p, s.Floor-s.Peak), s.Peak)
		}
	default:
		after = c(s.Peak)
	}
	if s.WarmupSteps == 0 {
		return after
	}
	return graph.Where(graph.LessOrEqual(step, c(w)), graph.MulScalar(step, s.Peak/w), after)
}
