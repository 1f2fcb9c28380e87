/* disco-equilibrium.c
 *
 * The steady states of MODEL.md §2–§3 solved as fixed points instead of
 * integrated to rest (issue 8). Training uses only the final state of each
 * solve, and the ODE spends hundreds of network evaluations per sample
 * getting there.
 *
 * Open loop (f = 0, c = 0). Layer by layer, input side first, with the
 * drive d = W r_prev + b:
 *   microcircuit: u_E + φ_I(φ_E(u_E)) = d, then u_I = φ_E(u_E);
 *   rate layer:   u = d;   readout: y = W_out r_L.
 *
 * Closed loop. At rest τ_c dc_int/dt = e − λ c_int = 0, so c_int = e/λ and
 *   c = k_i c_int + k_p e = K·e(y),  K = k_i/λ + k_p,
 * with e = y* − softmax(y) (or y* − y). Given c, every layer is solved as
 * above with the top-down input f_l = c·Q_l (Q_l: O × n_l, per sample):
 *   microcircuit: u_E + φ_I(u_I) = d,  u_I = φ_E(u_E) − f_l;
 *   readout:      y = W_out r_L + c.
 * What remains is F(c) = c − K·e(y(c)) = 0: O unknowns per sample, solved by
 * Newton, c ← c − J_F⁻¹ F, from c = 0 (the open-loop state).
 *
 * Per unit (both loops), g(u) = u + φ_I(φ_E(u) − f) − d is increasing
 * (g′ = 1 + φ_I′·φ_E′ ≥ 1) and convex (φ_I increasing and convex, φ_E − f
 * convex), so its root is unique and lies in [d − φ_I(φ_E(d) − f), d].
 * Newton from the right end u = d decreases monotonically to the root; from
 * a warm start left of the root its first step lands in [root, d] (convexity
 * and g′ ≥ 1), so the iterates are clipped to u ≤ d and need no other
 * safeguard. A unit stops once its step is below 1e−4·(1 + |u|): the step
 * is taken, and the error after it, ≤ (g″/2g′)·step², is below float
 * precision for the paper's rectifiers. Its rate is corrected to first
 * order along the step (error ∝ step²), which saves evaluating φ again.
 *
 * The Jacobian of F. Differentiating a unit's equations,
 *   du_E = a·(dd + φ_I′(u_I)·df),  a = 1 / (1 + φ_I′(u_I)·φ_E′(u_E)),
 * so dr = φ_E′ a·(dd + φ_I′ df) (a = 1 and no df for a rate layer). With
 * G_l = ∂y/∂d_l (O × n_l per sample), in reverse mode:
 *   G_L     = W_out · diag(φ_E′ a)_L
 *   G_{l−1} = G_l · W_l · diag(φ_E′ a)_{l−1}       (one GEMM of A·O rows)
 *   ∂y/∂c   = I + Σ_l G_l · diag(φ_I′(u_I))_l · Q_lᵀ  (O × O)
 * and J_F = I + K·H·∂y/∂c, H = ∂softmax/∂y = diag(p) − p pᵀ (H = I for the
 * squared error). One O × O system per sample, solved in double. The
 * per-sample products G_l diag(φ_I′) Q_lᵀ (O² dot products of length n_l)
 * are cheap; a descent through a weight matrix is not (a GEMM with O times
 * the rows of a forward pass), so where the Jacobian descends, a sample
 * keeps its Newton matrix J_F from one iteration to the next (a chord step)
 * for as long as each step cuts its residual by 10× or more, and the pass
 * is repeated only when one does not. At c = 0 the open loop's own pass
 * (same state, rates and slopes) stands in for the first forward pass.
 *
 * Safety. A closed-loop sample stops iterating as failed when it reaches the
 * iteration limit, when its residual max|F| does not fall from one iterate
 * to the next after a full Newton step (after a chord step the matrix is
 * refreshed first), when a value is not finite or J_F is singular, or when
 * the spectral norm of ∂(K e(y(c)))/∂c = K·H·∂y/∂c (power iteration on MᵀM)
 * is at or above the contraction limit at an iterate where it is evaluated
 * (always c = 0): then c ↦ K e(y(c)) need not have a unique fixed point, and
 * Newton may find one the dynamics never reach. An open-loop sample fails
 * only on non-finite values (a unit that does not converge in 50 sweeps).
 * The caller integrates failed samples with the ODE solver.
 *
 * Batching. The samples still iterating are packed into consecutive rows
 * (the active set only shrinks), so the matrix products run on them alone;
 * states stay in the caller's B-row layout and are addressed through the
 * row indices.
 */
#include "disco-equilibrium.h"

#include <math.h>
#include <string.h>

/* Per-unit Newton: a step below this (relative to 1 + |u|) is the last. */
#define UNIT_TOLERANCE 1e-4f
/* Far more than the 4–6 the paper's rectifiers need from a cold start. */
#define UNIT_MAX_ITERATIONS 50
/* Power iterations for the spectral norm of an O × O matrix. */
#define POWER_ITERATIONS 100
/* Where the Jacobian pass descends through weights (it then costs O
 * forward passes' products), a sample keeps its Newton matrix while each
 * iteration cuts its residual at least this much. */
#define REUSE_RATIO 0.1

