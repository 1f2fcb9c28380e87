/* disco-kernels-fast.c: vectorised CPU versions of the element-wise work of
 * the network solve.
 *
 * Shape legend: see disco-kernels.h (R rows, C columns, ld* row strides,
 * S stages); n = units of a microcircuit layer, whose state row holds u_E
 * (n) then u_I (n).
 *
 * 1. The soft rectifier.  The reference φ (disco_softrect_forward() in
 * disco-kernels.h) calls libm's expf and logf, which GCC cannot vectorise,
 * and φ runs twice per unit per evaluation of the network: without care it
 * costs more than the GEMMs.  Here exp and log1p are branch-free
 * polynomials on floats and integers only, written so that GCC vectorises
 * the loops (-fopt-info-vec confirms it; see kernels/meson.build for the
 * flags of this file):
 *
 *   φ(x) = s·(max(z, 0) + log1p(e)),  z = β(x − θ),  e = exp(−|z|) ∈ [0, 1]
 *
 *   exp(w), w ≤ 0: w = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite, two-part
 *     ln2), exp(r) = 1 + r + r²·P₅(r) with the coefficients of Cephes'
 *     expf (S. L. Moshier), and 2ⁿ built in the exponent field in two
 *     halves so that results down to the subnormal range round once; below
 *     w = −104 the result is 0, as expf's.
 *   log1p(e), e ∈ [0, 1]: e·Q₉(e), Q₉ a degree-9 polynomial fitted to
 *     log1p(e)/e at Chebyshev nodes (mpmath.chebyfit; approximation error
 *     5e−9, a tenth of an ulp).
 *
 *   The polynomials are evaluated mostly in Estrin's scheme (the loops
 *   are bound by the length of these dependency chains as much as by
 *   throughput), with the last steps in Horner's so that their rounding
 *   stays relative to the result.  Against the reference the result stays
 *   within 4 ulp, or 1e−30 in the deep tail where e^z is subnormal before
 *   scaling (every 17th float checked for five rectifiers on both paths;
 *   tests/kernels checks a sample on every build); against the exact value
 *   it is within 3 ulp, the reference within 4.  NaN stays NaN; ±∞ give what
 *   the reference gives.
 *
 * 2. The Runge-Kutta algebra of the solver (disco-ode.c): the stage
 * combination with the sum kept in a register, the embedded error estimate
 * fused with its scaled norm (the error is never stored), and row RMS.  The
 * norms accumulate in double exactly as the reference loops do (one
 * sequential sum per row, same order); four rows are summed side by side so
 * that the additions' latency overlaps.  These results are bit-identical to
 * the references in disco-kernels-cpu.c.
 *
 * Floating-point contraction is off for this file (-ffp-contract=off):
 * every operation rounds as written.  Where φ's formulas say MULADD, the
 * AVX2 path uses a fused multiply-add and the generic path a product and a
 * sum; nothing else differs between the paths.
 *
 * Every loop exists twice: compiled for the build's baseline (SSE2 on
 * x86-64) and, on x86, for AVX2 with FMA through a function-specific target
 * attribute (no -mavx2 for the whole build).  The best one the CPU runs is
 * chosen at the first call with __builtin_cpu_supports().
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-kernels.h"
#include "disco-parallel.h"

#include <stdint.h>
#include <string.h>

#define ALWAYS_INLINE static inline __attribute__ ((always_inline))

/* a·b + c, fused on the FMA path. */
#define MULADD(fma, a, b, c) ((fma) ? __builtin_fmaf ((a), (b), (c)) : (a) * (b) + (c))

/* Columns per chunk of the norm kernels: 8 KiB of stack per row, so that
 * one row's chunk streams its nine inputs before the next row's start. */
#define NORM_CHUNK 2048

/* Rows summed side by side in the norm kernels. */
#define NORM_ROWS 4

ALWAYS_INLINE float
bits_to_float (uint32_t u)
{
  float f;

  memcpy (&f, &u, sizeof f);
  return f;
}

ALWAYS_INLINE uint32_t
float_to_bits (float f)
{
  uint32_t u;

  memcpy (&u, &f, sizeof u);
  return u;
}

/* ----- the soft rectifier ------------------------------------------------- */

/* exp(w) for w ≤ 0 or NaN (w > 0 is not handled: φ never needs it). */
ALWAYS_INLINE float
fast_exp_nonpositive (gboolean fma, float w)
{
  /* 1.5·2²³: adding it rounds a float of magnitude < 2²² to an integer,
   * which then sits in the low mantissa bits. */
  const float shifter = 0x1.8p23f;
  float t, n, r, r2, r4, p01, p23, p45, p, scale;
  int32_t k, k1, k2;

  /* Below −104, exp underflows to 0 in float (the smallest subnormal is
   * 2^−149 ≈ e^−103.3); the comparison keeps NaN. */
  w = w < -104.0f ? -104.0f : w;
  t = MULADD (fma, w, 0x1.715476p+0f, shifter); /* log2(e) */
  n = t - shifter;                              /* round(w/ln2) ∈ [−150, 0] */
  r = MULADD (fma, -n, 0x1.63p-1f, w);          /* ln2 = 0.693359375 */
  r = MULADD (fma, -n, -0x1.bd0106p-13f, r);    /*       − 2.12194440e−4 */

  /* exp(r) = 1 + r + r²·P(r). */
  r2 = r * r;
  r4 = r2 * r2;
  p01 = MULADD (fma, 1.6666665459e-1f, r, 5.0000001201e-1f);
  p23 = MULADD (fma, 8.3334519073e-3f, r, 4.1665795894e-2f);
  p45 = MULADD (fma, 1.9875691500e-4f, r, 1.3981999507e-3f);
  p = MULADD (fma, p23, r2, p01);
  p = MULADD (fma, p45, r4, p);
  p = MULADD (fma, p, r2, r);

  /* 2ⁿ = 2^k1 · 2^k2 with both halves normal (k ≥ −150): their product is
   * a power of two ≥ 2^−150, which rounds to itself or, below 2^−149, as
   * exp would; it is off the critical path.  Unsigned and two's-complement
   * arithmetic only: NaN gives garbage here and NaN from p. */
  k = (int32_t) (float_to_bits (t) - float_to_bits (shifter));
  k1 = k >> 1;
  k2 = k - k1;
  scale = bits_to_float ((uint32_t) (k1 + 127) << 23) * bits_to_float ((uint32_t) (k2 + 127) << 23);
  return MULADD (fma, p, scale, scale);
}

