/* disco-equilibrium-private.h: the per-unit and per-sample arithmetic of the
 * equilibrium kernels, compiled for the CPU (disco-kernels-equilibrium.c)
 * and the GPU (disco-kernels-cuda-equilibrium.cu) from these lines; not
 * installed.
 *
 * Shape legend: as disco-kernels-equilibrium.h (O outputs, n units).
 *
 * φ and φ′ share one exponential and one logarithm per rectifier, written
 * as branch-free polynomials (libm's expf and logf are not vectorised):
 *
 *   exp(w), w ≤ 0: Cephes' expf (S. L. Moshier): w = k·ln2 + r, |r| ≤ ln2/2,
 *     a degree-7 polynomial in r, 2ᵏ built in the exponent field; w is
 *     clamped at −87 (exp ≈ 1.6e−38, the normal range), where e = exp(−|z|)
 *     is negligible beside 1 in both φ and φ′.
 *   log1p(e), e ∈ [0, 1]: Cephes' logf on u = 1 + e (reduced to
 *     [√½, √2]), plus (e − (u − 1))/u, the rounding of 1 + e to first order.
 *
 * Both are within a few float ulp of disco_softrect_forward() and
 * disco_softrect_derivative(); the fixed point is then what the network's
 * right-hand side (vectorised φ within 5 ulp of the same reference) holds at
 * rest, to float precision.  The CPU includes this file inside a
 * no-trapping-math region (see there).
 */
#pragma once

#include <glib.h>
#include <math.h>
#include <string.h>

#include "disco-kernels-equilibrium.h"

#ifdef __CUDACC__
#define EQ_INLINE __host__ __device__ static inline
#else
#define EQ_INLINE static inline __attribute__ ((always_inline))
#endif

/* Per-unit Newton: a step below this (relative to 1 + |u|) is the last. */
#define EQ_UNIT_TOLERANCE 1e-4f
/* Power iterations for the spectral norm of an O × O matrix. */
#define EQ_POWER_ITERATIONS 100
/* A sample keeps its Newton matrix, updated by Broyden's secant rule,
 * while each iteration cuts its residual at least this much (no Jacobian
 * pass, no spectral norm). */
#define EQ_REUSE_RATIO 0.1

EQ_INLINE float
eq_exp_nonpositive (float w)
{
  /* 1.5·2²³: adding it rounds |t| < 2²² to an integer in the low mantissa
   * bits, which then give k without a float-to-int conversion. */
  const float shifter = 0x1.8p23f;
  float t, n, r, r2, p, scale;
  guint32 t_bits, scale_bits;

  w = w < -87.0f ? -87.0f : w;
  t = w * 1.44269504088896341f + shifter;
  n = t - shifter;          /* round(w/ln2) ∈ [−126, 0] */
  r = w - n * 0.693359375f; /* ln2 in two parts */
  r = r - n * -2.12194440e-4f;
  r2 = r * r;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  memcpy (&t_bits, &t, sizeof t_bits);
  scale_bits = (t_bits - 0x4b400000u + 127u) << 23; /* 2ᵏ */
  memcpy (&scale, &scale_bits, sizeof scale);
  return p * scale;
}

EQ_INLINE float
eq_log1p_unit (float e)
{
  const float u = 1.0f + e;
  const gboolean upper = u > 1.41421356f;
  const float x = (upper ? 0.5f * u : u) - 1.0f; /* exact */
  const float z = x * x;
  float y;

  y = 7.0376836292e-2f;
  y = y * x - 1.1514610310e-1f;
  y = y * x + 1.1676998740e-1f;
  y = y * x - 1.2420140846e-1f;
  y = y * x + 1.4249322787e-1f;
  y = y * x - 1.6668057665e-1f;
  y = y * x + 2.0000714765e-1f;
  y = y * x - 2.4999993993e-1f;
  y = y * x + 3.3333331174e-1f;
  y = y * x * z;
  y += (upper ? -2.12194440e-4f : 0.0f) - 0.5f * z;
  return x + y + (upper ? 0.693359375f : 0.0f) + (e - (u - 1.0f)) / u;
}