typedef struct
{
  const DiscoLayerSpec *spec;
  gsize offset;              /* of the layer's state in a sample's state */
  const float *weight;       /* n × n_in, read at the start of a solve */
  const float *bias;         /* n, or NULL */
  float *rate;               /* A × n: r of the last forward pass */
  float *slope;              /* A × n: ∂r/∂d, φ_E′·a (microcircuit) or φ′ (rate layer) */
  float *inhibitory_slope;   /* A × n: φ_I′(u_I) (microcircuit) */
} Layer;

struct _DiscoEquilibrium
{
  DiscoNetwork *network;     /* not owned */
  guint n_layers;
  Layer *layers;
  gsize N, O, max_units;

  gsize capacity;            /* samples the buffers hold */
  gsize n_samples;           /* B of the minibatch whose first drive is known */
  gboolean open_loop_pass;   /* the buffers hold the open loop's pass, every row converged */
  float *first_drive;        /* B × n_1: W_1 x + b_1 */
  float *drive;              /* A × max n */
  float *top_down;           /* A × max n: f = c·Q_l */
  float *jacobian, *below;   /* A·O × max n: G_l */
  float *scaled;             /* 2 × max n */
  float *dydc;               /* A × O × O */
  float *control_packed;     /* A × O: c as float */
  double *control;           /* B × O: c */
  double *residual;          /* B × O: F(c) */
  double *last_norm;         /* B: max|F| of the previous iterate */
  double *newton_matrix;     /* B × O × O: K·H·∂y/∂c where last evaluated */
  gboolean *stale;           /* B: the last update reused an older Newton matrix */
  gboolean *refresh;         /* B: the next update needs a fresh one */
  guint *rows;               /* A: the packed rows' samples */
  guint *unit_iterations;    /* A */
  guint8 *unit_status;       /* A: DiscoEquilibriumStatus of the units' solves */
  gboolean *row_done;        /* A: the row's units have converged */
  double *small;             /* 2·O·O + 5·O: one sample's Newton system and vectors */
};

/**
 * disco_equilibrium_new:
 * @network: the network (must outlive the result)
 *
 * Returns: (transfer full): a fixed-point solver for the network
 */
DiscoEquilibrium *
disco_equilibrium_new (DiscoNetwork *network)
{
  DiscoEquilibrium *eq = g_new0 (DiscoEquilibrium, 1);

  eq->network = network;
  eq->n_layers = disco_network_get_n_layers (network);
  eq->layers = g_new0 (Layer, eq->n_layers);
  eq->N = disco_network_get_state_size (network);
  eq->O = disco_network_get_layer (network, eq->n_layers - 1)->n;
  for (guint l = 0; l < eq->n_layers; l++)
    {
      eq->layers[l].spec = disco_network_get_layer (network, l);
      eq->layers[l].offset = disco_network_get_layer_offset (network, l);
      eq->max_units = MAX (eq->max_units, eq->layers[l].spec->n);
    }
  return eq;
}

static void
free_buffers (DiscoEquilibrium *eq)
{
  for (guint l = 0; l < eq->n_layers; l++)
    {
      g_clear_pointer (&eq->layers[l].rate, g_free);
      g_clear_pointer (&eq->layers[l].slope, g_free);
      g_clear_pointer (&eq->layers[l].inhibitory_slope, g_free);
    }
  g_clear_pointer (&eq->first_drive, g_free);
  g_clear_pointer (&eq->drive, g_free);
  g_clear_pointer (&eq->top_down, g_free);
  g_clear_pointer (&eq->jacobian, g_free);
  g_clear_pointer (&eq->below, g_free);
  g_clear_pointer (&eq->scaled, g_free);
  g_clear_pointer (&eq->dydc, g_free);
  g_clear_pointer (&eq->control_packed, g_free);
  g_clear_pointer (&eq->control, g_free);
  g_clear_pointer (&eq->residual, g_free);
  g_clear_pointer (&eq->last_norm, g_free);
  g_clear_pointer (&eq->newton_matrix, g_free);
  g_clear_pointer (&eq->stale, g_free);
  g_clear_pointer (&eq->refresh, g_free);
  g_clear_pointer (&eq->rows, g_free);
  g_clear_pointer (&eq->unit_iterations, g_free);
  g_clear_pointer (&eq->unit_status, g_free);
  g_clear_pointer (&eq->row_done, g_free);
  g_clear_pointer (&eq->small, g_free);
  eq->capacity = 0;
  eq->n_samples = 0;
}

/**
 * disco_equilibrium_free:
 * @equilibrium: a fixed-point solver
 */
void
disco_equilibrium_free (DiscoEquilibrium *equilibrium)
{
  free_buffers (equilibrium);
  g_free (equilibrium->layers);
  g_free (equilibrium);
}