/* log1p(e) for e ∈ [0, 1] (or NaN): e·Q(e) with Q(e) = 1 + e·(q₁ + e·R(e)):
 * the high-order part R in Estrin's scheme, the last two steps in Horner's
 * so that their rounding stays relative to the result. */
ALWAYS_INLINE float
fast_log1p_unit (gboolean fma, float e)
{
  float e2 = e * e, e4 = e2 * e2;
  float a23 = MULADD (fma, -2.495161593e-01f, e, 3.332971036e-01f);
  float a45 = MULADD (fma, -1.526966691e-01f, e, 1.966327429e-01f);
  float a67 = MULADD (fma, -5.637361109e-02f, e, 1.054362357e-01f);
  float a89 = MULADD (fma, -3.176057013e-03f, e, 1.954252645e-02f);
  float b0 = MULADD (fma, a45, e2, a23);
  float b1 = MULADD (fma, a89, e2, a67);
  float q = MULADD (fma, b1, e4, b0);

  q = MULADD (fma, q, e, -4.999989271e-01f);
  q = MULADD (fma, q, e, 1.0f);
  return e * q;
}

/* φ(x) = s·(max(z, 0) + log1p(exp(−|z|))), z = β(x − θ), as the reference
 * writes it. */
ALWAYS_INLINE float
fast_softrect (gboolean fma, float s, float beta, float theta, float x)
{
  float z = beta * (x - theta);
  float positive = z > 0.0f ? z : 0.0f;
  float e = fast_exp_nonpositive (fma, -fabsf (z));

  return s * (positive + fast_log1p_unit (fma, e));
}

/* φ′(x) = s·β·sigmoid(z), z = β(x − θ), the sigmoid on the side where exp
 * cannot overflow, as disco_softrect_derivative() writes it:
 * (z ≥ 0 ? 1 : e)/(1 + e) with e = exp(−|z|). */
ALWAYS_INLINE float
fast_softrect_slope (gboolean fma, float s, float beta, float theta, float x)
{
  float z = beta * (x - theta);
  float e = fast_exp_nonpositive (fma, -fabsf (z));

  return s * beta * ((z >= 0.0f ? 1.0f : e) / (1.0f + e));
}

/* ----- loop bodies, instantiated once per instruction set ------------------ */

ALWAYS_INLINE void
softrect_slope_row_body (gboolean fma, float s, float beta, float theta, gsize n, const float *x,
                         float *y)
{
  for (gsize j = 0; j < n; j++)
    y[j] = fast_softrect_slope (fma, s, beta, theta, x[j]);
}

ALWAYS_INLINE void
softrect_row_body (gboolean fma, float s, float beta, float theta, gsize n, const float *x,
                   float *y)
{
  for (gsize j = 0; j < n; j++)
    y[j] = fast_softrect (fma, s, beta, theta, x[j]);
}

/* R samples of a microcircuit layer (MODEL.md §2, open loop):
 *   r_E = φ_E(u_E), r_I = φ_I(u_I),
 *   du_E/dt = (−u_E + d − r_I)/τ_E with d = W r_prev (+ b),
 *   du_I/dt = (−u_I + r_E)/τ_I.
 * Per row, φ_E and φ_I each get their own pass over a contiguous block
 * (φ_I parked in du_I), which keeps each loop's constants in registers;
 * a third pass forms the derivatives. */
ALWAYS_INLINE void
microcircuit_row_body (gboolean fma, float se, float be, float te, float si, float bi, float ti,
                       float inv_tau_e, float inv_tau_i, gsize n, const float *restrict u_e,
                       const float *restrict u_i, const float *restrict d,
                       const float *restrict bias, float *restrict r_e, float *restrict du_e,
                       float *restrict du_i)
{
  for (gsize j = 0; j < n; j++)
    r_e[j] = fast_softrect (fma, se, be, te, u_e[j]);
  for (gsize j = 0; j < n; j++)
    du_i[j] = fast_softrect (fma, si, bi, ti, u_i[j]);
  if (bias != NULL)
    for (gsize j = 0; j < n; j++)
      {
        float r_i = du_i[j];

        du_e[j] = (-u_e[j] + (d[j] + bias[j]) - r_i) * inv_tau_e;
        du_i[j] = (-u_i[j] + r_e[j]) * inv_tau_i;
      }
  else
    for (gsize j = 0; j < n; j++)
      {
        float r_i = du_i[j];

        du_e[j] = (-u_e[j] + d[j] - r_i) * inv_tau_e;
        du_i[j] = (-u_i[j] + r_e[j]) * inv_tau_i;
      }
}

ALWAYS_INLINE void
microcircuit_rows_body (gboolean fma, const DiscoSoftRectifier *phi_e,
                        const DiscoSoftRectifier *phi_i, float inv_tau_e, float inv_tau_i,
                        gsize n_rows, gsize n, const float *u, gsize ldu, const float *drive,
                        gsize ldd, const guint *drive_rows, const float *bias, float *rate,
                        gsize ldr, float *dudt, gsize ldf)
{
  const float se = phi_e->scale, be = phi_e->sharpness, te = phi_e->shift;
  const float si = phi_i->scale, bi = phi_i->sharpness, ti = phi_i->shift;

  for (gsize r = 0; r < n_rows; r++)
    {
      const float *u_e = u + r * ldu;
      float *du_e = dudt + r * ldf;

      microcircuit_row_body (fma, se, be, te, si, bi, ti, inv_tau_e, inv_tau_i, n, u_e, u_e + n,
                             drive + (drive_rows != NULL ? drive_rows[r] : r) * ldd, bias,
                             rate + r * ldr, du_e, du_e + n);
    }
}

