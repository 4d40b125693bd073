"""Real user programs, PyTorch-tutorial style, run unchanged on torch and on dlcore (``import dlcore as torch``).

Each program is a function of the module namespace ``T`` (``torch`` or ``dlcore``). The reference run builds the
model in torch and exports its initial state_dict through NumPy; the dlcore run loads that state, sees the very same
(deterministic, NumPy-made) data and takes the same optimizer steps. Losses, outputs, gradients and final weights
are then compared with float32 tolerances. Randomness that the two libraries draw differently (dropout, randn,
multinomial, shuffling) is either avoided or checked by properties instead of values.
"""
import math
import os
import tempfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import dlcore  # noqa: E402


# ----------------------------------------------------------------------------------------------- helpers

def npy(x):
    """Any tensor-ish value (torch or dlcore tensor, number, list) as a NumPy value."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    if hasattr(x, "numpy"):
        return np.array(x.numpy(), copy=True)
    return np.asarray(x)


def state_np(model):
    """The state dict with tensors as NumPy arrays (an extra state, a plain Python value, is kept as it is)."""
    return {k: npy(v) if hasattr(v, "detach") else v for k, v in model.state_dict().items()}


def load_np(T, model, sd):
    """Copy a NumPy state dict into ``model`` (the cross-library parameter transfer of every program)."""
    model.load_state_dict({k: T.tensor(v) if isinstance(v, np.ndarray) else v for k, v in sd.items()})


def init_or_load(T, model, init):
    """torch run (init None): record the freshly initialised state. dlcore run: load the recorded one."""
    if init is None:
        return state_np(model)
    load_np(T, model, init)
    return init


def grads_np(model):
    return {n: npy(p.grad) for n, p in model.named_parameters() if p.grad is not None}


def compare(actual, expected, rtol=2e-4, atol=2e-5, path="result"):
    """Recursively compare the result structures of the two runs (dicts, lists, arrays, numbers, strings)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {type(actual)} is not a dict"
        assert sorted(actual) == sorted(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for k in expected:
            compare(actual[k], expected[k], rtol, atol, f"{path}[{k!r}]")
        return
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            compare(a, e, rtol, atol, f"{path}[{i}]")
        return
    if isinstance(expected, str):
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"
        return
    a, e = npy(actual), npy(expected)
    assert a.shape == e.shape, f"{path}: shape {a.shape} != {e.shape}"
    if e.dtype.kind in "biu":
        assert a.dtype.kind == e.dtype.kind, f"{path}: dtype {a.dtype} != {e.dtype}"
        np.testing.assert_array_equal(a, e, err_msg=path)
    else:
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol, err_msg=path)


def run_both(program, rtol=2e-4, atol=2e-5, **kw):
    torch.manual_seed(0)
    ref = program(torch, None, **kw)
    dlcore.manual_seed(0)
    out = program(dlcore, ref["init"], **kw)
    out.pop("init"), ref.pop("init")
    compare({k: v for k, v in out.items() if not k.startswith("_")},
            {k: v for k, v in ref.items() if not k.startswith("_")}, rtol, atol)  # "_x": checked by the test
    return out, ref


def data_rng(seed=0):
    return np.random.RandomState(seed)


# ---------------------------------------------------------------------------------------- (a) ResNet

def resnet_program(T, init, scheduler="onecycle"):
    nn, F = T.nn, T.nn.functional

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != self.expansion * planes:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(self.expansion * planes))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            out = F.relu(out)
            return out

    class ResNet(nn.Module):
        def __init__(self, block, num_blocks, num_classes=10):
            super().__init__()
            self.in_planes = 8
            self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.layer1 = self._make_layer(block, 8, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(block, 16, num_blocks[1], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.linear = nn.Linear(16 * block.expansion, num_classes)

        def _make_layer(self, block, planes, num_blocks, stride):
            strides = [stride] + [1] * (num_blocks - 1)
            layers = []
            for s in strides:
                layers.append(block(self.in_planes, planes, s))
                self.in_planes = planes * block.expansion
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer1(out)
            out = self.layer2(out)
            out = self.avgpool(out)
            out = T.flatten(out, 1)
            return self.linear(out)

    model = ResNet(BasicBlock, [1, 1])
    init = init_or_load(T, model, init)
    r = data_rng(1)
    X = T.tensor(r.randn(6, 8, 3, 8, 8).astype(np.float32))
    Y = T.tensor(r.randint(0, 10, size=(6, 8)))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = T.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    if scheduler == "onecycle":
        sched = T.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=len(X))
    else:
        sched = T.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=len(X), eta_min=1e-3)
    losses, lrs, first_grads = [], [], None
    model.train()
    for i in range(len(X)):
        inputs, targets = X[i], Y[i]
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        if first_grads is None:
            first_grads = grads_np(model)
        optimizer.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    model.eval()
    correct, total = 0, 0
    with T.no_grad():
        outputs = model(X[0])
        _, predicted = outputs.max(1)
        total += Y[0].size(0)
        correct += predicted.eq(Y[0]).sum().item()
        acc2 = (outputs.argmax(dim=1) == Y[0]).float().mean().item()
    assert isinstance(correct, int) and isinstance(acc2, float)
    assert not outputs.requires_grad
    return dict(init=init, losses=losses, lrs=lrs, grads=first_grads, eval_out=outputs, correct=correct,
                acc=acc2, total=total, state=state_np(model))


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_resnet_sgd_nesterov(scheduler):
    run_both(resnet_program, rtol=2e-3, atol=2e-4, scheduler=scheduler)


# ---------------------------------------------------------------------------------------- (b) Transformer LM

def transformer_lm_program(T, init):
    nn, F = T.nn, T.nn.functional
    V, D, L, PAD = 20, 16, 7, 0

    class TransformerLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, D, padding_idx=PAD)
            self.pos = nn.Parameter(T.zeros(1, 16, D))
            layer = nn.TransformerEncoderLayer(d_model=D, nhead=4, dim_feedforward=32, dropout=0.0,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(D),
                                                 enable_nested_tensor=False)
            self.lm_head = nn.Linear(D, V, bias=False)
            self.lm_head.weight = self.embed.weight  # weight tying

        def forward(self, idx, pad_mask=None):
            T_ = idx.size(1)
            mask = nn.Transformer.generate_square_subsequent_mask(T_)
            h = self.embed(idx) * math.sqrt(D) + self.pos[:, :T_, :]
            h = self.encoder(h, mask=mask, src_key_padding_mask=pad_mask)
            return self.lm_head(h)

    model = TransformerLM()
    init = init_or_load(T, model, init)
    assert model.lm_head.weight is model.embed.weight
    r = data_rng(2)
    tokens = r.randint(1, V, size=(4, L + 1))
    lengths = [8, 6, 5, 8]
    for b, n in enumerate(lengths):
        tokens[b, n:] = PAD
    data = T.tensor(tokens)
    inp, tgt = data[:, :-1], data[:, 1:]
    pad_mask = inp == PAD
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = T.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    losses, norms, logits0 = [], [], None
    for step in range(4):
        logits = model(inp, pad_mask)
        if logits0 is None:
            logits0 = logits.detach().clone()
        loss = criterion(logits.view(-1, logits.size(-1)), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = T.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        norms.append(float(norm))
        opt.step()
        losses.append(loss.item())
    # greedy generation, the way tutorials sample from an LM
    model.eval()
    with T.no_grad():
        ctx = data[:1, :3]
        for _ in range(4):
            nxt = model(ctx)[:, -1, :].argmax(dim=-1, keepdim=True)
            ctx = T.cat([ctx, nxt], dim=1)
    state = state_np(model)
    for k in state:
        if k.endswith("in_proj_bias"):
            # the key bias gets a zero gradient in exact arithmetic (softmax is shift invariant), so Adam turns
            # rounding noise into full-size steps of random sign: not comparable between libraries
            state[k][D:2 * D] = 0.0
    return dict(init=init, losses=losses, norms=norms, logits0=logits0, generated=ctx, state=state)


def test_transformer_lm_adamw_clip():
    run_both(transformer_lm_program, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------------------- (c) GRU seq2seq

def seq2seq_program(T, init):
    nn, F = T.nn, T.nn.functional
    from_pack = T.nn.utils.rnn
    V, E, H, PAD, SOS = 12, 8, 10, 0, 1

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E, padding_idx=PAD)
            self.gru = nn.GRU(E, H, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(2 * H, H)

        def forward(self, src, lengths):
            embedded = self.embedding(src)
            packed = from_pack.pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            packed_out, hidden = self.gru(packed)
            outputs, out_lens = from_pack.pad_packed_sequence(packed_out, batch_first=True,
                                                              total_length=src.size(1))
            hidden = T.tanh(self.fc(T.cat((hidden[-2], hidden[-1]), dim=1)))
            return outputs, hidden, out_lens

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.attn_proj = nn.Linear(2 * H, H, bias=False)
            self.gru = nn.GRU(E + 2 * H, H, batch_first=True)
            self.out = nn.Linear(H + 2 * H, V)

        def forward(self, tok, hidden, enc_out, mask):
            emb = self.embedding(tok).unsqueeze(1)                             # B,1,E
            keys = self.attn_proj(enc_out)                                     # B,S,H
            scores = T.bmm(keys, hidden.unsqueeze(2)).squeeze(2)               # B,S
            scores = scores.masked_fill(mask == 0, float("-inf"))
            attn = F.softmax(scores, dim=1)
            context = T.bmm(attn.unsqueeze(1), enc_out)                        # B,1,2H
            output, hidden = self.gru(T.cat((emb, context), dim=2), hidden.unsqueeze(0))
            hidden = hidden.squeeze(0)
            logits = self.out(T.cat((output.squeeze(1), context.squeeze(1)), dim=1))
            return F.log_softmax(logits, dim=1), hidden, attn

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.decoder = Decoder()

        def forward(self, src, lengths, trg, teacher_forcing):
            enc_out, hidden, _ = self.encoder(src, lengths)
            mask = (src != PAD)
            B, L = trg.shape
            outputs = T.zeros(B, L, V)
            tok = trg[:, 0]
            attns = []
            for t in range(1, L):
                out, hidden, attn = self.decoder(tok, hidden, enc_out, mask)
                outputs[:, t] = out
                attns.append(attn)
                top1 = out.argmax(1)
                tok = trg[:, t] if teacher_forcing[t] else top1.detach()
            return outputs, T.stack(attns, dim=1)

    model = Seq2Seq()
    init = init_or_load(T, model, init)
    r = data_rng(3)
    lengths = [5, 3, 6, 2]
    src = np.zeros((4, 6), dtype=np.int64)
    for b, n in enumerate(lengths):
        src[b, :n] = r.randint(2, V, size=n)
    trg = np.concatenate([np.full((4, 1), SOS), r.randint(2, V, size=(4, 4))], axis=1)
    trg[1, 3:] = PAD
    src, trg = T.tensor(src), T.tensor(trg)
    lengths_t = T.tensor(lengths)
    criterion = nn.NLLLoss(ignore_index=PAD)
    opt = T.optim.Adam(model.parameters(), lr=1e-2)
    tf_pattern = [True, True, False, True, False]
    losses = []
    for it in range(3):
        opt.zero_grad()
        outputs, attn = model(src, lengths_t, trg, tf_pattern)
        out_dim = outputs.shape[-1]
        loss = criterion(outputs[:, 1:].reshape(-1, out_dim), trg[:, 1:].reshape(-1))
        loss.backward()
        if it == 0:
            g0 = grads_np(model)
            attn0 = attn.detach()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    with T.no_grad():
        enc_out, hidden, out_lens = model.encoder(src, lengths_t)
    assert out_lens.tolist() == lengths
    # padded positions of the packed output are exactly zero
    assert float(enc_out[3, 2:].abs().sum()) == 0.0
    return dict(init=init, losses=losses, grads=g0, attn=attn0, enc_out=enc_out, out_lens=out_lens,
                state=state_np(model))


def test_gru_seq2seq_attention_packed():
    run_both(seq2seq_program, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------------------- (d) VAE

def vae_program(T, init):
    nn, F = T.nn, T.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(36, 20)
            self.fc21 = nn.Linear(20, 4)
            self.fc22 = nn.Linear(20, 4)
            self.fc3 = nn.Linear(4, 20)
            self.fc4 = nn.Linear(20, 36)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar, eps):
            std = T.exp(0.5 * logvar)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return T.sigmoid(self.fc4(h3))

        def forward(self, x, eps):
            mu, logvar = self.encode(x.view(-1, 36))
            z = self.reparameterize(mu, logvar, eps)
            return self.decode(z), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 36), reduction="sum")
        KLD = -0.5 * T.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return BCE + KLD, BCE, KLD

    model = VAE()
    init = init_or_load(T, model, init)
    r = data_rng(4)
    images = T.tensor((r.rand(5, 8, 1, 6, 6) > 0.5).astype(np.float32))
    eps_all = T.tensor(r.randn(5, 8, 4).astype(np.float32))
    optimizer = T.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses, parts = [], []
    for i in range(len(images)):
        data = images[i]
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data, eps_all[i])
        loss, bce, kld = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(data))
        parts.append([bce.item(), kld.item()])
    model.eval()
    with T.no_grad():
        sample = model.decode(T.tensor(r.randn(3, 4).astype(np.float32))).view(3, 1, 6, 6)
    # randn_like must give the shape/dtype of its argument (the usual reparameterisation)
    e = T.randn_like(mu)
    assert tuple(e.shape) == tuple(mu.shape) and e.dtype == mu.dtype
    return dict(init=init, losses=losses, parts=parts, sample=sample, state=state_np(model))


