#!/usr/bin/env python3
"""Golden vectors for package hmm: the forward algorithm in PyTorch, float64, written independently
of the Go one (torch.logsumexp over the states, where Go multiplies shifted exponents).

Run from the repository root with Debian's PyTorch (apt-get install -y python3-torch):

    /usr/bin/python3 hmm/testdata/generate.py

Each case: random logits for the initial, transition and emission tables (softmaxed row by row), random
tokens; stored: the next-token log-probabilities at every position, the cross-entropy of random targets
under them and its gradient with respect to the three tables (golden.ModelCase), and each sequence's
log-likelihood log p(x) with the gradient of their mean.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1966)  # Baum and Petrie
DT = torch.float64


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def forward(init, trans, emit, tokens):
    log_pi, log_a, log_b = F.log_softmax(init, 0), F.log_softmax(trans, 1), F.log_softmax(emit, 1)
    batch, seq = tokens.shape
    alpha = log_pi[None, :] + log_b[:, tokens[:, 0]].T  # [batch, N]
    first = torch.logsumexp(alpha, 1)
    steps = []
    for s in range(seq):
        # log p(x_s+1 = w | x_0..x_s) = logsumexp_ij(alpha_i + log A_ij + log B_jw) - logsumexp_i alpha_i
        joint = alpha[:, :, None, None] + log_a[None, :, :, None] + log_b[None, None, :, :]  # [b, i, j, w]
        steps.append(torch.logsumexp(joint.reshape(batch, -1, log_b.shape[1]), 1) - torch.logsumexp(alpha, 1)[:, None])
        if s + 1 < seq:
            alpha = torch.logsumexp(alpha[:, :, None] + log_a[None, :, :], 1) + log_b[:, tokens[:, s + 1]].T
    logits = torch.stack(steps, 1)
    picked = logits[:, :-1, :].gather(2, tokens[:, 1:, None])[:, :, 0].sum(1) if seq > 1 else 0
    return logits, first + picked


def case(states, vocab, batch, seq):
    init = torch.randn(states, dtype=DT, requires_grad=True)
    trans = torch.randn(states, states, dtype=DT, requires_grad=True)
    emit = torch.randn(states, vocab, dtype=DT, requires_grad=True)
    tokens = torch.randint(0, vocab, (batch, seq))
    targets = torch.randint(0, vocab, (batch, seq))
    logits, loglik = forward(init, trans, emit, tokens)
    loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    grads = torch.autograd.grad(loss, [init, trans, emit], retain_graph=True)
    lgrads = torch.autograd.grad(loglik.mean(), [init, trans, emit])
    names = ["hmm/initial", "hmm/transition", "hmm/emission"]
    return {"config": {"States": states, "VocabSize": vocab},
            "tokens": t(tokens), "targets": t(targets), "logits": t(logits), "loss": loss.item(),
            "params": {n: t(p) for n, p in zip(names, [init, trans, emit])},
            "grads": {n: t(g) for n, g in zip(names, grads)},
            "loglik": t(loglik), "loglik_grads": {n: t(g) for n, g in zip(names, lgrads)}}


def main():
    cases = [case(3, 5, 2, 4), case(16, 32, 3, 12), case(32, 96, 2, 20)]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "golden.json"), "w") as f:
        json.dump({"cases": cases}, f)


if __name__ == "__main__":
    main()