/* out[j] = y0[j] + h·Σ_s coeffs[s]·k_s[j] (or h·Σ without y0), the sum
 * accumulated from 0 in stage order exactly as disco_rk_combine_cpu()
 * does, but in a register.  S is a constant after inlining, so the unused
 * stages vanish before vectorisation. */
ALWAYS_INLINE void
rk_combine_row_body (guint S, gsize n, const float *restrict y0, float h, const float *coeffs,
                     const float *const *k, gsize offset, float *restrict out)
{
  const float c0 = coeffs[0], c1 = S > 1 ? coeffs[1] : 0.0f, c2 = S > 2 ? coeffs[2] : 0.0f;
  const float c3 = S > 3 ? coeffs[3] : 0.0f, c4 = S > 4 ? coeffs[4] : 0.0f;
  const float c5 = S > 5 ? coeffs[5] : 0.0f, c6 = S > 6 ? coeffs[6] : 0.0f;
  const float *restrict k0 = k[0] + offset;
  const float *restrict k1 = S > 1 ? k[1] + offset : NULL;
  const float *restrict k2 = S > 2 ? k[2] + offset : NULL;
  const float *restrict k3 = S > 3 ? k[3] + offset : NULL;
  const float *restrict k4 = S > 4 ? k[4] + offset : NULL;
  const float *restrict k5 = S > 5 ? k[5] + offset : NULL;
  const float *restrict k6 = S > 6 ? k[6] + offset : NULL;

#define RK_SUM(j)                                                                                  \
  float sum = 0.0f;                                                                                \
  sum += c0 * k0[j];                                                                               \
  if (S > 1)                                                                                       \
    sum += c1 * k1[j];                                                                             \
  if (S > 2)                                                                                       \
    sum += c2 * k2[j];                                                                             \
  if (S > 3)                                                                                       \
    sum += c3 * k3[j];                                                                             \
  if (S > 4)                                                                                       \
    sum += c4 * k4[j];                                                                             \
  if (S > 5)                                                                                       \
    sum += c5 * k5[j];                                                                             \
  if (S > 6)                                                                                       \
  sum += c6 * k6[j]

  if (y0 != NULL)
    for (gsize j = 0; j < n; j++)
      {
        RK_SUM (j);
        out[j] = y0[j] + h * sum;
      }
  else
    for (gsize j = 0; j < n; j++)
      {
        RK_SUM (j);
        out[j] = h * sum;
      }
#undef RK_SUM
}

/* The rows [first, first + g) of disco_rk_embedded_error_norm_cpu(), g ≤
 * NORM_ROWS: per chunk of columns, each row's scaled errors into a buffer
 * (vectorised), then the rows' double sums side by side (each row's sum in
 * column order, as the reference's). */
ALWAYS_INLINE void
rk_error_norm_rows_body (gsize n_cols, gsize ld, float atol, float rtol, const float *y0,
                         const float *y1, const float *h, const float *restrict e,
                         const float *const *k, gsize first, guint g, double *sums)
{
  float scaled[NORM_ROWS][NORM_CHUNK];
  double acc[NORM_ROWS] = { 0.0, 0.0, 0.0, 0.0 };

  for (guint i = g; i < NORM_ROWS; i++)
    memset (scaled[i], 0, sizeof scaled[i]);

  for (gsize start = 0; start < n_cols; start += NORM_CHUNK)
    {
      const gsize len = MIN (NORM_CHUNK, n_cols - start);

      for (guint i = 0; i < g; i++)
        {
          const gsize offset = (first + i) * ld + start;
          const float hr = h[first + i];
          const float *restrict a = y0 + offset;
          const float *restrict b = y1 + offset;
          const float *restrict k0 = k[0] + offset, *restrict k1 = k[1] + offset;
          const float *restrict k2 = k[2] + offset, *restrict k3 = k[3] + offset;
          const float *restrict k4 = k[4] + offset, *restrict k5 = k[5] + offset;
          const float *restrict k6 = k[6] + offset;
          float *restrict out = scaled[i];

          for (gsize j = 0; j < len; j++)
            {
              float sum = 0.0f, err, ya = fabsf (a[j]), yb = fabsf (b[j]), y;

              sum += e[0] * k0[j];
              sum += e[1] * k1[j];
              sum += e[2] * k2[j];
              sum += e[3] * k3[j];
              sum += e[4] * k4[j];
              sum += e[5] * k5[j];
              sum += e[6] * k6[j];
              err = hr * sum;
              /* fmaxf (ya, yb): a NaN loses to a number. */
              y = (ya > yb || yb != yb) ? ya : yb;
              out[j] = err / (atol + rtol * y);
            }
        }

      for (gsize j = 0; j < len; j++)
        {
          acc[0] += (double) scaled[0][j] * scaled[0][j];
          acc[1] += (double) scaled[1][j] * scaled[1][j];
          acc[2] += (double) scaled[2][j] * scaled[2][j];
          acc[3] += (double) scaled[3][j] * scaled[3][j];
        }
    }

  for (guint i = 0; i < g; i++)
    sums[i] = acc[i];
}

/* Σ_c x[r, c]² in double for the rows [first, first + g), g ≤ NORM_ROWS,
 * side by side, each in column order. */
ALWAYS_INLINE void
sum_squares_rows_body (gsize n_cols, const float *x, gsize ldx, gsize first, guint g, double *sums)
{
  const float *x0 = x + first * ldx;
  const float *x1 = g > 1 ? x0 + ldx : x0;
  const float *x2 = g > 2 ? x0 + 2 * ldx : x0;
  const float *x3 = g > 3 ? x0 + 3 * ldx : x0;
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;

  for (gsize c = 0; c < n_cols; c++)
    {
      a0 += (double) x0[c] * x0[c];
      a1 += (double) x1[c] * x1[c];
      a2 += (double) x2[c] * x2[c];
      a3 += (double) x3[c] * x3[c];
    }
  sums[0] = a0;
  if (g > 1)
    sums[1] = a1;
  if (g > 2)
    sums[2] = a2;
  if (g > 3)
    sums[3] = a3;
}

