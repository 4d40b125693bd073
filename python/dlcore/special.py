"""dlcore.special: torch.special's functions, built from dlcore's elementwise kernels and differentiable ops.

Most functions are the existing kernels under torch.special's names (expit = sigmoid, gammaln = lgamma, psi =
digamma, ...). The others are compositions of dlcore ops, so that autograd differentiates them (and double backward
works), except where a composition would be numerically bad; those are Functions whose backward is torch's
derivatives.yaml formula written with differentiable ops:

- erfcx: exp(x^2) erfc(x), computed in float64: erfc(x) * exp(x^2) with x^2 split exactly (x = xh + xl) below
  x = 2, and the continued fraction erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) above.
- log_ndtr: torch's formula (log(erfcx(-x/sqrt2)/2) - x^2/2 below x = -1), composed (each branch clamped to its
  own range, so the unused branch cannot put NaN into the gradient).
- ndtri: Cephes ndtri (rational approximations on three ranges, accurate at both tails), in float64.
- i0, i0e, i1, i1e: Cephes Chebyshev expansions over |x| <= 8 and |x| > 8 (Clenshaw recurrence), in float64.
- zeta (Hurwitz), polygamma for n >= 2: Cephes zeta (direct sum, then Euler-Maclaurin), in float64 (as torch's CPU
  kernel, whose accumulation type for float is double).
- gammainc, gammaincc: series / continued fraction to convergence, in float64 (derivative in x only, as torch).
- entr, xlog1py: torch's conventions at 0 need a Function.

Without autograd, as torch: bessel_j0/j1/y0/y1, modified_bessel_i0/i1/k0/k1, scaled_modified_bessel_k0/k1,
spherical_bessel_j0, airy_ai (torch's Cephes formulas, in float64) and the orthogonal polynomials (chebyshev_*,
shifted_chebyshev_*, hermite_*, laguerre_polynomial_l, legendre_polynomial_p: torch's recurrences, in the promoted
dtype).

float32 results computed in float64 are rounded once at the end; float16/bfloat16 inputs compute in float32.
Integer and bool inputs promote to the default float dtype, as torch.special does. Every function has torch's
``out=`` keyword except softmax/log_softmax (torch has none there either).
"""
from __future__ import annotations

import math
import numbers

from . import _C, _ops, _math_extra, _nn_layers, _creation
from .autograd import Function, _needs_grad, is_grad_enabled

Tensor = _C.Tensor
_f32 = _C.dtype.float32
_f64 = _C.dtype.float64
_LOW = (_C.dtype.float16, _C.dtype.bfloat16)

__all__ = ["expit", "logit", "erf", "erfc", "erfcx", "erfinv", "exp2", "expm1", "log1p", "gammaln", "digamma", "psi",
           "polygamma", "multigammaln", "xlogy", "xlog1py", "entr", "sinc", "round", "softmax", "log_softmax",
           "logsumexp", "ndtr", "ndtri", "log_ndtr", "i0", "i0e", "i1", "i1e", "zeta"]

_SQRT_PI = math.sqrt(math.pi)
_SQRT1_2 = math.sqrt(0.5)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# ------------------------------------------------------------------------------------------------- helpers

