"""Ready-made architectures."""
import numbers

from fastml.nn.layers import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential

__all__ = ["lenet5", "mlp"]


def _pos_int(v, name):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}.")
    return int(v)


def lenet5(n_classes=10, in_channels=1):
    """LeNet-5 (LeCun et al., 1998) in the form modern baselines use, for 28x28 inputs:

    conv 6@5x5 (padding 2) -> ReLU -> max-pool 2 -> conv 16@5x5 -> ReLU -> max-pool 2
    -> flatten (16*5*5 = 400) -> dense 120 -> ReLU -> dense 84 -> ReLU -> dense n_classes.

    Differences from the 1998 paper: ReLU instead of scaled tanh, max instead of
    trainable average pooling ("subsampling"), a full C3 connection table, and a plain
    dense output with softmax cross-entropy instead of RBF units. 61,706 parameters for
    10 classes. The output is raw scores (logits); the loss applies the softmax.
    """
    n_classes = _pos_int(n_classes, "n_classes")
    in_channels = _pos_int(in_channels, "in_channels")
    model = Sequential(
        Conv2D(6, 5, padding=2), ReLU(), MaxPool2D(2),
        Conv2D(16, 5), ReLU(), MaxPool2D(2),
        Flatten(),
        Dense(120), ReLU(),
        Dense(84), ReLU(),
        Dense(n_classes),
    )
    model.expected_in_channels = in_channels  # checked when the model is built
    return model


def mlp(hidden_layer_sizes=(100,), n_classes=10):
    """Dense -> ReLU blocks and a dense output (a flatten first, so images work too)."""
    layers = [Flatten()]
    for i, h in enumerate(hidden_layer_sizes):
        layers += [Dense(_pos_int(h, f"hidden_layer_sizes[{i}]")), ReLU()]
    layers.append(Dense(_pos_int(n_classes, "n_classes")))
    return Sequential(*layers)
