"""The Bessel functions J₀, J₁, Y₀, Y₁, K₀, K₁ (and the scaled eˣ·K₀, eˣ·K₁) and the Airy
function Ai of ``tg.special``; outside the reading path.

Each is computed as PyTorch computes it (aten/src/ATen/native/Math.h): with the rational
and Chebyshev approximations of the Cephes Math Library (S. L. Moshier, *Methods and
Programs for Mathematical Functions*, 1989), whose published coefficients are the tables
below: errors of a few 1e-16 relative in float64 (relative to the size of the oscillation
near the zeros of J, Y and Ai; for large x the rounding of x itself shifts the phase, 3e-14
at x = 150). Each denominator Cephes evaluates with ``p1evl`` is monic, its leading 1 not
in the table (``_monic``). The code is ours and works on whole arrays: each range of an
approximation is computed for every element (x clipped into that range, so no element
overflows or warns), and ``where`` picks each element's range. A float32 input is
computed in float64 and rounded back.

* J₀, J₁, Y₀, Y₁, x ≤ 5: a rational function of x² (for J, times (x² − j₁²)(x² − j₂²),
  j₁ and j₂ the first two zeros, so the zeros keep their relative accuracy); for Y, plus
  (2/π)·log x·J₀(x), or (2/π)·(log x·J₁(x) − 1/x);
* x > 5, Hankel's asymptotic form: Jₙ(x) = √(2/(πx))·(P·cos χ − Q·sin χ) and
  Yₙ(x) = √(2/(πx))·(P·sin χ + Q·cos χ), χ = x − (2n + 1)π/4, with P and Q rational
  functions of 25/x²;
* K₀, K₁: x ≤ 2, Chebyshev series in x² − 2 and the series of I₀, I₁ (``ops/special.py``),
  K₀ = S(x² − 2) − log(x/2)·I₀(x) and K₁ = log(x/2)·I₁(x) + S(x² − 2)/x; x > 2,
  Kₙ(x) = e⁻ˣ·S(8/x − 2)/√x;
* Ai: x < −2.09, Ai(x) = (sin θ·(1 + f) − cos θ·g)/(√π·|x|^¼), θ = ζ + π/4,
  ζ = (2/3)|x|^(3/2), f and g rational in 1/ζ²; |x| < 2.09, its Maclaurin series
  Ai(x) = Ai(0)·F(x) + Ai′(0)·G(x); x ≥ 2.09, e^(−ζ)·R(1/ζ)/(2√π·x^¼); 0 beyond 103.892.

PyTorch's values at the edges: J₀(0) = 1; J and Y are NaN at ±inf; Y₀, Y₁ are −inf at 0,
K₀, K₁ (scaled too) +inf at 0 and 0 at +inf; Y and K are NaN for x < 0; Ai is NaN at
±inf and below −2.0e205 (where its phase overflows); NaN gives NaN.

None of them has a derivative, as in PyTorch: a result computed from a tensor that
requires grad raises when a backward reaches it, naming the function
(``ops/no_derivative.py``), so a backward never passes through them silently.
"""

from __future__ import annotations

import math
import sys

from tinygrad_opt import backend
from tinygrad_opt.functions import store_out
from tinygrad_opt.ops.elementwise import constant
from tinygrad_opt.ops.math_ops import _chebyshev, _float_input
from tinygrad_opt.ops.no_derivative import without_derivative
from tinygrad_opt.ops.special import _bessel, _in_float64

__all__: list = [
    "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
    "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "airy_ai",
]

TWO_OVER_PI = 2 / math.pi
SQRT_TWO_OVER_PI = math.sqrt(2 / math.pi)
INVERSE_SQRT_PI = 1 / math.sqrt(math.pi)
AIRY_AT_ZERO = 0.355028053887817239260          # Ai(0) = 1 / (3^(2/3)·Γ(2/3))
AIRY_SLOPE_AT_ZERO = -0.258819403792806798405   # Ai′(0) = −1 / (3^(1/3)·Γ(1/3))
BIGGEST = sys.float_info.max  # the far ranges take x up to here (inf: answered at the end)
# below −AIRY_PHASE_LIMIT, 2|x|^(3/2) (of ζ, in Ai's phase) overflows in PyTorch's float64
# Ai: its sin(inf) makes Ai NaN there
AIRY_PHASE_LIMIT = (sys.float_info.max / 2) ** (2 / 3)