typedef void (*SoftrectRowFunc) (float s, float beta, float theta, gsize n, const float *x,
                                 float *y);

typedef void (*MicrocircuitRowsFunc) (const DiscoSoftRectifier *phi_e,
                                      const DiscoSoftRectifier *phi_i, float inv_tau_e,
                                      float inv_tau_i, gsize n_rows, gsize n, const float *u,
                                      gsize ldu, const float *drive, gsize ldd,
                                      const guint *drive_rows, const float *bias, float *rate,
                                      gsize ldr, float *dudt, gsize ldf);

typedef void (*RkCombineRowFunc) (guint n_stages, gsize n, const float *y0, float h,
                                  const float *coeffs, const float *const *k, gsize offset,
                                  float *out);

typedef void (*RkErrorNormRowsFunc) (gsize n_cols, gsize ld, float atol, float rtol,
                                     const float *y0, const float *y1, const float *h,
                                     const float *e, const float *const *k, gsize first, guint g,
                                     double *sums);

typedef void (*SumSquaresRowsFunc) (gsize n_cols, const float *x, gsize ldx, gsize first, guint g,
                                    double *sums);

typedef struct
{
  SoftrectRowFunc softrect_row;
  SoftrectRowFunc softrect_slope_row;
  MicrocircuitRowsFunc microcircuit_rows;
  RkCombineRowFunc rk_combine_row;
  RkErrorNormRowsFunc rk_error_norm_rows;
  SumSquaresRowsFunc sum_squares_rows;
} Implementation;

#define DEFINE_IMPLEMENTATION(suffix, attributes, fma)                                             \
  attributes static void softrect_row_##suffix (float s, float beta, float theta, gsize n,         \
                                                const float *x, float *y)                          \
  {                                                                                                \
    softrect_row_body (fma, s, beta, theta, n, x, y);                                              \
  }                                                                                                \
                                                                                                   \
  attributes static void softrect_slope_row_##suffix (float s, float beta, float theta, gsize n,   \
                                                      const float *x, float *y)                    \
  {                                                                                                \
    softrect_slope_row_body (fma, s, beta, theta, n, x, y);                                        \
  }                                                                                                \
                                                                                                   \
  attributes static void microcircuit_rows_##suffix (                                              \
      const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, float inv_tau_e,           \
      float inv_tau_i, gsize n_rows, gsize n, const float *u, gsize ldu, const float *drive,       \
      gsize ldd, const guint *drive_rows, const float *bias, float *rate, gsize ldr, float *dudt,  \
      gsize ldf)                                                                                   \
  {                                                                                                \
    microcircuit_rows_body (fma, phi_e, phi_i, inv_tau_e, inv_tau_i, n_rows, n, u, ldu, drive,     \
                            ldd, drive_rows, bias, rate, ldr, dudt, ldf);                          \
  }                                                                                                \
                                                                                                   \
  attributes static void rk_combine_row_##suffix (guint n_stages, gsize n, const float *y0,        \
                                                  float h, const float *coeffs,                    \
                                                  const float *const *k, gsize offset, float *out) \
  {                                                                                                \
    const float *y0_row = y0 != NULL ? y0 + offset : NULL;                                         \
                                                                                                   \
    switch (n_stages)                                                                              \
      {                                                                                            \
      case 1: rk_combine_row_body (1, n, y0_row, h, coeffs, k, offset, out + offset); break;       \
      case 2: rk_combine_row_body (2, n, y0_row, h, coeffs, k, offset, out + offset); break;       \
      case 3: rk_combine_row_body (3, n, y0_row, h, coeffs, k, offset, out + offset); break;       \
      case 4: rk_combine_row_body (4, n, y0_row, h, coeffs, k, offset, out + offset); break;       \
      case 5: rk_combine_row_body (5, n, y0_row, h, coeffs, k, offset, out + offset); break;       \
      case 6: rk_combine_row_body (6, n, y0_row, h, coeffs, k, offset, out + offset); break;       \
      default: rk_combine_row_body (7, n, y0_row, h, coeffs, k, offset, out + offset); break;      \
      }                                                                                            \
  }                                                                                                \
                                                                                                   \
  attributes static void rk_error_norm_rows_##suffix (                                             \
      gsize n_cols, gsize ld, float atol, float rtol, const float *y0, const float *y1,            \
      const float *h, const float *e, const float *const *k, gsize first, guint g, double *sums)   \
  {                                                                                                \
    rk_error_norm_rows_body (n_cols, ld, atol, rtol, y0, y1, h, e, k, first, g, sums);             \
  }                                                                                                \
                                                                                                   \
  attributes static void sum_squares_rows_##suffix (gsize n_cols, const float *x, gsize ldx,       \
                                                    gsize first, guint g, double *sums)            \
  {                                                                                                \
    sum_squares_rows_body (n_cols, x, ldx, first, g, sums);                                        \
  }                                                                                                \
                                                                                                   \
  static const Implementation implementation_##suffix = {                                          \
    softrect_row_##suffix,   softrect_slope_row_##suffix, microcircuit_rows_##suffix,              \
    rk_combine_row_##suffix, rk_error_norm_rows_##suffix, sum_squares_rows_##suffix,               \
  };

DEFINE_IMPLEMENTATION (generic, , FALSE)

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_PATH 1
DEFINE_IMPLEMENTATION (avx2, __attribute__ ((target ("avx2,fma"))), TRUE)
#endif

static const Implementation *implementation;

static gboolean
cpu_has_avx2 (void)
{
#ifdef HAVE_AVX2_PATH
  __builtin_cpu_init ();
  return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
#else
  return FALSE;
#endif
}

