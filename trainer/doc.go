// Package trainer is the training loop as a library: it trains a next-token language model (a
// transformer, or an LSTM or GRU baseline) on a corpus, with validation, checkpoints that resume
// exactly, a progress bar, loss.csv and loss.png, MFU against a given peak, and a sample at the end;
// it also samples from a checkpoint ([Generate]) and exports a transformer's checkpoint in GPT-2's
// Hugging Face layout ([Export]). examples/nexttoken is its command line: one flag per field of
// [Options] but Kernels, which it reads from the environment.
//
//	o := trainer.DefaultOptions()          // Tiny transformer, bytes, AdamW, cosine schedule
//	o.Data, o.Out, o.Steps = "input.txt", "runs/mine", 300
//	res, err := trainer.Run(o, os.Stdout, os.Stderr)
//	fmt.Println(res.FinalLine())            // final: step=300 train_loss=... val_loss=... tokens_per_sec=...
//
// A run is deterministic: the same options, corpus and backend give the same losses, and a run
// resumed from its checkpoint (Options.Resume) continues as if it had not stopped. Every failure is
// an error naming the flag or file at fault; no panic escapes [Run], [Generate] or [Export].
package trainer
