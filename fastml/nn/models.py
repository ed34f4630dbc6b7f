"""Ready-made architectures: LeNet-5, a multi-layer perceptron and a small ResNet.

Each builder takes ``input_shape`` (the shape of one sample); when it is known the model
is built at construction, so its parameters can be counted and inspected at once.
"""
import numbers

import numpy as np

from fastml.nn.activations import ReLU
from fastml.nn.containers import Residual, Sequential
from fastml.nn.conv import Conv2D
from fastml.nn.dense import Dense, Flatten
from fastml.nn.normalization import BatchNorm
from fastml.nn.pooling import GlobalAvgPool2D, MaxPool2D

__all__ = ["lenet5", "mlp", "resnet_small"]


def _pos_int(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}.")
    return int(v)


def lenet5(n_classes=10, in_channels=1, input_shape="auto", dtype=np.float32,
           random_state=None):
    """LeNet-5 (LeCun et al., 1998) in the form modern baselines use, for 28x28 inputs:

    conv 6@5x5 (padding 2) -> ReLU -> max-pool 2 -> conv 16@5x5 -> ReLU -> max-pool 2
    -> flatten (16*5*5 = 400) -> dense 120 -> ReLU -> dense 84 -> ReLU -> dense n_classes.

    Differences from the 1998 paper: ReLU instead of scaled tanh, max instead of
    trainable average pooling ("subsampling"), a full C3 connection table, and a plain
    dense output with softmax cross-entropy instead of RBF units. 61,706 parameters for
    10 classes. The output is raw scores (logits); the loss applies the softmax.

    Parameters
    ----------
    n_classes : int, default=10
    in_channels : int, default=1
        Checked when the model is built.
    input_shape : "auto", tuple or None, default="auto"
        The shape of one sample; "auto" is ``(in_channels, 28, 28)``. The model is built
        at construction unless it is None.
    dtype : float32 or float64
    random_state : None, int or numpy Generator (initial weights)
    """
    n_classes = _pos_int(n_classes, "n_classes")
    in_channels = _pos_int(in_channels, "in_channels")
    if isinstance(input_shape, str) and input_shape == "auto":
        input_shape = (in_channels, 28, 28)
    return Sequential(
        Conv2D(6, 5, padding=2, in_channels=in_channels), ReLU(), MaxPool2D(2),
        Conv2D(16, 5), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(120), ReLU(),
        Dense(84), ReLU(),
        Dense(n_classes),
        input_shape=input_shape, dtype=dtype, random_state=random_state,
    )


def mlp(hidden_layer_sizes=(100,), n_classes=10, input_shape=None, dtype=np.float32,
        random_state=None):
    """Dense -> ReLU blocks and a dense output (a flatten first, so images work too).
    ``mlp((512, 512), 10, input_shape=(784,))`` has 669,706 parameters."""
    layers = [Flatten()]
    for i, h in enumerate(hidden_layer_sizes):
        layers += [Dense(_pos_int(h, f"hidden_layer_sizes[{i}]")), ReLU()]
    layers.append(Dense(_pos_int(n_classes, "n_classes")))
    return Sequential(*layers, input_shape=input_shape, dtype=dtype,
                      random_state=random_state)


def _basic_block(channels, stride):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input (a 1x1 projection when the shape
    changes), then ReLU (He et al., 2016, fig. 2)."""
    body = Sequential(Conv2D(channels, 3, stride=stride, padding=1, use_bias=False),
                      BatchNorm(), ReLU(),
                      Conv2D(channels, 3, padding=1, use_bias=False), BatchNorm())
    shortcut = None
    if stride != 1:
        shortcut = Sequential(Conv2D(channels, 1, stride=stride, use_bias=False),
                              BatchNorm())
    return [Residual(body, shortcut), ReLU()]


def resnet_small(n_classes=10, in_channels=1, widths=(16, 32, 64), blocks_per_stage=1,
                 input_shape=None, dtype=np.float32, random_state=None):
    """A small residual network for small images (CIFAR-style, He et al., 2016):

    conv 3x3 @ widths[0] -> BN -> ReLU, then for each width a stage of
    ``blocks_per_stage`` basic residual blocks (the first of each later stage halves
    the resolution with stride 2 and a 1x1 projection shortcut), global average
    pooling and a dense output. With the defaults (3 stages, 1 block each): 7 conv
    layers (+2 projections), about 0.07 M parameters.
    """
    n_classes = _pos_int(n_classes, "n_classes")
    in_channels = _pos_int(in_channels, "in_channels")
    widths = [_pos_int(w, f"widths[{i}]") for i, w in enumerate(widths)]
    if not widths:
        raise ValueError("widths must hold at least one int.")
    blocks_per_stage = _pos_int(blocks_per_stage, "blocks_per_stage")
    if input_shape is not None and len(input_shape) == 3:
        in_channels = input_shape[0]
    layers = [Conv2D(widths[0], 3, padding=1, use_bias=False, in_channels=in_channels),
              BatchNorm(), ReLU()]
    prev = widths[0]
    for s, w in enumerate(widths):
        for b in range(blocks_per_stage):
            stride = 2 if (s > 0 and b == 0) else 1
            if stride == 1 and w != prev:
                # width change without downsampling: a 1x1 projection
                body = Sequential(Conv2D(w, 3, padding=1, use_bias=False), BatchNorm(),
                                  ReLU(), Conv2D(w, 3, padding=1, use_bias=False),
                                  BatchNorm())
                layers += [Residual(body, Sequential(Conv2D(w, 1, use_bias=False),
                                                     BatchNorm())), ReLU()]
            else:
                layers += _basic_block(w, stride)
            prev = w
    layers += [GlobalAvgPool2D(), Dense(n_classes)]
    return Sequential(*layers, input_shape=input_shape, dtype=dtype,
                      random_state=random_state)