static const Implementation *
implementation_for (DiscoCpuPath path)
{
#ifdef HAVE_AVX2_PATH
  if (path == DISCO_CPU_PATH_AVX2)
    return &implementation_avx2;
#endif
  return &implementation_generic;
}

static const Implementation *
get_implementation (void)
{
  const Implementation *impl = __atomic_load_n (&implementation, __ATOMIC_ACQUIRE);

  if (G_UNLIKELY (impl == NULL))
    {
      impl = implementation_for (cpu_has_avx2 () ? DISCO_CPU_PATH_AVX2 : DISCO_CPU_PATH_GENERIC);
      __atomic_store_n (&implementation, impl, __ATOMIC_RELEASE);
    }
  return impl;
}

/**
 * disco_cpu_path_get:
 *
 * Returns: the instruction set the fast element-wise kernels use: the best
 *   the CPU supports, unless disco_cpu_path_set() chose another
 */
DiscoCpuPath
disco_cpu_path_get (void)
{
  return get_implementation () == &implementation_generic ? DISCO_CPU_PATH_GENERIC
                                                          : DISCO_CPU_PATH_AVX2;
}

/**
 * disco_cpu_path_set:
 * @path: the instruction set to use
 *
 * Makes the fast element-wise kernels use @path from now on (for tests and
 * benchmarks that compare the paths; process-wide).
 *
 * Returns: %FALSE, changing nothing, when this build or CPU lacks @path
 */
gboolean
disco_cpu_path_set (DiscoCpuPath path)
{
  g_return_val_if_fail (path == DISCO_CPU_PATH_GENERIC || path == DISCO_CPU_PATH_AVX2, FALSE);

  if (path == DISCO_CPU_PATH_AVX2 && !cpu_has_avx2 ())
    return FALSE;
  __atomic_store_n (&implementation, implementation_for (path), __ATOMIC_RELEASE);
  return TRUE;
}

/* ---------------------------------------------------------------------------
 * Rows in pieces on disco-parallel's threads.  Rows are independent and
 * each is computed as alone, so the pieces (which depend on the shape
 * only) change no bit.  A piece holds at least this many values: φ costs
 * a few ns a value here, a Runge-Kutta stage term far less.
 * ------------------------------------------------------------------------- */

#define PIECE_MIN_PHI_VALUES 4096
#define PIECE_MIN_RK_VALUES 32768

typedef struct
{
  gsize n_rows, n_cols, ldx, ldy, n_pieces;
  const DiscoSoftRectifier *rect;
  const float *x;
  float *y;
  SoftrectRowFunc row;
} SoftrectJob;

static void
softrect_piece (gsize piece, gpointer data)
{
  const SoftrectJob *job = data;
  const SoftrectRowFunc row = job->row;
  const DiscoSoftRectifier *rect = job->rect;

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    row (rect->scale, rect->sharpness, rect->shift, job->n_cols, job->x + r * job->ldx,
         job->y + r * job->ldy);
}

typedef struct
{
  const DiscoSoftRectifier *phi_e, *phi_i;
  float inv_tau_e, inv_tau_i;
  gsize n_rows, n, ldu, ldd, ldr, ldf, n_pieces;
  const float *u, *drive, *bias;
  const guint *drive_rows;
  float *rate, *dudt;
  MicrocircuitRowsFunc rows;
} MicrocircuitJob;

static void
microcircuit_piece (gsize piece, gpointer data)
{
  const MicrocircuitJob *job = data;
  const gsize first = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
  const gsize last = DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows);

  job->rows (job->phi_e, job->phi_i, job->inv_tau_e, job->inv_tau_i, last - first, job->n,
             job->u + first * job->ldu, job->ldu,
             job->drive_rows != NULL ? job->drive : job->drive + first * job->ldd, job->ldd,
             job->drive_rows != NULL ? job->drive_rows + first : NULL, job->bias,
             job->rate + first * job->ldr, job->ldr, job->dudt + first * job->ldf, job->ldf);
}

typedef struct
{
  gsize n_rows, n_cols, ld;
  guint n_stages;
  gsize n_pieces;
  const float *y0, *h, *coeffs;
  const float *const *k;
  float *out;
  RkCombineRowFunc row;
} RkCombineJob;

static void
rk_combine_piece (gsize piece, gpointer data)
{
  const RkCombineJob *job = data;

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    job->row (job->n_stages, job->n_cols, job->y0, job->h[r], job->coeffs, job->k, r * job->ld,
              job->out);
}

typedef struct
{
  gsize n_rows, n_cols, ld, n_pieces;
  float atol, rtol;
  const float *y0, *y1, *h, *e;
  const float *const *k;
  float *norm;
  RkErrorNormRowsFunc rows;
} ErrorNormJob;

static void
error_norm_piece (gsize piece, gpointer data)
{
  const ErrorNormJob *job = data;
  const gsize n_groups = (job->n_rows + NORM_ROWS - 1) / NORM_ROWS;
  const gsize last =
      MIN (job->n_rows, DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, n_groups) * NORM_ROWS);

  for (gsize first = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, n_groups) * NORM_ROWS;
       first < last; first += NORM_ROWS)
    {
      const guint g = (guint) MIN (NORM_ROWS, job->n_rows - first);
      double sums[NORM_ROWS];

      job->rows (job->n_cols, job->ld, job->atol, job->rtol, job->y0, job->y1, job->h, job->e,
                 job->k, first, g, sums);
      for (guint i = 0; i < g; i++)
        job->norm[first + i] =
            isnan (sums[i]) ? INFINITY : (float) sqrt (sums[i] / (double) job->n_cols);
    }
}

/**
 * disco_softrect_forward_fast_cpu:
 * @rect: the rectifier parameters
 * @n_rows: R
 * @n_cols: C
 * @x: (array): potentials, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: (array): rates φ(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * disco_softrect_forward_cpu() vectorised: φ(x) within 4 ulp of
 * disco_softrect_forward() (see the top of this file for the exact terms).
 */