def test_vae_bce_sum_kl():
    run_both(vae_program, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------- (e) DCGAN

def dcgan_program(T, init):
    nn = T.nn
    nz, ngf, ndf = 6, 8, 8

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 2),
                nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(True),
                nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),
                nn.Tanh())

        def forward(self, input):
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(1, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False))

        def forward(self, input):
            return self.main(input).view(-1, 1).squeeze(1)

    netG, netD = Generator(), Discriminator()
    netG.apply(weights_init)
    netD.apply(weights_init)
    if init is None:
        init = {"G": state_np(netG), "D": state_np(netD)}
    else:
        load_np(T, netG, init["G"])
        load_np(T, netD, init["D"])
    criterion = nn.BCEWithLogitsLoss()
    optimizerD = T.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizerG = T.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    r = data_rng(5)
    reals = T.tensor(np.tanh(r.randn(3, 4, 1, 16, 16)).astype(np.float32))
    noises = T.tensor(r.randn(3, 4, nz, 1, 1).astype(np.float32))
    hist = []
    for i in range(3):
        netD.zero_grad()
        real_cpu = reals[i]
        b_size = real_cpu.size(0)
        label = T.full((b_size,), real_label, dtype=T.float)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = T.sigmoid(output).mean().item()
        fake = netG(noises[i])
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        gG = npy(netG.main[0].weight.grad)
        optimizerG.step()
        hist.append([errD.item(), errG.item(), D_x])
    assert tuple(fake.shape) == (4, 1, 16, 16)
    return dict(init=init, hist=hist, fake=fake.detach(), gG=gG, G=state_np(netG), D=state_np(netD))


