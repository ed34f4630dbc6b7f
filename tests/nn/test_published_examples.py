"""Worked examples from lecture notes and textbooks, each with its published numbers.

Sources: CS231n (Stanford) lecture notes on linear classification, convolution and
pooling; T. Rashid, "Make Your Own Neural Network" (2016) for the two-input and 3x3
sigmoid forward passes; M. Mazur, "A Step by Step Backpropagation Example" (2015) for a
forward and backward pass with one SGD step. Values are checked to the digits published
(tolerance half a unit of the last digit) and, where torch has the same layer, against
torch.
"""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastml.nn import (SGD, BinaryCrossEntropyLoss, Conv2D, ConvTranspose2D,
                       CrossEntropyLoss, Dense, GlobalAvgPool2D, GlobalMaxPool2D,
                       HingeLoss, MaxPool2D, MSELoss, Sequential, Sigmoid, Trainer, lenet5,
                       mlp)


def _set_dense(layer, W_rows, b=None):
    """Weights given as the slides write them, one row per output unit (out = W x + b)."""
    layer.W.value[...] = np.asarray(W_rows, dtype=np.float64).T
    if b is not None:
        layer.b.value[...] = b


# CS231n: three images (cat, car, frog), scores of the classes (cat, car, frog)
SCORES = np.array([[3.2, 5.1, -1.7],    # cat image
                   [1.3, 4.9, 2.0],     # car image
                   [2.2, 2.5, -3.1]])   # frog image
LABELS = np.array([0, 1, 2])


def test_multiclass_hinge_loss_cat_car_frog():
    loss = HingeLoss(margin=1.0)
    per_image = [loss.forward(SCORES[i:i + 1], LABELS[i:i + 1]) for i in range(3)]
    assert_allclose(per_image, [2.9, 0.0, 12.9], atol=1e-12)
    assert abs(loss.forward(SCORES, LABELS) - 5.27) < 0.005  # (2.9 + 0 + 12.9) / 3


def test_softmax_cross_entropy_cat_image():
    ce = CrossEntropyLoss().forward(SCORES[:1], LABELS[:1])
    assert abs(ce - 2.04) < 0.005           # natural log
    assert abs(ce / np.log(10) - 0.89) < 0.005  # the log10 variant of some slides
    torch = pytest.importorskip("torch")
    ref = torch.nn.functional.cross_entropy(torch.tensor(SCORES[:1]),
                                            torch.tensor(LABELS[:1]))
    assert_allclose(ce, float(ref), rtol=1e-12)


def test_linear_scores_with_bias():
    """f(x) = W x + b for the 4-pixel image [56, 231, 24, 2]. The slide prints 61.95 for
    the third score; W x + b is 60.75 (0.25 * 231 + 0.2 * 24 - 0.3 * 2 - 1.2), an
    arithmetic slip on the slide, so the exact value is checked."""
    d = Dense(3)
    d.build((4,), np.float64)
    _set_dense(d, [[0.2, -0.5, 0.1, 2.0], [1.5, 1.3, 2.1, 0.0], [0.0, 0.25, 0.2, -0.3]],
               [1.1, 3.2, -1.2])
    s = d.forward(np.array([[56.0, 231.0, 24.0, 2.0]]))
    assert_allclose(s[0], [-96.8, 437.9, 60.75], rtol=1e-12)


def test_my_first_network_two_inputs():
    """Rashid: inputs 1.0 and 0.5, weights w11 = 0.9, w12 = 0.2, w21 = 0.3, w22 = 0.8
    (w_jk from input j to node k), sigmoid outputs 0.7408 and 0.6457."""
    d = Dense(2, use_bias=False)
    net = Sequential(d, Sigmoid(), input_shape=(2,), dtype=np.float64)
    _set_dense(d, [[0.9, 0.3], [0.2, 0.8]])
    out = net.forward(np.array([[1.0, 0.5]]))[0]
    assert_allclose(out, [0.7408, 0.6457], atol=5e-5)


def test_three_layer_3x3_forward_pass():
    """Rashid: I = (0.9, 0.1, 0.8), W_input_hidden and W_hidden_output 3x3, sigmoid
    layers, no biases: hidden inputs (1.16, 0.42, 0.62), outputs (0.726, 0.708, 0.778)."""
    h, o = Dense(3, use_bias=False), Dense(3, use_bias=False)
    net = Sequential(h, Sigmoid(), o, Sigmoid(), input_shape=(3,), dtype=np.float64)
    _set_dense(h, [[0.9, 0.3, 0.4], [0.2, 0.8, 0.2], [0.1, 0.5, 0.6]])
    _set_dense(o, [[0.3, 0.7, 0.5], [0.6, 0.5, 0.2], [0.8, 0.1, 0.9]])
    x = np.array([[0.9, 0.1, 0.8]])
    assert_allclose(h.forward(x)[0], [1.16, 0.42, 0.62], atol=1e-12)
    out = net.forward(x)[0]
    # the book prints the outputs cut to three digits (0.7086 -> 0.708)
    assert_allclose(np.floor(out * 1000) / 1000, [0.726, 0.708, 0.778], atol=1e-12)