def _check_tensor(name, x, arg="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"special.{name}(): argument '{arg}' must be a Tensor, not {type(x).__name__}")


def _floating(x):
    """x promoted to a floating dtype as torch's unary float ops do (integer/bool -> the default dtype)."""
    if x.dtype.is_floating_point:
        return x
    return _ops_to(x, _creation.get_default_dtype())


def _ops_to(x, dtype):
    return x.to(dtype) if x.dtype != dtype else x


def _finish(name, res, out):
    """torch's out= semantics: the result is cast into out (resized when its shape differs); no autograd."""
    if out is None:
        return res
    if not isinstance(out, Tensor):
        raise TypeError(f"special.{name}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    if is_grad_enabled() and (res.requires_grad or out.requires_grad):
        raise RuntimeError(f"special.{name}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad")
    rd, od = res.dtype, out.dtype
    cat = lambda d: 0 if d == _C.dtype.bool else (2 if d.is_floating_point else 1)  # noqa: E731
    if cat(rd) > cat(od):
        raise RuntimeError(f"special.{name}(): result type {rd.name} can't be cast to the desired output type "
                           f"{od.name}")
    if out.device != res.device:
        raise RuntimeError(f"special.{name}(): expected out on {res.device}, got out on {out.device}")
    if tuple(out.shape) != tuple(res.shape):
        out.resize_(list(res.shape))
    out.copy_(res)
    return out


def _delegate(name, fn, doc):
    def op(input, *, out=None):
        _check_tensor(name, input)
        return _finish(name, fn(input), out)
    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = doc
    return op


def _unary_function(name, forward_impl, backward_impl, saves_out=True):
    """A Function for a unary op: forward_impl(x) -> out (raw, without grad), backward_impl(x, out, g) -> grad written
    with differentiable ops (so create_graph records it)."""

    class _U(Function):
        _double_backward = True

        @staticmethod
        def forward(ctx, x):
            out = forward_impl(x)
            ctx.save_for_backward(x, out if saves_out else None)
            return out

        @staticmethod
        def backward(ctx, g):
            x, out = ctx.saved_tensors
            return backward_impl(x, out, g)

    _U.__name__ = "Special" + name.capitalize() + "Backward"
    return _U


def _apply_unary(name, fn_cls, input, out):
    _check_tensor(name, input)
    x = _floating(input)
    low = x.dtype in _LOW
    if low:
        x = x.to(_f32)
    res = fn_cls.apply(x) if _needs_grad(x) else fn_cls.forward(_NoCtx(), x)
    if low:
        res = res.to(input.dtype)
    return _finish(name, res, out)


class _NoCtx:
    """A stand-in ctx for calling a Function's forward without recording."""

    def save_for_backward(self, *tensors):
        pass


def _in64(fn):
    """fn computed in float64 and rounded to x's dtype."""
    def f(x):
        r = fn(_ops_to(x, _f64))
        return _ops_to(r, x.dtype)
    return f


def _where(c, a, b):
    return _ops.where(c, a, b)


def _polevl(x, coeffs):
    """sum coeffs[i] x^(n-i) by Horner's rule (coeffs highest power first)."""
    r = _creation.full_like(x, coeffs[0])
    for c in coeffs[1:]:
        r = r * x + c
    return r


def _chbevl(x, coeffs):
    """Cephes chbevl: the Chebyshev series sum' coeffs[i] T_i(x/2) by Clenshaw's recurrence (coeffs zero order
    last)."""
    b0 = _creation.full_like(x, coeffs[0])
    b1 = _creation.zeros_like(x)
    b2 = b1
    for c in coeffs[1:]:
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + c
    return (b0 - b2) * 0.5


# ------------------------------------------------------------------------------------------------- the kernels

expit = _delegate("expit", _ops.sigmoid, "special.expit(input, *, out=None): the logistic sigmoid 1/(1+exp(-x)).")
erf = _delegate("erf", _ops.erf, "special.erf(input, *, out=None): the error function.")
erfc = _delegate("erfc", _math_extra.erfc, "special.erfc(input, *, out=None): 1 - erf(x).")
erfinv = _delegate("erfinv", _math_extra.erfinv, "special.erfinv(input, *, out=None): the inverse of erf.")
exp2 = _delegate("exp2", _ops.exp2, "special.exp2(input, *, out=None): 2^x.")
expm1 = _delegate("expm1", _ops.expm1, "special.expm1(input, *, out=None): exp(x) - 1.")
log1p = _delegate("log1p", _ops.log1p, "special.log1p(input, *, out=None): log(1 + x).")
gammaln = _delegate("gammaln", _math_extra.lgamma, "special.gammaln(input, *, out=None): log|Gamma(x)|.")
digamma = _delegate("digamma", _math_extra.digamma, "special.digamma(input, *, out=None): Gamma'(x)/Gamma(x).")
psi = _delegate("psi", _math_extra.digamma, "special.psi(input, *, out=None): alias of digamma.")
sinc = _delegate("sinc", _math_extra.sinc, "special.sinc(input, *, out=None): sin(pi x)/(pi x), 1 at 0.")


def logit(input, eps=None, *, out=None):
    """special.logit(input, eps=None, *, out=None): log(p/(1-p)), p clamped to [eps, 1-eps] when eps is given."""
    _check_tensor("logit", input)
    return _finish("logit", _math_extra.logit(input, eps), out)


def xlogy(input, other, *, out=None):
    """special.xlogy(input, other, *, out=None): x * log(y), 0 where x == 0 (unless y is NaN)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("special.xlogy(): at least one of 'input' and 'other' must be a Tensor")
    return _finish("xlogy", _math_extra.xlogy(input, other), out)


def round(input, *, decimals=0, out=None):  # noqa: A001
    """special.round(input, *, decimals=0, out=None): round half to even, at `decimals` decimal places."""
    _check_tensor("round", input)
    if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral):
        raise TypeError(f"special.round(): argument 'decimals' must be int, not {type(decimals).__name__}")
    return _finish("round", _ops.round(input, int(decimals)), out)


def softmax(input, dim, *, dtype=None):
    """special.softmax(input, dim, *, dtype=None)."""
    _check_tensor("softmax", input)
    return _nn_layers.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """special.log_softmax(input, dim, *, dtype=None)."""
    _check_tensor("log_softmax", input)
    return _nn_layers.log_softmax(input, dim, dtype=dtype)


def logsumexp(input, dim, keepdim=False, *, out=None):
    """special.logsumexp(input, dim, keepdim=False, *, out=None): log(sum(exp(x))) over dim, stably."""
    _check_tensor("logsumexp", input)
    return _finish("logsumexp", _ops.logsumexp(_floating(input), dim, keepdim), out)


def ndtr(input, *, out=None):
    """special.ndtr(input, *, out=None): the standard normal CDF, 0.5 erfc(-x/sqrt(2))."""
    _check_tensor("ndtr", input)
    x = _floating(input)
    return _finish("ndtr", _math_extra.erfc(x * -_SQRT1_2) * 0.5, out)


# ------------------------------------------------------------------------------------------------- erfcx

def _erfcx_fwd64(x):
    small = _ops.lt(x, 2.0)
    # x < 2: erfc(x) exp(x^2), with x^2 = xh^2 + xl (2 xh + xl) and xh = x rounded to 16 fraction bits (xh^2 exact
    # for |x| < 2^5; beyond that exp(x^2) overflows anyway)
    xs = _where(small, x, 0.0)
    xh = _ops.round(xs * 65536.0) * (1.0 / 65536.0)
    xl = xs - xh
    direct = _math_extra.erfc(xs) * (_ops.exp(xh * xh) * _ops.exp(xl * (xh * 2.0 + xl)))
    # x >= 2: the continued fraction, 60 levels (converged to float64 rounding from x = 2 on)
    xb = _where(small, 2.0, x)
    t = xb
    for k in range(60, 0, -1):
        t = xb + (k * 0.5) / t
    frac = _ops.reciprocal(t * _SQRT_PI)
    # -inf: inf (the split above gives inf - inf there)
    return _where(small, _where(_ops.eq(x, -math.inf), math.inf, direct), frac)


def _erfcx_bwd(x, out, g):
    # torch: (2 x erfcx(x) - 2/sqrt(pi)) * grad
    return g * (x * out * 2.0 - 2.0 / _SQRT_PI)


_Erfcx = _unary_function("erfcx", _in64(_erfcx_fwd64), _erfcx_bwd)


def erfcx(input, *, out=None):
    """special.erfcx(input, *, out=None): the scaled complementary error function exp(x^2) erfc(x)."""
    return _apply_unary("erfcx", _Erfcx, input, out)


# ------------------------------------------------------------------------------------------------- log_ndtr

def log_ndtr(input, *, out=None):
    """special.log_ndtr(input, *, out=None): log of the standard normal CDF; for x < -1 it is
    log(erfcx(-x/sqrt2)/2) - x^2/2 (torch's formula), accurate far into the lower tail."""
    _check_tensor("log_ndtr", input)
    x = _floating(input)
    low = x.dtype in _LOW
    if low:
        x = x.to(_f32)
    neg = _ops.lt(x, -1.0)
    # each branch sees only inputs in its own range (so neither produces inf/NaN that the where would mask in the
    # value but not in the gradient)
    tn = _where(neg, x, -2.0) * _SQRT1_2
    tp = _where(neg, 0.0, x) * _SQRT1_2
    lo = _ops.log(erfcx(-tn) * 0.5) - tn * tn
    hi = _ops.log1p(_math_extra.erfc(tp) * -0.5)
    res = _where(neg, lo, hi)
    if low:
        res = res.to(input.dtype)
    return _finish("log_ndtr", res, out)


# ------------------------------------------------------------------------------------------------- ndtri
# Cephes ndtri (see torch's aten/src/ATen/native/Math.h calc_ndtri): 0 <= |y - 0.5| <= 3/8, then
# z = sqrt(-2 log y) in [2, 8) and [8, 64).
_NDTRI_P0 = [-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
             1.39312609387279679503E1, -1.23916583867381258016E0]
_NDTRI_Q0 = [1.0, 1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
             -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
             1.59056225126211695515E1, -1.18331621121330003142E0]
_NDTRI_P1 = [4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
             4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
             -1.40256079171354495875E-1, -3.50424626827848203418E-2, -8.57456785154685413611E-4]
_NDTRI_Q1 = [1.0, 1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
             1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
             -3.80806407691578277194E-2, -9.33259480895457427372E-4]
_NDTRI_P2 = [3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
             1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
             3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9]
_NDTRI_Q2 = [1.0, 6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
             2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
             2.89247864745380683936E-6, 6.79019408009981274425E-9]
_EXP_M2 = 0.13533528323661269189  # exp(-2)


def _ndtri_fwd64(y0):
    upper = _ops.gt(y0, 1.0 - _EXP_M2)
    y = _where(upper, 1.0 - y0, y0)
    central = _ops.gt(y, _EXP_M2)
    yc = _where(central, y, 0.5) - 0.5
    y2 = yc * yc
    xc = (yc + yc * (y2 * _polevl(y2, _NDTRI_P0) / _polevl(y2, _NDTRI_Q0))) * _SQRT_2PI
    bad = _ops.logical_or(central, _ops.le(y, 0.0))
    yt = _where(bad, 0.1, y)
    x = _ops.sqrt(_ops.log(yt) * -2.0)
    x0 = x - _ops.log(x) / x
    z = _ops.reciprocal(x)
    x1 = _where(_ops.lt(x, 8.0), z * _polevl(z, _NDTRI_P1) / _polevl(z, _NDTRI_Q1),
                z * _polevl(z, _NDTRI_P2) / _polevl(z, _NDTRI_Q2))
    xt = x0 - x1
    xt = _where(upper, xt, -xt)
    r = _where(central, xc, xt)
    r = _where(_ops.eq(y0, 0.0), -math.inf, r)
    r = _where(_ops.eq(y0, 1.0), math.inf, r)
    return _where(_ops.logical_or(_ops.lt(y0, 0.0), _ops.gt(y0, 1.0)), math.nan, r)


def _ndtri_bwd(x, out, g):
    # torch: grad * sqrt(2 pi) * exp(result^2 / 2)
    return g * (_ops.exp(out * out * 0.5) * _SQRT_2PI)


_Ndtri = _unary_function("ndtri", _in64(_ndtri_fwd64), _ndtri_bwd)


def ndtri(input, *, out=None):
    """special.ndtri(input, *, out=None): the inverse of ndtr (the standard normal quantile), Cephes' rational
    approximations, accurate at both tails."""
    return _apply_unary("ndtri", _Ndtri, input, out)


# ------------------------------------------------------------------------------------------------- i0 i0e i1 i1e
# Cephes Chebyshev coefficients (zero order last): exp(-x) I0(x) on [0, 8] in y = x/2 - 2, exp(-x) sqrt(x) I0(x)
# on (8, inf) in y = 32/x - 2; the same for I1 (divided by x on [0, 8]).
_I0_A = [-4.41534164647933937950E-18, 3.33079451882223809783E-17, -2.43127984654795469359E-16,
         1.71539128555513303061E-15, -1.16853328779934516808E-14, 7.67618549860493561688E-14,
         -4.85644678311192946090E-13, 2.95505266312963983461E-12, -1.72682629144155570723E-11,
         9.67580903537323691224E-11, -5.18979560163526290666E-10, 2.65982372468238665035E-9,
         -1.30002500998624804212E-8, 6.04699502254191894932E-8, -2.67079385394061173391E-7,
         1.11738753912010371815E-6, -4.41673835845875056359E-6, 1.64484480707288970893E-5,
         -5.75419501008210370398E-5, 1.88502885095841655729E-4, -5.76375574538582365885E-4,
         1.63947561694133579842E-3, -4.32430999505057594430E-3, 1.05464603945949983183E-2,
         -2.37374148058994688156E-2, 4.93052842396707084878E-2, -9.49010970480476444210E-2,
         1.71620901522208775349E-1, -3.04682672343198398683E-1, 6.76795274409476084995E-1]
_I0_B = [-7.23318048787475395456E-18, -4.83050448594418207126E-18, 4.46562142029675999901E-17,
         3.46122286769746109310E-17, -2.82762398051658348494E-16, -3.42548561967721913462E-16,
         1.77256013305652638360E-15, 3.81168066935262242075E-15, -9.55484669882830764870E-15,
         -4.15056934728722208663E-14, 1.54008621752140982691E-14, 3.85277838274214270114E-13,
         7.18012445138366623367E-13, -1.79417853150680611778E-12, -1.32158118404477131188E-11,
         -3.14991652796324136454E-11, 1.18891471078464383424E-11, 4.94060238822496958910E-10,
         3.39623202570838634515E-9, 2.26666899049817806459E-8, 2.04891858946906374183E-7,
         2.89137052083475648297E-6, 6.88975834691682398426E-5, 3.36911647825569408990E-3,
         8.04490411014108831608E-1]
_I1_A = [2.77791411276104639959E-18, -2.11142121435816608115E-17, 1.55363195773620046921E-16,
         -1.10559694773538630805E-15, 7.60068429473540693410E-15, -5.04218550472791168711E-14,
         3.22379336594557470981E-13, -1.98397439776494371520E-12, 1.17361862988909016308E-11,
         -6.66348972350202774223E-11, 3.62559028155211703701E-10, -1.88724975172282928790E-9,
         9.38153738649577178388E-9, -4.44505912879632808065E-8, 2.00329475355213526229E-7,
         -8.56872026469545474066E-7, 3.47025130813767847674E-6, -1.32731636560394358279E-5,
         4.78156510755005422638E-5, -1.61760815825896745588E-4, 5.12285956168575772895E-4,
         -1.51357245063125314899E-3, 4.15642294431288815669E-3, -1.05640848946261981558E-2,
         2.47264490306265168283E-2, -5.29459812080949914269E-2, 1.02643658689847095384E-1,
         -1.76416518357834055153E-1, 2.52587186443633654823E-1]
_I1_B = [7.51729631084210481353E-18, 4.41434832307170791151E-18, -4.65030536848935832153E-17,
         -3.20952592199342395980E-17, 2.96262899764595013876E-16, 3.30820231092092828324E-16,
         -1.88035477551078244854E-15, -3.81440307243700780478E-15, 1.04202769841288027642E-14,
         4.27244001671195135429E-14, -2.10154184277266431302E-14, -4.08355111109219731823E-13,
         -7.19855177624590851209E-13, 2.03562854414708950722E-12, 1.41258074366137813316E-11,
         3.25260358301548823856E-11, -1.89749581235054123450E-11, -5.58974346219658380687E-10,
         -3.83538038596423702205E-9, -2.63146884688951950684E-8, -2.51223623787020892529E-7,
         -3.88256480887769039346E-6, -1.10588938762623716291E-4, -9.76109749136146840777E-3,
         7.78576235018280120474E-1]


def _bessel_parts(x, A, B):
    """(|x|, |x| <= 8, the Chebyshev value on [0, 8], the value on (8, inf) times sqrt(|x|))."""
    ax = _ops.abs(x)
    small = _ops.le(ax, 8.0)
    ys = _where(small, ax, 0.0) * 0.5 - 2.0
    yl = 32.0 / _where(small, 16.0, ax) - 2.0
    return ax, small, _chbevl(ys, A), _chbevl(yl, B)


def _i0e64(x):
    ax, small, cs, cl = _bessel_parts(x, _I0_A, _I0_B)
    return _where(small, cs, cl / _ops.sqrt(ax))


def _i064(x):
    ax, small, cs, cl = _bessel_parts(x, _I0_A, _I0_B)
    e = _ops.exp(ax)
    # as Cephes/torch: exp(x) * c / sqrt(x) for x > 8 (NaN at +-inf, as torch)
    return _where(small, e * cs, e * cl / _ops.sqrt(ax))


def _i1e64(x):
    ax, small, cs, cl = _bessel_parts(x, _I1_A, _I1_B)
    r = _where(small, cs * ax, cl / _ops.sqrt(ax))
    return _where(_ops.lt(x, 0.0), -r, r)


def _i164(x):
    ax, small, cs, cl = _bessel_parts(x, _I1_A, _I1_B)
    e = _ops.exp(ax)
    r = _where(small, e * ax * cs, e * cl / _ops.sqrt(ax))
    return _where(_ops.lt(x, 0.0), -r, r)


def _nonzero(x):
    return _where(_ops.eq(x, 0.0), 1.0, x)


def _i1_bwd(x, out, g):
    # torch i1_backward: i0(x) - i1(x)/x, 0.5 at x == 0
    return g * _where(_ops.eq(x, 0.0), 0.5, i0(x) - out / _nonzero(x))


def _i1e_bwd(x, out, g):
    # torch i1e_backward: i0e(x) - i1e(x) (sgn(x) + 1/x), 0.5 at x == 0
    return g * _where(_ops.eq(x, 0.0), 0.5, i0e(x) - out * (_ops.sign(x) + _ops.reciprocal(_nonzero(x))))


_I0 = _unary_function("i0", _in64(_i064), lambda x, o, g: g * i1(x), saves_out=False)
_I0e = _unary_function("i0e", _in64(_i0e64), lambda x, o, g: g * (i1e(x) - _ops.sign(x) * o))
_I1 = _unary_function("i1", _in64(_i164), _i1_bwd)
_I1e = _unary_function("i1e", _in64(_i1e64), _i1e_bwd)


def i0(input, *, out=None):
    """special.i0(input, *, out=None): the modified Bessel function of the first kind, order 0 (Cephes)."""
    return _apply_unary("i0", _I0, input, out)


def i0e(input, *, out=None):
    """special.i0e(input, *, out=None): exp(-|x|) i0(x) (Cephes)."""
    return _apply_unary("i0e", _I0e, input, out)


def i1(input, *, out=None):
    """special.i1(input, *, out=None): the modified Bessel function of the first kind, order 1 (Cephes)."""
    return _apply_unary("i1", _I1, input, out)


def i1e(input, *, out=None):
    """special.i1e(input, *, out=None): exp(-|x|) i1(x) (Cephes)."""
    return _apply_unary("i1e", _I1e, input, out)


# ------------------------------------------------------------------------------------------------- entr, xlog1py

def _entr_fwd(x):
    r = _where(_ops.gt(x, 0.0), -(x * _ops.log(_where(_ops.gt(x, 0.0), x, 1.0))), 0.0)
    r = _where(_ops.lt(x, 0.0), -math.inf, r)
    return _where(_ops.isnan(x), x, r)


# torch: grad * -(1 + log(x))
_Entr = _unary_function("entr", _entr_fwd, lambda x, o, g: g * -(_ops.log(x) + 1.0), saves_out=False)


def entr(input, *, out=None):
    """special.entr(input, *, out=None): -x log(x) for x > 0, 0 at 0, -inf for x < 0."""
    return _apply_unary("entr", _Entr, input, out)


def _binary_operands(name, a, b):
    """(a, b) as tensors/numbers of the promoted floating dtype (torch's binary float-op promotion)."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if not ta and not tb:
        raise TypeError(f"special.{name}(): at least one of the arguments must be a Tensor")
    for arg, v in (("input", a), ("other", b)):
        if not isinstance(v, Tensor) and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise TypeError(f"special.{name}(): argument '{arg}' must be a Tensor or a number, not "
                            f"{type(v).__name__}")
    if ta and tb:
        if a.device != b.device and a.ndim and b.ndim:
            raise RuntimeError(f"special.{name}(): expected both tensors on the same device, got {a.device} and "
                               f"{b.device}")
        dt = _C.result_type(a, b)
    else:
        t, v = (a, b) if ta else (b, a)
        dt = t.dtype
        if not dt.is_floating_point and isinstance(v, float):
            dt = _creation.get_default_dtype()
    if not dt.is_floating_point:
        dt = _creation.get_default_dtype()
    a = _ops_to(a, dt) if ta else float(a)
    b = _ops_to(b, dt) if tb else float(b)
    return a, b, dt


def _full(v, like):
    return _creation.full_like(like, v) if not isinstance(v, Tensor) else v


class _Xlog1py(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, a, b):
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        ctx.shapes = (tuple(a.shape) if ta else None, tuple(b.shape) if tb else None)
        ctx.save_for_backward(a if ta else None, b if tb else None)
        ctx.sa, ctx.sb = (None if ta else a), (None if tb else b)
        return _xlog1py_raw(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        av = a if a is not None else ctx.sa
        bv = b if b is not None else ctx.sb
        ga = gb = None
        if ctx.shapes[0] is not None and ctx.needs_input_grad[0]:
            # torch: xlog1py(grad, other), 0 where self == 0 and other <= -1
            bt = _full(bv, g)
            ga = _where(_ops.logical_and(_ops.eq(av, 0.0), _ops.le(bt, -1.0)), 0.0, _xlog1py_raw(g, bt))
            ga = _ops._unbroadcast(ga, ctx.shapes[0])
        if ctx.shapes[1] is not None and ctx.needs_input_grad[1]:
            gb = _ops._unbroadcast(g * av / (_full(bv, g) + 1.0), ctx.shapes[1])
        return ga, gb


def _xlog1py_raw(a, b):
    ref = a if isinstance(a, Tensor) else b
    a_t = _full(a, ref) if not isinstance(a, Tensor) else a
    b_t = _full(b, ref) if not isinstance(b, Tensor) else b
    zero = _ops.logical_and(_ops.eq(a_t, 0.0), _ops.logical_not(_ops.isnan(b_t)))
    return _where(zero, 0.0, a_t * _ops.log1p(b_t))


def xlog1py(input, other, *, out=None):
    """special.xlog1py(input, other, *, out=None): x * log1p(y), 0 where x == 0 (unless y is NaN)."""
    a, b, _ = _binary_operands("xlog1py", input, other)
    res = _Xlog1py.apply(a, b) if _needs_grad(*[v for v in (a, b) if isinstance(v, Tensor)]) else \
        _xlog1py_raw(a, b)
    return _finish("xlog1py", res, out)


# ------------------------------------------------------------------------------------------------- gamma family

def multigammaln(input, p, *, out=None):
    """special.multigammaln(input, p, *, out=None): the multivariate log-gamma function of dimension p,
    p(p-1)/4 log(pi) + sum_{i<p} lgamma(x - i/2)."""
    _check_tensor("multigammaln", input)
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        raise TypeError(f"special.multigammaln(): argument 'p' must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError(f"special.multigammaln(): p has to be greater than or equal to 1, got {p}")
    x = _floating(input)
    if x.numel() and not bool(_ops.all(_ops.gt(x.detach(), 0.5 * (p - 1))).item()):
        raise RuntimeError(f"special.multigammaln(): all elements must be greater than (p-1)/2 = {0.5 * (p - 1)}")
    shifts = _creation.arange(p, dtype=x.dtype, device=x.device) * -0.5
    res = _ops.sum(_math_extra.lgamma(_ops.unsqueeze(x, -1) + shifts), -1) + p * (p - 1) / 4.0 * math.log(math.pi)
    return _finish("multigammaln", res, out)


_ZETA_A = [12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15, 1.8152105401943546773e17,
           -7.1661652561756670113e18]
_MACHEP = 1.11022302462515654042E-16
_ZETA_MAX_TERMS = 100000


def _zeta64(x, q):
    """Cephes zeta(x, q) on float64 tensors of one shape, element by element as the scalar code (its early exits
    become per-element 'done' masks)."""
    zero = _creation.zeros_like(x)
    q_int = _ops.eq(q, _ops.floor(q))
    nonpos = _ops.le(q, 0.0)
    s = _ops.pow(q, -x)
    a = q
    b = zero
    done = _ops.isnan(s)  # NaN in, NaN out (nothing more changes it)
    # the direct sum runs while i < 9 or a <= 9 (more terms only for q < 0)
    fin = _ops.logical_and(_ops.isfinite(q), _ops.logical_not(_ops.logical_and(nonpos, q_int)))
    qmin = float(_ops.min(_where(fin, q, 1.0)).item()) if q.numel() else 1.0
    n_terms = 9 if qmin > 0 else int(math.floor(9.0 - qmin)) + 1
    if n_terms > _ZETA_MAX_TERMS:
        raise RuntimeError(f"special.zeta(): q = {qmin} needs {n_terms} direct terms; dlcore sums at most "
                           f"{_ZETA_MAX_TERMS} (q >= {9 - _ZETA_MAX_TERMS})")
    for i in range(1, n_terms + 1):
        active = _ops.logical_not(done) if i <= 9 else _ops.logical_and(_ops.logical_not(done), _ops.le(a, 9.0))
        a = _where(active, a + 1.0, a)
        b = _where(active, _ops.pow(a, -x), b)
        s = _where(active, s + b, s)
        done = _ops.logical_or(done, _ops.logical_and(active, _ops.logical_and(_ops.lt(-_MACHEP * s, b),
                                                                                 _ops.lt(b, _MACHEP * s))))
    w = a
    live = _ops.logical_not(done)
    s = _where(live, s + b * w / (x - 1.0) - b * 0.5, s)
    aa = _creation.ones_like(x)
    k = zero
    for i in range(12):
        aa = aa * (x + k)
        b = b / w
        t = aa * b / _ZETA_A[i]
        s = _where(live, s + t, s)
        live = _ops.logical_and(live, _ops.logical_not(_ops.lt(_ops.abs(t / s), _MACHEP)))
        k = k + 1.0
        aa = aa * (x + k)
        b = b / w
        k = k + 1.0
    # the special cases, in Cephes' order of precedence
    s = _where(_ops.logical_and(nonpos, _ops.ne(x, _ops.floor(x))), math.nan, s)
    s = _where(_ops.logical_and(nonpos, q_int), math.inf, s)
    s = _where(_ops.lt(x, 1.0), math.nan, s)
    s = _where(_ops.eq(x, 1.0), math.inf, s)
    return _where(_ops.logical_or(_ops.isnan(x), _ops.isnan(q)), math.nan, s)


def _zeta_values(x, q, dtype):
    """zeta(x, q) for tensors/numbers of the floating dtype (broadcast), computed in float64, rounded to dtype."""
    ref = q if isinstance(q, Tensor) else x
    xt = _full(x, ref)
    qt = _full(q, ref)
    shape = _ops.broadcast_shapes(tuple(xt.shape), tuple(qt.shape))
    x64 = _ops.broadcast_to(_ops_to(xt, _f64), shape).contiguous()
    q64 = _ops.broadcast_to(_ops_to(qt, _f64), shape).contiguous()
    return _ops_to(_zeta64(x64, q64), dtype)


class _Zeta(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, x, q):
        ctx.dtype = q.dtype if isinstance(q, Tensor) else x.dtype
        ctx.shapes = (tuple(x.shape) if isinstance(x, Tensor) else None, tuple(q.shape))
        ctx.save_for_backward(x if isinstance(x, Tensor) else None, q)
        ctx.sx = None if isinstance(x, Tensor) else x
        return _zeta_values(x, q, ctx.dtype)

    @staticmethod
    def backward(ctx, g):
        x, q = ctx.saved_tensors
        if ctx.shapes[0] is not None and ctx.needs_input_grad[0]:
            raise NotImplementedError("special.zeta: the derivative with respect to 'x' (the first argument) is not "
                                      "implemented (as in torch)")
        xv = x if x is not None else ctx.sx
        gq = None
        if ctx.needs_input_grad[1]:
            # torch: grad * -x * zeta(x + 1, q)
            gq = _ops._unbroadcast(g * -(xv * zeta(xv + 1.0, q)) if isinstance(xv, Tensor)
                                   else g * (-xv) * zeta(xv + 1.0, q), ctx.shapes[1])
        return None, gq


def zeta(input, other, *, out=None):
    """special.zeta(input, other, *, out=None): the Hurwitz zeta function sum_k (k + q)^-x, x = input, q = other
    (Cephes; the derivative is taken with respect to q only, as torch)."""
    x, q, dt = _binary_operands("zeta", input, other)
    if isinstance(x, Tensor) and _needs_grad(x) and not (isinstance(q, Tensor) and _needs_grad(q)):
        res = _Zeta.apply(x, _full(q, x))
    elif isinstance(q, Tensor) and _needs_grad(q, *([x] if isinstance(x, Tensor) else [])):
        res = _Zeta.apply(x, q)
    else:
        res = _zeta_values(x, q, dt)
    return _finish("zeta", res, out)


class _Trigamma(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _C.trigamma(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * polygamma(2, x)


def polygamma(n, input, *, out=None):
    """special.polygamma(n, input, *, out=None): the n-th derivative of digamma. n = 0 is digamma, n = 1 the trigamma
    kernel, n >= 2 (-1)^(n+1) n! zeta(n+1, x) (as torch)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"special.polygamma(): argument 'n' must be int, not {type(n).__name__}")
    _check_tensor("polygamma", input)
    n = int(n)
    if n < 0:
        raise RuntimeError(f"special.polygamma(): polygamma(n, x) does not support negative n (got n = {n})")
    x = _floating(input)
    if n == 0:
        res = _math_extra.digamma(x)
    elif n == 1:
        res = _Trigamma.apply(x) if _needs_grad(x) else _C.trigamma(x)
    else:
        sign = 1.0 if n % 2 else -1.0
        res = zeta(float(n + 1), x) * (sign * math.exp(math.lgamma(n + 1.0)))
    return _finish("polygamma", res, out)


# ------------------------------------------------------------------------------------------------- Bessel J, Y, K
# torch's bessel_j0/j1/y0/y1, modified_bessel_i0/i1/k0/k1, scaled_modified_bessel_k0/k1 and spherical_bessel_j0
# (aten/src/ATen/native/Math.h, from Cephes): the same rational and Chebyshev approximations, evaluated the same way
# (polynomials from a zero start, so no implicit leading 1), in float64. torch records no autograd for these: the
# results here do not require grad either.

_J0_PP = [7.96936729297347051624e-04, 8.28352392107440799803e-02, 1.23953371646414299388e+00,
          5.44725003058768775090e+00, 8.74716500199817011941e+00, 5.30324038235394892183e+00,
          9.99999999999999997821e-01]
_J0_PQ = [9.24408810558863637013e-04, 8.56288474354474431428e-02, 1.25352743901058953537e+00,
          5.47097740330417105182e+00, 8.76190883237069594232e+00, 5.30605288235394617618e+00,
          1.00000000000000000218e+00]
_J0_QP = [-1.13663838898469149931e-02, -1.28252718670509318512e+00, -1.95539544257735972385e+01,
          -9.32060152123768231369e+01, -1.77681167980488050595e+02, -1.47077505154951170175e+02,
          -5.14105326766599330220e+01, -6.05014350600728481186e+00]
_J0_QQ = [6.43178256118178023184e+01, 8.56430025976980587198e+02, 3.88240183605401609683e+03,
          7.24046774195652478189e+03, 5.93072701187316984827e+03, 2.06209331660327847417e+03,
          2.42005740240291393179e+02]
_J0_RP = [-4.79443220978201773821e+09, 1.95617491946556577543e+12, -2.49248344360967716204e+14,
          9.70862251047306323952e+15]
_J0_RQ = [4.99563147152651017219e+02, 1.73785401676374683123e+05, 4.84409658339962045305e+07,
          1.11855537045356834862e+10, 2.11277520115489217587e+12, 3.10518229857422583814e+14,
          3.18121955943204943306e+16, 1.71086294081043136091e+18]
_Y0_YP = [1.55924367855235737965e+04, -1.46639295903971606143e+07, 5.43526477051876500413e+09,
          -9.82136065717911466409e+11, 8.75906394395366999549e+13, -3.46628303384729719441e+15,
          4.42733268572569800351e+16, -1.84950800436986690637e+16]
_Y0_YQ = [1.04128353664259848412e+03, 6.26107330137134956842e+05, 2.68919633393814121987e+08,
          8.64002487103935000337e+10, 2.02979612750105546709e+13, 3.17157752842975028269e+15,
          2.50596256172653059228e+17]
_J1_PP = [7.62125616208173112003e-04, 7.31397056940917570436e-02, 1.12719608129684925192e+00,
          5.11207951146807644818e+00, 8.42404590141772420927e+00, 5.21451598682361504063e+00,
          1.00000000000000000254e+00]
_J1_PQ = [5.71323128072548699714e-04, 6.88455908754495404082e-02, 1.10514232634061696926e+00,
          5.07386386128601488557e+00, 8.39985554327604159757e+00, 5.20982848682361821619e+00,
          9.99999999999999997461e-01]
_J1_QP = [5.10862594750176621635e-02, 4.98213872951233449420e+00, 7.58238284132545283818e+01,
          3.66779609360150777800e+02, 7.10856304998926107277e+02, 5.97489612400613639965e+02,
          2.11688757100572135698e+02, 2.52070205858023719784e+01]
_J1_QQ = [7.42373277035675149943e+01, 1.05644886038262816351e+03, 4.98641058337653607651e+03,
          9.56231892404756170795e+03, 7.99704160447350683650e+03, 2.82619278517639096600e+03,
          3.36093607810698293419e+02]
_J1_RP = [-8.99971225705559398224e+08, 4.52228297998194034323e+11, -7.27494245221818276015e+13,
          3.68295732863852883286e+15]
_J1_RQ = [6.20836478118054335476e+02, 2.56987256757748830383e+05, 8.35146791431949253037e+07,
          2.21511595479792499675e+10, 4.74914122079991414898e+12, 7.84369607876235854894e+14,
          8.95222336184627338078e+16, 5.32278620332680085395e+18]
_Y1_YP = [1.26320474790178026440e+09, -6.47355876379160291031e+11, 1.14509511541823727583e+14,
          -8.12770255501325109621e+15, 2.02439475713594898196e+17, -7.78877196265950026825e+17]
_Y1_YQ = [5.94301592346128195359e+02, 2.35564092943068577943e+05, 7.34811944459721705660e+07,
          1.87601316108706159478e+10, 3.88231277496238566008e+12, 6.20557727146953693363e+14,
          6.87141087355300489866e+16, 3.97270608116560655612e+18]
_K0_A = [1.37446543561352307156e-16, 4.25981614279661018399e-14, 1.03496952576338420167e-11,
         1.90451637722020886025e-09, 2.53479107902614945675e-07, 2.28621210311945178607e-05,
         1.26461541144692592338e-03, 3.59799365153615016266e-02, 3.44289899924628486886e-01,
         -5.35327393233902768720e-01]
_K0_B = [5.30043377268626276149e-18, -1.64758043015242134646e-17, 5.21039150503902756861e-17,
         -1.67823109680541210385e-16, 5.51205597852431940784e-16, -1.84859337734377901440e-15,
         6.34007647740507060557e-15, -2.22751332699166985548e-14, 8.03289077536357521100e-14,
         -2.98009692317273043925e-13, 1.14034058820847496303e-12, -4.51459788337394416547e-12,
         1.85594911495471785253e-11, -7.95748924447710747776e-11, 3.57739728140030116597e-10,
         -1.69753450938905987466e-09, 8.57403401741422608519e-09, -4.66048989768794782956e-08,
         2.76681363944501510342e-07, -1.83175552271911948767e-06, 1.39498137188764993662e-05,
         -1.28495495816278026384e-04, 1.56988388573005337491e-03, -3.14481013119645005427e-02,
         2.44030308206595545468e+00]
_K1_A = [-7.02386347938628759343e-18, -2.42744985051936593393e-15, -6.66690169419932900609e-13,
         -1.41148839263352776110e-10, -2.21338763073472585583e-08, -2.43340614156596823496e-06,
         -1.73028895751305206302e-04, -6.97572385963986435018e-03, -1.22611180822657148235e-01,
         -3.53155960776544875667e-01, 1.52530022733894777053e+00]
_K1_B = [-5.75674448366501715755e-18, 1.79405087314755922667e-17, -5.68946255844285935196e-17,
         1.83809354436663880070e-16, -6.05704724837331885336e-16, 2.03870316562433424052e-15,
         -7.01983709041831346144e-15, 2.47715442448130437068e-14, -8.97670518232499435011e-14,
         3.34841966607842919884e-13, -1.28917396095102890680e-12, 5.13963967348173025100e-12,
         -2.12996783842756842877e-11, 9.21831518760500529508e-11, -4.19035475934189648750e-10,
         2.01504975519703286596e-09, -1.03457624656780970260e-08, 5.74108412545004946722e-08,
         -3.50196060308781257119e-07, 2.40648494783721712015e-06, -1.93619797416608296024e-05,
         1.95215518471351631108e-04, -2.85781685962277938680e-03, 1.03923736576817238437e-01,
         2.72062619048444266945e+00]
_SQRT_2_PI = 0.797884560802865355879892119868763737  # sqrt(2/pi)
_TWO_PI = 0.636619772367581343075535053490057448  # 2/pi


def _jy_asym(x, PP, PQ, QP, QQ, phase, sine):
    """x > 5: (P cos(x - phase) - 5/x Q sin(x - phase)) sqrt(2/pi)/sqrt(x) (J), or with sin/cos swapped and + (Y)."""
    w = 25.0 / (x * x)
    p = _polevl(w, PP) / _polevl(w, PQ)
    q = _polevl(w, QP) / _polevl(w, QQ) * (5.0 / x)
    if sine:
        v = p * _ops.sin(x - phase) + q * _ops.cos(x - phase)
    else:
        v = p * _ops.cos(x - phase) - q * _ops.sin(x - phase)
    return v * _SQRT_2_PI / _ops.sqrt(x)


def _j064(x):
    ax = _ops.abs(x)
    small = _ops.le(ax, 5.0)
    xs = _where(small, ax, 1.0)
    z = xs * xs
    rs = (z - 5.78318596294678452118e+00) * (z - 3.04712623436620863991e+01) * _polevl(z, _J0_RP) / \
        _polevl(z, _J0_RQ)
    rs = _where(_ops.lt(ax, 1e-5), 1.0 - ax * ax / 4.0, rs)
    rl = _jy_asym(_where(small, 6.0, ax), _J0_PP, _J0_PQ, _J0_QP, _J0_QQ, 0.785398163397448309615660845819875721,
                  False)
    return _where(small, rs, rl)


def _j164(x):
    ax = _ops.abs(x)
    small = _ops.le(ax, 5.0)
    xs = _where(small, ax, 1.0)
    z = xs * xs
    rs = _polevl(z, _J1_RP) / _polevl(z, _J1_RQ) * xs * (z - 1.46819706421238932572e+01) * \
        (z - 4.92184563216946036703e+01)
    rl = _jy_asym(_where(small, 6.0, ax), _J1_PP, _J1_PQ, _J1_QP, _J1_QQ, 2.356194490192344928846982537459627163,
                  False)
    r = _where(small, rs, rl)
    return _where(_ops.lt(x, 0.0), -r, r)


def _y064(x):
    small = _ops.le(x, 5.0)
    xs = _where(_ops.logical_and(small, _ops.gt(x, 0.0)), x, 1.0)
    z = xs * xs
    rs = _polevl(z, _Y0_YP) / _polevl(z, _Y0_YQ) + _TWO_PI * _ops.log(xs) * _j064(xs)
    rl = _jy_asym(_where(small, 6.0, x), _J0_PP, _J0_PQ, _J0_QP, _J0_QQ, 0.785398163397448309615660845819875721, True)
    r = _where(small, rs, rl)
    r = _where(_ops.lt(x, 0.0), math.nan, r)
    return _where(_ops.eq(x, 0.0), -math.inf, r)


def _y164(x):
    small = _ops.le(x, 5.0)
    xs = _where(_ops.logical_and(small, _ops.gt(x, 0.0)), x, 1.0)
    z = xs * xs
    rs = xs * (_polevl(z, _Y1_YP) / _polevl(z, _Y1_YQ)) + _TWO_PI * (_j164(xs) * _ops.log(xs) - 1.0 / xs)
    rl = _jy_asym(_where(small, 6.0, x), _J1_PP, _J1_PQ, _J1_QP, _J1_QQ, 2.356194490192344928846982537459627163, True)
    r = _where(small, rs, rl)
    r = _where(_ops.lt(x, 0.0), math.nan, r)
    return _where(_ops.eq(x, 0.0), -math.inf, r)


def _k_parts(x, A, B):
    """(x <= 2, the [0, 2] Chebyshev value (in x^2 - 2), the (2, inf) value (in 8/x - 2), a safe x for each)."""
    small = _ops.le(x, 2.0)
    xs = _where(_ops.logical_and(small, _ops.gt(x, 0.0)), x, 1.0)
    xl = _where(small, 4.0, x)
    return small, xs, xl, _chbevl(xs * xs - 2.0, A), _chbevl(8.0 / xl - 2.0, B)


def _k_special(x, r):
    r = _where(_ops.lt(x, 0.0), math.nan, r)
    return _where(_ops.eq(x, 0.0), math.inf, r)


def _k064(x, scaled=False):
    small, xs, xl, cs, cl = _k_parts(x, _K0_A, _K0_B)
    rs = cs - _ops.log(xs * 0.5) * _i064(xs)
    if scaled:
        return _k_special(x, _where(small, rs * _ops.exp(xs), cl / _ops.sqrt(xl)))
    return _k_special(x, _where(small, rs, _ops.exp(-xl) * cl / _ops.sqrt(xl)))


def _k164(x, scaled=False):
    small, xs, xl, cs, cl = _k_parts(x, _K1_A, _K1_B)
    rs = _ops.log(xs * 0.5) * _i164(xs) + cs / xs
    if scaled:
        return _k_special(x, _where(small, rs * _ops.exp(xs), cl / _ops.sqrt(xl)))
    return _k_special(x, _where(small, rs, _ops.exp(-xl) * cl / _ops.sqrt(xl)))


def _sph_j064(x):
    small = _ops.lt(_ops.abs(x), 0.5)
    z = x * x
    series = 1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (
        -1.0 / 39916800.0 + z * (1.0 / 6227020800.0))))))
    xl = _where(small, 1.0, x)
    r = _where(small, series, _ops.sin(xl) / xl)
    return _where(_ops.isinf(x), 0.0, r)