/* φ and φ′ (MODEL.md §1) at z = β(x − θ), given e = exp(−|z|). */
EQ_INLINE void
eq_softrect_from_exp (float scale, float sharpness, float z, float e, float *value, float *slope)
{
  *value = scale * ((z > 0.0f ? z : 0.0f) + eq_log1p_unit (e));
  *slope = scale * sharpness * ((z >= 0.0f ? 1.0f : e) / (1.0f + e));
}

/* φ(x) and φ′(x) (MODEL.md §1) sharing one exponential. */
EQ_INLINE void
eq_softrect_pair (float scale, float sharpness, float shift, float x, float *value, float *slope)
{
  const float z = sharpness * (x - shift);

  eq_softrect_from_exp (scale, sharpness, z, eq_exp_nonpositive (-fabsf (z)), value, slope);
}

/* Where a unit's open-loop sweeps begin (#DiscoEquilibriumColdStart): the
 * grid's line through the two values around d, or beyond the grid its end
 * value plus the asymptote's slope, clipped to ≤ d (the grid must have
 * values).  A non-finite d gives d. */
EQ_INLINE float
eq_cold_start (DiscoEquilibriumColdStart start, float d)
{
  const float *values = start.values;
  const guint n = start.n;
  const float k = (d - start.lo) * start.inv_step, last = (float) (n - 1);
  /* Written without branches (both loads always happen, in the grid), so
   * that the CPU's loop over a row becomes gathers and blends. The segment
   * is clamp(⌊k⌋, 0, n − 2); a NaN k takes the first and gives NaN. */
  const float above_zero = k > 0.0f ? k : 0.0f;
  const gint i = (gint) (above_zero < last - 1.0f ? above_zero : last - 1.0f);
  const float left = values[i], right = values[i + 1];
  const int below = (k < 0.0f);
  const int above = (k > last);
  /* (below the grid i = 0, above it i + 1 = n − 1: the end values) */
  const float base = above ? right : left;
  const float slope = below ? start.lo_slope : (above ? start.hi_slope : right - left);
  const float offset = below ? k : (above ? k - last : k - (float) i);
  const float u = base + offset * slope;

  return u < d ? u : d;
}

/* The Newton step of unit j (see model/disco-equilibrium.c) once
 * r = φ_E(u_E), dr = φ_E′(u_E), q = φ_I(r − f) and dq = φ_I′(r − f) are
 * known: u_E ← min(u_E − g/g′, d) with g = u_E + q − d, and what the unit's
 * state and slopes are after that step (the rate to first order along it).
 * Returns nonzero while the step is not below the tolerance (NaN too). */
EQ_INLINE int
eq_unit_update (gsize j, const float *d, const float *f, float r, float dr, float q, float dq,
                float *u_e, float *u_i, float *rate, float *slope, float *inhibitory_slope)
{
  const float x = u_e[j];
  const float step = (x + q - d[j]) / (1.0f + dq * dr);
  const float next = x - step;

  u_e[j] = next < d[j] ? next : d[j];
  rate[j] = r - dr * step;
  u_i[j] = rate[j] - f[j];
  slope[j] = dr / (1.0f + dq * dr);
  inhibitory_slope[j] = dq;
  return !(fabsf (step) <= EQ_UNIT_TOLERANCE * (1.0f + fabsf (x)));
}

/* One Newton iteration of unit j: φ_E and φ_I, then eq_unit_update(). The
 * CPU computes the same values in stages over a row (sweep_units() in
 * disco-kernels-equilibrium.c). */
EQ_INLINE int
eq_unit_step (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, gsize j,
              const float *d, const float *f, float *u_e, float *u_i, float *rate, float *slope,
              float *inhibitory_slope)
{
  float r, dr, q, dq;

  eq_softrect_pair (phi_e->scale, phi_e->sharpness, phi_e->shift, u_e[j], &r, &dr);
  eq_softrect_pair (phi_i->scale, phi_i->sharpness, phi_i->shift, r - f[j], &q, &dq);
  return eq_unit_update (j, d, f, r, dr, q, dq, u_e, u_i, rate, slope, inhibitory_slope);
}

/* e = y* − softmax(y) (or y* − y), in double. */
/* One row of the readout pass (disco_equilibrium_readout_cpu() and its CUDA
 * twin): y = d + c for the row's sample s = rows[r], the row's status
 * NOT_FINITE where y is not finite; @first starts the row's counts. */