# --- the published Cephes coefficients, highest power first ---

# J₀(x) = (x² − j₁²)(x² − j₂²)·RP(x²)/RQ(x²) for x ≤ 5 (j₁ = 2.4048…, j₂ = 5.5201…)
J0_ZEROS_SQUARED = (5.78318596294678452118e+00, 3.04712623436620863991e+01)
J0_RP = (-4.79443220978201773821e+09, 1.95617491946556577543e+12,
         -2.49248344360967716204e+14, 9.70862251047306323952e+15)
J0_RQ = (4.99563147152651017219e+02, 1.73785401676374683123e+05, 4.84409658339962045305e+07,
         1.11855537045356834862e+10, 2.11277520115489217587e+12, 3.10518229857422583814e+14,
         3.18121955943204943306e+16, 1.71086294081043136091e+18)
# J₁(x) = x·(x² − j₁²)(x² − j₂²)·RP(x²)/RQ(x²) for x ≤ 5 (j₁ = 3.8317…, j₂ = 7.0155…)
J1_ZEROS_SQUARED = (1.46819706421238932572e+01, 4.92184563216946036703e+01)
J1_RP = (-8.99971225705559398224e+08, 4.52228297998194034323e+11,
         -7.27494245221818276015e+13, 3.68295732863852883286e+15)
J1_RQ = (6.20836478118054335476e+02, 2.56987256757748830383e+05, 8.35146791431949253037e+07,
         2.21511595479792499675e+10, 4.74914122079991414898e+12, 7.84369607876235854894e+14,
         8.95222336184627338078e+16, 5.32278620332680085395e+18)
# Y₀(x) = YP(x²)/YQ(x²) + (2/π)·log x·J₀(x) for x ≤ 5
Y0_YP = (1.55924367855235737965e+04, -1.46639295903971606143e+07, 5.43526477051876500413e+09,
         -9.82136065717911466409e+11, 8.75906394395366999549e+13, -3.46628303384729719441e+15,
         4.42733268572569800351e+16, -1.84950800436986690637e+16)
Y0_YQ = (1.04128353664259848412e+03, 6.26107330137134956842e+05, 2.68919633393814121987e+08,
         8.64002487103935000337e+10, 2.02979612750105546709e+13, 3.17157752842975028269e+15,
         2.50596256172653059228e+17)
# Y₁(x) = x·YP(x²)/YQ(x²) + (2/π)·(log x·J₁(x) − 1/x) for x ≤ 5
Y1_YP = (1.26320474790178026440e+09, -6.47355876379160291031e+11, 1.14509511541823727583e+14,
         -8.12770255501325109621e+15, 2.02439475713594898196e+17, -7.78877196265950026825e+17)
Y1_YQ = (5.94301592346128195359e+02, 2.35564092943068577943e+05, 7.34811944459721705660e+07,
         1.87601316108706159478e+10, 3.88231277496238566008e+12, 6.20557727146953693363e+14,
         6.87141087355300489866e+16, 3.97270608116560655612e+18)