def _no_grad_unary(name, fn64, doc):
    def op(input, *, out=None):
        _check_tensor(name, input)
        x = _floating(input.detach())
        dt = x.dtype
        res = _ops_to(fn64(_ops_to(x, _f64)), dt)
        return _finish(name, res, out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc + " (no autograd, as torch)"
    return op


bessel_j0 = _no_grad_unary("bessel_j0", _j064, "special.bessel_j0(input, *, out=None): Bessel function J0")
bessel_j1 = _no_grad_unary("bessel_j1", _j164, "special.bessel_j1(input, *, out=None): Bessel function J1")
bessel_y0 = _no_grad_unary("bessel_y0", _y064, "special.bessel_y0(input, *, out=None): Bessel function Y0")
bessel_y1 = _no_grad_unary("bessel_y1", _y164, "special.bessel_y1(input, *, out=None): Bessel function Y1")
modified_bessel_i0 = _no_grad_unary("modified_bessel_i0", _i064,
                                    "special.modified_bessel_i0(input, *, out=None): modified Bessel I0")
modified_bessel_i1 = _no_grad_unary("modified_bessel_i1", _i164,
                                    "special.modified_bessel_i1(input, *, out=None): modified Bessel I1")
modified_bessel_k0 = _no_grad_unary("modified_bessel_k0", _k064,
                                    "special.modified_bessel_k0(input, *, out=None): modified Bessel K0")
modified_bessel_k1 = _no_grad_unary("modified_bessel_k1", _k164,
                                    "special.modified_bessel_k1(input, *, out=None): modified Bessel K1")
scaled_modified_bessel_k0 = _no_grad_unary("scaled_modified_bessel_k0", lambda x: _k064(x, True),
                                           "special.scaled_modified_bessel_k0(input, *, out=None): exp(x) K0(x)")
scaled_modified_bessel_k1 = _no_grad_unary("scaled_modified_bessel_k1", lambda x: _k164(x, True),
                                           "special.scaled_modified_bessel_k1(input, *, out=None): exp(x) K1(x)")
spherical_bessel_j0 = _no_grad_unary("spherical_bessel_j0", _sph_j064,
                                     "special.spherical_bessel_j0(input, *, out=None): sin(x)/x")

__all__ += ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
            "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
            "spherical_bessel_j0"]


