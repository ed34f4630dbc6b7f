"""Benchmark cases: CNN primitives, forward + backward.

Peer: torch.nn.functional (CPU, torch.set_num_threads(n_threads)), optional. Each case
times one forward and one backward pass with the same output gradient on both sides;
the first layer of LeNet does not need its input gradient, so neither side computes it
(torch: x.requires_grad = False). Data are random normal (the timings do not depend on
the values). GFLOP/s counts 2 flops per multiply-add of the convolution, for the
forward pass and each gradient computed.
"""
import numpy as np

from fastml.benchmarks._registry import Case, Peer, register


def _torch(n_threads):
    import torch

    torch.set_num_threads(n_threads)
    return torch


def _agree(a, b):
    """Every array of the (out, grads...) tuples agrees within float32 rounding."""
    if len(a) != len(b):
        return False
    for u, v in zip(a, b):
        if u is None or v is None:
            if u is not v:
                return False
            continue
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        scale = max(1e-30, np.abs(v).max())
        if u.shape != v.shape or np.abs(u - v).max() > 2e-4 * scale:
            return False
    return True


# ---------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------
def _conv_inputs(N, Ci, H, Co, k, pad, need_dx, n_quick=16):
    def make(data_dir, quick):
        rng = np.random.default_rng(0)
        n = n_quick if quick else N
        x = rng.standard_normal((n, Ci, H, H), dtype=np.float32)
        w = (rng.standard_normal((Co, Ci, k, k), dtype=np.float32)
             / np.float32(np.sqrt(Ci * k * k)))
        b = rng.standard_normal(Co, dtype=np.float32)
        Ho = H + 2 * pad - k + 1
        g = rng.standard_normal((n, Co, Ho, Ho), dtype=np.float32)
        return {"x": x, "w": w, "b": b, "g": g, "pad": pad, "need_dx": need_dx}

    return make


def _conv_fastml(inp, n_threads):
    from fastml.nn import functional as F

    out = F.conv2d(inp["x"], inp["w"], inp["b"], 1, inp["pad"], n_jobs=n_threads)
    dx, dw, db = F.conv2d_backward(inp["g"], inp["x"], inp["w"], 1, inp["pad"],
                                   need_input_grad=inp["need_dx"], n_jobs=n_threads)
    return out, dx, dw, db


def _conv_torch(inp, n_threads):
    torch = _torch(n_threads)
    x = torch.from_numpy(inp["x"]).requires_grad_(inp["need_dx"])
    w = torch.from_numpy(inp["w"]).requires_grad_(True)
    b = torch.from_numpy(inp["b"]).requires_grad_(True)
    out = torch.nn.functional.conv2d(x, w, b, stride=1, padding=inp["pad"])
    out.backward(torch.from_numpy(inp["g"]))
    dx = x.grad.numpy() if inp["need_dx"] else None
    return out.detach().numpy(), dx, w.grad.numpy(), b.grad.numpy()


def _conv_flops(inp):
    g, w = inp["g"], inp["w"]
    fwd = 2.0 * g.size * w[0].size  # N*Co*Ho*Wo outputs x Ci*kh*kw multiply-adds
    return fwd * (3 if inp["need_dx"] else 2)


_CONV = [
    # (task, N, C_in, H, C_out, k, pad, need_dx, quick)
    ("conv2d fwd+bwd LeNet conv1 (no dx)", 128, 1, 28, 6, 5, 2, False, False),
    ("conv2d fwd+bwd LeNet conv2", 128, 6, 14, 16, 5, 0, True, True),
    ("conv2d fwd+bwd 64ch 3x3", 64, 64, 32, 64, 3, 1, True, False),
]
for _task, _N, _Ci, _H, _Co, _k, _p, _dx, _quick in _CONV:
    register(Case(
        area="nn", task=_task,
        shape=f"({_N},{_Ci},{_H},{_H})->{_Co}@{_k}x{_k} pad {_p}", dtype="float32",
        make_inputs=_conv_inputs(_N, _Ci, _H, _Co, _k, _p, _dx),
        run=_conv_fastml,
        peers=(Peer("torch", _conv_torch, requires=("torch",)),),
        check=_agree, quick=_quick, flops=_conv_flops,
        quick_shape=f"(16,{_Ci},{_H},{_H})->{_Co}@{_k}x{_k} pad {_p}",
    ))