def test_dcgan_two_optimizers_detach():
    run_both(dcgan_program, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------------------- (f) word2vec

def skipgram_program(T, init):
    nn, F = T.nn, T.nn.functional
    V, D, K = 30, 8, 4

    class SkipGramNeg(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_embed = nn.Embedding(V, D)
            self.out_embed = nn.Embedding(V, D)
            self.in_embed.weight.data.uniform_(-1, 1)
            self.out_embed.weight.data.uniform_(-1, 1)

        def forward(self, center, context, negatives):
            v = self.in_embed(center)                         # B,D
            u = self.out_embed(context)                       # B,D
            pos = F.logsigmoid(T.sum(v * u, dim=1))           # B
            neg_u = self.out_embed(negatives)                 # B,K,D
            neg = T.bmm(neg_u.neg(), v.unsqueeze(2)).squeeze(2)
            neg = F.logsigmoid(neg).sum(1)
            return -(pos + neg).mean()

    model = SkipGramNeg()
    init = init_or_load(T, model, init)
    r = data_rng(6)
    # unigram^0.75 noise distribution as in the paper; the negatives are drawn once with NumPy
    freqs = r.randint(1, 50, size=V).astype(np.float64)
    noise = freqs ** 0.75 / np.sum(freqs ** 0.75)
    noise_t = T.tensor(noise.astype(np.float32))
    draw = T.multinomial(noise_t, 8 * K, replacement=True)
    assert tuple(draw.shape) == (8 * K,) and draw.dtype == T.int64 and int(draw.min()) >= 0 and int(draw.max()) < V
    batches = [(r.randint(0, V, 8), r.randint(0, V, 8), r.choice(V, size=(8, K), p=noise)) for _ in range(4)]
    opt = T.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for c, ctx, neg in batches:
        opt.zero_grad()
        loss = model(T.tensor(c), T.tensor(ctx), T.tensor(neg))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    emb = model.in_embed.weight.detach()
    normed = F.normalize(emb, p=2, dim=1)
    sims = normed @ normed[:3].t()                            # V,3
    top_vals, top_idx = sims.topk(4, dim=0)
    cos = F.cosine_similarity(emb[:3].unsqueeze(1), emb.unsqueeze(0), dim=2)
    return dict(init=init, losses=losses, top_vals=top_vals, top_idx=top_idx, cos=cos, state=state_np(model))


def test_word2vec_negative_sampling():
    run_both(skipgram_program, rtol=1e-3, atol=1e-4)


# ---------------------------------------------------------------------------------------- (g) autograd / hooks / save

def custom_function_program(T, init):
    nn, F = T.nn, T.nn.functional

    class ScaledClamp(T.autograd.Function):
        @staticmethod
        def forward(ctx, input, scale, lo):
            ctx.save_for_backward(input)
            ctx.scale, ctx.lo = scale, lo
            return input.clamp(min=lo) * scale

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            grad_input = None
            if ctx.needs_input_grad[0]:
                grad_input = grad_output.clone() * ctx.scale
                grad_input[input < ctx.lo] = 0
            return grad_input, None, None

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6))
            self.head = nn.Linear(6, 3)

        def forward(self, x):
            return self.head(ScaledClamp.apply(self.base(x), 1.5, -0.2))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.bias, 0.01)

    model = Net()
    model.apply(init_weights)
    init = init_or_load(T, model, init)
    assert all(float(m.bias[0].detach()) == pytest.approx(0.01) for m in model.modules() if isinstance(m, nn.Linear))

    acts, grad_outs, tensor_grads = {}, {}, []

    def fwd_hook(name):
        def hook(module, inp, out):
            acts[name] = out.detach().clone()
        return hook

    def bwd_hook(module, grad_input, grad_output):
        grad_outs["head"] = grad_output[0].detach().clone()

    h1 = model.base[1].register_forward_hook(fwd_hook("tanh"))
    h2 = model.head.register_full_backward_hook(bwd_hook)
    r = data_rng(7)
    x = T.tensor(r.randn(10, 5).astype(np.float32), requires_grad=True)
    y = T.tensor(r.randint(0, 3, 10))
    opt = T.optim.SGD([{"params": model.base.parameters()},
                       {"params": model.head.parameters(), "lr": 0.01}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    losses = []
    for step in range(3):
        opt.zero_grad()
        out = model(x)
        out.register_hook(lambda g: tensor_grads.append(g.clone()))
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    h1.remove()
    h2.remove()
    acts_before = len(acts)
    model(x)
    assert len(acts) == acts_before
    # a second custom function check against the finite-difference gradcheck, in float64
    xd = T.tensor(r.randn(4, 3), dtype=T.float64, requires_grad=True)
    assert T.autograd.gradcheck(lambda t: ScaledClamp.apply(t, 2.0, 0.3), (xd,), eps=1e-6, atol=1e-4)

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ckpt.pt")
        T.save({"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                "loss": losses[-1]}, path)
        ckpt = T.load(path)
    model2 = Net()
    model2.load_state_dict(ckpt["model_state_dict"])
    opt2 = T.optim.SGD([{"params": model2.base.parameters()},
                        {"params": model2.head.parameters(), "lr": 0.01}], lr=0.1, momentum=0.9)
    opt2.load_state_dict(ckpt["optimizer_state_dict"])
    assert ckpt["epoch"] == 3
    model2.eval()
    with T.no_grad():
        same = T.equal(model2(x), model(x))
    assert same
    # one more step on both: momentum buffers restored, so the models stay identical
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        F.cross_entropy(m(x), y).backward()
        o.step()
    for (n1, p1), (n2, p2) in zip(model.named_parameters(), model2.named_parameters()):
        assert n1 == n2 and T.allclose(p1, p2)
    return dict(init=init, losses=losses, acts=acts["tanh"], head_gout=grad_outs["head"],
                tensor_grads=tensor_grads, xgrad=x.grad, state=state_np(model))


def test_custom_function_hooks_checkpoint_param_groups():
    run_both(custom_function_program, rtol=1e-4, atol=1e-5)


def nn_init_program(T, init):
    nn = T.nn
    checks = []
    w = T.empty(64, 32)
    nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("relu"))
    bound = math.sqrt(2.0) * math.sqrt(6.0 / (64 + 32))
    assert float(w.abs().max()) <= bound + 1e-6
    w2 = T.empty(128, 64)
    nn.init.kaiming_normal_(w2, mode="fan_out", nonlinearity="relu")
    checks.append(abs(float(w2.std()) - math.sqrt(2.0 / 128)) < 0.02)
    w3 = T.empty(3, 3, 3, 3)
    nn.init.dirac_(w3)
    e = T.empty(4, 6)
    nn.init.eye_(e)
    o = T.empty(6, 4)
    nn.init.orthogonal_(o)
    ortho = o.t() @ o
    tn = T.empty(1000)
    nn.init.trunc_normal_(tn, std=0.02, a=-0.04, b=0.04)
    assert float(tn.abs().max()) <= 0.04
    with T.no_grad():
        gains = [nn.init.calculate_gain(n) for n in ("linear", "tanh", "relu", "sigmoid")]
        gains.append(nn.init.calculate_gain("leaky_relu", 0.2))
    return dict(init={}, ok=checks, dirac=w3, eye=e, ortho=ortho, gains=gains)


def test_nn_init_idioms():
    run_both(nn_init_program, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------- (h) data pipeline

def data_pipeline_program(T, init):
    data_mod = T.utils.data
    r = data_rng(8)
    X = T.tensor(r.randn(50, 3).astype(np.float32))
    y = T.tensor(r.randint(0, 2, 50))
    ds = data_mod.TensorDataset(X, y)
    assert len(ds) == 50 and ds[3][0].shape == X[3].shape
    g = T.Generator().manual_seed(42)
    train_ds, val_ds = data_mod.random_split(ds, [40, 10], generator=g)
    idx_train, idx_val = list(train_ds.indices), list(val_ds.indices)
    assert sorted(idx_train + idx_val) == list(range(50))
    # fractions, like torch >= 1.13
    a, b = data_mod.random_split(range(10), [0.7, 0.3], generator=T.Generator().manual_seed(0))
    assert (len(a), len(b)) == (7, 3)
    # same seed, same split
    t2, _ = data_mod.random_split(ds, [40, 10], generator=T.Generator().manual_seed(42))
    assert list(t2.indices) == idx_train

    def epoch_order(seed):
        gen = T.Generator()
        gen.manual_seed(seed)
        loader = data_mod.DataLoader(train_ds, batch_size=16, shuffle=True, generator=gen)
        order = []
        for xb, yb in loader:
            assert xb.dtype == T.float32 and yb.dtype == T.int64
            order.append(xb)
        return T.cat(order), len(loader)

    o1, n1 = epoch_order(7)
    o2, _ = epoch_order(7)
    assert n1 == 3 and T.equal(o1, o2)
    # every training sample exactly once per epoch
    assert sorted(map(tuple, npy(o1).round(6).tolist())) == sorted(map(tuple, npy(X[idx_train]).round(6).tolist()))

    class DictDataset(data_mod.Dataset):
        def __init__(self):
            self.x = npy(X)

        def __len__(self):
            return 10

        def __getitem__(self, i):
            return {"image": T.tensor(self.x[i]), "label": i % 3, "weight": 0.5 * i, "name": f"s{i}",
                    "meta": {"id": T.tensor([i, 2 * i])}}

    loader = data_mod.DataLoader(DictDataset(), batch_size=4, shuffle=False, drop_last=True)
    batches = list(loader)
    assert len(batches) == 2 == len(loader)
    b0 = batches[0]
    assert b0["name"] == ["s0", "s1", "s2", "s3"]
    assert b0["label"].dtype == T.int64 and b0["weight"].dtype == T.float64

    def pad_collate(batch):
        seqs = [T.tensor(np.arange(n, dtype=np.float32)) for n, _ in batch]
        labels = T.tensor([lab for _, lab in batch])
        lengths = T.tensor([len(s) for s in seqs])
        return T.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=-1.0), lengths, labels

    var_loader = data_mod.DataLoader([(3, 0), (1, 1), (4, 0), (2, 1)], batch_size=2, collate_fn=pad_collate)
    padded = [list(b) for b in var_loader]
    dc = data_mod.default_collate([(T.tensor([1.0, 2.0]), 3), (T.tensor([3.0, 4.0]), 5)])
    return dict(init={}, b0_image=b0["image"], b0_label=b0["label"], b0_weight=b0["weight"],
                b0_meta=b0["meta"]["id"], b1_label=batches[1]["label"], padded=padded, dc=list(dc))


def test_data_pipeline():
    run_both(data_pipeline_program)


# ---------------------------------------------------------------------------------------- (i) char LSTM

def char_lstm_program(T, init):
    nn, F = T.nn, T.nn.functional
    text = "hello world, this is a tiny corpus for a tiny char model. hello again!"
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    V, H = len(chars), 16
    data = T.tensor([stoi[c] for c in text], dtype=T.long)

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, 10)
            self.lstm = nn.LSTM(10, H, num_layers=2, batch_first=True, dropout=0.0)
            self.fc = nn.Linear(H, V)

        def forward(self, x, hidden):
            out, hidden = self.lstm(self.embed(x), hidden)
            return self.fc(out.reshape(-1, H)), hidden

        def init_hidden(self, batch_size):
            weight = next(self.parameters())
            return (weight.new_zeros(2, batch_size, H), weight.new_zeros(2, batch_size, H))

    model = CharRNN()
    init = init_or_load(T, model, init)
    B, S = 2, 8
    n = (len(data) - 1) // (B * S) * (B * S)
    xs = data[:n].view(B, -1)
    ys = data[1:n + 1].view(B, -1)
    opt = T.optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(2):
        hidden = model.init_hidden(B)
        for i in range(0, xs.size(1), S):
            x, y = xs[:, i:i + S], ys[:, i:i + S]
            hidden = tuple(h.detach() for h in hidden)
            opt.zero_grad()
            logits, hidden = model(x, hidden)
            loss = criterion(logits, y.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(loss.item())
    assert not hidden[0].requires_grad or hidden[0].grad_fn is not None
    model.eval()
    probs_all = []
    with T.no_grad():
        hidden = model.init_hidden(1)
        inp = T.tensor([[stoi["h"]]])
        generated = []
        for temperature in (0.5, 1.0, 2.0):
            logits, hidden = model(inp, hidden)
            probs = F.softmax(logits / temperature, dim=-1)
            probs_all.append(probs)
            nxt = T.multinomial(probs, num_samples=1)
            assert tuple(nxt.shape) == (1, 1) and nxt.dtype == T.int64
            generated.append(int(nxt.item()))
            inp = probs.argmax(dim=-1, keepdim=True)
        T.manual_seed(123)
        s1 = T.multinomial(probs_all[1], 20, replacement=True)
        T.manual_seed(123)
        s2 = T.multinomial(probs_all[1], 20, replacement=True)
        assert T.equal(s1, s2)
    assert all(0 <= g < V for g in generated)
    return dict(init=init, losses=losses, probs=probs_all, state=state_np(model))


def test_char_lstm_detach_sampling():
    run_both(char_lstm_program, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------------------- (j) tabular regression

def tabular_program(T, init, optimizer="lbfgs"):
    nn = T.nn
    r = data_rng(9)
    Xn = r.randn(64, 5).astype(np.float32)
    yn = (Xn @ r.randn(5, 1) + 0.3 * np.sin(Xn[:, :1] * 3) + 0.05 * r.randn(64, 1)).astype(np.float32)
    mean, std = Xn.mean(0), Xn.std(0)
    X = (T.from_numpy(Xn) - T.from_numpy(mean)) / T.from_numpy(std)
    y = T.from_numpy(yn)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
    init = init_or_load(T, model, init)
    loss_fn = nn.MSELoss()
    losses, lrs = [], []
    if optimizer == "lbfgs":
        opt = T.optim.LBFGS(model.parameters(), lr=1, max_iter=10, history_size=5, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            return loss

        for _ in range(3):
            loss = opt.step(closure)
            losses.append(float(loss))
    else:
        opt = T.optim.SGD(model.parameters(), lr=0.05)
        sched = T.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1, threshold=1e-2)
        for epoch in range(8):
            model.train()
            for i in range(0, 64, 16):
                opt.zero_grad()
                loss = loss_fn(model(X[i:i + 16]), y[i:i + 16])
                loss.backward()
                opt.step()
            model.eval()
            with T.no_grad():
                val = loss_fn(model(X), y).item()
            # a plateau every other epoch so that the scheduler acts
            sched.step(val if epoch % 2 == 0 else 10.0)
            losses.append(val)
            lrs.append(opt.param_groups[0]["lr"])
    with T.no_grad():
        pred = model(X)
        mae = nn.functional.l1_loss(pred, y).item()
        r2 = 1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return dict(init=init, losses=losses, lrs=lrs, mae=mae, r2=r2.item(), state=state_np(model))


@pytest.mark.parametrize("optimizer", ["lbfgs", "plateau"])
def test_tabular_regression(optimizer):
    run_both(tabular_program, rtol=2e-3, atol=2e-4, optimizer=optimizer)


# ---------------------------------------------------------------------------------------- (k) everyday idioms

def idioms_program(T, init):
    F = T.nn.functional
    r = data_rng(10)
    a = T.tensor(r.randn(3, 4).astype(np.float32))
    b = T.tensor(r.randn(4, 5).astype(np.float32))
    out = {}
    out["where"] = T.where(a > 0, a, T.zeros_like(a))
    out["where_scalar"] = T.where(a > 0, a, 0.0)
    out["einsum_mm"] = T.einsum("ij,jk->ik", a, b)
    out["einsum_batch"] = T.einsum("bi,bj->bij", a, a)
    vals, idx = T.topk(a, 2, dim=1)
    out["topk"] = [vals, idx]
    out["topk_small"] = list(a.topk(2, dim=0, largest=False))
    out["gather"] = a.gather(1, T.tensor([[0, 3], [1, 1], [2, 0]]))
    z = T.zeros(3, 5)
    z.scatter_(1, T.tensor([[0, 4], [1, 2], [3, 3]]), T.ones(3, 2))
    out["scatter"] = z
    out["scatter_add"] = T.zeros(5).scatter_add_(0, T.tensor([0, 1, 1, 4]), T.tensor([1.0, 2.0, 3.0, 4.0]))
    onehot = T.zeros(4, 6).scatter_(1, T.tensor([[1], [5], [0], [2]]), 1.0)
    out["onehot"] = onehot
    out["one_hot"] = F.one_hot(T.tensor([1, 5, 0, 2]), num_classes=6)
    out["cumsum"] = T.cumsum(a, dim=1)
    out["cumsum_m"] = a.cumsum(0)
    img = T.tensor(r.randn(2, 3, 4, 5).astype(np.float32))
    out["interp_nearest"] = F.interpolate(img, scale_factor=2, mode="nearest")
    out["interp_bilinear"] = F.interpolate(img, size=(7, 9), mode="bilinear", align_corners=False)
    out["interp_bilinear_ac"] = F.interpolate(img, scale_factor=1.5, mode="bilinear", align_corners=True)
    out["pad"] = F.pad(img, (1, 2, 0, 1), mode="constant", value=0.5)
    out["pad_reflect"] = F.pad(img, (1, 1, 2, 2), mode="reflect")
    out["pad_replicate"] = F.pad(img, (2, 0, 1, 1), mode="replicate")
    out["stack"] = T.stack([a, a * 2], dim=1)
    out["cat"] = T.cat([a, a[:1]], dim=0)
    out["view"] = img.view(2, -1)
    out["permute"] = img.permute(0, 2, 3, 1).contiguous().view(2, -1, 3)
    out["transpose_reshape"] = img.transpose(1, 2).reshape(6, -1)
    assert not img.permute(0, 2, 3, 1).is_contiguous()
    out["flatten"] = img.flatten(start_dim=1)
    out["to_double"] = a.to(T.float64)
    out["to_int"] = (a * 10).to(dtype=T.int32)
    out["long"] = (a * 10).long()
    out["half_roundtrip"] = a.half().float()
    out["tolist"] = a.tolist()
    out["item_type"] = str(type(a.sum().item()).__name__) + str(type(T.tensor(3).item()).__name__)
    out["argmax_keep"] = a.argmax(dim=1, keepdim=True)
    out["max_dim"] = list(a.max(dim=0))
    out["sort"] = list(a.sort(dim=1, descending=True))
    out["argsort"] = a.argsort(dim=0)
    out["chunk"] = list(img.chunk(2, dim=3))
    out["split"] = list(a.split([1, 3], dim=1))
    out["unbind"] = list(a.unbind(0))
    out["masked_select"] = a.masked_select(a > 0.5)
    out["nonzero"] = (a > 0).nonzero()
    out["nonzero_tuple"] = list(T.nonzero(a > 0, as_tuple=True))
    out["repeat"] = a[:1].repeat(2, 3)
    out["expand"] = a[:, :1].expand(-1, 4) + 0
    out["clamp"] = a.clamp(min=-0.5, max=0.5)
    out["arange"] = T.arange(0, 10, 3)
    out["linspace"] = T.linspace(0, 1, steps=5)
    out["tril"] = T.tril(T.ones(4, 4), diagonal=-1)
    out["triu_mask"] = T.triu(T.ones(3, 3, dtype=T.bool), diagonal=1)
    out["bool_idx"] = a[a.sum(1) > 0]
    out["fancy"] = a[[0, 2], 1:3]
    out["index_select"] = a.index_select(1, T.tensor([3, 0]))
    out["softmax_neg"] = F.softmax(a, dim=-1)
    out["norm"] = [a.norm(), a.norm(dim=1), T.linalg.norm(a, dim=0)]
    out["mean_std"] = [a.mean(dim=0), a.std(dim=1), a.var(unbiased=False)]
    out["matmul_batch"] = T.matmul(img[:, 0], img[:, 1].transpose(-1, -2))
    out["outer"] = T.outer(a[0], a[1])
    out["allclose"] = bool(T.allclose(a, a + 1e-9))
    out["numel"] = img.numel() + len(img) + img.dim() + img.ndim + img.size(-1) + img.shape[1]
    x = T.tensor(r.randn(6).astype(np.float32), requires_grad=True)
    y = (x.cumsum(0) * T.arange(6.0)).sum() + T.where(x > 0, x ** 2, -x).sum()
    y.backward()
    out["grad_cumsum_where"] = x.grad
    T.manual_seed(0)
    r1 = T.rand(3)
    T.manual_seed(0)
    r2 = T.rand(3)
    assert T.equal(r1, r2)
    return dict(init={}, **out)


def test_everyday_idioms():
    out, ref = run_both(idioms_program, rtol=1e-5, atol=1e-6)
    assert out["item_type"] == "floatint"


# ---------------------------------------------------------------------------------------- (l) annotated transformer

def annotated_transformer_program(T, init):
    import copy
    nn, F = T.nn, T.nn.functional
    d_model, h, V, PAD = 8, 2, 7, 0

    def clones(module, N):
        return nn.ModuleList([copy.deepcopy(module) for _ in range(N)])

    def attention(query, key, value, mask=None):
        d_k = query.size(-1)
        scores = T.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        p_attn = scores.softmax(dim=-1)
        return T.matmul(p_attn, value), p_attn

    def subsequent_mask(size):
        sm = T.triu(T.ones((1, size, size)), diagonal=1).to(T.uint8)
        return sm == 0

    class LayerNorm(nn.Module):
        def __init__(self, features, eps=1e-6):
            super().__init__()
            self.a_2 = nn.Parameter(T.ones(features))
            self.b_2 = nn.Parameter(T.zeros(features))
            self.eps = eps

        def forward(self, x):
            mean = x.mean(-1, keepdim=True)
            std = x.std(-1, keepdim=True)
            return self.a_2 * (x - mean) / (std + self.eps) + self.b_2

    class MultiHeadedAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.d_k = d_model // h
            self.linears = clones(nn.Linear(d_model, d_model), 4)
            self.attn = None

        def forward(self, query, key, value, mask=None):
            if mask is not None:
                mask = mask.unsqueeze(1)
            nbatches = query.size(0)
            query, key, value = [lin(x).view(nbatches, -1, h, self.d_k).transpose(1, 2)
                                 for lin, x in zip(self.linears, (query, key, value))]
            x, self.attn = attention(query, key, value, mask=mask)
            x = x.transpose(1, 2).contiguous().view(nbatches, -1, h * self.d_k)
            del query, key, value
            return self.linears[-1](x)

    class PositionalEncoding(nn.Module):
        def __init__(self, max_len=16):
            super().__init__()
            pe = T.zeros(max_len, d_model)
            position = T.arange(0, max_len).unsqueeze(1)
            div_term = T.exp(T.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))
            pe[:, 0::2] = T.sin(position * div_term)
            pe[:, 1::2] = T.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0))

        def forward(self, x):
            return x + self.pe[:, : x.size(1)].requires_grad_(False)

    class LabelSmoothing(nn.Module):
        def __init__(self, size, padding_idx, smoothing=0.0):
            super().__init__()
            self.criterion = nn.KLDivLoss(reduction="sum")
            self.padding_idx = padding_idx
            self.confidence = 1.0 - smoothing
            self.smoothing = smoothing
            self.size = size
            self.true_dist = None

        def forward(self, x, target):
            assert x.size(1) == self.size
            true_dist = x.data.clone()
            true_dist.fill_(self.smoothing / (self.size - 2))
            true_dist.scatter_(1, target.data.unsqueeze(1), self.confidence)
            true_dist[:, self.padding_idx] = 0
            mask = T.nonzero(target.data == self.padding_idx)
            if mask.dim() > 0:
                true_dist.index_fill_(0, mask.squeeze(), 0.0)
            self.true_dist = true_dist
            return self.criterion(x, true_dist.clone().detach())

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, d_model)
            self.pos = PositionalEncoding()
            self.attn = MultiHeadedAttention()
            self.norm = LayerNorm(d_model)
            self.proj = nn.Linear(d_model, V)

        def forward(self, x, mask):
            x = self.pos(self.emb(x) * math.sqrt(d_model))
            x = x + self.attn(self.norm(x), self.norm(x), self.norm(x), mask)
            return F.log_softmax(self.proj(x), dim=-1)

    def rate(step, model_size, factor, warmup):
        if step == 0:
            step = 1
        return factor * (model_size ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))

    model = Model()
    init = init_or_load(T, model, init)
    # the clones are independent copies
    assert model.attn.linears[0].weight is not model.attn.linears[1].weight
    r = data_rng(11)
    src = T.tensor(r.randint(1, V, size=(3, 5)))
    src[1, 3:] = PAD
    tgt = T.tensor(r.randint(0, V, size=(3, 5)))
    mask = (src != PAD).unsqueeze(-2) & subsequent_mask(5)
    crit = LabelSmoothing(V, PAD, smoothing=0.1)
    opt = T.optim.Adam(model.parameters(), lr=0.5, betas=(0.9, 0.98), eps=1e-9)
    sched = T.optim.lr_scheduler.LambdaLR(optimizer=opt, lr_lambda=lambda step: rate(step, d_model, 1.0, 3))
    losses, lrs = [], []
    for _ in range(4):
        out = model(src, mask)
        ntokens = (tgt != PAD).data.sum()
        loss = crit(out.contiguous().view(-1, out.size(-1)), tgt.contiguous().view(-1)) / ntokens
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
    state = state_np(model)
    state["attn.linears.1.bias"][:] = 0.0  # the key bias: a zero gradient in exact arithmetic (see the LM above)
    return dict(init=init, mask=mask, losses=losses, lrs=lrs, true_dist=crit.true_dist, attn=model.attn.attn.detach(),
                pe=model.pos.pe, state=state)