static void
ensure_capacity (DiscoEquilibrium *eq, gsize B)
{
  const gsize O = eq->O, n = eq->max_units;

  if (B <= eq->capacity)
    return;
  free_buffers (eq);
  for (guint l = 0; l < eq->n_layers; l++)
    {
      Layer *layer = &eq->layers[l];
      layer->rate = g_new (float, B * layer->spec->n);
      layer->slope = g_new (float, B * layer->spec->n);
      layer->inhibitory_slope = g_new (float, B * layer->spec->n);
    }
  eq->first_drive = g_new (float, B * eq->layers[0].spec->n);
  eq->drive = g_new (float, B * n);
  eq->top_down = g_new (float, B * n);
  eq->jacobian = g_new (float, B * O * n);
  eq->below = g_new (float, B * O * n);
  eq->scaled = g_new (float, 2 * n);
  eq->dydc = g_new (float, B * O * O);
  eq->control_packed = g_new (float, B * O);
  eq->control = g_new (double, B * O);
  eq->residual = g_new (double, B * O);
  eq->last_norm = g_new (double, B);
  eq->newton_matrix = g_new (double, B * O * O);
  eq->stale = g_new (gboolean, B);
  eq->refresh = g_new (gboolean, B);
  eq->rows = g_new (guint, B);
  eq->unit_iterations = g_new (guint, B);
  eq->unit_status = g_new (guint8, B);
  eq->row_done = g_new (gboolean, B);
  eq->small = g_new (double, 2 * O * O + 5 * O);
  eq->capacity = B;
}

static gboolean
read_parameters (DiscoEquilibrium *eq, GError **error)
{
  for (guint l = 0; l < eq->n_layers; l++)
    {
      Layer *layer = &eq->layers[l];

      layer->bias = NULL;
      if ((layer->weight = disco_tensor_read_host (layer->spec->weight, error)) == NULL ||
          (layer->spec->bias != NULL &&
           (layer->bias = disco_tensor_read_host (layer->spec->bias, error)) == NULL))
        return FALSE;
    }
  return TRUE;
}

/* ----- the units of a row ------------------------------------------------------- */

/* The per-unit Newton iteration runs in sweeps over a row's n units: one
 * sweep is one iteration of every unit, a loop GCC vectorises. Its φ and
 * φ′ share one exponential and one logarithm per rectifier, written as
 * branch-free polynomials (libm's expf and logf are not vectorised):
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
 * rest, to float precision. On x86-64 the sweep is also compiled for
 * x86-64-v3 (AVX2, FMA) and picked at run time (target_clones). */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SWEEP_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define SWEEP_CLONES
#endif
#define ALWAYS_INLINE static inline __attribute__ ((always_inline))

/* GCC if-converts the selects below (a NaN-keeping clamp, z > 0 ? z : 0)
 * and so vectorises the sweep only when it may assume that nobody reads the
 * floating-point exception flags; that changes no value (the kernels'
 * disco-kernels-fast.c is built with the same flag). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize ("no-trapping-math")
#endif

ALWAYS_INLINE float
exp_nonpositive (float w)
{
  /* 1.5·2²³: adding it rounds |t| < 2²² to an integer in the low mantissa
   * bits, which then give k without a float-to-int conversion. */
  const float shifter = 0x1.8p23f;
  float t, n, r, r2, p, scale;
  guint32 t_bits, scale_bits;

  w = w < -87.0f ? -87.0f : w;
  t = w * 1.44269504088896341f + shifter;
  n = t - shifter;                           /* round(w/ln2) ∈ [−126, 0] */
  r = w - n * 0.693359375f;                  /* ln2 in two parts */
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
  scale_bits = (t_bits - 0x4b400000u + 127u) << 23;   /* 2ᵏ */
  memcpy (&scale, &scale_bits, sizeof scale);
  return p * scale;
}