# ------------------------------------------------------------------------------------------------- polynomials
# torch's chebyshev_polynomial_{t,u,v,w}, shifted_chebyshev_polynomial_{t,u,v,w}, hermite_polynomial_{h,he},
# laguerre_polynomial_l, legendre_polynomial_p (input, n): degree n = trunc(n) per element, the same special cases
# and three-term recurrences as torch (Math.h), computed in the promoted dtype; the recurrence runs to the largest
# degree that needs it. No autograd (as torch).

_POLY_MAX_DEGREE = 100000


def _poly_operands(name, x, n):
    x, n, dt = _binary_operands(name, x, n)
    ref = x if isinstance(x, Tensor) else n
    xt = x.detach() if isinstance(x, Tensor) else _creation.full_like(ref.detach(), x)
    nt = n.detach() if isinstance(n, Tensor) else _creation.full_like(ref.detach(), n)
    shape = _ops.broadcast_shapes(tuple(xt.shape), tuple(nt.shape))
    xt = _ops.broadcast_to(xt, shape).contiguous()
    # torch: static_cast<int64_t>(n) (NaN/inf: -1 for the Hermite polynomials; left to the recurrence elsewhere)
    nt = _ops.broadcast_to(nt, shape).contiguous()
    bad = _ops.logical_not(_ops.isfinite(nt))
    nt = _ops.trunc(_where(bad, -1.0, nt))
    return xt, nt, dt


