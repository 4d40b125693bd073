"""dlcore.distributions: probability distributions mirroring torch.distributions, built on dlcore's
differentiable ops (log_prob, entropy, cdf and rsample carry gradients to the parameters).

    from dlcore.distributions import Normal, kl_divergence
    q = Normal(mu, log_sigma.exp())
    z = q.rsample()                                    # reparameterized
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum()

Sampling draws from dlcore's default generator (dlcore.manual_seed makes it reproducible).
"""
from . import constraints  # noqa: F401
from .distribution import Distribution, ExponentialFamily  # noqa: F401
from .univariate import (Normal, Bernoulli, Categorical, OneHotCategorical, Uniform, Laplace, Exponential,  # noqa
                         Gamma, Beta)
from .more import (Cauchy, Poisson, Geometric, Binomial, Dirichlet, Chi2, StudentT, Multinomial,  # noqa: F401
                   NegativeBinomial)
from .independent import Independent  # noqa: F401
from .mixture import MixtureSameFamily  # noqa: F401
from .relaxed import (ExpRelaxedCategorical, RelaxedOneHotCategorical, LogitRelaxedBernoulli,  # noqa: F401
                      RelaxedBernoulli, HalfNormal, Gumbel)
from .multivariate_normal import MultivariateNormal  # noqa: F401
from .lowrank_multivariate_normal import LowRankMultivariateNormal  # noqa: F401
from .transformed_distribution import TransformedDistribution, LogNormal  # noqa: F401
from .more_continuous import ContinuousBernoulli, Kumaraswamy, Pareto, Weibull  # noqa: F401
from . import transforms  # noqa: F401
from .transforms import (Transform, ComposeTransform, ExpTransform, AffineTransform, SigmoidTransform,  # noqa: F401
                         TanhTransform, PowerTransform)
from .kl import register_kl, kl_divergence  # noqa: F401
from .constraints import Constraint  # noqa: F401

__all__ = ["AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2", "ComposeTransform",
           "ContinuousBernoulli", "Kumaraswamy", "Pareto", "Weibull",
           "Dirichlet", "Distribution", "ExpRelaxedCategorical", "ExpTransform", "Exponential", "ExponentialFamily",
           "Gamma", "Geometric", "Gumbel", "HalfNormal", "Independent", "Laplace", "LogNormal",
           "LogitRelaxedBernoulli", "LowRankMultivariateNormal", "MixtureSameFamily", "Multinomial",
           "MultivariateNormal", "NegativeBinomial", "Normal", "OneHotCategorical", "Poisson", "PowerTransform",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "SigmoidTransform", "StudentT", "TanhTransform",
           "Transform", "TransformedDistribution", "Uniform", "constraints", "kl_divergence", "register_kl",
           "transforms"]