# x > 5: P = PP(w)/PQ(w) and Q = (5/x)·QP(w)/QQ(w), w = 25/x², for the orders 0 and 1
FAR_FIELD = {
    0: ((7.96936729297347051624e-04, 8.28352392107440799803e-02, 1.23953371646414299388e+00,
         5.44725003058768775090e+00, 8.74716500199817011941e+00, 5.30324038235394892183e+00,
         9.99999999999999997821e-01),
        (9.24408810558863637013e-04, 8.56288474354474431428e-02, 1.25352743901058953537e+00,
         5.47097740330417105182e+00, 8.76190883237069594232e+00, 5.30605288235394617618e+00,
         1.00000000000000000218e+00),
        (-1.13663838898469149931e-02, -1.28252718670509318512e+00, -1.95539544257735972385e+01,
         -9.32060152123768231369e+01, -1.77681167980488050595e+02, -1.47077505154951170175e+02,
         -5.14105326766599330220e+01, -6.05014350600728481186e+00),
        (6.43178256118178023184e+01, 8.56430025976980587198e+02, 3.88240183605401609683e+03,
         7.24046774195652478189e+03, 5.93072701187316984827e+03, 2.06209331660327847417e+03,
         2.42005740240291393179e+02)),
    1: ((7.62125616208173112003e-04, 7.31397056940917570436e-02, 1.12719608129684925192e+00,
         5.11207951146807644818e+00, 8.42404590141772420927e+00, 5.21451598682361504063e+00,
         1.00000000000000000254e+00),
        (5.71323128072548699714e-04, 6.88455908754495404082e-02, 1.10514232634061696926e+00,
         5.07386386128601488557e+00, 8.39985554327604159757e+00, 5.20982848682361821619e+00,
         9.99999999999999997461e-01),
        (5.10862594750176621635e-02, 4.98213872951233449420e+00, 7.58238284132545283818e+01,
         3.66779609360150777800e+02, 7.10856304998926107277e+02, 5.97489612400613639965e+02,
         2.11688757100572135698e+02, 2.52070205858023719784e+01),
        (7.42373277035675149943e+01, 1.05644886038262816351e+03, 4.98641058337653607651e+03,
         9.56231892404756170795e+03, 7.99704160447350683650e+03, 2.82619278517639096600e+03,
         3.36093607810698293419e+02)),
}
# K₀ and K₁: Chebyshev coefficients for x ≤ 2 (in x² − 2) and x > 2 (in 8/x − 2)
K0_NEAR = (1.37446543561352307156e-16, 4.25981614279661018399e-14, 1.03496952576338420167e-11,
           1.90451637722020886025e-09, 2.53479107902614945675e-07, 2.28621210311945178607e-05,
           1.26461541144692592338e-03, 3.59799365153615016266e-02, 3.44289899924628486886e-01,
           -5.35327393233902768720e-01)
K0_FAR = (5.30043377268626276149e-18, -1.64758043015242134646e-17, 5.21039150503902756861e-17,
          -1.67823109680541210385e-16, 5.51205597852431940784e-16, -1.84859337734377901440e-15,
          6.34007647740507060557e-15, -2.22751332699166985548e-14, 8.03289077536357521100e-14,
          -2.98009692317273043925e-13, 1.14034058820847496303e-12, -4.51459788337394416547e-12,
          1.85594911495471785253e-11, -7.95748924447710747776e-11, 3.57739728140030116597e-10,
          -1.69753450938905987466e-09, 8.57403401741422608519e-09, -4.66048989768794782956e-08,
          2.76681363944501510342e-07, -1.83175552271911948767e-06, 1.39498137188764993662e-05,
          -1.28495495816278026384e-04, 1.56988388573005337491e-03, -3.14481013119645005427e-02,
          2.44030308206595545468e+00)
K1_NEAR = (-7.02386347938628759343e-18, -2.42744985051936593393e-15, -6.66690169419932900609e-13,
           -1.41148839263352776110e-10, -2.21338763073472585583e-08, -2.43340614156596823496e-06,
           -1.73028895751305206302e-04, -6.97572385963986435018e-03, -1.22611180822657148235e-01,
           -3.53155960776544875667e-01, 1.52530022733894777053e+00)
K1_FAR = (-5.75674448366501715755e-18, 1.79405087314755922667e-17, -5.68946255844285935196e-17,
          1.83809354436663880070e-16, -6.05704724837331885336e-16, 2.03870316562433424052e-15,
          -7.01983709041831346144e-15, 2.47715442448130437068e-14, -8.97670518232499435011e-14,
          3.34841966607842919884e-13, -1.28917396095102890680e-12, 5.13963967348173025100e-12,
          -2.12996783842756842877e-11, 9.21831518760500529508e-11, -4.19035475934189648750e-10,
          2.01504975519703286596e-09, -1.03457624656780970260e-08, 5.74108412545004946722e-08,
          -3.50196060308781257119e-07, 2.40648494783721712015e-06, -1.93619797416608296024e-05,
          1.95215518471351631108e-04, -2.85781685962277938680e-03, 1.03923736576817238437e-01,
          2.72062619048444266945e+00)
# Ai for x ≥ 2.09: AN(1/ζ)/AD(1/ζ)
AIRY_AN = (3.46538101525629032477e-01, 1.20075952739645805542e+01, 7.62796053615234516538e+01,
           1.68089224934630576269e+02, 1.59756391350164413639e+02, 7.05360906840444183113e+01,
           1.40264691163389668864e+01, 9.99999999999999995305e-01)
AIRY_AD = (5.67594532638770212846e-01, 1.47562562584847203173e+01, 8.45138970141474626562e+01,
           1.77318088145400459522e+02, 1.64234692871529701831e+02, 7.14778400825575695274e+01,
           1.40959135607834029598e+01, 1.00000000000000000470e+00)