def test_annotated_transformer_pieces():
    run_both(annotated_transformer_program, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------------------- (m) nanoGPT

def nanogpt_program(T, init, flash=False):
    import inspect
    nn, F = T.nn, T.nn.functional
    n_embd, n_head, block, V, n_layer = 8, 2, 6, 11, 2

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + T.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * T.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.register_buffer("bias", T.tril(T.ones(block, block)).view(1, 1, block, block))

        def forward(self, x):
            B, T_, C = x.size()
            q, k, v = self.c_attn(x).split(n_embd, dim=2)
            k = k.view(B, T_, n_head, C // n_head).transpose(1, 2)
            q = q.view(B, T_, n_head, C // n_head).transpose(1, 2)
            v = v.view(B, T_, n_head, C // n_head).transpose(1, 2)
            if flash:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T_, :T_] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T_, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd, bias=False)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd, bias=False)
            self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(n_embd, 4 * n_embd), act=NewGELU(),
                                          c_proj=nn.Linear(4 * n_embd, n_embd)))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            m = self.mlp
            return x + m.c_proj(m.act(m.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(V, n_embd), wpe=nn.Embedding(block, n_embd),
                                                  h=nn.ModuleList([Block() for _ in range(n_layer)]),
                                                  ln_f=nn.LayerNorm(n_embd, bias=False)))
            self.lm_head = nn.Linear(n_embd, V, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def forward(self, idx, targets=None):
            b, t = idx.size()
            assert t <= block
            pos = T.arange(0, t, dtype=T.long, device=idx.device)
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for blk in self.transformer.h:
                x = blk(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [{"params": decay_params, "weight_decay": weight_decay},
                            {"params": nodecay_params, "weight_decay": 0.0}]
            fused_available = "fused" in inspect.signature(T.optim.AdamW).parameters
            use_fused = fused_available and device_type == "cuda"
            extra_args = dict(fused=True) if use_fused else dict()
            return T.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)

        @T.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= block else idx[:, -block:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = T.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = T.multinomial(probs, num_samples=1)
                assert int(probs.gather(1, idx_next).min()) >= 0 and float(probs.gather(1, idx_next).min()) > 0
                idx_next = probs.argmax(dim=-1, keepdim=True)   # deterministic, for the comparison
                idx = T.cat((idx, idx_next), dim=1)
            return idx, probs

    model = GPT()
    init = init_or_load(T, model, init)
    assert model.lm_head.weight is model.transformer.wte.weight
    device_type = "cpu"
    opt = model.configure_optimizers(0.1, 1e-2, (0.9, 0.95), device_type)
    ctx = T.autocast(device_type=device_type, dtype=T.bfloat16, enabled=False)
    scaler = T.amp.GradScaler("cpu", enabled=False)
    data = T.tensor(data_rng(12).randint(0, V, (3, block + 1)))
    x, y = data[:, :-1].contiguous(), data[:, 1:].contiguous()
    y[0, -1] = -1
    losses = []
    for it in range(3):
        for g in opt.param_groups:
            g["lr"] = 1e-2 * (it + 1) / 3
        with ctx:
            logits, loss = model(x, y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        T.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    gen, probs = model.generate(x[:, :2], 6, temperature=0.8, top_k=3)
    return dict(init=init, losses=losses, gen=gen, probs=probs, nparams=model.get_num_params(), state=state_np(model))


@pytest.mark.parametrize("flash", [False, True])
def test_nanogpt(flash):
    run_both(nanogpt_program, rtol=2e-3, atol=2e-4, flash=flash)


# ---------------------------------------------------------------------------------------- (n) GradScaler loop

def grad_scaler_program(T, init):
    nn = T.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    init = init_or_load(T, model, init)
    opt = T.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = T.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=2)
    r = data_rng(13)
    X = T.tensor(r.randn(6, 5, 4).astype(np.float32))
    Y = T.tensor(r.randn(6, 5, 1).astype(np.float32))
    scales, losses, skipped = [], [], []
    for i in range(len(X)):
        opt.zero_grad()
        with T.autocast(device_type="cpu", enabled=False):
            loss = nn.functional.mse_loss(model(X[i]), Y[i])
        scaled = scaler.scale(loss)
        scaled.backward()
        if i == 2:  # an overflowing iteration: its step is skipped and the scale backs off
            with T.no_grad():
                model[0].weight.grad[0, 0] = float("inf")
        scaler.unscale_(opt)
        before = npy(model[2].weight)
        scaler.step(opt)
        skipped.append(bool(np.array_equal(before, npy(model[2].weight))))
        scaler.update()
        scales.append(scaler.get_scale())
        losses.append([loss.item(), scaled.item()])
    sd = scaler.state_dict()
    fresh = T.amp.GradScaler("cpu")
    fresh.load_state_dict(sd)
    assert fresh.get_scale() == scaler.get_scale()
    with pytest.raises(RuntimeError, match="unscale_"):
        loss = nn.functional.mse_loss(model(X[0]), Y[0])
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        scaler.unscale_(opt)
    return dict(init=init, scales=scales, losses=losses, skipped=skipped, sd=sd, state=state_np(model))


def test_grad_scaler_training_loop():
    out, _ = run_both(grad_scaler_program, rtol=1e-4, atol=1e-5)
    assert out["skipped"] == [False, False, True, False, False, False]


def test_compile_backends_and_amp_switches():
    torch.backends.cudnn.benchmark  # (the reference names exist)
    m = dlcore.nn.Linear(2, 2)
    assert dlcore.compile(m) is m
    assert dlcore.compile(mode="reduce-overhead")(m) is m
    assert m.compile(mode="max-autotune") is None and m(dlcore.ones(1, 2)).shape == (1, 2)
    with pytest.raises(RuntimeError, match="mode or options"):
        m.compile(mode="default", options={})

    @dlcore.compile
    def f(x):
        return x * 2
    assert f(dlcore.ones(1)).item() == 2.0
    dlcore.backends.cudnn.benchmark = True
    dlcore.backends.cudnn.deterministic = True
    assert dlcore.backends.cudnn.is_available() is False
    assert dlcore.backends.mps.is_available() is False
    device = "mps" if dlcore.backends.mps.is_available() else "cpu"
    assert device == "cpu"
    prev = dlcore.get_float32_matmul_precision()
    try:
        dlcore.set_float32_matmul_precision("high")
        assert dlcore.get_float32_matmul_precision() == "high"
        assert dlcore.backends.cuda.matmul.allow_tf32 is True
        dlcore.set_float32_matmul_precision("highest")
        assert dlcore.backends.cuda.matmul.allow_tf32 is False
        with pytest.raises(RuntimeError, match="precision"):
            dlcore.set_float32_matmul_precision("low")
    finally:
        dlcore.set_float32_matmul_precision(prev)
    with dlcore.autocast("cpu", dtype=dlcore.bfloat16):  # (autocast itself: test_autocast.py)
        assert dlcore.is_autocast_enabled("cpu")
    assert not dlcore.is_autocast_enabled("cpu")
    from dlcore.cuda.amp import GradScaler, autocast
    with autocast(enabled=False):
        pass
    if not dlcore.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            s = GradScaler()
        assert not s.is_enabled() and s.get_scale() == 1.0 and s.state_dict() == {}
    s = dlcore.amp.GradScaler("cpu", enabled=False)
    loss = dlcore.ones(1, requires_grad=True).sum()
    assert s.scale(loss) is loss
    # torch.accelerator / torch.distributed guards as scripts write them
    acc = dlcore.accelerator.current_accelerator()
    assert (acc is None) == (not dlcore.cuda.is_built())
    assert dlcore.accelerator.is_available() == dlcore.cuda.is_available()
    assert dlcore.accelerator.device_count() == (dlcore.cuda.device_count() if dlcore.cuda.is_built() else 0)
    import dlcore.distributed as dist
    assert not (dist.is_available() and dist.is_initialized())


def test_autograd_grad_batched_and_only_inputs():
    x = dlcore.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x ** 2
    (g,) = dlcore.autograd.grad(y, x, dlcore.eye(3), retain_graph=True, is_grads_batched=True)
    np.testing.assert_allclose(npy(g), np.diag([2.0, 4.0, 6.0]))
    with pytest.raises(RuntimeError, match="is_grads_batched"):
        dlcore.autograd.grad(y, x, dlcore.ones(3), retain_graph=True, is_grads_batched=True)
    with pytest.warns(UserWarning, match="only_inputs"):
        (g2,) = dlcore.autograd.grad(y.sum(), x, only_inputs=False)
    np.testing.assert_allclose(npy(g2), [2.0, 4.0, 6.0])


# ---------------------------------------------------------------------------------------- (o) WGAN-GP

def wgan_gp_program(T, init):
    nn = T.nn
    D = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    G = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 4))
    if init is None:
        init = {"D": state_np(D), "G": state_np(G)}
    else:
        load_np(T, D, init["D"])
        load_np(T, G, init["G"])
    optD = T.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    optG = T.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    r = data_rng(14)

    def compute_gradient_penalty(real, fake, alpha):
        interpolates = (alpha * real + ((1 - alpha) * fake)).requires_grad_(True)
        d_interpolates = D(interpolates)
        fake_out = T.ones(real.shape[0], 1).requires_grad_(False)
        gradients = T.autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=fake_out,
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        return ((gradients.norm(2, dim=1) - 1) ** 2).mean()

    hist = []
    for it in range(3):
        real = T.tensor(r.randn(8, 4).astype(np.float32))
        z = T.tensor(r.randn(8, 3).astype(np.float32))
        alpha = T.tensor(r.rand(8, 1).astype(np.float32))
        optD.zero_grad()
        fake = G(z)
        gp = compute_gradient_penalty(real.data, fake.data, alpha)
        d_loss = -T.mean(D(real)) + T.mean(D(fake.detach())) + 10 * gp
        d_loss.backward()
        optD.step()
        for p in D.parameters():
            p.data.clamp_(-0.5, 0.5)
        optG.zero_grad()
        g_loss = -T.mean(D(G(z)))
        g_loss.backward()
        optG.step()
        hist.append([d_loss.item(), g_loss.item(), gp.item()])
    # per-row Jacobian of the critic by batched grad_outputs (torch's is_grads_batched)
    x = T.tensor(r.randn(2, 4).astype(np.float32), requires_grad=True)
    y = D(x).squeeze(1)
    (jac,) = T.autograd.grad(y, x, T.eye(2), is_grads_batched=True)
    return dict(init=init, hist=hist, jac=jac, D=state_np(D), G=state_np(G))