def test_step_by_step_backpropagation():
    """Mazur's 2-2-2 sigmoid network: forward outputs 0.75136507 and 0.772928465, total
    error 0.298371109 (sum of 0.5 (t - o)^2 = our MSE, the mean of (t - o)^2 over the 2
    outputs), dE/dw5 = 0.082167041 and, after one SGD step of rate 0.5, w5 = 0.35891648,
    w1 = 0.149780716."""
    h, o = Dense(2), Dense(2)
    net = Sequential(h, Sigmoid(), o, Sigmoid(), input_shape=(2,), dtype=np.float64)
    _set_dense(h, [[0.15, 0.20], [0.25, 0.30]], [0.35, 0.35])
    _set_dense(o, [[0.40, 0.45], [0.50, 0.55]], [0.60, 0.60])
    x, t = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    out = net.forward(x, training=True)
    assert_allclose(out[0], [0.75136507, 0.772928465], rtol=1e-8)
    loss = MSELoss()
    assert_allclose(loss.forward(out, t), 0.298371109, rtol=1e-8)
    net.backward(loss.backward())
    assert_allclose(o.W.grad[0, 0], 0.082167041, rtol=1e-7)  # w5: h1 -> o1
    SGD(net.parameters(), learning_rate=0.5).step()
    assert_allclose(o.W.value[0, 0], 0.35891648, rtol=1e-7)
    assert_allclose(h.W.value[0, 0], 0.149780716, rtol=1e-7)  # w1: i1 -> h1


def test_xor_learned_by_a_3_4_1_sigmoid_network():
    """XOR with a constant third input (the bias input of the classic 3-4-1 example),
    four sigmoid hidden units and one sigmoid output, trained on binary cross-entropy."""
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0])
    net = Sequential(Dense(4), Sigmoid(), Dense(1), input_shape=(3,), dtype=np.float64,
                     random_state=0)
    Trainer(net, loss="binary_cross_entropy", optimizer="sgd", learning_rate=2.0,
            momentum=0.9, epochs=600, batch_size=4, validation_fraction=0.0,
            random_state=0).fit(X, y)
    p = Sigmoid().forward(net.forward(X))[:, 0]
    assert np.all(p[y == 1] > 0.9) and np.all(p[y == 0] < 0.1), p


@pytest.mark.parametrize("n,k,s,p,expected", [(7, 3, 1, 0, 5), (7, 3, 2, 0, 3),
                                              (32, 5, 1, 2, 32)])
def test_conv_output_size(n, k, s, p, expected):
    """(N - F + 2P) / S + 1: 7x7 input, 3x3 filter, stride 2 -> 3x3."""
    c = Conv2D(1, k, stride=s, padding=p)
    assert c.build((1, n, n)) == (1, expected, expected)
    out = c.forward(np.zeros((1, 1, n, n), np.float32))
    assert out.shape == (1, 1, expected, expected)


@pytest.mark.parametrize("n,k,s,p,expected", [(4, 2, 1, 0, 5), (3, 3, 2, 1, 5)])
def test_transposed_conv_output_size(n, k, s, p, expected):
    """(N - 1) S + K - 2P: 4x4, k2 s1 p0 -> 5x5; 3x3, k3 s2 p1 -> 5x5."""
    c = ConvTranspose2D(1, k, stride=s, padding=p)
    assert c.build((1, n, n), np.float64) == (1, expected, expected)
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 1, n, n))
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(c.W.value),
                                               stride=s, padding=p)
    assert_allclose(c.forward(x), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_parameter_counts():
    assert lenet5().n_parameters() == 61706
    assert mlp((512, 512), 10, input_shape=(784,)).n_parameters() == 669706
    # 32x32x3 input, ten 5x5 filters: 10 * (5 * 5 * 3 + 1) = 760
    assert Sequential(Conv2D(10, 5), input_shape=(3, 32, 32)).n_parameters() == 760


POOL_IN = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]],
                   dtype=np.float64)[None, None]


def test_max_pool_2x2_stride_2():
    out = MaxPool2D(2).forward(POOL_IN)
    np.testing.assert_array_equal(out[0, 0], [[6, 8], [3, 4]])


def test_global_pooling():
    """Global max / average pooling of the same 4x4 input: the slide's own input for the
    values 9 and 4.3125 is not reproduced here; these are checked against numpy."""
    assert GlobalMaxPool2D().forward(POOL_IN)[0, 0] == POOL_IN.max() == 8
    assert GlobalAvgPool2D().forward(POOL_IN)[0, 0] == POOL_IN.mean() == 3.125


def test_binary_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 1)) * 5
    y = rng.integers(0, 2, 7)
    loss = BinaryCrossEntropyLoss()
    val = loss.forward(z, y)
    tz = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        tz[:, 0], torch.tensor(y, dtype=torch.float64))
    ref.backward()
    assert_allclose(val, ref.item(), rtol=1e-12)
    assert_allclose(loss.backward(), tz.grad.numpy(), rtol=1e-12)