# Ai for x < −2.09: f = (1/ζ²)·AFN/AFD and g = (1/ζ)·AGN/AGD, in 1/ζ²
AIRY_AFN = (-1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
            -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
            -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08)
AIRY_AFD = (1.33560420706553243746e+01, 3.26825032795224613948e+01, 2.67367040941499554804e+01,
            9.18707402907259625840e+00, 1.47529146771666414581e+00, 1.15687173795188044134e-01,
            4.40291641615211203805e-03, 7.54720348287414296618e-05, 4.51850092970580378464e-07)
AIRY_AGN = (1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e+00,
            9.39169229816650230044e-01, 3.51465656105547619242e-01, 6.33888919628925490927e-02,
            5.85804113048388458567e-03, 2.82851600836737019778e-04, 6.98793669997260967291e-06,
            8.11789239554389293311e-08, 3.41551784765923618484e-10)
AIRY_AGD = (9.30892908077441974853e+00, 1.98352928718312140417e+01, 1.55646628932864612953e+01,
            5.47686069422975497931e+00, 9.54293611618961883998e-01, 8.64580826352392193095e-02,
            4.12656523824222607191e-03, 1.01259085116509135510e-04, 1.17166733214413521882e-06,
            4.91834570062930015649e-09)


# --- evaluating the tables ---

def _polynomial(coefficients, z):
    """c₀·zⁿ + c₁·zⁿ⁻¹ + … + cₙ (highest power first, as Cephes lists them), by Horner."""
    result = coefficients[0]
    for c in coefficients[1:]:
        result = result * z + c
    return result


def _monic(coefficients, z):
    """zⁿ⁺¹ + c₀·zⁿ + … + cₙ: a denominator whose leading coefficient, 1, Cephes leaves out
    of its table (its ``p1evl``)."""
    return _polynomial((1.0, *coefficients), z)


# --- the functions, on float64 arrays ---

def _j_near(order: int, x):
    """Jₙ(x) for |x| ≤ 5: (x² − j₁²)(x² − j₂²)·RP(x²)/RQ(x²), times x for n = 1."""
    square = x * x
    zeros, numerator, denominator = ((J0_ZEROS_SQUARED, J0_RP, J0_RQ) if order == 0
                                     else (J1_ZEROS_SQUARED, J1_RP, J1_RQ))
    value = ((square - zeros[0]) * (square - zeros[1]) * _polynomial(numerator, square)
             / _monic(denominator, square))
    return value if order == 0 else x * value


def _far_field(order: int, x):
    """(√(2/(πx))·P, √(2/(πx))·Q, χ) for x > 5: Jₙ = P·cos χ − Q·sin χ and
    Yₙ = P·sin χ + Q·cos χ (those factors included), χ = x − (2n + 1)π/4."""
    pp, pq, qp, qq = FAR_FIELD[order]
    w = (5 / x) ** 2
    scale = SQRT_TWO_OVER_PI / backend.xp_of(x).sqrt(x)
    p = _polynomial(pp, w) / _polynomial(pq, w)
    q = 5 / x * _polynomial(qp, w) / _monic(qq, w)
    return scale * p, scale * q, x - (2 * order + 1) * math.pi / 4


def _bessel_j(order: int, x):
    """J₀(x) (even) or J₁(x) (odd), NaN at ±inf as PyTorch's."""
    xp = backend.xp_of(x)
    size = xp.abs(x)
    inner = xp.clip(x, -5.0, 5.0)
    near = _j_near(order, inner)
    if order == 0:
        near = xp.where(size < 1e-5, 1 - inner * inner / 4, near)  # (Cephes's first terms)
    p, q, chi = _far_field(order, xp.clip(size, 5.0, BIGGEST))
    far = p * xp.cos(chi) - q * xp.sin(chi)
    if order == 1:
        far = xp.where(x < 0, -far, far)
    result = xp.where(size <= 5, near, far)
    return xp.where(xp.isinf(x), math.nan, xp.where(xp.isnan(x), x, result))


