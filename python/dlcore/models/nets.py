"""Model definitions (see the package docstring)."""
from __future__ import annotations

from .. import nn


def mlp(num_classes=10, in_features=784, hidden=(256, 128), dropout=0.0):
    layers = [nn.Flatten()]
    prev = in_features
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        prev = h
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)


def convnet(num_classes=10, in_channels=1, filters=20, hidden=100, image_size=28):
    """The lecture ConvNet: conv 5x5 (20 filters) -> ReLU -> max-pool 2x2 -> FC 100 -> ReLU -> FC 10."""
    side = (image_size - 4) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, filters, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(filters * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def _vgg_stage(cin, cout, convs):
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                   nn.ReLU()]
    layers.append(nn.MaxPool2d(2))
    return layers


def vgg_small(num_classes=10, in_channels=1, widths=(32, 64, 128), dropout=0.3, image_size=28):
    """Three stages of two 3x3 conv + batchnorm + ReLU, each followed by 2x2 max-pooling, then a dropout MLP head."""
    layers = []
    cin = in_channels
    side = image_size
    for w in widths:
        layers += _vgg_stage(cin, w, 2)
        cin = w
        side //= 2
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin * side * side, 256), nn.BatchNorm1d(256), nn.ReLU(),
               nn.Dropout(dropout), nn.Linear(256, num_classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 conv + batchnorm layers with an identity (or 1x1 projection) skip connection."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetSmall(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, widths=(32, 64, 128), blocks=(2, 2, 2)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages = []
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                stages.append(BasicBlock(cin, w, stride=2 if (j == 0 and i > 0) else 1))
                cin = w
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(self.pool(x).flatten(1))


def resnet_small(num_classes=10, in_channels=1, widths=(32, 64, 128), blocks=(2, 2, 2)):
    return ResNetSmall(num_classes, in_channels, widths, blocks)


class LSTMRows(nn.Module):
    """Reads an image row by row (28 steps of 28 pixels) with an LSTM; classifies from the last hidden state."""

    def __init__(self, num_classes=10, input_size=28, hidden=128, layers=1):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden, num_layers=layers, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = x.reshape(x.shape[0], x.shape[-2], x.shape[-1])  # [N, 1, 28, 28] -> [N, 28 steps, 28 features]
        out, (h, c) = self.lstm(x)
        return self.fc(h[-1])


def lstm_rows(num_classes=10, hidden=128, layers=1):
    return LSTMRows(num_classes, 28, hidden, layers)


class StackedAutoencoder(nn.Module):
    """Encoder layers sizes[0] -> sizes[1] -> ... with tied-shape decoders for greedy layer-wise pre-training,
    and a classifier head on the last code.

    pretrain_layer(k) returns the module to train for layer k: input = the (frozen) codes of layers < k,
    target = those codes; the earlier encoders have requires_grad False while it trains."""

    def __init__(self, sizes=(784, 256, 64), num_classes=10):
        super().__init__()
        self.sizes = tuple(sizes)
        self.flatten = nn.Flatten()
        self.encoders = nn.ModuleList([nn.Sequential(nn.Linear(a, b), nn.Sigmoid())
                                       for a, b in zip(sizes[:-1], sizes[1:])])
        self.decoders = nn.ModuleList([nn.Linear(b, a) for a, b in zip(sizes[:-1], sizes[1:])])
        self.head = nn.Linear(sizes[-1], num_classes)

    def encode(self, x, upto=None):
        x = self.flatten(x)
        for enc in self.encoders[:upto]:
            x = enc(x)
        return x

    def freeze_below(self, k):
        """Layers < k frozen, layer k trainable (greedy pre-training of layer k)."""
        for i, enc in enumerate(self.encoders):
            enc.requires_grad_(i == k)
        for i, dec in enumerate(self.decoders):
            dec.requires_grad_(i == k)

    def unfreeze(self):
        self.requires_grad_(True)

    def reconstruct(self, x, k):
        """(input to layer k, its reconstruction by layer k's autoencoder)."""
        from .. import no_grad
        with no_grad():
            inp = self.encode(x, upto=k)
        return inp, self.decoders[k](self.encoders[k](inp))

    def forward(self, x):
        return self.head(self.encode(x))


def autoencoder(num_classes=10, sizes=(784, 256, 64)):
    return StackedAutoencoder(sizes, num_classes)


def alexnet(num_classes=1000, dropout=0.5):
    """AlexNet at 224x224 (Krizhevsky et al. 2012, single-tower, with local response normalization)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )


def vgg16(num_classes=1000, batch_norm=False):
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers.append(nn.Conv2d(cin, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU())
            cin = v
    layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 4096),
               nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, num_classes)]
    return nn.Sequential(*layers)


MODELS = {"mlp": mlp, "convnet": convnet, "vgg_small": vgg_small, "resnet_small": resnet_small,
          "lstm_rows": lstm_rows, "autoencoder": autoencoder, "alexnet": alexnet, "vgg16": vgg16}


def get_model(name, **kwargs):
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](**kwargs)