ALWAYS_INLINE float
log1p_unit (float e)
{
  const float u = 1.0f + e;
  const gboolean upper = u > 1.41421356f;
  const float x = (upper ? 0.5f * u : u) - 1.0f;   /* exact */
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

/* φ(x) and φ′(x) (MODEL.md §1) sharing one exponential. */
ALWAYS_INLINE void
softrect_pair (float scale, float sharpness, float shift, float x, float *value, float *slope)
{
  const float z = sharpness * (x - shift);
  const float e = exp_nonpositive (-fabsf (z));

  *value = scale * ((z > 0.0f ? z : 0.0f) + log1p_unit (e));
  *slope = scale * sharpness * ((z >= 0.0f ? 1.0f : e) / (1.0f + e));
}

/* One Newton iteration of every unit of a row (see the top of the file):
 * u_E ← min(u_E − g/g′, d) with g = u_E + φ_I(φ_E(u_E) − f) − d, and what
 * the unit's state and slopes are after that step (the rate to first order
 * along it). Returns TRUE when every step was below the tolerance, i.e. the
 * row has converged with this sweep. */
SWEEP_CLONES static gboolean
sweep_units (gsize n, const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
             const float *restrict d, const float *restrict f, float *restrict u_e,
             float *restrict u_i, float *restrict rate, float *restrict slope,
             float *restrict inhibitory_slope)
{
  const float s_e = phi_e->scale, b_e = phi_e->sharpness, t_e = phi_e->shift;
  const float s_i = phi_i->scale, b_i = phi_i->sharpness, t_i = phi_i->shift;
  int pending = 0;

  for (gsize j = 0; j < n; j++)
    {
      const float x = u_e[j];
      float r, dr, q, dq, step, next;

      softrect_pair (s_e, b_e, t_e, x, &r, &dr);
      softrect_pair (s_i, b_i, t_i, r - f[j], &q, &dq);
      step = (x + q - d[j]) / (1.0f + dq * dr);
      pending |= !(fabsf (step) <= UNIT_TOLERANCE * (1.0f + fabsf (x)));   /* NaN too */
      next = x - step;
      u_e[j] = next < d[j] ? next : d[j];
      rate[j] = r - dr * step;
      u_i[j] = rate[j] - f[j];
      slope[j] = dr / (1.0f + dq * dr);
      inhibitory_slope[j] = dq;
    }
  return pending == 0;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* ----- one pass through the network ----------------------------------------------- */

/* Solves every layer of the A packed rows for their control @control
 * (A × O, packed; NULL in the open loop), writing the state rows (stride
 * @ld), each layer's rates and slopes, each row's unit iterations (the
 * slowest unit's per microcircuit layer, summed) and status. @cold starts
 * every unit at u = d instead of at its state. */
static void
forward (DiscoEquilibrium *eq, gsize A, const guint *rows, float *state, gsize ld,
         const float *control, const float *const *feedback, gboolean cold)
{
  const gsize O = eq->O;
  const float *previous = NULL;

  for (gsize r = 0; r < A; r++)
    {
      eq->unit_iterations[r] = 0;
      eq->unit_status[r] = DISCO_EQUILIBRIUM_CONVERGED;
    }

  for (guint l = 0; l < eq->n_layers; l++)
    {
      Layer *layer = &eq->layers[l];
      const DiscoLayerSpec *spec = layer->spec;
      const gsize n = spec->n;
      float *d = eq->drive;

      /* d (A × n) = W r_prev + b; the first layer's is fixed per minibatch. */
      if (l == 0)
        for (gsize r = 0; r < A; r++)
          memcpy (d + r * n, eq->first_drive + (gsize) rows[r] * n, n * sizeof (float));
      else
        {
          for (gsize r = 0; r < A; r++)
            {
              if (layer->bias != NULL)
                memcpy (d + r * n, layer->bias, n * sizeof (float));
              else
                memset (d + r * n, 0, n * sizeof (float));
            }
          disco_gemm_cpu (FALSE, TRUE, A, n, spec->n_in, 1.0f, previous, spec->n_in,
                          layer->weight, spec->n_in, 1.0f, d, n);
        }

      switch (spec->kind)
        {
        case DISCO_LAYER_MICROCIRCUIT:
          {
            const float *q = feedback != NULL ? feedback[l] : NULL;
            float *f = eq->top_down;
            gsize pending = A;

            /* f (A × n) = c · Q_l, each row with its sample's Q_l. */
            for (gsize r = 0; r < A; r++)
              {
                float *restrict f_r = f + r * n;

                memset (f_r, 0, n * sizeof (float));
                if (control == NULL || q == NULL)
                  continue;
                for (gsize o = 0; o < O; o++)
                  {
                    const float c = control[r * O + o];
                    const float *restrict q_row = q + ((gsize) rows[r] * O + o) * n;
                    for (gsize j = 0; j < n; j++)
                      f_r[j] += c * q_row[j];
                  }
              }

            /* Start at u = d (cold) or at the state, clipped to ≤ d. */
            for (gsize r = 0; r < A; r++)
              {
                float *u_e = state + (gsize) rows[r] * ld + layer->offset;

                for (gsize j = 0; j < n; j++)
                  u_e[j] = cold || !(u_e[j] < d[r * n + j]) ? d[r * n + j] : u_e[j];
                eq->row_done[r] = FALSE;
              }
            for (guint sweep = 1; sweep <= UNIT_MAX_ITERATIONS && pending > 0; sweep++)
              for (gsize r = 0; r < A; r++)
                {
                  float *u_e = state + (gsize) rows[r] * ld + layer->offset;

                  if (eq->row_done[r])
                    continue;
                  if (sweep_units (n, &spec->phi_e, &spec->phi_i, d + r * n, f + r * n, u_e,
                                   u_e + n, layer->rate + r * n, layer->slope + r * n,
                                   layer->inhibitory_slope + r * n))
                    {
                      eq->row_done[r] = TRUE;
                      eq->unit_iterations[r] += sweep;
                      pending--;
                    }
                }
            for (gsize r = 0; r < A && pending > 0; r++)
              if (!eq->row_done[r])
                {
                  /* No convergence (non-finite drive): keep finite values. */
                  float *u_e = state + (gsize) rows[r] * ld + layer->offset;

                  if (eq->unit_status[r] == DISCO_EQUILIBRIUM_CONVERGED)
                    eq->unit_status[r] = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
                  memset (u_e, 0, 2 * n * sizeof (float));
                  memset (layer->rate + r * n, 0, n * sizeof (float));
                  memset (layer->slope + r * n, 0, n * sizeof (float));
                  memset (layer->inhibitory_slope + r * n, 0, n * sizeof (float));
                }
            break;
          }
        case DISCO_LAYER_RATE:
          for (gsize r = 0; r < A; r++)
            {
              float *u = state + (gsize) rows[r] * ld + layer->offset;

              memcpy (u, d + r * n, n * sizeof (float));
              for (gsize j = 0; j < n; j++)
                softrect_pair (spec->phi_e.scale, spec->phi_e.sharpness, spec->phi_e.shift, u[j],
                               &layer->rate[r * n + j], &layer->slope[r * n + j]);
              if (eq->unit_status[r] == DISCO_EQUILIBRIUM_CONVERGED)
                for (gsize j = 0; j < n; j++)
                  if (!isfinite (u[j]))
                    eq->unit_status[r] = DISCO_EQUILIBRIUM_NOT_FINITE;
            }
          break;
        case DISCO_LAYER_READOUT:
          for (gsize r = 0; r < A; r++)
            {
              float *y = state + (gsize) rows[r] * ld + layer->offset;

              for (gsize o = 0; o < n; o++)
                y[o] = d[r * n + o] + (control != NULL ? control[r * O + o] : 0.0f);
            }
          break;
        }
      previous = layer->rate;
    }
}

/* ----- open loop ------------------------------------------------------------------- */

/**
 * disco_equilibrium_open_loop:
 * @equilibrium: a fixed-point solver
 * @input: this tick's input of the first layer, B × F
 * @state: B × N, written: the open-loop fixed points (rows of failed samples
 *   are unspecified)
 * @stats: (array): B per-sample results
 * @error: return location for a #GError
 *
 * Solves the open-loop steady state of every sample (MODEL.md §2, f = 0,
 * c = 0) and keeps the first layer's drive W_1 x + b_1, and the pass itself,
 * for a closed-loop solve of the same minibatch.
 *
 * Returns: %TRUE on success (failed samples included: see @stats), %FALSE
 *   with @error set when the input or a parameter cannot be read
 */
gboolean
disco_equilibrium_open_loop (DiscoEquilibrium *equilibrium, DiscoTensor *input, float *state,
                             DiscoEquilibriumSampleStats *stats, GError **error)
{
  DiscoEquilibrium *eq = equilibrium;
  const Layer *first = &eq->layers[0];
  const float *x;
  gsize B;
  gboolean any_microcircuit = FALSE;

  g_return_val_if_fail (eq != NULL && input != NULL && state != NULL && stats != NULL, FALSE);

  B = disco_tensor_get_dim (input, 0);
  if (disco_tensor_get_row_size (input) != first->spec->n_in)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (input);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "layer \"%s\" expects %" G_GSIZE_FORMAT " inputs per sample, got a "
                   "tensor of shape %s", disco_node_get_name (first->spec->node),
                   first->spec->n_in, shape);
      return FALSE;
    }
  if ((x = disco_tensor_read_host (input, error)) == NULL || !read_parameters (eq, error))
    return FALSE;
  ensure_capacity (eq, B);
  eq->n_samples = B;

  /* B × n_1 = b_1 + x (B × F) · W_1ᵀ (F × n_1) */
  for (gsize s = 0; s < B; s++)
    {
      if (first->bias != NULL)
        memcpy (eq->first_drive + s * first->spec->n, first->bias,
                first->spec->n * sizeof (float));
      else
        memset (eq->first_drive + s * first->spec->n, 0, first->spec->n * sizeof (float));
    }
  disco_gemm_cpu (FALSE, TRUE, B, first->spec->n, first->spec->n_in, 1.0f, x,
                  first->spec->n_in, first->weight, first->spec->n_in, 1.0f, eq->first_drive,
                  first->spec->n);

  for (gsize s = 0; s < B; s++)
    eq->rows[s] = s;
  forward (eq, B, eq->rows, state, eq->N, NULL, NULL, TRUE);
  eq->open_loop_pass = TRUE;

  for (guint l = 0; l < eq->n_layers; l++)
    any_microcircuit |= eq->layers[l].spec->kind == DISCO_LAYER_MICROCIRCUIT;
  for (gsize s = 0; s < B; s++)
    {
      const float *y = state + s * eq->N + eq->layers[eq->n_layers - 1].offset;

      stats[s].iterations = any_microcircuit ? eq->unit_iterations[s] : 1;
      stats[s].evaluations = 1;
      stats[s].contraction = 0;
      stats[s].status = eq->unit_status[s];
      for (gsize o = 0; o < eq->O && stats[s].status == DISCO_EQUILIBRIUM_CONVERGED; o++)
        if (!isfinite (y[o]))
          stats[s].status = DISCO_EQUILIBRIUM_NOT_FINITE;
      eq->open_loop_pass &= stats[s].status == DISCO_EQUILIBRIUM_CONVERGED;
    }
  return TRUE;
}