def _bessel_y(order: int, x):
    """Y₀(x) or Y₁(x), for x > 0."""
    xp = backend.xp_of(x)
    inside = x > 0
    small = xp.where(inside, xp.minimum(x, 5.0), 1.0)  # (0 < x ≤ 5)
    square = small * small
    if order == 0:
        near = (_polynomial(Y0_YP, square) / _monic(Y0_YQ, square)
                + TWO_OVER_PI * xp.log(small) * _bessel_j(0, small))
    else:
        with backend.np.errstate(over="ignore"):  # 1/x at the subnormals: the −inf it is
            near = (small * _polynomial(Y1_YP, square) / _monic(Y1_YQ, square)
                    + TWO_OVER_PI * (_bessel_j(1, small) * xp.log(small) - 1 / small))
    p, q, chi = _far_field(order, xp.clip(x, 5.0, BIGGEST))
    far = p * xp.sin(chi) + q * xp.cos(chi)
    result = xp.where(x <= 5, near, far)
    return _positive_only(x, result, at_zero=-math.inf, at_infinity=math.nan)


def _bessel_k(order: int, x, scaled: bool):
    """K₀(x) or K₁(x), for x > 0; times eˣ when ``scaled``."""
    xp = backend.xp_of(x)
    small = xp.where(x > 0, xp.minimum(x, 2.0), 1.0)  # (0 < x ≤ 2)
    # log(x/2), but log x − log 2 for the subnormals: x/2 underflows to 0 at the smallest,
    # where K₀(5e-324) = −log(x/2) − γ ≈ 744.55 (Cephes's log(x/2) makes it inf, and K₁
    # NaN); elsewhere log(x/2) keeps its digits near x = 2, where log x − log 2 cancels
    half_log = xp.where(small < 1e-300, xp.log(small) - math.log(2.0),
                        xp.log(xp.maximum(small, 1e-300) / 2))
    if order == 0:
        near = (_chebyshev(K0_NEAR, small * small - 2)
                - half_log * _bessel(0, small, scaled=False))
    else:
        with backend.np.errstate(over="ignore"):  # K₁ ≈ 1/x: inf at the subnormals
            near = (half_log * _bessel(1, small, scaled=False)
                    + _chebyshev(K1_NEAR, small * small - 2) / small)
    large = xp.clip(x, 2.0, BIGGEST)
    far = _chebyshev(K0_FAR if order == 0 else K1_FAR, 8 / large - 2) / xp.sqrt(large)
    if scaled:
        result = xp.where(x <= 2, near * xp.exp(small), far)
    else:
        result = xp.where(x <= 2, near, far * xp.exp(-large))
    return _positive_only(x, result, at_zero=math.inf, at_infinity=0.0)


def _positive_only(x, result, at_zero: float, at_infinity: float):
    """``result`` for 0 < x < inf, with PyTorch's values elsewhere: ``at_zero`` at ±0,
    ``at_infinity`` at +inf, NaN for x < 0 and at NaN."""
    xp = backend.xp_of(x)
    result = xp.where(x == math.inf, at_infinity, xp.where(x == 0, at_zero, result))
    return xp.where((x < 0) | xp.isnan(x), math.nan, result)


def _airy_ai(x):
    """Ai(x), from its three ranges (see the module docstring)."""
    xp = backend.xp_of(x)
    left = xp.clip(x, -AIRY_PHASE_LIMIT, -2.09)  # x < −2.09: sin and cos of θ = ζ + π/4
    zeta = 2 / 3 * (-left) ** 1.5
    z = 1 / zeta
    f = z * z * _polynomial(AIRY_AFN, z * z) / _monic(AIRY_AFD, z * z)
    g = z * _polynomial(AIRY_AGN, z * z) / _monic(AIRY_AGD, z * z)
    theta = zeta + math.pi / 4
    oscillating = (INVERSE_SQRT_PI * (xp.sin(theta) * (1 + f) - xp.cos(theta) * g)
                   / (-left) ** 0.25)
    right = xp.clip(x, 2.09, 103.892)  # x ≥ 2.09: decaying as e^(−ζ)
    zeta = 2 / 3 * right ** 1.5
    decaying = (INVERSE_SQRT_PI * _polynomial(AIRY_AN, 1 / zeta) / _polynomial(AIRY_AD, 1 / zeta)
                / (2 * right ** 0.25 * xp.exp(zeta)))
    result = xp.where(x < -2.09, oscillating,
                      xp.where(x < 2.09, _airy_series(xp.clip(x, -2.09, 2.09)), decaying))
    result = xp.where(x > 103.892, 0.0, xp.where(x < -AIRY_PHASE_LIMIT, math.nan, result))
    return xp.where(xp.isinf(x), math.nan, result)