void
disco_softrect_forward_fast_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                 const float *x, gsize ldx, float *y, gsize ldy)
{
  SoftrectRowFunc row;

  g_return_if_fail (rect != NULL);
  g_return_if_fail (n_rows == 0 || n_cols == 0 || (x != NULL && y != NULL));
  g_return_if_fail (ldx >= n_cols && ldy >= n_cols);

  row = get_implementation ()->softrect_row;
  if (n_rows > 0 && n_cols > 0)
    {
      SoftrectJob job = { n_rows, n_cols, ldx, ldy, 1, rect, x, y, row };

      job.n_pieces = disco_parallel_pieces (n_rows, PIECE_MIN_PHI_VALUES / n_cols + 1,
                                            DISCO_PARALLEL_MAX_PIECES);
      disco_parallel_run (job.n_pieces, softrect_piece, &job);
    }
}

/**
 * disco_softrect_derivative_fast_row:
 * @rect: the rectifier parameters
 * @n: values
 * @x: (array length=n): potentials
 * @y: (array length=n): φ′(x), written (must not overlap @x)
 *
 * disco_softrect_derivative() vectorised, in the calling thread: φ′(x)
 * within 4 ulp of it (the exponential of this file; the same division).
 */
void
disco_softrect_derivative_fast_row (const DiscoSoftRectifier *rect, gsize n, const float *x,
                                    float *y)
{
  g_return_if_fail (rect != NULL);
  g_return_if_fail (n == 0 || (x != NULL && y != NULL));

  get_implementation ()->softrect_slope_row (rect->scale, rect->sharpness, rect->shift, n, x, y);
}

/**
 * disco_microcircuit_rhs_cpu:
 * @phi_e: φ_E
 * @phi_i: φ_I
 * @tau_e: τ_E (s), > 0
 * @tau_i: τ_I (s), > 0
 * @n_rows: R, samples
 * @n: units of the layer
 * @u: (array): states, R rows of stride @ldu, each u_E (n) then u_I (n)
 * @ldu: row stride of @u, ≥ 2n
 * @drive: (array): W r_prev, rows of n values with stride @ldd
 * @ldd: row stride of @drive
 * @drive_rows: (array length=n_rows) (nullable): the row of @drive each
 *   sample reads (e.g. its index in the minibatch), or %NULL for row r
 * @bias: (array) (nullable): b, n values added to the drive, or %NULL
 * @rate: (array) (out): r_E = φ_E(u_E), R×n, row stride @ldr
 * @ldr: row stride of @rate
 * @dudt: (array) (out): derivatives, laid out as @u, row stride @ldf
 * @ldf: row stride of @dudt, ≥ 2n
 *
 * The open-loop dynamics of one microcircuit layer (MODEL.md §2, f = 0),
 * vectorised over contiguous blocks of each row:
 *
 *   r_E = φ_E(u_E),  τ_E du_E/dt = −u_E + (d + b) − φ_I(u_I),
 *   τ_I du_I/dt = −u_I + r_E.
 *
 * The arithmetic is that of a plain loop over disco_softrect_forward()
 * except for φ itself (see disco_softrect_forward_fast_cpu()).  The
 * outputs must not overlap the inputs or each other.
 */
void
disco_microcircuit_rhs_cpu (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                            float tau_e, float tau_i, gsize n_rows, gsize n, const float *u,
                            gsize ldu, const float *drive, gsize ldd, const guint *drive_rows,
                            const float *bias, float *rate, gsize ldr, float *dudt, gsize ldf)
{
  g_return_if_fail (phi_e != NULL && phi_i != NULL);
  g_return_if_fail (tau_e > 0.0f && tau_i > 0.0f);
  g_return_if_fail (ldu >= 2 * n && ldf >= 2 * n && ldd >= n && ldr >= n);
  if (n_rows == 0 || n == 0)
    return;
  g_return_if_fail (u != NULL && drive != NULL && rate != NULL && dudt != NULL);

  {
    MicrocircuitJob job = {
      phi_e, phi_i, 1.0f / tau_e, 1.0f / tau_i, n_rows, n, ldu, ldd, ldr, ldf
    };

    job.u = u;
    job.drive = drive;
    job.bias = bias;
    job.drive_rows = drive_rows;
    job.rate = rate;
    job.dudt = dudt;
    job.rows = get_implementation ()->microcircuit_rows;
    job.n_pieces = disco_parallel_pieces (n_rows, PIECE_MIN_PHI_VALUES / (2 * n) + 1,
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, microcircuit_piece, &job);
  }
}

/**
 * disco_rk_combine_fast_cpu:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, every stage and @out
 * @y0: (nullable) (array): the start of the step, R×C; %NULL means zero
 * @h: (array): step size of each row, R values
 * @n_stages: S, 1 to 7
 * @coeffs: (array length=n_stages): the tableau weights
 * @k: (array length=n_stages): S pointers to stage derivatives, each R×C
 * @out: (array): R×C result; overlapping neither @y0 nor a stage
 *
 * disco_rk_combine_cpu() with the sum kept in a register: bit-identical
 * results, one pass over each array.
 */
void
disco_rk_combine_fast_cpu (gsize n_rows, gsize n_cols, gsize ld, const float *y0, const float *h,
                           guint n_stages, const float *coeffs, const float *const *k, float *out)
{
  RkCombineRowFunc row;

  g_return_if_fail (ld >= n_cols);
  g_return_if_fail (n_stages >= 1 && n_stages <= 7);
  if (n_rows == 0 || n_cols == 0)
    return;
  g_return_if_fail (h != NULL && out != NULL && out != y0);
  g_return_if_fail (coeffs != NULL && k != NULL);
  for (guint s = 0; s < n_stages; s++)
    g_return_if_fail (k[s] != NULL && k[s] != out);

  row = get_implementation ()->rk_combine_row;
  {
    RkCombineJob job = { n_rows, n_cols, ld, n_stages, 1, y0, h, coeffs, k, out, row };

    job.n_pieces = disco_parallel_pieces (n_rows, PIECE_MIN_RK_VALUES / (n_stages * n_cols) + 1,
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, rk_combine_piece, &job);
  }
}