/* ----- closed loop ------------------------------------------------------------------- */

/* Σ_j a_j b_j over n floats, in four independent vector accumulators (one
 * chain of additions would be bound by their latency). GCC's and clang's
 * vector extension: two SSE registers per vector on the baseline, one AVX
 * register in the x86-64-v3 clone. */
typedef float Float8 __attribute__ ((vector_size (8 * sizeof (float))));

ALWAYS_INLINE float
dot (const float *restrict a, const float *restrict b, gsize n)
{
  Float8 acc0 = { 0 }, acc1 = { 0 }, acc2 = { 0 }, acc3 = { 0 }, x0, x1, x2, x3, y0, y1, y2, y3;
  float sum = 0;
  gsize j = 0;

  for (; j + 32 <= n; j += 32)
    {
      memcpy (&x0, a + j, sizeof x0);
      memcpy (&x1, a + j + 8, sizeof x1);
      memcpy (&x2, a + j + 16, sizeof x2);
      memcpy (&x3, a + j + 24, sizeof x3);
      memcpy (&y0, b + j, sizeof y0);
      memcpy (&y1, b + j + 8, sizeof y1);
      memcpy (&y2, b + j + 16, sizeof y2);
      memcpy (&y3, b + j + 24, sizeof y3);
      acc0 += x0 * y0;
      acc1 += x1 * y1;
      acc2 += x2 * y2;
      acc3 += x3 * y3;
    }
  for (; j + 8 <= n; j += 8)
    {
      memcpy (&x0, a + j, sizeof x0);
      memcpy (&y0, b + j, sizeof y0);
      acc0 += x0 * y0;
    }
  acc0 = (acc0 + acc1) + (acc2 + acc3);
  for (guint k = 0; k < 8; k++)
    sum += acc0[k];
  for (; j < n; j++)
    sum += a[j] * b[j];
  return sum;
}