def _recurrence(name, x, n, p0, p1, step, need):
    """Values of the degree-n member: p0, p1 (tensors), then step(k, p, q) -> the degree k+1 member for k >= 1.
    need: where the recurrence's value is used (the rest is overwritten by special cases)."""
    res = _where(_ops.eq(n, 0.0), p0, p1)
    nmax = float(_ops.max(_where(need, n, 0.0)).item()) if n.numel() else 0.0
    if nmax > _POLY_MAX_DEGREE:
        raise RuntimeError(f"special.{name}(): degree {int(nmax)} exceeds dlcore's limit of {_POLY_MAX_DEGREE} for "
                           f"the recurrence")
    p, q = p0, p1
    for k in range(1, int(nmax)):
        r = step(k, p, q)
        p, q = q, r
        res = _where(_ops.eq(n, float(k + 1)), r, res)
    return res


def _even(n):
    return _ops.eq(_ops.remainder(n, 2.0), 0.0)


def _chebyshev(kind, x, n, y, at_one, at_minus_one, threshold):
    """kind in 'tuvw' at y (x itself, or 2x - 1 for the shifted ones): at_one/at_minus_one are the masks of the
    y = 1 / y = -1 special cases (tested on x by the shifted polynomials)."""
    one = _creation.ones_like(y)
    two_y = y + y
    p1 = {"t": y, "u": two_y, "v": two_y - 1.0, "w": two_y + 1.0}[kind]
    inside = _ops.lt(_ops.abs(y), 1.0)
    trig = _ops.logical_and(_ops.gt(n, float(threshold)), inside)
    need = _ops.logical_not(_ops.logical_or(trig, _ops.logical_or(at_one, at_minus_one)))
    res = _recurrence("chebyshev", y, n, one, p1, lambda k, p, q: two_y * q - p, need)
    yi = _where(inside, y, 0.0)
    th = _math_extra.acos(yi)
    n2 = n + n + 1.0
    even = _even(n)
    if kind == "t":
        tv = _ops.cos(n * th)
        v1, vm1 = one, _where(even, 1.0, -1.0)
    elif kind == "u":
        s = _ops.sin(th)
        ok = _ops.ne(s, 0.0)
        tv = _where(ok, _ops.sin((n + 1.0) * th) / _where(ok, s, 1.0),
                    (n + 1.0) * _ops.cos((n + 1.0) * th) / _where(_ops.eq(yi, 0.0), 1.0, yi))
        v1, vm1 = n + 1.0, _where(even, n + 1.0, -(n + 1.0))
    elif kind == "v":
        ok = _ops.ne(_ops.sin(th * 0.5), 1.0)
        tv = _where(ok, _ops.cos((n + 0.5) * th) / _where(ok, _ops.cos(th * 0.5), 1.0), _where(even, n2, -n2))
        v1, vm1 = one, _where(even, n2, -n2)
    else:
        ok = _ops.ne(_ops.cos(th * 0.5), 1.0)
        tv = _where(ok, _ops.sin((n + 0.5) * th) / _where(ok, _ops.sin(th * 0.5), 1.0),
                    _where(_ops.gt(y, 0.0), n2, _where(even, 1.0, -1.0)))
        v1, vm1 = n2, _where(even, 1.0, -1.0)
    res = _where(trig, tv, res)
    res = _where(at_one, v1, res)
    res = _where(at_minus_one, vm1, res)
    return _where(_ops.lt(n, 0.0), 0.0, res)