def test_wgan_gp_autograd_grad():
    run_both(wgan_gp_program, rtol=2e-3, atol=2e-4)


# ---------------------------------------------------------------------------------------- (p) super-resolution

def super_resolution_program(T, init):
    nn, F = T.nn, T.nn.functional

    class ESPCN(nn.Module):
        def __init__(self, upscale=2):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 5, padding=2, padding_mode="reflect")
            self.conv2 = nn.Conv2d(8, 8, 3, padding="same", padding_mode="replicate")
            self.conv3 = nn.Conv2d(8, 6, 4, padding="same")  # an even kernel: asymmetric 'same'
            self.conv4 = nn.Conv2d(6, upscale ** 2, 3, padding=1, padding_mode="circular")
            self.shuffle = nn.PixelShuffle(upscale)

        def forward(self, x):
            x = T.tanh(self.conv1(x))
            x = T.tanh(self.conv2(x))
            x = T.tanh(self.conv3(x))
            return self.shuffle(self.conv4(x))

    model = ESPCN()
    init = init_or_load(T, model, init)
    r = data_rng(15)
    hr = T.tensor(r.rand(3, 1, 12, 10).astype(np.float32))
    lr_img = F.interpolate(hr, scale_factor=0.5, mode="bicubic", align_corners=False)
    baseline = F.interpolate(lr_img, size=(12, 10), mode="bicubic", align_corners=False).clamp(0, 1)
    opt = T.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        sr = model(lr_img) + baseline
        loss = F.mse_loss(sr, hr)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    psnr = 10 * T.log10(1 / F.mse_loss(baseline, hr))
    assert "padding_mode=reflect" in repr(model.conv1)
    return dict(init=init, lr=lr_img, baseline=baseline, losses=losses, psnr=psnr.item(), state=state_np(model))


