// Package optim holds the optimizers and learning-rate schedules for training Transformers:
// AdamW with decoupled weight decay (no decay on norms, biases and embeddings unless asked) and
// Lion; warmup then cosine or linear decay, the inverse-square-root "Noam" schedule, and constant;
// global-norm gradient clipping. An [Optimizer] implements GoMLX's optimizers.Interface, so it
// plugs into train.Trainer, and train.OptimizeWithGradients, so Trainer.AccumulateGradients(n)
// accumulates n micro-batches per step.
//
// AdamW is checked against torch.optim.AdamW over 10 steps (with parameter groups, clipping and a
// warmup-cosine LambdaLR) within 1e-6 in float32; Lion against its paper's update.
//
//	cfg := optim.DefaultAdamW(1e-3)
//	cfg.LR = optim.Schedule{Kind: optim.Cosine, Peak: 1e-3, WarmupSteps: 100, TotalSteps: 5000, Floor: 1e-4}
//	cfg.WeightDecay, cfg.ClipNorm = 0.1, 1.0
//	opt, err := optim.New(cfg)
package optim
