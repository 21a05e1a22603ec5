#!/usr/bin/env python3
"""JAX peer of bitter's transformer training step: reference.py's GPT in JAX, compiled by XLA as ours is.

    python3 benchmarks/reference/reference_jax.py --device cuda --dtype bfloat16 --attention cudnn \
        --vocab 50257 --dim 768 --layers 12 --heads 12 --ffn 3072 --lengths 1024 --tokens 16384
    /usr/bin/python3 benchmarks/reference/reference_jax.py --self-test   # no JAX needed: numpy and torch

Why a JAX peer: bitter and JAX hand their programs to the same compiler (XLA, through PJRT), so on the
same card the difference between the two is the graph each builds, not the compiler; PyTorch's
numbers cannot separate those. With --attention cudnn JAX calls cuDNN's fused attention through the
custom calls that bitter's attention.CuDNNEnvVar path copies; with --attention xla it writes
attention as XLA ops (scores and softmax), as bitter does without them.

The model is reference.py's GPT, the same parameters under the same names (torch's Linear layout,
[out, in]): pre-norm blocks of LayerNorm, q/k/v/o with biases, causal attention, an MLP with exact
GELU, learned positions (context max(128, T), as bench.Build), a final LayerNorm and an untied head.
Mixed precision as torch.autocast and bitter's ComputeDType: float32 master weights, AdamW state and
residual stream; LayerNorm in float32; matmuls, attention and GELU in bfloat16; the logits cast to
float32 for the cross-entropy. AdamW as torch.optim.AdamW's defaults (lr 1e-3, betas 0.9/0.999, eps
1e-8, weight decay 0.01 on every parameter). The step (forward, loss, gradient, AdamW) is one jitted
function with the parameters and optimizer state donated.

It prints one JSON object per grid cell with reference.py's fields (model, seq_len, batch, params,
tokens_per_sec, ms_per_step, compile_s, steps, impl, peak_mem_gb), so benchmarks/cmd/compare takes it
as a peer with -reference. Only the transformer: other --models are reported on stderr and skipped.
--self-test checks, without JAX, that the model and AdamW written here (run on numpy in float64)
give reference.py's loss and torch.optim.AdamW's parameters on random inputs.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
import traceback

LN_EPS = 1e-5


def context(seq):
    return max(128, seq)  # as bench.Build and reference.py: the positions table covers at least 128


def param_shapes(vocab, ctx, d, layers, ffn):
    """The parameters' names and shapes, as reference.py's GPT(...).state_dict() names them."""
    shapes = {"wte.weight": (vocab, d), "wpe.weight": (ctx, d)}
    for i in range(layers):
        p = "blocks.%d." % i
        for ln in ("ln1", "ln2"):
            shapes[p + ln + ".weight"] = (d,)
            shapes[p + ln + ".bias"] = (d,)
        for m in ("q", "k", "v", "o"):
            shapes[p + m + ".weight"] = (d, d)
            shapes[p + m + ".bias"] = (d,)
        shapes[p + "up.weight"], shapes[p + "up.bias"] = (ffn, d), (ffn,)
        shapes[p + "down.weight"], shapes[p + "down.bias"] = (d, ffn), (d,)
    shapes["ln.weight"], shapes["ln.bias"] = (d,), (d,)
    shapes["head.weight"] = (vocab, d)
    return shapes


def count_params(shapes):
    return sum(math.prod(s) for s in shapes.values())


def init_params(shapes, rng):
    """float32 numpy arrays: LayerNorm weights 1, biases 0, the rest normal with std 0.02 (GPT-2's)."""
    import numpy as np
    out = {}
    for name, shape in shapes.items():
        if len(shape) == 1:  # LayerNorm weights (ln1, ln2, ln) and every bias
            layer_norm_weight = name.split(".")[-2].startswith("ln") and name.endswith(".weight")
            out[name] = np.full(shape, 1.0 if layer_norm_weight else 0.0, np.float32)
        else:
            out[name] = (0.02 * rng.standard_normal(shape)).astype(np.float32)
    return out


class Ops:
    """What the model needs beyond numpy's array methods, for numpy (self-test) or jax.numpy."""

    def __init__(self, xp, cast, gelu, attention, log_softmax):
        self.xp, self.cast, self.gelu, self.attention, self.log_softmax = xp, cast, gelu, attention, log_softmax


def layer_norm(ops, x, w, b):
    xp = ops.xp
    mu = xp.mean(x, axis=-1, keepdims=True)
    var = xp.mean(xp.square(x - mu), axis=-1, keepdims=True)
    return (x - mu) / xp.sqrt(var + LN_EPS) * w + b


def loss_fn(P, idx, labels, ops, layers, heads):
    """The mean cross-entropy of reference.py's GPT on idx [B, T] against labels [B, T]."""
    xp, c = ops.xp, ops.cast
    B, T = idx.shape
    x = P["wte.weight"][idx] + P["wpe.weight"][:T]  # float32 residual stream

    def dense(h, name):  # h in the compute type; torch's Linear: h @ W^T + b
        return h @ c(P[name + ".weight"]).T + c(P[name + ".bias"])

    for i in range(layers):
        p = "blocks.%d." % i
        d = x.shape[-1]
        y = c(layer_norm(ops, x, P[p + "ln1.weight"], P[p + "ln1.bias"]))
        q, k, v = (dense(y, p + m).reshape(B, T, heads, d // heads) for m in ("q", "k", "v"))
        a = ops.attention(q, k, v).reshape(B, T, d)
        x = x + dense(a, p + "o").astype(x.dtype)
        y = c(layer_norm(ops, x, P[p + "ln2.weight"], P[p + "ln2.bias"]))
        x = x + dense(ops.gelu(dense(y, p + "up")), p + "down").astype(x.dtype)
    y = c(layer_norm(ops, x, P["ln.weight"], P["ln.bias"]))
    logits = (y @ c(P["head.weight"]).T).astype(x.dtype)
    logp = ops.log_softmax(logits)
    return -xp.mean(xp.take_along_axis(logp, labels[..., None], axis=-1))


def adamw(P, G, M, V, t, xp, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.01):
    """torch.optim.AdamW's update (its defaults) at step t (1 on the first step); new P, M, V."""
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    nP, nM, nV = {}, {}, {}
    for name in P:
        g = G[name]
        m = b1 * M[name] + (1 - b1) * g
        v = b2 * V[name] + (1 - b2) * g * g
        p = P[name] * (1 - lr * wd)
        nP[name] = p - (lr / bc1) * m / (xp.sqrt(v) / xp.sqrt(bc2) + eps)
        nM[name], nV[name] = m, v
    return nP, nM, nV


def numpy_ops():
    import numpy as np
    erf = np.vectorize(math.erf, otypes=[np.float64])

    def attention(q, k, v):  # [B, T, N, H], causal
        s = np.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(q.shape[-1])
        T = q.shape[1]
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return np.einsum("bnts,bsnh->btnh", p, v).astype(q.dtype)

    def log_softmax(z):
        z = z - z.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))

    return Ops(np, lambda a: a, lambda u: (0.5 * u * (1 + erf(u / math.sqrt(2)))).astype(u.dtype), attention, log_softmax)


def self_test():
    """reference.py's GPT and torch.optim.AdamW against the functions above, in float64 on the CPU."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference

    vocab, seq, d, layers, heads, ffn, batch = 37, 9, 16, 2, 2, 24, 3
    torch.manual_seed(3)
    model = reference.GPT(vocab, context(seq), d, layers, heads, ffn)
    with torch.no_grad():  # not torch's init: LayerNorm weights and biases away from 1 and 0 too
        for p in model.parameters():
            p.copy_(0.3 * torch.randn_like(p))
    sd = model.state_dict()
    shapes = param_shapes(vocab, context(seq), d, layers, ffn)
    if {k: tuple(v.shape) for k, v in sd.items()} != shapes:
        raise AssertionError("parameter names or shapes differ from reference.py's GPT: %s against %s" % (
            sorted(set(shapes.items()) ^ {(k, tuple(v.shape)) for k, v in sd.items()})[:4], "reference.py"))
    rng = np.random.default_rng(5)
    x = rng.integers(0, vocab, (batch, seq))
    y = rng.integers(0, vocab, (batch, seq))
    ops = numpy_ops()
    P = {k: v.detach().numpy().astype(np.float64) for k, v in sd.items()}
    M = {k: np.zeros_like(v) for k, v in P.items()}
    V = {k: np.zeros_like(v) for k, v in P.items()}
    model = model.double()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    names = [n for n, _ in model.named_parameters()]
    worst_loss = worst_param = 0.0
    for t in range(1, 4):  # three steps: the bias corrections and the moments' history
        ours = loss_fn(P, x, y, ops, layers, heads)
        opt.zero_grad()
        want = F.cross_entropy(model(torch.from_numpy(x)).reshape(-1, vocab), torch.from_numpy(y).reshape(-1))
        want.backward()
        worst_loss = max(worst_loss, abs(ours - want.item()) / abs(want.item()))
        G = {n: p.grad.numpy().copy() for n, p in zip(names, model.parameters())}
        opt.step()
        P, M, V = adamw(P, G, M, V, t, np)
        for n, p in zip(names, model.parameters()):
            got, exp = P[n], p.detach().numpy()
            worst_param = max(worst_param, float(np.max(np.abs(got - exp)) / (np.max(np.abs(exp)) + 1e-30)))
    print("self-test: loss relative error %.2e, parameters after 3 AdamW steps %.2e (float64; %d tensors)" % (
        worst_loss, worst_param, len(P)))
    if not (worst_loss < 1e-10 and worst_param < 1e-10):
        print("self-test: FAIL", file=sys.stderr)
        return 1
    # The parameter count at GPT-2 small's sizes, from the names and shapes (163M with the untied head).
    n = count_params(param_shapes(50257, 1024, 768, 12, 3072))
    print("self-test: PASS (GPT-2 small, untied: %d parameters)" % n)
    return 0


def jax_ops(jax, jnp, dtype, attention):
    def attend(q, k, v):
        return jax.nn.dot_product_attention(q, k, v, is_causal=True, implementation=attention)

    return Ops(jnp, lambda a: a.astype(dtype), lambda u: jax.nn.gelu(u, approximate=False), attend,
               lambda z: jax.nn.log_softmax(z, axis=-1))


def measure(seq, args, jax, jnp):
    import numpy as np
    if args.tokens // seq < 1:
        raise ValueError("%d tokens per step hold no sequence of %d" % (args.tokens, seq))
    dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[args.dtype]
    attention = None if args.attention == "default" else args.attention
    ops = jax_ops(jax, jnp, dtype, attention)
    device = jax.devices(args.device)[0]
    rng = np.random.default_rng(1)
    shapes = param_shapes(args.vocab, context(seq), args.dim, args.layers, args.ffn)
    P = jax.device_put(init_params(shapes, rng), device)
    M = jax.tree_util.tree_map(jnp.zeros_like, P)
    V = jax.tree_util.tree_map(jnp.zeros_like, P)
    batch = args.tokens // seq
    x = jax.device_put(rng.integers(0, args.vocab, (batch, seq), dtype=np.int32), device)
    y = jax.device_put(rng.integers(0, args.vocab, (batch, seq), dtype=np.int32), device)
    layers, heads = args.layers, args.heads

    def step(P, M, V, t, x, y):
        loss, G = jax.value_and_grad(lambda P: loss_fn(P, x, y, ops, layers, heads))(P)
        P, M, V = adamw(P, G, M, V, t, jnp)
        return P, M, V, t + 1, loss

    step = jax.jit(step, donate_argnums=(0, 1, 2, 3))
    t = jax.device_put(jnp.float32(1), device)
    losses = []
    start = time.perf_counter()
    P, M, V, t, loss = step(P, M, V, t, x, y)
    losses.append(float(loss))  # waits for the step
    first = time.perf_counter() - start
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        P, M, V, t, loss = step(P, M, V, t, x, y)
        losses.append(float(loss))
        times.append(time.perf_counter() - start)
    if not all(math.isfinite(v) for v in losses):
        raise FloatingPointError("loss not finite: %s" % losses)
    med = statistics.median(times)
    impl = "jax %s %s %s %s attention" % (jax.__version__, args.device, args.dtype, args.attention)
    out = {"model": "transformer", "seq_len": seq, "batch": batch, "params": count_params(shapes),
           "tokens_per_sec": batch * seq / med, "ms_per_step": med * 1000, "compile_s": max(0.0, first - med),
           "steps": len(times), "impl": impl, "loss_first": losses[0], "loss_last": losses[-1]}
    stats = device.memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        out["peak_mem_gb"] = stats["peak_bytes_in_use"] / 1e9
    del P, M, V, step
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--self-test", action="store_true", help="check the model and AdamW against reference.py and torch (no JAX)")
    p.add_argument("--models", default="transformer")
    p.add_argument("--lengths", default="64,128,256,512,1024")
    p.add_argument("--tokens", type=int, default=4096)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--device", default="cpu", help="cpu or cuda (JAX's platform name: gpu is taken too)")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--attention", default="default", choices=["default", "xla", "cudnn"],
                   help="jax.nn.dot_product_attention's implementation (default: JAX's choice)")
    p.add_argument("--xla-dump", default="", help="dump XLA's optimized HLO of the programs here (--xla_dump_to)")
    p.add_argument("--tf32", action="store_true", help="accepted for reference.py's grid arguments: XLA's default "
                   "precision for float32 dots on an NVIDIA GPU is TF32 already, as for bitter")
    p.add_argument("--compile", action="store_true", help="accepted and ignored: every JAX step is compiled")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ffn", type=int, default=512)
    for unused in ("--embed", "--hidden", "--rnn-layers", "--threads"):  # reference.py's, for the RNNs
        p.add_argument(unused, type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.self_test:
        return self_test()
    if args.device == "cuda":
        args.device = "gpu"
    # Before JAX starts its backend: memory as used (the GPU sampler and other processes see the
    # truth), and the dump folder.
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    if args.xla_dump:
        os.environ["XLA_FLAGS"] = "%s --xla_dump_to=%s --xla_dump_hlo_as_text" % (os.environ.get("XLA_FLAGS", ""), args.xla_dump)
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:
        print("reference_jax.py: no JAX here (%s)" % e, file=sys.stderr)
        return 1
    failed = []
    for kind in args.models.split(","):
        if kind != "transformer":
            print("reference_jax.py: %s: only the transformer has a JAX peer" % kind, file=sys.stderr)
            continue
        for seq in (int(s) for s in args.lengths.split(",")):
            try:
                print(json.dumps(measure(seq, args, jax, jnp)), flush=True)
            except Exception as e:  # one cell (out of memory, a compile error) must not lose the others
                msg = " | ".join(line.strip() for line in str(e).splitlines() if line.strip())
                failed.append("%s T=%d: %s: %s" % (kind, seq, type(e).__name__, msg[:300] or repr(e)))
                print("reference_jax.py: %s T=%d: %s: %s" % (kind, seq, type(e).__name__, msg[:1000] or repr(e)), file=sys.stderr)
                print("\n".join(traceback.format_exc().rstrip().splitlines()[-8:]), file=sys.stderr)
    if failed:  # last on stderr: compare puts this line in the results' peer note
        print("reference_jax.py: %d cell(s) failed; first: %s" % (len(failed), failed[0]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