# ---------------------------------------------------------------------------------------
# transposed convolution (upsampling by 2), informational
# ---------------------------------------------------------------------------------------
def _convt_inputs(data_dir, quick):
    rng = np.random.default_rng(0)
    n = 8 if quick else 64
    x = rng.standard_normal((n, 32, 16, 16), dtype=np.float32)
    w = rng.standard_normal((32, 16, 4, 4), dtype=np.float32) / np.float32(16.0)
    b = rng.standard_normal(16, dtype=np.float32)
    g = rng.standard_normal((n, 16, 32, 32), dtype=np.float32)
    return {"x": x, "w": w, "b": b, "g": g}


def _convt_fastml(inp, n_threads):
    from fastml.nn import functional as F

    out = F.conv_transpose2d(inp["x"], inp["w"], inp["b"], 2, 1, n_jobs=n_threads)
    return (out, *F.conv_transpose2d_backward(inp["g"], inp["x"], inp["w"], 2, 1,
                                              n_jobs=n_threads))


def _convt_torch(inp, n_threads):
    torch = _torch(n_threads)
    x, w, b = (torch.from_numpy(inp[k]).requires_grad_(True) for k in ("x", "w", "b"))
    out = torch.nn.functional.conv_transpose2d(x, w, b, stride=2, padding=1)
    out.backward(torch.from_numpy(inp["g"]))
    return out.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()


register(Case(
    area="nn", task="conv_transpose2d fwd+bwd 2x upsampling",
    shape="(64,32,16,16)->16@4x4 stride 2 pad 1", dtype="float32",
    make_inputs=_convt_inputs, run=_convt_fastml,
    peers=(Peer("torch", _convt_torch, requires=("torch",)),), check=_agree,
    flops=lambda inp: 3 * 2.0 * inp["x"].size * inp["w"][0].size,
    quick_shape="(8,32,16,16)->16@4x4 stride 2 pad 1",
))


# ---------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------
def _pool_inputs(N, C, H, k):
    def make(data_dir, quick):
        rng = np.random.default_rng(0)
        n = min(N, 16) if quick else N
        x = rng.standard_normal((n, C, H, H), dtype=np.float32)
        g = rng.standard_normal((n, C, H // k, H // k), dtype=np.float32)
        return {"x": x, "g": g, "k": k}

    return make


def _maxpool_fastml(inp, n_threads):
    from fastml.nn import functional as F

    out, am = F.max_pool2d(inp["x"], inp["k"], n_jobs=n_threads)
    return out, F.max_pool2d_backward(inp["g"], am, inp["x"].shape, n_jobs=n_threads)


def _maxpool_torch(inp, n_threads):
    torch = _torch(n_threads)
    x = torch.from_numpy(inp["x"]).requires_grad_(True)
    out = torch.nn.functional.max_pool2d(x, inp["k"])
    out.backward(torch.from_numpy(inp["g"]))
    return out.detach().numpy(), x.grad.numpy()


def _avgpool_fastml(inp, n_threads):
    from fastml.nn import functional as F

    out = F.avg_pool2d(inp["x"], inp["k"], n_jobs=n_threads)
    return out, F.avg_pool2d_backward(inp["g"], inp["x"].shape, inp["k"], n_jobs=n_threads)


def _avgpool_torch(inp, n_threads):
    torch = _torch(n_threads)
    x = torch.from_numpy(inp["x"]).requires_grad_(True)
    out = torch.nn.functional.avg_pool2d(x, inp["k"])
    out.backward(torch.from_numpy(inp["g"]))
    return out.detach().numpy(), x.grad.numpy()


for _N, _C, _H, _quick in ((128, 6, 28, True), (64, 64, 32, False)):
    register(Case(
        area="nn", task="max_pool2d 2x2 fwd+bwd", shape=f"({_N},{_C},{_H},{_H})",
        dtype="float32", make_inputs=_pool_inputs(_N, _C, _H, 2), run=_maxpool_fastml,
        peers=(Peer("torch", _maxpool_torch, requires=("torch",)),), check=_agree,
        quick=_quick, quick_shape=f"({min(_N, 16)},{_C},{_H},{_H})",
    ))
register(Case(
    area="nn", task="avg_pool2d 2x2 fwd+bwd", shape="(64,64,32,32)", dtype="float32",
    make_inputs=_pool_inputs(64, 64, 32, 2), run=_avgpool_fastml,
    peers=(Peer("torch", _avgpool_torch, requires=("torch",)),), check=_agree,
    quick_shape="(16,64,32,32)",
))