/**
 * disco_rk_embedded_error_norm_cpu:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, @y1 and every stage
 * @atol: absolute tolerance, ≥ 0
 * @rtol: relative tolerance, ≥ 0
 * @y0: (array): the start of the step, R×C
 * @y1: (array): the candidate end of the step, R×C
 * @h: (array): step size of each row, R values
 * @n_stages: S, must be 7
 * @e: (array length=n_stages): the error weights b − b̂
 * @k: (array length=n_stages): the stage derivatives, each R×C
 * @norm: (array): R values; < 1 means the step meets its tolerance
 *
 * The embedded error estimate err = h·Σ_s e_s·k_s (disco_rk_combine_cpu()
 * with y0 = %NULL) and its scaled norm (disco_rk_error_norm_cpu()) in one
 * pass, without storing err: bit-identical to the two references in turn.
 */
void
disco_rk_embedded_error_norm_cpu (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol,
                                  const float *y0, const float *y1, const float *h, guint n_stages,
                                  const float *e, const float *const *k, float *norm)
{
  RkErrorNormRowsFunc rows;

  g_return_if_fail (ld >= n_cols);
  g_return_if_fail (atol >= 0.0f && rtol >= 0.0f);
  g_return_if_fail (n_stages == 7);
  if (n_rows == 0)
    return;
  g_return_if_fail (norm != NULL && h != NULL);
  if (n_cols == 0)
    {
      for (gsize r = 0; r < n_rows; r++)
        norm[r] = 0.0f;
      return;
    }
  g_return_if_fail (y0 != NULL && y1 != NULL && e != NULL && k != NULL);
  for (guint s = 0; s < n_stages; s++)
    g_return_if_fail (k[s] != NULL);

  rows = get_implementation ()->rk_error_norm_rows;
  {
    ErrorNormJob job = { n_rows, n_cols, ld, 1, atol, rtol, y0, y1, h, e, k, norm, rows };

    /* Pieces of whole groups of NORM_ROWS rows. */
    job.n_pieces = disco_parallel_pieces ((n_rows + NORM_ROWS - 1) / NORM_ROWS,
                                          PIECE_MIN_RK_VALUES / (7 * NORM_ROWS * n_cols) + 1,
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, error_norm_piece, &job);
  }
}

/**
 * disco_rms_rows_fast_cpu:
 * @n_rows: R
 * @n_cols: C
 * @x: (array): R×C, row stride @ldx
 * @ldx: row stride of @x
 * @rms: (array): R values, sqrt(mean of squares) of each row; 0 when C = 0
 *
 * disco_rms_rows_cpu() with four rows summed side by side: bit-identical.
 */
void
disco_rms_rows_fast_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *rms)
{
  SumSquaresRowsFunc rows;

  g_return_if_fail (n_rows == 0 || rms != NULL);
  g_return_if_fail (ldx >= n_cols);
  g_return_if_fail (n_rows == 0 || n_cols == 0 || x != NULL);

  if (n_cols == 0)
    {
      for (gsize r = 0; r < n_rows; r++)
        rms[r] = 0.0f;
      return;
    }

  rows = get_implementation ()->sum_squares_rows;
  for (gsize first = 0; first < n_rows; first += NORM_ROWS)
    {
      const guint g = (guint) MIN (NORM_ROWS, n_rows - first);
      double sums[NORM_ROWS];

      rows (n_cols, x, ldx, first, g, sums);
      for (guint i = 0; i < g; i++)
        rms[first + i] = (float) sqrt (sums[i] / (double) n_cols);
    }
}

/* ---------------------------------------------------------------------------
 * 3. The learning rules' φ (disco_plasticity_delta_fast_cpu(),
 * disco_threshold_update_fast_cpu()): φ and φ′ from one exponential and one
 * logarithm per value, the branch-free polynomials of the equilibrium
 * kernels (disco-equilibrium-private.h, within a few ulp of
 * disco_softrect_forward() and disco_softrect_derivative()), in loops GCC
 * vectorises; compiled for the baseline and for x86-64-v3, with the same
 * bits (no contraction in this file).
 * ------------------------------------------------------------------------- */

#include "disco-equilibrium-private.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RULE_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define RULE_CLONES
#endif

/* Neurons per block: their Taylor lines and sums on the stack. */
#define RULE_BLOCK 256

/* One row's block of @width neurons: rate = φ_E(u_E), delta = (φ̂_I⁻¹ −
 * rate) · φ_E′(u_E), φ̂_I⁻¹ = a + b·φ_I(u_I) (Taylor lines) or u_I. */
RULE_CLONES static void
plasticity_block (DiscoSoftRectifier phi_e, DiscoSoftRectifier phi_i, gsize width,
                  const float *restrict u_e, const float *restrict u_i, gboolean linear,
                  const float *restrict a, const float *restrict b, float *restrict rate,
                  float *restrict delta)
{
  if (linear)
    for (gsize k = 0; k < width; k++)
      {
        float r, dr, q, dq;

        eq_softrect_pair (phi_e.scale, phi_e.sharpness, phi_e.shift, u_e[k], &r, &dr);
        eq_softrect_pair (phi_i.scale, phi_i.sharpness, phi_i.shift, u_i[k], &q, &dq);
        rate[k] = r;
        delta[k] = (a[k] + b[k] * q - r) * dr;
      }
  else
    for (gsize k = 0; k < width; k++)
      {
        float r, dr;

        eq_softrect_pair (phi_e.scale, phi_e.sharpness, phi_e.shift, u_e[k], &r, &dr);
        rate[k] = r;
        delta[k] = (u_i[k] - r) * dr;
      }
}