EQ_INLINE void
eq_readout_row (gsize r, gsize n_out, const guint *rows, float *state, gsize ld, const float *drive,
                const double *control, int first, guint *iterations, gint *status)
{
  const gsize s = rows[r];
  float *y = state + s * ld;

  if (first)
    {
      iterations[r] = 0;
      status[r] = DISCO_EQUILIBRIUM_CONVERGED;
    }
  for (gsize o = 0; o < n_out; o++)
    y[o] = drive[r * n_out + o] + (control != NULL ? (float) control[s * n_out + o] : 0.0f);
  for (gsize o = 0; o < n_out && status[r] == DISCO_EQUILIBRIUM_CONVERGED; o++)
    if (!isfinite (y[o]))
      status[r] = DISCO_EQUILIBRIUM_NOT_FINITE;
}

EQ_INLINE void
eq_output_error (gboolean softmax, const float *y, const float *target, gsize O, double *p,
                 double *e)
{
  if (softmax)
    {
      double max = y[0], sum = 0;

      for (gsize o = 1; o < O; o++)
        max = MAX (max, (double) y[o]);
      for (gsize o = 0; o < O; o++)
        sum += p[o] = exp ((double) y[o] - max);
      for (gsize o = 0; o < O; o++)
        {
          p[o] /= sum;
          e[o] = target[o] - p[o];
        }
    }
  else
    for (gsize o = 0; o < O; o++)
      e[o] = (double) target[o] - y[o];
}

/* The largest singular value of the O × O matrix @m: power iteration on
 * @gram = mᵀm (written) from @start (a unit vector: the last iterate of an
 * earlier call on a nearby matrix) or, with %NULL, from mᵀm's largest
 * column, the estimate being the Rayleigh quotient vᵀ gram v of the unit
 * iterate v (its error shrinks with the square of v's), until it moves by
 * less than 1e−6 relative. @v: O values, written: the last iterate; @w: O
 * scratch values. */
EQ_INLINE double
eq_spectral_norm (const double *m, gsize O, const double *start, double *gram, double *v, double *w)
{
  double estimate = 0, length = 0;

  for (gsize i = 0; i < O; i++)
    for (gsize j = i; j < O; j++)
      {
        double sum = 0;
        for (gsize k = 0; k < O; k++)
          sum += m[k * O + i] * m[k * O + j];
        gram[i * O + j] = gram[j * O + i] = sum;
      }
  if (start != NULL)
    memcpy (v, start, O * sizeof (double));
  else
    {
      /* MᵀM e_j for the e_j that M stretches most (the Gram matrix's column
       * of the largest diagonal entry): one power step ahead of the best
       * unit vector (a mean of 16 → 11 iterations on MNIST 1×256, 27 → 19
       * on 3×256 at c = 0), with a little of a fixed vector, so that no
       * start is orthogonal to the top singular vector, and that vector
       * alone when M = 0. */
      gsize best = 0;

      for (gsize i = 1; i < O; i++)
        if (gram[i * O + i] > gram[best * O + best])
          best = i;
      for (gsize i = 0; i < O; i++)
        {
          v[i] = gram[i * O + best] + 1e-3 * gram[best * O + best] * (1.0 + 0.1 * i);
          length += v[i] * v[i];
        }
      if (!(length > 0))
        for (gsize i = 0; i < O; i++)
          {
            v[i] = 1.0 + 0.1 * i;
            length += v[i] * v[i];
          }
      length = sqrt (length);
      for (gsize i = 0; i < O; i++)
        v[i] /= length;
    }
  for (guint it = 0; it < EQ_POWER_ITERATIONS; it++)
    {
      double previous = estimate, quotient = 0;

      length = 0;
      for (gsize i = 0; i < O; i++)
        {
          double sum = 0;
          for (gsize j = 0; j < O; j++)
            sum += gram[i * O + j] * v[j];
          w[i] = sum;
          quotient += v[i] * sum;
          length += sum * sum;
        }
      length = sqrt (length);
      if (!(length > 0))
        return length == 0 ? 0 : NAN;
      for (gsize i = 0; i < O; i++)
        v[i] = w[i] / length;
      estimate = quotient; /* → σ_max² */
      if (fabs (estimate - previous) <= 1e-6 * estimate)
        break;
    }
  return sqrt (estimate);
}