/* m (O × O) += (g ⊙ factor) qᵀ, for g and q O × n (rows of g @ld_g apart):
 * one sample's G_l diag(φ_I′) Q_lᵀ, O² dot products of length n (too small
 * for BLAS to pay off). @scaled: n scratch floats. */
SWEEP_CLONES static void
add_feedback_products (gsize O, gsize n, const float *g, gsize ld_g,
                       const float *restrict factor, const float *q, float *restrict scaled,
                       float *m)
{
  for (gsize o = 0; o < O; o++)
    {
      const float *restrict g_row = g + o * ld_g;

      for (gsize j = 0; j < n; j++)
        scaled[j] = g_row[j] * factor[j];
      for (gsize k = 0; k < O; k++)
        m[o * O + k] += dot (scaled, q + k * n, n);
    }
}

/* The lowest layer whose units receive feedback, or −1. */
static gint
lowest_feedback_layer (DiscoEquilibrium *eq, const float *const *feedback)
{
  for (guint l = 0; l + 1 < eq->n_layers; l++)
    if (eq->layers[l].spec->kind == DISCO_LAYER_MICROCIRCUIT && feedback[l] != NULL)
      return l;
  return -1;
}

/* ∂y/∂c (A × O × O) at the last forward pass of the A packed rows; see the
 * top of the file. */
static void
control_jacobian (DiscoEquilibrium *eq, gsize A, const guint *rows,
                  const float *const *feedback)
{
  const gsize O = eq->O;
  const guint top = eq->n_layers - 1;   /* the readout */
  const gint lowest = lowest_feedback_layer (eq, feedback);
  float *g = eq->jacobian, *below = eq->below;

  for (gsize r = 0; r < A; r++)
    {
      float *m = eq->dydc + r * O * O;
      memset (m, 0, O * O * sizeof (float));
      for (gsize o = 0; o < O; o++)
        m[o * O + o] = 1.0f;
    }
  if (lowest < 0)
    return;

  /* G_L = W_out diag(∂r_L/∂d_L) is formed row by row where it is used, and
   * stored (A·O × n_L) only to descend below the top hidden layer. */
  for (gint l = (gint) top - 1; l >= lowest; l--)
    {
      const Layer *layer = &eq->layers[l];
      const gsize n = layer->spec->n;
      const gboolean formed = l < (gint) top - 1;   /* G_l is in g */
      const float *w_out = eq->layers[top].weight;

      if (layer->spec->kind == DISCO_LAYER_MICROCIRCUIT && feedback[l] != NULL)
        for (gsize r = 0; r < A; r++)
          {
            /* ∂y/∂c += G_l diag(φ_I′) Q_lᵀ: O × O dot products of length n
             * (per sample, too small for BLAS to pay off). */
            const float *restrict s_i = layer->inhibitory_slope + r * n;
            const float *restrict s = layer->slope + r * n;
            const float *q = feedback[l] + (gsize) rows[r] * O * n;
            float *restrict scaled = eq->scaled;
            float *restrict factor = eq->scaled + n;
            float *m = eq->dydc + r * O * O;

            for (gsize j = 0; j < n; j++)
              factor[j] = formed ? s_i[j] : s_i[j] * s[j];
            add_feedback_products (O, n, formed ? g + r * O * n : w_out, n, factor, q, scaled,
                                   m);
          }
      if (l > lowest)
        {
          /* G_{l−1} = G_l W_l diag(∂r_{l−1}/∂d_{l−1}): one GEMM for every row. */
          const Layer *lower = &eq->layers[l - 1];
          const gsize m = lower->spec->n;
          float *swap;

          if (!formed)
            for (gsize r = 0; r < A; r++)
              for (gsize o = 0; o < O; o++)
                {
                  const float *restrict w_row = w_out + o * n;
                  const float *restrict s = layer->slope + r * n;
                  float *restrict g_row = g + (r * O + o) * n;
                  for (gsize j = 0; j < n; j++)
                    g_row[j] = w_row[j] * s[j];
                }
          disco_gemm_cpu (FALSE, FALSE, A * O, m, n, 1.0f, g, n, layer->weight, m, 0.0f,
                          below, m);
          for (gsize r = 0; r < A; r++)
            for (gsize o = 0; o < O; o++)
              {
                const float *restrict s = lower->slope + r * m;
                float *restrict b_row = below + (r * O + o) * m;
                for (gsize j = 0; j < m; j++)
                  b_row[j] *= s[j];
              }
          swap = g;
          g = below;
          below = swap;
        }
    }
}