def _chebyshev_op(kind, shifted):
    name = ("shifted_" if shifted else "") + f"chebyshev_polynomial_{kind}"
    threshold = ({"t": 6, "u": 6, "v": 6, "w": 4} if shifted else {"t": 6, "u": 8, "v": 8, "w": 8})[kind]

    def op(input, n, *, out=None):
        x, nt, dt = _poly_operands(name, input, n)
        if shifted:
            y = x + x - 1.0
            res = _chebyshev(kind, x, nt, y, _ops.eq(x, 1.0), _ops.eq(x, 0.0), threshold)
        else:
            ax1 = _ops.eq(_ops.abs(x), 1.0)
            res = _chebyshev(kind, x, nt, x, _ops.logical_and(ax1, _ops.gt(x, 0.0)),
                             _ops.logical_and(ax1, _ops.lt(x, 0.0)), threshold)
        return _finish(name, res, out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"special.{name}(input, n, *, out=None): the {'shifted ' if shifted else ''}Chebyshev polynomial "
                  f"of the {'first second third fourth'.split()['tuvw'.index(kind)]} kind of degree n (no autograd, "
                  f"as torch)")
    return op


chebyshev_polynomial_t = _chebyshev_op("t", False)
chebyshev_polynomial_u = _chebyshev_op("u", False)
chebyshev_polynomial_v = _chebyshev_op("v", False)
chebyshev_polynomial_w = _chebyshev_op("w", False)
shifted_chebyshev_polynomial_t = _chebyshev_op("t", True)
shifted_chebyshev_polynomial_u = _chebyshev_op("u", True)
shifted_chebyshev_polynomial_v = _chebyshev_op("v", True)
shifted_chebyshev_polynomial_w = _chebyshev_op("w", True)


