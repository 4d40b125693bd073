"""The lecture networks, each a function returning an nn.Module (inputs NCHW; Fashion-MNIST is [N, 1, 28, 28]).

    mlp            784-256-128-10 multilayer perceptron
    convnet        the lecture ConvNet: conv 5x5 20 -> ReLU -> max-pool 2x2 -> FC 100 -> ReLU -> FC 10
    vgg_small      3x3 conv stacks with batchnorm and dropout
    resnet_small   residual blocks with skip connections
    lstm_rows      an LSTM reading the 28 rows of each image
    autoencoder    a stacked autoencoder (greedy layer-wise pre-training) with a classifier head
    alexnet, vgg16 the ImageNet definitions at 224x224 (for throughput benchmarks)
"""
from .nets import (mlp, convnet, vgg_small, resnet_small, lstm_rows, autoencoder, alexnet, vgg16,  # noqa: F401
                   StackedAutoencoder, BasicBlock, MODELS, get_model)