/* The largest singular value of the O × O matrix @m: power iteration on
 * @gram = mᵀm (written) from a fixed start, the estimate being the Rayleigh
 * quotient vᵀ gram v of the unit iterate v (its error shrinks with the
 * square of v's), until it moves by less than 1e−6 relative. @v, @w: O
 * scratch values each. */
static double
spectral_norm (const double *restrict m, gsize O, double *restrict gram, double *restrict v,
               double *restrict w)
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
  for (gsize i = 0; i < O; i++)
    {
      v[i] = 1.0 + 0.1 * i;
      length += v[i] * v[i];
    }
  length = sqrt (length);
  for (gsize i = 0; i < O; i++)
    v[i] /= length;
  for (guint it = 0; it < POWER_ITERATIONS; it++)
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
      estimate = quotient;   /* → σ_max² */
      if (fabs (estimate - previous) <= 1e-6 * estimate)
        break;
    }
  return sqrt (estimate);
}

/* Solves a x = b in place (a: O × O, destroyed; b: O, becomes x) by
 * Gaussian elimination with partial pivoting; FALSE when singular. */
static gboolean
solve_dense (double *a, double *b, gsize O)
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

/* e = y* − softmax(y) (or y* − y), in double. */
static void
output_error (DiscoControlError kind, const float *y, const float *target, gsize O, double *p,
              double *e)
{
  if (kind == DISCO_CONTROL_ERROR_CROSS_ENTROPY)
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

/* Drops the rows whose @keep is FALSE from the active set and from the
 * packed per-layer slopes the Jacobian reads; returns the new A. */
static gsize
compact (DiscoEquilibrium *eq, gsize A, const gboolean *keep)
{
  gsize kept = 0;

  for (gsize r = 0; r < A; r++)
    {
      if (!keep[r])
        continue;
      if (kept != r)
        {
          eq->rows[kept] = eq->rows[r];
          for (guint l = 0; l < eq->n_layers; l++)
            {
              Layer *layer = &eq->layers[l];
              const gsize n = layer->spec->n;
              memcpy (layer->slope + kept * n, layer->slope + r * n, n * sizeof (float));
              memcpy (layer->inhibitory_slope + kept * n, layer->inhibitory_slope + r * n,
                      n * sizeof (float));
            }
        }
      kept++;
    }
  return kept;
}

/**
 * disco_equilibrium_closed_loop:
 * @equilibrium: a fixed-point solver after disco_equilibrium_open_loop() on
 *   this minibatch
 * @config: tolerance, iteration limit and contraction limit
 * @controller: the controller (gains, leak, error)
 * @targets: B × O targets y*
 * @feedback: (array): per layer, the feedback weights Q_l (B × O × n_l), or
 *   %NULL for a layer without (disco_closed_loop_get_feedback())
 * @n_samples: B
 * @state: B × (N + O): on entry each sample's open-loop steady state and a
 *   zero integral; on return the closed-loop fixed points (rows of failed
 *   samples are unspecified)
 * @stats: (array): B per-sample results
 * @error: return location for a #GError
 *
 * Solves the closed-loop steady state of every sample (MODEL.md §3–§5) by
 * Newton's method in the control c; see the top of the file.
 *
 * Returns: %TRUE on success (failed samples included: see @stats), %FALSE
 *   with @error set when a parameter cannot be read
 */
gboolean
disco_equilibrium_closed_loop (DiscoEquilibrium *equilibrium,
                               const DiscoEquilibriumConfig *config,
                               const DiscoControllerSpec *controller, const float *targets,
                               const float *const *feedback, gsize n_samples, float *state,
                               DiscoEquilibriumSampleStats *stats, GError **error)
{
  DiscoEquilibrium *eq = equilibrium;
  const gsize B = n_samples, N = eq->N, O = eq->O, ld = N + O;
  const gsize readout = eq->layers[eq->n_layers - 1].offset;
  const double K = controller->leak > 0
                     ? (double) controller->k_i / controller->leak + controller->k_p : 0;
  g_autofree gboolean *keep = NULL;
  double *m, *jf, *p, *e, *delta, *v, *w;
  gboolean costly, fresh;
  gsize A = B;

  g_return_val_if_fail (eq != NULL && config != NULL && controller != NULL, FALSE);
  g_return_val_if_fail (targets != NULL && feedback != NULL && state != NULL, FALSE);
  g_return_val_if_fail (stats != NULL && B == eq->n_samples, FALSE);

  for (gsize s = 0; s < B; s++)
    {
      stats[s].iterations = 0;
      stats[s].evaluations = 0;
      stats[s].contraction = 0;
      stats[s].status = DISCO_EQUILIBRIUM_CONVERGED;
    }
  if (!(controller->leak > 0))
    {
      /* τ_c dc_int/dt = e has no rest unless e = 0: nothing to solve here. */
      for (gsize s = 0; s < B; s++)
        stats[s].status = DISCO_EQUILIBRIUM_UNSUPPORTED;
      return TRUE;
    }
  if (!read_parameters (eq, error))
    return FALSE;

  /* A Jacobian pass that descends through a weight matrix costs O times a
   * forward pass's products: reuse its Newton matrix while that works. */
  costly = lowest_feedback_layer (eq, feedback) + 2 < (gint) eq->n_layers;
  keep = g_new (gboolean, B);
  m = eq->small;
  jf = m + O * O;
  p = jf + O * O;
  e = p + O;
  delta = e + O;
  v = delta + O;
  w = v + O;
  for (gsize s = 0; s < B; s++)
    {
      eq->rows[s] = s;
      eq->last_norm[s] = INFINITY;
      eq->stale[s] = FALSE;
      eq->refresh[s] = TRUE;
      for (gsize o = 0; o < O; o++)
        eq->control[s * O + o] = 0;
    }

  while (A > 0)
    {
      /* Every unit for the current c, warm-started at its last state. At
       * c = 0 that is the open-loop state, whose pass (rates, slopes, every
       * row converged) is still in the buffers when the open loop just ran
       * here: then there is nothing to solve. */
      const gboolean passed = !eq->open_loop_pass;

      if (passed)
        {
          for (gsize r = 0; r < A; r++)
            for (gsize o = 0; o < O; o++)
              eq->control_packed[r * O + o] = eq->control[(gsize) eq->rows[r] * O + o];
          forward (eq, A, eq->rows, state, ld, eq->control_packed, feedback, FALSE);
        }
      eq->open_loop_pass = FALSE;

      /* F(c) = c − K e(y(c)); who is done, who has failed. */
      for (gsize r = 0; r < A; r++)
        {
          const guint s = eq->rows[r];
          float *row = state + (gsize) s * ld;
          const double *c = eq->control + (gsize) s * O;
          double *F = eq->residual + (gsize) s * O;
          double norm = 0, largest = 0;

          stats[s].evaluations += passed;
          keep[r] = FALSE;
          if (eq->unit_status[r] != DISCO_EQUILIBRIUM_CONVERGED)
            {
              stats[s].status = eq->unit_status[r];
              continue;
            }
          output_error (controller->error, row + readout, targets + (gsize) s * O, O, p, e);
          for (gsize o = 0; o < O; o++)
            {
              F[o] = c[o] - K * e[o];
              norm = MAX (norm, fabs (F[o]));
              largest = MAX (largest, fabs (c[o]));
            }
          if (!isfinite (norm))
            stats[s].status = DISCO_EQUILIBRIUM_NOT_FINITE;
          else if (norm <= config->tolerance * MAX (1.0, largest))
            {
              /* At rest: c_int = e/λ. */
              for (gsize o = 0; o < O; o++)
                row[N + o] = e[o] / controller->leak;
            }
          else if (stats[s].iterations >= config->max_iterations)
            stats[s].status = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
          else if (norm >= eq->last_norm[s] && !eq->stale[s])
            stats[s].status = DISCO_EQUILIBRIUM_NOT_FALLING;
          else
            {
              /* A reused matrix that no longer cuts the residual well
               * enough (or at all) is evaluated afresh. */
              eq->refresh[s] |= !costly || norm > REUSE_RATIO * eq->last_norm[s];
              eq->last_norm[s] = norm;
              keep[r] = TRUE;
            }
        }
      A = compact (eq, A, keep);
      if (A == 0)
        break;

      /* Newton: J_F Δ = F with J_F = I + K H ∂y/∂c; c ← c − Δ. */
      fresh = FALSE;
      for (gsize r = 0; r < A; r++)
        fresh |= eq->refresh[eq->rows[r]];
      if (fresh)
        control_jacobian (eq, A, eq->rows, feedback);
      for (gsize r = 0; r < A; r++)
        {
          const guint s = eq->rows[r];
          const float *dydc = eq->dydc + r * O * O;
          const float *y = state + (gsize) s * ld + readout;
          double *c = eq->control + (gsize) s * O;
          double *saved = eq->newton_matrix + (gsize) s * O * O;
          double sigma;

          keep[r] = FALSE;
          if (!fresh)
            memcpy (m, saved, O * O * sizeof (double));
          else if (controller->error == DISCO_CONTROL_ERROR_CROSS_ENTROPY)
            {
              /* M = K H ∂y/∂c, H = diag(p) − p pᵀ */
              output_error (controller->error, y, targets + (gsize) s * O, O, p, e);
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
              stats[s].evaluations++;
              sigma = spectral_norm (m, O, jf, v, w);
              stats[s].contraction = MAX (stats[s].contraction, (float) sigma);
              if (!isfinite (sigma))
                {
                  stats[s].status = DISCO_EQUILIBRIUM_NOT_FINITE;
                  continue;
                }
              if (sigma >= config->contraction_limit)
                {
                  stats[s].status = DISCO_EQUILIBRIUM_NOT_CONTRACTING;
                  continue;
                }
              memcpy (saved, m, O * O * sizeof (double));
            }
          eq->stale[s] = !fresh;
          eq->refresh[s] = FALSE;
          for (gsize i = 0; i < O; i++)
            for (gsize j = 0; j < O; j++)
              jf[i * O + j] = (i == j) + m[i * O + j];
          memcpy (delta, eq->residual + (gsize) s * O, O * sizeof (double));
          if (!solve_dense (jf, delta, O))
            {
              stats[s].status = DISCO_EQUILIBRIUM_NOT_FINITE;
              continue;
            }
          for (gsize o = 0; o < O; o++)
            c[o] -= delta[o];
          stats[s].iterations++;
          keep[r] = TRUE;
        }
      A = compact (eq, A, keep);
    }
  return TRUE;
}