def test_super_resolution_padding_modes_bicubic():
    run_both(super_resolution_program, rtol=1e-3, atol=1e-4)


def test_interpolate_bicubic_vs_torch_and_gradcheck():
    r = data_rng(16)
    for dtype, tol in ((np.float32, 2e-6), (np.float64, 1e-12)):
        a = r.randn(2, 3, 5, 6).astype(dtype)
        for kw in (dict(size=(9, 4)), dict(scale_factor=2), dict(scale_factor=(1.7, 0.6)), dict(size=(1, 1)),
                   dict(scale_factor=1.0), dict(size=(5, 6))):
            for ac in (False, True):
                x = dlcore.tensor(a, requires_grad=True)
                tx = torch.tensor(a, requires_grad=True)
                y = dlcore.nn.functional.interpolate(x, mode="bicubic", align_corners=ac, **kw)
                ty = torch.nn.functional.interpolate(tx, mode="bicubic", align_corners=ac, **kw)
                np.testing.assert_allclose(npy(y), npy(ty), rtol=tol, atol=tol, err_msg=str((dtype, kw, ac)))
                g = r.randn(*ty.shape).astype(dtype)
                y.backward(dlcore.tensor(g))
                ty.backward(torch.tensor(g))
                np.testing.assert_allclose(npy(x.grad), npy(tx.grad), rtol=10 * tol, atol=10 * tol)
    x = dlcore.tensor(r.randn(1, 2, 3, 4), requires_grad=True)
    assert dlcore.autograd.gradcheck(
        lambda t: dlcore.nn.functional.interpolate(t, size=(5, 3), mode="bicubic"), (x,))
    up = dlcore.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)
    np.testing.assert_allclose(npy(up(dlcore.tensor(a[:1]))),
                               npy(torch.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)(
                                   torch.tensor(a[:1]))), rtol=1e-12, atol=1e-12)
    with pytest.raises(NotImplementedError, match="bicubic"):
        dlcore.nn.functional.interpolate(dlcore.ones(1, 1, 3), size=2, mode="bicubic")
    # an integer image is refused (it used to come back all zeros: the weights were cast to uint8)
    img = dlcore.tensor((np.arange(16).reshape(1, 1, 4, 4) * 10).astype(np.uint8))
    for mode in ("bilinear", "bicubic"):
        with pytest.raises(NotImplementedError, match="floating-point"):
            dlcore.nn.functional.interpolate(img, size=(3, 5), mode=mode)
    np.testing.assert_array_equal(npy(dlcore.nn.functional.interpolate(img, size=(3, 5), mode="nearest")),
                                  npy(torch.nn.functional.interpolate(torch.tensor(npy(img)), size=(3, 5))))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("cls,shape,kw", [
    ("Conv1d", (2, 3, 9), dict(kernel_size=3, padding=2)),
    ("Conv2d", (2, 3, 7, 6), dict(kernel_size=(3, 2), padding=(1, 2), stride=(2, 1))),
    ("Conv2d", (2, 3, 7, 6), dict(kernel_size=4, padding="same", dilation=1)),
    ("Conv3d", (1, 3, 4, 5, 4), dict(kernel_size=3, padding=1)),
])
def test_conv_padding_modes_vs_torch(mode, cls, shape, kw):
    tm = getattr(torch.nn, cls)(3, 4, padding_mode=mode, **kw)
    dm = getattr(dlcore.nn, cls)(3, 4, padding_mode=mode, **kw)
    load_np(dlcore, dm, state_np(tm))
    a = data_rng(17).randn(*shape).astype(np.float32)
    tx, dx = torch.tensor(a, requires_grad=True), dlcore.tensor(a, requires_grad=True)
    ty, dy = tm(tx), dm(dx)
    np.testing.assert_allclose(npy(dy), npy(ty), rtol=1e-5, atol=1e-5)
    ty.square().sum().backward()
    dy.square().sum().backward()
    np.testing.assert_allclose(npy(dx.grad), npy(tx.grad), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(npy(dm.weight.grad), npy(tm.weight.grad), rtol=1e-4, atol=1e-4)
    assert f"padding_mode={mode}" in repr(dm)
    with pytest.raises(ValueError, match="padding_mode"):
        getattr(dlcore.nn, cls)(3, 4, 3, padding_mode="mirror")


def test_conv_same_even_kernel_module():
    tm = torch.nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))
    dm = dlcore.nn.Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))
    load_np(dlcore, dm, state_np(tm))
    a = data_rng(18).randn(1, 2, 6, 7).astype(np.float32)
    np.testing.assert_allclose(npy(dm(dlcore.tensor(a))), npy(tm(torch.tensor(a))), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------- (q) module hooks

def hooks_program(T, init):
    nn = T.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(3, 4)
            self.act = nn.Tanh()
            self.fc2 = nn.Linear(4, 2)

        def forward(self, x, scale=1.0):
            return self.fc2(self.act(self.fc1(x))) * scale

    model = Net()
    init = init_or_load(T, model, init)
    log = []
    seen = {}

    def full_bw(name):
        def hook(module, grad_input, grad_output):
            seen[name] = ([None if g is None else g.clone() for g in grad_input], [g.clone() for g in grad_output])
            log.append(name)
        return hook

    handles = [model.fc1.register_full_backward_hook(full_bw("fc1")),
               model.act.register_full_backward_hook(full_bw("act")),
               model.fc2.register_full_backward_hook(full_bw("fc2"))]
    # the pre-hook halves the gradient arriving at fc2's output; the act hook doubles its grad_input
    handles.append(model.fc2.register_full_backward_pre_hook(lambda m, go: (go[0] * 0.5,)))
    handles.append(model.act.register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,)))
    handles.append(model.register_forward_pre_hook(lambda m, args, kwargs: (args, {"scale": 3.0}), with_kwargs=True))
    order = []
    handles.append(model.fc1.register_forward_hook(lambda m, a, o: order.append("second")))
    handles.append(model.fc1.register_forward_hook(lambda m, a, o: order.append("first"), prepend=True))
    handles.append(model.register_forward_hook(lambda m, a, kw, o: o + kw["scale"], with_kwargs=True))
    r = data_rng(19)
    x = T.tensor(r.randn(5, 3).astype(np.float32), requires_grad=True)
    out = model(x)
    assert order == ["first", "second"]
    out.pow(2).sum().backward()
    res = dict(init=init, out=out, xgrad=x.grad, grads=grads_np(model), log=list(log),
               seen={k: [[npy(g) if g is not None else "none" for g in v[0]], [npy(g) for g in v[1]]]
                     for k, v in seen.items()})
    for hnd in handles:
        hnd.remove()
    log.clear()
    model.zero_grad()
    x2 = T.tensor(r.randn(5, 3).astype(np.float32))  # no input requires grad: fc1's hook gets grad_input (None,)
    h = model.fc1.register_full_backward_hook(full_bw("fc1"))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        model(x2).sum().backward()
    h.remove()
    res["nograd_input"] = [["none" if g is None else npy(g) for g in seen["fc1"][0]], log]
    model.zero_grad()
    model(x2).sum().backward()
    res["plain_grads"] = grads_np(model)
    return res