def _hermite(name, physicists):
    def op(input, n, *, out=None):
        x, nt, dt = _poly_operands(name, input, n)
        limit = 128.0 if dt == _f32 else (512.0 if dt == _f64 else 1024.0)
        one = _creation.ones_like(x)
        need = _ops.le(nt, limit)
        if physicists:
            two_x = x + x
            res = _recurrence(name, x, nt, one, two_x, lambda k, p, q: two_x * q - (2.0 * k) * p, need)
        else:
            res = _recurrence(name, x, nt, one, x, lambda k, p, q: x * q - float(k) * p, need)
        res = _where(_ops.gt(nt, limit), math.nan, res)
        res = _where(_ops.lt(nt, 0.0), 0.0, res)
        return _finish(name, res, out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"special.{name}(input, n, *, out=None): the {'physicists' if physicists else 'probabilists'}' "
                  f"Hermite polynomial of degree n (NaN above degree 128 (float32) / 512 (float64), as torch; no "
                  f"autograd)")
    return op


hermite_polynomial_h = _hermite("hermite_polynomial_h", True)
hermite_polynomial_he = _hermite("hermite_polynomial_he", False)


def laguerre_polynomial_l(input, n, *, out=None):
    """special.laguerre_polynomial_l(input, n, *, out=None): the Laguerre polynomial of degree n (no autograd)."""
    x, nt, dt = _poly_operands("laguerre_polynomial_l", input, n)
    one = _creation.ones_like(x)
    zero_x = _ops.eq(x, 0.0)
    res = _recurrence("laguerre_polynomial_l", x, nt, one, 1.0 - x,
                      lambda k, p, q: (((2.0 * k + 1.0) - x) * q - float(k) * p) / float(k + 1),
                      _ops.logical_not(zero_x))
    res = _where(zero_x, 1.0, res)
    return _finish("laguerre_polynomial_l", _where(_ops.lt(nt, 0.0), 0.0, res), out)


def legendre_polynomial_p(input, n, *, out=None):
    """special.legendre_polynomial_p(input, n, *, out=None): the Legendre polynomial of degree n (no autograd)."""
    x, nt, dt = _poly_operands("legendre_polynomial_p", input, n)
    one = _creation.ones_like(x)
    ax1 = _ops.eq(_ops.abs(x), 1.0)
    res = _recurrence("legendre_polynomial_p", x, nt, one, x,
                      lambda k, p, q: ((2.0 * k + 1.0) * x * q - float(k) * p) / float(k + 1), _ops.logical_not(ax1))
    res = _where(ax1, _where(_ops.logical_or(_ops.gt(x, 0.0), _even(nt)), 1.0, -1.0), res)
    return _finish("legendre_polynomial_p", _where(_ops.lt(nt, 0.0), 0.0, res), out)


__all__ += ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
            "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
            "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
            "legendre_polynomial_p"]


# ------------------------------------------------------------------------------------------------- Airy Ai
_AI_AN = [3.46538101525629032477e-01, 1.20075952739645805542e+01, 7.62796053615234516538e+01,
          1.68089224934630576269e+02, 1.59756391350164413639e+02, 7.05360906840444183113e+01,
          1.40264691163389668864e+01, 9.99999999999999995305e-01]
_AI_AD = [5.67594532638770212846e-01, 1.47562562584847203173e+01, 8.45138970141474626562e+01,
          1.77318088145400459522e+02, 1.64234692871529701831e+02, 7.14778400825575695274e+01,
          1.40959135607834029598e+01, 1.00000000000000000470e+00]
_AI_AFN = [-1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
           -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
           -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08]
_AI_AFD = [1.33560420706553243746e+01, 3.26825032795224613948e+01, 2.67367040941499554804e+01,
           9.18707402907259625840e+00, 1.47529146771666414581e+00, 1.15687173795188044134e-01,
           4.40291641615211203805e-03, 7.54720348287414296618e-05, 4.51850092970580378464e-07]
_AI_AGN = [1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e+00,
           9.39169229816650230044e-01, 3.51465656105547619242e-01, 6.33888919628925490927e-02,
           5.85804113048388458567e-03, 2.82851600836737019778e-04, 6.98793669997260967291e-06,
           8.11789239554389293311e-08, 3.41551784765923618484e-10]
_AI_AGD = [9.30892908077441974853e+00, 1.98352928718312140417e+01, 1.55646628932864612953e+01,
           5.47686069422975497931e+00, 9.54293611618961883998e-01, 8.64580826352392193095e-02,
           4.12656523824222607191e-03, 1.01259085116509135510e-04, 1.17166733214413521882e-06,
           4.91834570062930015649e-09]
_EPS64 = 2.220446049250313e-16