typedef struct
{
  const DiscoSoftRectifier *phi_e, *phi_i;
  gsize n_rows, n, ldu, ldr, ldd, n_pieces;
  const float *u, *y0;
  float *rate, *delta;
} FastPlasticityJob;

static void
fast_plasticity_piece (gsize piece, gpointer data)
{
  const FastPlasticityJob *job = data;
  const gsize n = job->n;

  for (gsize j0 = 0; j0 < n; j0 += RULE_BLOCK)
    {
      const gsize width = MIN (RULE_BLOCK, n - j0);
      float a[RULE_BLOCK] = { 0 }, b[RULE_BLOCK] = { 0 };

      for (gsize k = 0; job->y0 != NULL && k < width; k++)
        disco_softrect_taylor_line (job->phi_i, job->y0[j0 + k], &a[k], &b[k]);
      for (gsize s = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
           s < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); s++)
        plasticity_block (*job->phi_e, job->phi_i != NULL ? *job->phi_i : *job->phi_e, width,
                          job->u + s * job->ldu + j0, job->u + s * job->ldu + n + j0,
                          job->y0 != NULL, a, b, job->rate + s * job->ldr + j0,
                          job->delta + s * job->ldd + j0);
    }
}

/**
 * disco_plasticity_delta_fast_cpu:
 * @phi_e: φ_E of the layer
 * @phi_i: φ_I of the layer (used only with @y0)
 * @n_rows: R, samples
 * @n: neurons of the layer
 * @u: (array): R rows of u_E (n) | u_I (n), row stride @ldu
 * @ldu: row stride of @u, ≥ 2n
 * @y0: (array length=n) (nullable): the linear-threshold rule's running
 *   rates, or %NULL for the exact inverse
 * @rate: (array) (out): φ_E(u_E), R×n, row stride @ldr
 * @ldr: row stride of @rate
 * @delta: (array) (out): R×n, row stride @ldd
 * @ldd: row stride of @delta
 *
 * disco_plasticity_delta_cpu() with vectorised φ and φ′ (within a few ulp
 * of the reference's), in pieces of rows on disco-parallel's threads: what
 * the CPU table runs.
 */
void
disco_plasticity_delta_fast_cpu (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                                 gsize n_rows, gsize n, const float *u, gsize ldu, const float *y0,
                                 float *rate, gsize ldr, float *delta, gsize ldd)
{
  FastPlasticityJob job = { phi_e, phi_i, n_rows, n, ldu, ldr, ldd, 1, u, y0, rate, delta };

  g_return_if_fail (phi_e != NULL && (y0 == NULL || phi_i != NULL));
  g_return_if_fail (ldu >= 2 * n && ldr >= n && ldd >= n);
  g_return_if_fail (n_rows == 0 || n == 0 || (u != NULL && rate != NULL && delta != NULL));
  if (n_rows == 0 || n == 0)
    return;

  job.n_pieces =
      disco_parallel_pieces (n_rows, PIECE_MIN_PHI_VALUES / n + 1, DISCO_PARALLEL_MAX_PIECES);
  disco_parallel_run (job.n_pieces, fast_plasticity_piece, &job);
}

/* sums[k] += φ(x[k]) over @width values, each sum in double. */
RULE_CLONES static void
add_rates (DiscoSoftRectifier phi, gsize width, const float *restrict x, double *restrict sums)
{
  for (gsize k = 0; k < width; k++)
    {
      float r, dr;

      eq_softrect_pair (phi.scale, phi.sharpness, phi.shift, x[k], &r, &dr);
      sums[k] += r;
    }
}

typedef struct
{
  const DiscoSoftRectifier *phi_i;
  float lambda;
  gsize n_rows, n, ldu, n_pieces;
  const float *u_i;
  float *y0;
} FastThresholdJob;

static void
fast_threshold_piece (gsize piece, gpointer data)
{
  const FastThresholdJob *job = data;
  const gsize last = DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n);

  for (gsize j0 = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n); j0 < last;
       j0 += RULE_BLOCK)
    {
      const gsize width = MIN (RULE_BLOCK, last - j0);
      double sums[RULE_BLOCK] = { 0 };

      /* Each column's mean sums its rows in order, as the reference's. */
      for (gsize s = 0; s < job->n_rows; s++)
        add_rates (*job->phi_i, width, job->u_i + s * job->ldu + j0, sums);
      for (gsize k = 0; k < width; k++)
        job->y0[j0 + k] =
            (1.0f - job->lambda) * job->y0[j0 + k] + job->lambda * (float) (sums[k] / job->n_rows);
    }
}

/**
 * disco_threshold_update_fast_cpu:
 * @phi_i: φ_I of the layer
 * @lambda: λ, the weight of this minibatch, in [0, 1]
 * @n_rows: R, samples
 * @n: neurons
 * @u_i: (array): the open-loop inhibitory potentials, R×@n, stride @ldu
 * @ldu: row stride of @u_i
 * @y0: (array length=n): the running rates, updated in place
 *
 * disco_threshold_update_cpu() with vectorised φ (within a few ulp of the
 * reference's), in pieces of columns on disco-parallel's threads: what the
 * CPU table runs.
 */
void
disco_threshold_update_fast_cpu (const DiscoSoftRectifier *phi_i, float lambda, gsize n_rows,
                                 gsize n, const float *u_i, gsize ldu, float *y0)
{
  FastThresholdJob job = { phi_i, lambda, n_rows, n, ldu, 1, u_i, y0 };

  g_return_if_fail (phi_i != NULL && n_rows > 0 && ldu >= n);
  g_return_if_fail (n == 0 || (u_i != NULL && y0 != NULL));
  if (n == 0)
    return;

  job.n_pieces =
      disco_parallel_pieces (n, PIECE_MIN_PHI_VALUES / n_rows + 1, DISCO_PARALLEL_MAX_PIECES);
  disco_parallel_run (job.n_pieces, fast_threshold_piece, &job);
}