/* Solves a x = b in place (a: O × O, destroyed; b: O, becomes x) by
 * Gaussian elimination with partial pivoting; FALSE when singular. */
EQ_INLINE gboolean
eq_solve_dense (double *a, double *b, gsize O)
{
  for (gsize k = 0; k < O; k++)
    {
      gsize pivot = k;

      for (gsize i = k + 1; i < O; i++)
        if (fabs (a[i * O + k]) > fabs (a[pivot * O + k]))
          pivot = i;
      if (!(fabs (a[pivot * O + k]) > 1e-300))
        return FALSE;
      if (pivot != k)
        {
          double t;
          for (gsize j = 0; j < O; j++)
            {
              t = a[k * O + j];
              a[k * O + j] = a[pivot * O + j];
              a[pivot * O + j] = t;
            }
          t = b[k];
          b[k] = b[pivot];
          b[pivot] = t;
        }
      for (gsize i = k + 1; i < O; i++)
        {
          double factor = a[i * O + k] / a[k * O + k];
          for (gsize j = k; j < O; j++)
            a[i * O + j] -= factor * a[k * O + j];
          b[i] -= factor * b[k];
        }
    }
  for (gsize k = O; k-- > 0;)
    {
      double sum = b[k];
      for (gsize j = k + 1; j < O; j++)
        sum -= a[k * O + j] * b[j];
      b[k] = sum / a[k * O + k];
    }
  for (gsize k = 0; k < O; k++)
    if (!isfinite (b[k]))
      return FALSE;
  return TRUE;
}

/* equilibrium_residual for row r: F(c) = c − K e(y(c)); who is done, who
 * has failed (disco-kernels-equilibrium.h). @work: 2·O doubles. */
EQ_INLINE void
eq_residual_row (const DiscoEquilibriumParams *params, gsize O, gsize r, const guint *rows,
                 const gint *unit_status, gboolean passed, float *y, gsize ld, const float *target,
                 const double *control, double *residual, DiscoEquilibriumSample *samples,
                 double *work, gint *keep)
{
  const guint s = rows[r];
  float *row = y + (gsize) s * ld;
  const double *c = control + (gsize) s * O;
  double *F = residual + (gsize) s * O;
  double *p = work, *e = work + O;
  DiscoEquilibriumSample *sample = samples + s;
  double norm = 0, largest = 0;

  sample->evaluations += passed;
  keep[r] = 0;
  if (unit_status[r] != DISCO_EQUILIBRIUM_CONVERGED)
    {
      sample->status = unit_status[r];
      return;
    }
  eq_output_error (params->softmax, row, target + (gsize) s * O, O, p, e);
  for (gsize o = 0; o < O; o++)
    {
      F[o] = c[o] - params->gain * e[o];
      norm = MAX (norm, fabs (F[o]));
      largest = MAX (largest, fabs (c[o]));
    }
  if (!isfinite (norm))
    sample->status = DISCO_EQUILIBRIUM_NOT_FINITE;
  else if (norm <= params->tolerance * MAX (1.0, largest))
    {
      /* At rest: c_int = e/λ, just after y in the state. */
      for (gsize o = 0; o < O; o++)
        row[O + o] = e[o] / params->leak;
    }
  else if (sample->iterations >= params->max_iterations)
    sample->status = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
  else if (norm >= sample->last_norm && !sample->stale)
    sample->status = DISCO_EQUILIBRIUM_NOT_FALLING;
  else
    {
      /* A reused matrix that no longer cuts the residual well enough (or
       * at all) is evaluated afresh. */
      sample->refresh |= norm > EQ_REUSE_RATIO * sample->last_norm;
      sample->last_norm = norm;
      keep[r] = sample->refresh ? 2 : 1;
    }
}

/* Broyden's rank-one update of J_F = I + M (O × O, row-major) so that it
 * maps the last step s = c − c_prev to the change it made in the residual,
 * y = F − F_prev: J_F ← J_F + (y − J_F s) sᵀ / sᵀs, the least change in
 * Frobenius norm that does ("good" Broyden). Nothing without a last step
 * (s = 0). */