def test_module_full_backward_hooks_and_forward_hook_kwargs():
    out, _ = run_both(hooks_program, rtol=1e-5, atol=1e-6)
    assert out["log"] == ["fc2", "act", "fc1"]


def test_full_backward_hook_errors():
    lin = dlcore.nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = dlcore.ones(1, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        lin(x).sum().backward()
    lin2 = dlcore.nn.Linear(2, 2)
    lin2.register_full_backward_hook(lambda m, gi, go: (dlcore.ones(1, 2),))
    with pytest.raises(RuntimeError, match="no input requires gradient"), pytest.warns(UserWarning, match="firing"):
        lin2(dlcore.ones(1, 2)).sum().backward()
    # under no_grad the hooks are not armed and the output is a plain tensor
    with dlcore.no_grad():
        assert lin(x).grad_fn is None


# ---------------------------------------------------------------------------------------- (r) resuming schedulers

def scheduler_resume_program(T, init):
    """Resuming a run: the optimizer's groups carry initial_lr and the scheduler is built with last_epoch=k."""
    S = T.optim.lr_scheduler
    makers = {
        "cosine": lambda o, le: S.CosineAnnealingLR(o, T_max=10, eta_min=0.01, last_epoch=le),
        "exponential": lambda o, le: S.ExponentialLR(o, 0.9, last_epoch=le),
        "linear": lambda o, le: S.LinearLR(o, 0.2, total_iters=6, last_epoch=le),
        "multiplicative": lambda o, le: S.MultiplicativeLR(o, lambda e: 0.95, last_epoch=le),
        "polynomial": lambda o, le: S.PolynomialLR(o, total_iters=8, power=2, last_epoch=le),
        "step": lambda o, le: S.StepLR(o, 3, 0.5, last_epoch=le),
        "multistep": lambda o, le: S.MultiStepLR(o, [2, 6], 0.5, last_epoch=le),
        "lambda": lambda o, le: S.LambdaLR(o, lambda e: 1 / (e + 1), last_epoch=le),
        "warm_restarts": lambda o, le: S.CosineAnnealingWarmRestarts(o, 3, 2, last_epoch=le),
    }
    out = {}
    for name, make in makers.items():
        for le in (-1, 0, 4):
            p = [T.nn.Parameter(T.zeros(1))]
            o = T.optim.SGD(p, lr=0.1, momentum=0.9)
            for g in o.param_groups:
                g["initial_lr"] = 0.1
            s = make(o, le)
            lrs = [o.param_groups[0]["lr"]]
            for _ in range(8):
                o.step()
                s.step()
                lrs.append(o.param_groups[0]["lr"])
            out[f"{name}{le}"] = [lrs, s.last_epoch]
    return dict(init={}, **out)


def test_scheduler_resume_with_last_epoch():
    # CosineAnnealingLR / ExponentialLR used to move the lr in the constructor's step when resumed (last_epoch=k)
    run_both(scheduler_resume_program, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------- (s) the quickstart

def quickstart_program(T, init, tmpdir=None):
    """The official "Learn the Basics" quickstart, with an 8x8 synthetic FashionMNIST stand-in."""
    nn = T.nn
    from_data = T.utils.data
    device = T.accelerator.current_accelerator().type if T.accelerator.is_available() else "cpu"
    r = data_rng(20)
    train_data = from_data.TensorDataset(T.tensor(r.rand(48, 1, 8, 8).astype(np.float32)),
                                         T.tensor(r.randint(0, 10, 48)))
    test_data = from_data.TensorDataset(T.tensor(r.rand(20, 1, 8, 8).astype(np.float32)),
                                        T.tensor(r.randint(0, 10, 20)))
    train_dataloader = from_data.DataLoader(train_data, batch_size=16)
    test_dataloader = from_data.DataLoader(test_data, batch_size=16)
    for X, y in test_dataloader:
        assert tuple(X.shape) == (16, 1, 8, 8) and y.dtype == T.int64
        break

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(nn.Linear(8 * 8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                                   nn.Linear(32, 10))

        def forward(self, x):
            x = self.flatten(x)
            return self.linear_relu_stack(x)

    model = NeuralNetwork().to(device)
    init = init_or_load(T, model, init)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = T.optim.SGD(model.parameters(), lr=1e-1)
    log = []

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 2 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                log.append(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with T.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(T.float).sum().item()
        test_loss /= num_batches
        correct /= size
        log.append(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
        return test_loss, correct

    results = []
    for t in range(3):
        train(train_dataloader, model, loss_fn, optimizer)
        results.append(test(test_dataloader, model, loss_fn))
    path = os.path.join(tmpdir, f"model_{T.__name__}.pth")
    T.save(model.state_dict(), path)
    model2 = NeuralNetwork().to(device)
    model2.load_state_dict(T.load(path, weights_only=True))
    model2.eval()
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
    x, y = test_data[0][0], test_data[0][1]
    with T.no_grad():
        x = x.to(device)
        pred = model2(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
    return dict(init=init, _log=log, results=results, predicted=predicted, actual=actual, state=state_np(model2))


def test_quickstart_tutorial(tmp_path):
    out, ref = run_both(quickstart_program, rtol=1e-3, atol=1e-4, tmpdir=str(tmp_path))
    # the printed lines: the same text, the formatted floats equal to float32 rounding
    import re
    num = re.compile(r"[-+]?\d+\.\d+")
    assert [num.sub("#", s) for s in out["_log"]] == [num.sub("#", s) for s in ref["_log"]]
    a = [float(v) for s in out["_log"] for v in num.findall(s)]
    e = [float(v) for s in ref["_log"] for v in num.findall(s)]
    np.testing.assert_allclose(a, e, rtol=1e-5, atol=2e-6)


# ---------------------------------------------------------------------------------------- (t) with device:

def test_device_context_manager_places_modules(device):
    """``with torch.device(d): model = Net()`` (the LLM-era idiom) and set_default_device: the parameters and
    buffers of modules built inside land on d; the previous default comes back after the block."""
    before = dlcore.get_default_device()
    with dlcore.device(device) as d:
        assert str(d) == str(dlcore.device(device))
        lin = dlcore.nn.Linear(3, 2)
        bn = dlcore.nn.BatchNorm1d(2)
        conv = dlcore.nn.Conv2d(1, 2, 3)
        lstm = dlcore.nn.LSTM(3, 4)
        x = dlcore.ones(5, 3)
        with dlcore.device("cpu"):  # nested
            assert dlcore.nn.Linear(1, 1).weight.device.type == "cpu"
        assert dlcore.get_default_device().type == dlcore.device(device).type
    for t in (lin.weight, lin.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked, conv.weight,
              lstm.weight_ih_l0, x):
        assert t.device.type == dlcore.device(device).type, t
    assert bn(lin(x)).device.type == dlcore.device(device).type
    assert str(dlcore.get_default_device()) == str(before)
    assert dlcore.nn.Linear(1, 1).weight.device.type == before.type


# ---------------------------------------------------------------------------------------- (u) a hand-written optimizer

def custom_optimizer_program(T, init):
    """An optimizer written the way torch 1.x's sources (and the many copies in the wild: AdaBelief, RAdam, Ranger,
    Lookahead) write them: sparse-gradient guard, preserve_format state, addcmul_/addcdiv_ with value=."""
    nn = T.nn

    class MyAdamW(T.optim.Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
            if not 0.0 <= lr:
                raise ValueError("Invalid learning rate: {}".format(lr))
            defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
            super(MyAdamW, self).__init__(params, defaults)

        @T.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with T.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    grad = p.grad
                    if grad.is_sparse:
                        raise RuntimeError("AdamW does not support sparse gradients")
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = 0
                        state["exp_avg"] = T.zeros_like(p, memory_format=T.preserve_format)
                        state["exp_avg_sq"] = T.zeros_like(p, memory_format=T.preserve_format)
                    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                    beta1, beta2 = group["betas"]
                    state["step"] += 1
                    bias_correction1 = 1 - beta1 ** state["step"]
                    bias_correction2 = 1 - beta2 ** state["step"]
                    exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
                    step_size = group["lr"] / bias_correction1
                    p.addcdiv_(exp_avg, denom, value=-step_size)
            return loss

    class Lookahead(T.optim.Optimizer):
        def __init__(self, base_optimizer, alpha=0.5, k=2):
            self.optimizer = base_optimizer
            self.param_groups = self.optimizer.param_groups
            self.alpha, self.k = alpha, k
            self.state = {}
            self.defaults = base_optimizer.defaults
            self.step_counter = 0
            self.slow = [[p.clone().detach() for p in group["params"]] for group in self.param_groups]

        def step(self, closure=None):
            loss = self.optimizer.step(closure)
            self.step_counter += 1
            if self.step_counter % self.k == 0:
                for group, slow in zip(self.param_groups, self.slow):
                    for p, q in zip(group["params"], slow):
                        q.data.add_(p.data - q.data, alpha=self.alpha)
                        p.data.copy_(q.data)
            return loss

    model = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 2))
    init = init_or_load(T, model, init)
    opt = Lookahead(MyAdamW(model.parameters(), lr=0.05), alpha=0.5, k=2)
    r = data_rng(21)
    X = T.tensor(r.randn(16, 4).astype(np.float32))
    y = T.tensor(r.randint(0, 2, 16))
    losses = []
    for _ in range(5):
        def closure():
            opt.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(X), y)
            loss.backward()
            return loss
        losses.append(float(opt.step(closure)))
    st = opt.optimizer.state[model[0].weight]
    assert st["step"] == 5 and isinstance(st["step"], int)
    assert model[0].weight.layout == T.strided
    return dict(init=init, losses=losses, exp_avg=st["exp_avg"], state=state_np(model))


def test_hand_written_optimizer_and_lookahead():
    run_both(custom_optimizer_program, rtol=1e-4, atol=1e-5)


def test_memory_format_and_layout_names():
    x = dlcore.arange(24.0).view(1, 2, 3, 4)
    for fmt in (dlcore.contiguous_format, dlcore.preserve_format, dlcore.channels_last):
        for y in (x.to(memory_format=fmt), x.clone(memory_format=fmt), dlcore.zeros_like(x, memory_format=fmt) + x):
            np.testing.assert_array_equal(npy(y), npy(x))
    assert isinstance(dlcore.channels_last, dlcore.memory_format) and repr(dlcore.channels_last_3d).endswith(
        "channels_last_3d")
    import copy
    import pickle
    assert copy.deepcopy([dlcore.preserve_format])[0] is dlcore.preserve_format
    assert pickle.loads(pickle.dumps(dlcore.strided)) is dlcore.strided
    assert x.layout is dlcore.strided and isinstance(dlcore.strided, dlcore.layout)
    assert not (x.is_sparse or x.is_quantized or x.is_meta or x.is_nested or x.is_sparse_csr)


def test_full_backward_hook_then_inplace_relu():
    """Grad-CAM on a conv followed by ReLU(inplace=True): torch refuses the in-place op on the hooked output
    (a view made by a custom Function); dlcore's hooked output is a copy, so the gradients stay those of the model
    without hooks and the hook sees the gradient at the conv's output."""
    tconv = torch.nn.Conv2d(2, 3, 3, padding=1)
    a = data_rng(22).randn(2, 2, 5, 5).astype(np.float32)

    def run(T, conv, hook):
        net = T.nn.Sequential(conv, T.nn.ReLU(inplace=True), T.nn.AdaptiveAvgPool2d(1), T.nn.Flatten())
        seen = []
        if hook:
            conv.register_full_backward_hook(lambda m, gi, go: seen.append(npy(go[0])))
            conv.register_forward_hook(lambda m, i, o: seen.append(npy(o)))
        x = T.tensor(a, requires_grad=True)
        net(x)[:, 1].sum().backward()
        return npy(x.grad), npy(conv.weight.grad), seen

    ref_x, ref_w, _ = run(torch, tconv, hook=False)
    dconv = dlcore.nn.Conv2d(2, 3, 3, padding=1)
    load_np(dlcore, dconv, state_np(tconv))
    gx, gw, seen = run(dlcore, dconv, hook=True)
    np.testing.assert_allclose(gx, ref_x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw, ref_w, rtol=1e-5, atol=1e-6)
    act, grad_at_conv = seen
    expected = np.zeros_like(act)
    expected[:, 1] = (act[:, 1] > 0) / 25.0  # d(mean over 5x5 of relu)/d(conv output), channel 1 only
    np.testing.assert_allclose(grad_at_conv, expected, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------- (v) the legacy constructor

def legacy_layer_program(T, init):
    """Custom layers as older tutorials (and many repositories) write them: nn.Parameter(torch.Tensor(out, in))
    then reset_parameters(), a Bayesian-style layer with a softplus sigma."""
    nn, F = T.nn, T.nn.functional

    class MyLinear(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.in_features, self.out_features = in_features, out_features
            self.weight = nn.Parameter(T.Tensor(out_features, in_features))
            self.weight_rho = nn.Parameter(T.Tensor(out_features, in_features))
            if bias:
                self.bias = nn.Parameter(T.Tensor(out_features))
            else:
                self.register_parameter("bias", None)
            self.reset_parameters()

        def reset_parameters(self):
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            self.weight_rho.data.fill_(-3.0)
            if self.bias is not None:
                fan_in, _ = nn.init._calculate_fan_in_and_fan_out(self.weight)
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(self.bias, -bound, bound)

        def forward(self, input, eps):
            sigma = F.softplus(self.weight_rho)
            return F.linear(input, self.weight + sigma * eps, self.bias)

    layer = MyLinear(5, 3)
    assert layer.weight.dtype == T.float32 and tuple(layer.weight.shape) == (3, 5)
    init = init_or_load(T, layer, init)
    r = data_rng(23)
    x = T.tensor(r.randn(7, 5).astype(np.float32))
    eps = T.tensor(r.randn(3, 5).astype(np.float32))
    opt = T.optim.SGD(layer.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = layer(x, eps).pow(2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    legacy = [T.Tensor([1, 2, 3]), T.Tensor((4, 5)), T.Tensor(np.arange(3)), T.Tensor(T.Size([2, 2])).shape,
              T.Tensor(3).shape, T.Tensor().shape]
    assert legacy[0].dtype == T.float32 and legacy[2].dtype == T.float32
    return dict(init=init, losses=losses, legacy=[npy(legacy[0]), npy(legacy[1]), npy(legacy[2]),
                                                   list(legacy[3]), list(legacy[4]), list(legacy[5])],
                state=state_np(layer))


def test_legacy_tensor_constructor_layers():
    run_both(legacy_layer_program, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="dtype"):
        dlcore.Tensor(2, 3, dtype=dlcore.float64)
    with pytest.raises(TypeError, match="float"):
        dlcore.Tensor(2.5)
    t = dlcore.ones(2)
    alias = dlcore.Tensor(t)
    alias[0] = 5.0
    assert t[0].item() == 5.0  # Tensor(tensor) still aliases


def optimizer_hooks_program(T, init):
    """Step hooks as training utilities use them: a pre-hook that clips, a post-hook that keeps an EMA, a global
    post-hook that counts; handles removed afterwards."""
    nn = T.nn
    model = nn.Linear(3, 2)
    init = init_or_load(T, model, init)
    opt = T.optim.SGD(model.parameters(), lr=0.5, momentum=0.5)
    ema = [p.detach().clone() for p in model.parameters()]
    calls = []

    def clip_pre(optimizer, args, kwargs):
        calls.append("pre")
        T.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 0.1)

    def ema_post(optimizer, args, kwargs):
        calls.append("post")
        with T.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.mul_(0.5).add_(p, alpha=0.5)

    h1 = opt.register_step_pre_hook(clip_pre)
    h2 = opt.register_step_post_hook(ema_post)
    import importlib
    optim_module = importlib.import_module(T.__name__ + ".optim.optimizer")
    h3 = optim_module.register_optimizer_step_post_hook(lambda o, a, k: calls.append("global"))
    r = data_rng(24)
    x = T.tensor(r.randn(6, 3).astype(np.float32))
    losses = []
    for i in range(4):
        if i == 2:
            h1.remove()
            h3.remove()
        opt.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    h2.remove()
    return dict(init=init, losses=losses, ema=ema, calls=calls, state=state_np(model))


def test_optimizer_step_hooks():
    out, _ = run_both(optimizer_hooks_program, rtol=1e-5, atol=1e-6)
    assert out["calls"] == ["pre", "post", "global"] * 2 + ["post"] * 2
    lin = dlcore.nn.Linear(2, 1)
    opt = dlcore.optim.Adam(lin.parameters())
    opt.register_step_pre_hook(lambda o, a, k: "bad")
    lin(dlcore.ones(1, 2)).sum().backward()
    with pytest.raises(RuntimeError, match="new_args, new_kwargs"):
        opt.step()


def extra_state_program(T, init):
    """A module keeping non-tensor state (a vocabulary, a step counter) in its checkpoint through
    get_extra_state / set_extra_state, saved with torch.save and restored into a fresh model."""
    nn = T.nn

    class Tokenizer(nn.Module):
        def __init__(self):
            super().__init__()
            self.vocab = {"<pad>": 0}
            self.emb = nn.Embedding(8, 2)

        def add(self, word):
            self.vocab.setdefault(word, len(self.vocab))

        def get_extra_state(self):
            return {"vocab": dict(self.vocab), "version": 2}

        def set_extra_state(self, state):
            self.vocab = dict(state["vocab"])

        def forward(self, words):
            return self.emb(T.tensor([self.vocab[w] for w in words]))

    model = nn.Sequential(Tokenizer(), nn.Linear(2, 1))
    init = init_or_load(T, model, init)
    for w in ("the", "cat", "sat"):
        model[0].add(w)
    sd = model.state_dict()
    keys = list(sd.keys())
    fresh = nn.Sequential(Tokenizer(), nn.Linear(2, 1))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tok.pt")
        T.save(sd, path)
        fresh.load_state_dict(T.load(path, weights_only=False))
    missing = None
    try:
        nn.Sequential(Tokenizer(), nn.Linear(2, 1)).load_state_dict(
            {k: v for k, v in sd.items() if not k.endswith("_extra_state")})
    except RuntimeError as e:
        missing = "Missing key(s)" in str(e) and '"0._extra_state"' in str(e)
    plain = nn.Linear(2, 1)
    try:
        plain.load_state_dict({**plain.state_dict(), "_extra_state": 1})
        unexpected = False
    except RuntimeError as e:
        unexpected = '"_extra_state"' in str(e)
    return dict(init=init, keys=keys, vocab=sorted(fresh[0].vocab.items()), out=fresh(["cat", "sat"]),
                missing=missing, unexpected=unexpected)


def test_module_extra_state_checkpoint():
    out, _ = run_both(extra_state_program)
    assert out["keys"] == ["0._extra_state", "0.emb.weight", "1.weight", "1.bias"]
    assert out["missing"] and out["unexpected"]