def _airy_ai64(x):
    neg = _ops.lt(x, -2.09)
    pos = _ops.ge(x, 2.09)
    # x < -2.09: the oscillating asymptotic form
    xn = _where(neg, x, -3.0)
    zeta_n = xn * -2.0 * _ops.sqrt(-xn) / 3.0  # torch's order of operations (t is large)
    z = _ops.reciprocal(zeta_n)
    z2 = z * z
    t = zeta_n + 0.25 * math.pi
    rn = 5.64189583547756286948e-01 / _ops.sqrt(_ops.sqrt(-xn)) * (
        _ops.sin(t) * (1.0 + z2 * _polevl(z2, _AI_AFN) / _polevl(z2, _AI_AFD))
        - _ops.cos(t) * (z * _polevl(z2, _AI_AGN) / _polevl(z2, _AI_AGD)))
    # x >= 2.09: the decaying asymptotic form
    xp = _where(pos, x, 3.0)
    zeta_p = xp * 2.0 * _ops.sqrt(xp) / 3.0
    iz = _ops.reciprocal(zeta_p)
    rp = 5.64189583547756286948e-01 * (_polevl(iz, _AI_AN) / _polevl(iz, _AI_AD)) / (
        2.0 * _ops.sqrt(_ops.sqrt(xp)) * _ops.exp(zeta_p))
    # |x| < 2.09: the power series f, g in x^3, each element stopping where torch's loop stops
    xs = _where(_ops.logical_or(neg, pos), 0.0, x)
    f = _creation.ones_like(xs)
    g = xs
    m = _creation.ones_like(xs)
    n = xs
    tt = _creation.ones_like(xs)
    z3 = xs * xs * xs
    k = 1.0
    for _ in range(40):
        active = _ops.gt(tt, _EPS64)
        m = m * z3 / (k + 1.0)
        n = n * z3 / (k + 2.0)
        m = m / (k + 2.0)
        f = _where(active, f + m, f)
        n = n / (k + 3.0)
        g = _where(active, g + n, g)
        tt = _where(active, _ops.abs(m / f), tt)
        k += 3.0
    rs = 0.355028053887817239260 * f - 0.258819403792806798405 * g
    r = _where(neg, rn, _where(pos, rp, rs))
    r = _where(_ops.gt(x, 103.892), 0.0, r)
    return _where(_ops.isinf(x), math.nan, r)


airy_ai = _no_grad_unary("airy_ai", _airy_ai64, "special.airy_ai(input, *, out=None): the Airy function Ai")
__all__ += ["airy_ai"]


# ------------------------------------------------------------------------------------------------- gammainc
# The regularized incomplete gamma functions P(a, x) (gammainc) and Q(a, x) = 1 - P (gammaincc): the power series
# of P for x < a + 1 and the continued fraction of Q (modified Lentz) otherwise, each run per element to
# convergence (torch's kernel adds the uniform asymptotic expansion for large a near x: ours loses about a * eps
# relative there instead), in float64, with torch's boundary values.

_IGAM_MAX_ITERS = 20000
_TINY = 1e-300


def _igam64(a, x):
    """(P, Q) for float64 a, x of one shape."""
    series = _ops.lt(x, a + 1.0)
    valid = _ops.logical_and(_ops.gt(a, 0.0), _ops.gt(x, 0.0))
    valid = _ops.logical_and(valid, _ops.logical_and(_ops.isfinite(a), _ops.isfinite(x)))
    use_s = _ops.logical_and(series, valid)
    use_c = _ops.logical_and(_ops.logical_not(series), valid)
    # the series: P = x^a e^-x / Gamma(a + 1) * sum_k x^k / ((a + 1) ... (a + k))
    as_ = _where(use_s, a, 1.0)
    xs = _where(use_s, x, 0.5)
    term = _creation.ones_like(as_)
    s = term
    ap = as_
    done = _ops.logical_not(use_s)
    # the continued fraction: Q = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / ...))
    ac = _where(use_c, a, 1.0)
    xc = _where(use_c, x, 2.0)
    b = xc + 1.0 - ac
    c = _creation.full_like(b, 1.0 / _TINY)
    d = _ops.reciprocal(b)
    h = d
    done_c = _ops.logical_not(use_c)
    i = 0
    while True:
        i += 1
        ap = ap + 1.0
        term = _where(done, term, term * xs / ap)
        s = _where(done, s, s + term)
        done = _ops.logical_or(done, _ops.lt(_ops.abs(term), _ops.abs(s) * 1.1e-16))
        an = -(float(i) * (float(i) - ac))
        b = b + 2.0
        d = an * d + b
        d = _where(_ops.lt(_ops.abs(d), _TINY), _TINY, d)
        c = b + an / c
        c = _where(_ops.lt(_ops.abs(c), _TINY), _TINY, c)
        d = _ops.reciprocal(d)
        delta = d * c
        h = _where(done_c, h, h * delta)
        done_c = _ops.logical_or(done_c, _ops.lt(_ops.abs(delta - 1.0), 1.1e-16))
        if i % 16 == 0 or i >= _IGAM_MAX_ITERS:
            if bool(_ops.all(_ops.logical_and(done, done_c)).item()) or i >= _IGAM_MAX_ITERS:
                break
    p_s = s * _ops.exp(as_ * _ops.log(xs) - xs - _math_extra.lgamma(as_ + 1.0))
    q_c = h * _ops.exp(ac * _ops.log(xc) - xc - _math_extra.lgamma(ac))
    p = _where(use_s, p_s, 1.0 - q_c)
    q = _where(use_s, 1.0 - p_s, q_c)
    return p, q


def _igam_boundaries(a, x, r, upper):
    """torch's calc_igamma / calc_igammac boundary values over r (applied lowest precedence first)."""
    one, zero = (0.0, 1.0) if upper else (1.0, 0.0)   # value at x = inf, at x = 0
    r = _where(_ops.isinf(x), one, r)
    r = _where(_ops.isinf(a), _where(_ops.isinf(x), math.nan, zero), r)
    r = _where(_ops.eq(x, 0.0), zero, r)
    r = _where(_ops.eq(a, 0.0), _where(_ops.gt(x, 0.0), one, math.nan), r)
    r = _where(_ops.logical_or(_ops.lt(x, 0.0), _ops.lt(a, 0.0)), math.nan, r)
    return _where(_ops.logical_or(_ops.isnan(a), _ops.isnan(x)), math.nan, r)


def _igam_values(a, x, dtype, upper):
    ref = x if isinstance(x, Tensor) else a
    at, xt = _full(a, ref), _full(x, ref)
    shape = _ops.broadcast_shapes(tuple(at.shape), tuple(xt.shape))
    a64 = _ops.broadcast_to(_ops_to(at.detach(), _f64), shape).contiguous()
    x64 = _ops.broadcast_to(_ops_to(xt.detach(), _f64), shape).contiguous()
    p, q = _igam64(a64, x64)
    return _ops_to(_igam_boundaries(a64, x64, q if upper else p, upper), dtype)


class _Igamma(Function):
    _double_backward = True

    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.upper = upper
        ctx.shapes = (tuple(a.shape) if isinstance(a, Tensor) else None, tuple(x.shape))
        ctx.save_for_backward(a if isinstance(a, Tensor) else None, x)
        ctx.sa = None if isinstance(a, Tensor) else a
        return _igam_values(a, x, x.dtype, upper)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        name = "gammaincc" if ctx.upper else "gammainc"
        if ctx.shapes[0] is not None and ctx.needs_input_grad[0]:
            raise NotImplementedError(f"special.{name}: the derivative with respect to 'input' (a) is not "
                                      f"implemented (as in torch)")
        av = a if a is not None else _full(ctx.sa, x)
        # torch: d/dx P = exp((a - 1) log x - x - lgamma(a)); Q gets its negative
        d = _ops.exp((av - 1.0) * _ops.log(x) - x - _math_extra.lgamma(av))
        gx = _ops._unbroadcast(g * (-d if ctx.upper else d), ctx.shapes[1])
        return None, gx, None


def _igamma_op(name, upper):
    def op(input, other, *, out=None):
        # torch: two tensors, of floating dtypes
        _check_tensor(name, input, "input")
        _check_tensor(name, other, "other")
        for v in (input, other):
            if not v.dtype.is_floating_point:
                raise NotImplementedError(f"special.{name}(): not implemented for {v.dtype.name} tensors (as torch: "
                                          f"floating-point input and other only)")
        a, x, dt = _binary_operands(name, input, other)
        if isinstance(x, Tensor) and _needs_grad(x) or isinstance(a, Tensor) and _needs_grad(a):
            res = _Igamma.apply(a, _full(x, a) if not isinstance(x, Tensor) else x, upper)
        else:
            res = _igam_values(a, x, dt, upper)
        return _finish(name, res, out)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"special.{name}(input, other, *, out=None): the regularized {'upper' if upper else 'lower'} "
                  f"incomplete gamma function, a = input, x = other (derivative with respect to x only, as torch)")
    return op


gammainc = _igamma_op("gammainc", False)
gammaincc = _igamma_op("gammaincc", True)
__all__ += ["gammainc", "gammaincc"]