def _airy_series(x):
    """Ai(x) = Ai(0)·F(x) + Ai′(0)·G(x) for |x| ≤ 2.09, with the Maclaurin series
    F = Σₖ aₖ, a₀ = 1, aₖ = aₖ₋₁·x³/((3k − 1)·3k), and G = Σₖ bₖ, b₀ = x,
    bₖ = bₖ₋₁·x³/(3k·(3k + 1)); 25 terms (the last is below 1e-46)."""
    cube = x * x * x
    term_f, term_g = 1.0, x
    sum_f, sum_g = term_f, term_g
    for k in range(1, 25):
        term_f = term_f * cube / ((3 * k - 1) * 3 * k)
        term_g = term_g * cube / (3 * k * (3 * k + 1))
        sum_f, sum_g = sum_f + term_f, sum_g + term_g
    return AIRY_AT_ZERO * sum_f + AIRY_SLOPE_AT_ZERO * sum_g


# --- the functions of tg.special ---

def _without_derivative(name: str, function, input, out):
    """``function`` (on float64 arrays) of ``input`` elementwise, in input's float dtype
    (integers become the default float), with no derivative (``ops/no_derivative.py``:
    a backward that reaches the result raises, naming ``name``). ``out=`` as PyTorch's
    (``functions.store_out``)."""
    x = _float_input(input, name)
    values = _in_float64(function, x.data)
    if out is not None:
        return store_out(constant(values), out, name)
    return without_derivative(name, values, x)


def bessel_j0(input, *, out=None):
    """J₀(x), the Bessel function of the first kind of order 0, elementwise (NaN at ±inf,
    as PyTorch); no gradient."""
    return _without_derivative("bessel_j0", lambda x: _bessel_j(0, x), input, out)


def bessel_j1(input, *, out=None):
    """J₁(x), the Bessel function of the first kind of order 1 (odd), elementwise (NaN at
    ±inf, as PyTorch); no gradient."""
    return _without_derivative("bessel_j1", lambda x: _bessel_j(1, x), input, out)


def bessel_y0(input, *, out=None):
    """Y₀(x), the Bessel function of the second kind of order 0, elementwise: −inf at 0,
    NaN for x < 0 and at +inf (as PyTorch); no gradient."""
    return _without_derivative("bessel_y0", lambda x: _bessel_y(0, x), input, out)


def bessel_y1(input, *, out=None):
    """Y₁(x), the Bessel function of the second kind of order 1, elementwise: −inf at 0,
    NaN for x < 0 and at +inf (as PyTorch); no gradient."""
    return _without_derivative("bessel_y1", lambda x: _bessel_y(1, x), input, out)


def modified_bessel_k0(input, *, out=None):
    """K₀(x), the modified Bessel function of the second kind of order 0, elementwise:
    inf at 0, 0 at inf, NaN for x < 0; no gradient."""
    return _without_derivative("modified_bessel_k0",
                               lambda x: _bessel_k(0, x, scaled=False), input, out)


def modified_bessel_k1(input, *, out=None):
    """K₁(x), the modified Bessel function of the second kind of order 1, elementwise:
    inf at 0, 0 at inf, NaN for x < 0; no gradient."""
    return _without_derivative("modified_bessel_k1",
                               lambda x: _bessel_k(1, x, scaled=False), input, out)


def scaled_modified_bessel_k0(input, *, out=None):
    """eˣ·K₀(x), elementwise, without K₀'s underflow for large x: inf at 0, 0 at inf, NaN
    for x < 0; no gradient."""
    return _without_derivative("scaled_modified_bessel_k0",
                               lambda x: _bessel_k(0, x, scaled=True), input, out)


def scaled_modified_bessel_k1(input, *, out=None):
    """eˣ·K₁(x), elementwise: inf at 0, 0 at inf, NaN for x < 0; no gradient."""
    return _without_derivative("scaled_modified_bessel_k1",
                               lambda x: _bessel_k(1, x, scaled=True), input, out)


def airy_ai(input, *, out=None):
    """Ai(x), the Airy function of the first kind (the solution of y″ = x·y that decays as
    x → +inf), elementwise: 0 for x > 103.892, NaN at ±inf and for x < −2.0e205 (as
    PyTorch); no gradient."""
    return _without_derivative("airy_ai", _airy_ai, input, out)