EQ_INLINE void
eq_secant_update (gsize O, const double *F, const double *last_F, const double *step, double *m)
{
  double step_squared = 0;

  for (gsize o = 0; o < O; o++)
    step_squared += step[o] * step[o];
  if (!(step_squared > 0))
    return;
  for (gsize i = 0; i < O; i++)
    {
      /* (y − (I + M) s)_i */
      double miss = F[i] - last_F[i] - step[i];

      for (gsize j = 0; j < O; j++)
        miss -= m[i * O + j] * step[j];
      for (gsize j = 0; j < O; j++)
        m[i * O + j] += miss * step[j] / step_squared;
    }
}

/* equilibrium_newton for row r: J_F Δ = F with J_F = I + K H ∂y/∂c;
 * c ← c − Δ (disco-kernels-equilibrium.h). @work:
 * DISCO_EQUILIBRIUM_WORK(O) doubles. */
EQ_INLINE void
eq_newton_row (const DiscoEquilibriumParams *params, gsize O, gsize r, const guint *rows,
               gboolean fresh, const float *dydc_all, const float *y_all, gsize ld,
               const float *target, const double *residual, double *control, double *newton_matrix,
               DiscoEquilibriumSample *samples, double *work, gint *keep)
{
  const guint s = rows[r];
  const float *dydc = dydc_all + r * O * O;
  const float *y = y_all + (gsize) s * ld;
  const double K = params->gain;
  double *c = control + (gsize) s * O;
  /* the saved M, the spectral norm's last iterate, the last F and step */
  double *saved = newton_matrix + (gsize) s * DISCO_EQUILIBRIUM_NEWTON_SIZE (O);
  double *singular = saved + O * O, *last_residual = singular + O, *last_step = last_residual + O;
  double *m = work, *jf = m + O * O, *p = jf + O * O, *e = p + O, *delta = e + O;
  double *v = delta + O, *w = v + O;
  DiscoEquilibriumSample *sample = samples + s;
  double sigma;

  keep[r] = 0;
  if (!fresh)
    {
      eq_secant_update (O, residual + (gsize) s * O, last_residual, last_step, saved);
      memcpy (m, saved, O * O * sizeof (double));
    }
  else if (params->softmax)
    {
      /* M = K H ∂y/∂c, H = diag(p) − p pᵀ */
      eq_output_error (params->softmax, y, target + (gsize) s * O, O, p, e);
      for (gsize j = 0; j < O; j++)
        {
          double pd = 0;
          for (gsize k = 0; k < O; k++)
            pd += p[k] * dydc[k * O + j];
          for (gsize i = 0; i < O; i++)
            m[i * O + j] = K * p[i] * (dydc[i * O + j] - pd);
        }
    }
  else
    for (gsize i = 0; i < O * O; i++)
      m[i] = K * dydc[i];

  if (fresh)
    {
      sample->evaluations++;
      /* From the first iterate on, the power iteration starts where it
       * ended at the last fresh matrix, which has moved little since: a
       * few products instead of tens. */
      sigma = eq_spectral_norm (m, O, sample->iterations > 0 ? singular : NULL, jf, v, w);
      memcpy (singular, v, O * sizeof (double));
      sample->contraction = MAX (sample->contraction, (float) sigma);
      if (!isfinite (sigma))
        {
          sample->status = DISCO_EQUILIBRIUM_NOT_FINITE;
          return;
        }
      if (sigma >= params->contraction_limit)
        {
          sample->status = DISCO_EQUILIBRIUM_NOT_CONTRACTING;
          return;
        }
      memcpy (saved, m, O * O * sizeof (double));
    }
  sample->stale = !fresh;
  sample->refresh = FALSE;
  for (gsize i = 0; i < O; i++)
    for (gsize j = 0; j < O; j++)
      jf[i * O + j] = (i == j) + m[i * O + j];
  memcpy (delta, residual + (gsize) s * O, O * sizeof (double));
  if (!eq_solve_dense (jf, delta, O))
    {
      sample->status = DISCO_EQUILIBRIUM_NOT_FINITE;
      return;
    }
  memcpy (last_residual, residual + (gsize) s * O, O * sizeof (double));
  for (gsize o = 0; o < O; o++)
    {
      c[o] -= delta[o];
      last_step[o] = -delta[o];
    }
  sample->iterations++;
  keep[r] = 1;
}
