/* disco-ops-list.h: every compute operation of a #DiscoOps table, once.
 *
 * SECTION:disco-ops-list
 * @title: Operations list
 * @short_description: the one declaration of each table operation, from
 *   which the CPU and CUDA prototypes and the table's slots are generated
 *
 * Each entry is
 *
 *   X (name, cpu_kernel, (parameters), (argument names))
 *
 * and stands for the slot `name` of #DiscoOps (disco-ops.h), the reference
 * kernel `disco_<name>_cpu` and its twin on device pointers
 * `disco_<name>_cuda` (disco-kernels-cuda.h), all with these parameters.
 * @cpu_kernel says which kernel the CPU table calls for the slot:
 * `disco_<name>_<cpu_kernel>`, i.e. `cpu` for the reference or `fast_cpu`
 * for the vectorised variant of disco-kernels-fast.c (the same bits, or φ
 * within 4 ulp); the CUDA table always calls `disco_<name>_cuda`.  The
 * argument names repeat the parameters' so that a wrapper (the CPU table's
 * counting one) can forward a call.
 *
 * The list comes in four parts, one per header that declares the CPU
 * kernels (each needs its header's types): DISCO_OPS_LIST_KERNELS
 * (disco-kernels.h), DISCO_OPS_LIST_ODE_CLOCK (disco-ode-clock.h),
 * DISCO_OPS_LIST_ODE_LOCKSTEP (disco-ode-lockstep.h) and
 * DISCO_OPS_LIST_EQUILIBRIUM (disco-kernels-equilibrium.h);
 * DISCO_OPS_LIST is all of them, in the table's order.  This file only
 * defines macros and includes nothing.
 *
 * Each operation is documented here, above its entry.  Preconditions are
 * programmer errors (g_return_if_fail() on the CPU, a recorded failure on
 * CUDA); "in the table's memory" marks a pointer that is a device pointer
 * on CUDA like the arrays, while the rectifier and parameter structs, a
 * tableau's @coeffs and the array of stage pointers @k stay on the host
 * for both tables.
 *
 * Shape legend: as disco-kernels.h (R rows, C columns, ld* row strides,
 * S stages), disco-ode-clock.h (B clocks) and disco-kernels-equilibrium.h
 * (A packed rows, O outputs, n units).
 */

#pragma once

/* Hand-aligned: one operation per entry, parameters and arguments on
 * lines of their own (the formatter would fold them). */
/* clang-format off */

/* The generators: a CPU prototype, a CUDA prototype, a table slot. */
#define DISCO_OPS_CPU_PROTOTYPE(name, cpu_kernel, params, args)  void disco_##name##_cpu params;
#define DISCO_OPS_CUDA_PROTOTYPE(name, cpu_kernel, params, args) void disco_##name##_cuda params;
#define DISCO_OPS_SLOT(name, cpu_kernel, params, args)           void (*name) params;

/* ---------------------------------------------------------------------------
 * Declared in disco-kernels.h
 * ------------------------------------------------------------------------- */

#define DISCO_OPS_LIST_KERNELS(X)                                                              \
  /* Dense and element-wise algebra                                                            \
   *                                                                                           \
   * fill:              x[i] = value, n values                                                 \
   * gemm:              C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C (MODEL.md §2       \
   *                    drives W_l·r^{l−1}, readout W_out·r^L and feedback c·Q_l; §4 Jacobian  \
   *                    chains; §6 outer products δ·rᵀ).  A is stored M×K (lda ≥ K), or K×M    \
   *                    (lda ≥ M) when trans_a is set; B is stored K×N (ldb ≥ N), or N×K       \
   *                    (ldb ≥ K) when trans_b is set                                          \
   * softrect_forward:  y = φ(x) (MODEL.md §1, disco_softrect_forward()); x, y R×C with        \
   *                    strides ldx, ldy; x == y (same stride) rectifies in place.  The CPU    \
   *                    table runs the fast φ, within 4 ulp of the reference                   \
   * microcircuit_rhs:  one microcircuit layer's open-loop derivatives and rates (MODEL.md     \
   *                    §2), R rows of state laid out u_E (n) | u_I (n); the drive's row r is  \
   *                    drive_rows[r] when given; bias optional */                             \
  X (fill, cpu,                                                                                \
     (gsize n, float value, float *x),                                                         \
     (n, value, x))                                                                            \
  X (gemm, cpu,                                                                                \
     (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k, float alpha,              \
      const float *a, gsize lda, const float *b, gsize ldb, float beta, float *c, gsize ldc),  \
     (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))                         \
  X (softrect_forward, fast_cpu,                                                               \
     (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols, const float *x, gsize ldx,   \
      float *y, gsize ldy),                                                                    \
     (rect, n_rows, n_cols, x, ldx, y, ldy))                                                   \
  X (microcircuit_rhs, cpu,                                                                    \
     (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, float tau_e,           \
      float tau_i, gsize n_rows, gsize n, const float *u, gsize ldu, const float *drive,       \
      gsize ldd, const guint *drive_rows, const float *bias, float *rate, gsize ldr,           \
      float *dudt, gsize ldf),                                                                 \
     (phi_e, phi_i, tau_e, tau_i, n_rows, n, u, ldu, drive, ldd, drive_rows, bias, rate,       \
      ldr, dudt, ldf))                                                                         \
  /* Closed loop and feedback weights (MODEL.md §3–§4), the kernels of disco-ops-closed-loop.c \
   * (the integrator's only closed loop, on the CPU and on CUDA).  B samples, O outputs, n     \
   * units.                                                                                    \
   *                                                                                           \
   * leaky_pi_rows:       e = y* − softmax(y) (or y* − y);  c = k_i c_int + k_p e;             \
   *                      dc_int = (e − λ c_int)/τ_c;  dy += c/τ_out (the controller's part    \
   *                      of the closed-loop RHS, after the network wrote dy; dy and dc_int    \
   *                      nullable: c only)                                                    \
   * top_down_rows:       du_I[r, :] −= Σ_o (c[r, o]/τ_I) Q[r, o, :]  (f_l = c·Q_l)            \
   * slope_scale_rows:    out[s, o, j] = in[s·stride + o·n + j] · φ′(u[s, j]) (stride 0        \
   *                      broadcasts one O×n matrix; out may be in)                            \
   * feedback_normalize:  Q (B × M): the mean over B replaces every sample's (average), clip   \
   *                      to [−clip, clip] (clip > 0), then each sample scaled to Frobenius    \
   *                      norm @norm (> 0)                                                     \
   * feedback_weights_rows: slope_scale_rows then feedback_normalize without the average, one  \
   *                      sample at a time (the same values)                                   \
   * copy_rows:           y[r, :] = x[r, :]  (strided rows; the two blocks must not overlap,   \
   *                      disco_row_blocks_overlap())                                          \
   * leaky_rows:          dudt[r, :] = (−u[r, :] + (d[r, :] + b)) / τ, b optional (the linear  \
   *                      readout of MODEL.md §2, and a rate layer) */                         \
  X (leaky_pi_rows, cpu,                                                                       \
     (gboolean softmax, float k_p, float k_i, float leak, float tau, float readout_tau,        \
      gsize n_rows, gsize n_out, const float *y, const float *c_int, gsize ldy,                \
      const float *target, float *control, float *dy, float *dc_int, gsize ldf),               \
     (softmax, k_p, k_i, leak, tau, readout_tau, n_rows, n_out, y, c_int, ldy, target,         \
      control, dy, dc_int, ldf))                                                               \
  X (top_down_rows, cpu,                                                                       \
     (float tau_i, gsize n_rows, gsize n_out, gsize n, const float *control, const float *q,   \
      float *du_i, gsize ldf),                                                                 \
     (tau_i, n_rows, n_out, n, control, q, du_i, ldf))                                         \
  X (slope_scale_rows, cpu,                                                                    \
     (const DiscoSoftRectifier *rect, gsize n_samples, gsize n_out, gsize n, const float *u,   \
      gsize ldu, const float *in, gsize in_stride, float *out),                                \
     (rect, n_samples, n_out, n, u, ldu, in, in_stride, out))                                  \
  X (feedback_normalize, cpu,                                                                  \
     (gsize n_samples, gsize size, gboolean average, float clip, float norm, float *q),        \
     (n_samples, size, average, clip, norm, q))                                                \
  X (feedback_weights_rows, cpu,                                                               \
     (const DiscoSoftRectifier *rect, gsize n_samples, gsize n_out, gsize n, const float *u,   \
      gsize ldu, const float *in, gsize in_stride, float clip, float norm, float *out),        \
     (rect, n_samples, n_out, n, u, ldu, in, in_stride, clip, norm, out))                      \
  X (copy_rows, cpu,                                                                           \
     (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy),             \
     (n_rows, n_cols, x, ldx, y, ldy))                                                         \
  X (leaky_rows, cpu,                                                                          \
     (float tau, gsize n_rows, gsize n_cols, const float *u, gsize ldu, const float *drive,    \
      gsize ldd, const float *bias, float *dudt, gsize ldf),                                   \
     (tau, n_rows, n_cols, u, ldu, drive, ldd, bias, dudt, ldf))                               \
  /* Runge-Kutta algebra and row tests (MODEL.md §5: every sample is integrated on its own     \
   * clock); y0, y1, out, old and every k_s are R×C sharing the row stride ld; h, norm: R      \
   * values; k holds S pointers.                                                               \
   *                                                                                           \
   * rk_combine:              out[r, :] = y0[r, :] + h[r] · Σ_s coeffs[s] · k_s[r, :] (y0 may  \
   *                          be NULL, meaning zero: the embedded error estimate h·Σ e_s k_s); \
   *                          out must not be y0 (the CPU table's fast kernel, bit-identical)  \
   * rk_embedded_error_norm:  rk_combine with y0 = NULL and the weights e (the error           \
   *                          estimate, never stored) followed by disco_rk_error_norm_cpu()    \
   *                          of y0, y1, S = 7                                                 \
   * steady_state_rows:       at_rest[r] = RMS(f[r, :]) < atol + rtol · RMS(y[r, :]) (MODEL.md \
   *                          §5, Diffrax's SteadyStateEvent); f, y R×C with strides ldf, ldy; \
   *                          at_rest: R flags (0 or 1); each RMS is disco_rms_rows_cpu()'s,   \
   *                          so the test is bit-identical to it                               \
   * revert_rows:             out[r, :] = old[r, :] where keep[r] == 0 (rejected steps and     \
   *                          finished samples take back their state) */                       \
  X (rk_combine, fast_cpu,                                                                     \
     (gsize n_rows, gsize n_cols, gsize ld, const float *y0, const float *h, guint n_stages,   \
      const float *coeffs, const float *const *k, float *out),                                 \
     (n_rows, n_cols, ld, y0, h, n_stages, coeffs, k, out))                                    \
  X (rk_embedded_error_norm, cpu,                                                              \
     (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol, const float *y0,           \
      const float *y1, const float *h, guint n_stages, const float *e, const float *const *k,  \
      float *norm),                                                                            \
     (n_rows, n_cols, ld, atol, rtol, y0, y1, h, n_stages, e, k, norm))                        \
  X (steady_state_rows, fast_cpu,                                                              \
     (gsize n_rows, gsize n_cols, float atol, float rtol, const float *f, gsize ldf,           \
      const float *y, gsize ldy, gint *at_rest),                                               \
     (n_rows, n_cols, atol, rtol, f, ldf, y, ldy, at_rest))                                    \
  X (revert_rows, cpu,                                                                         \
     (gsize n_rows, gsize n_cols, gsize ld, const gint *keep, const float *old, float *out),   \
     (n_rows, n_cols, ld, keep, old, out))                                                     \
  /* Packed rows (the compacting solver; @rows in the table's memory)                          \
   *                                                                                           \
   * top_down_rows_indexed:  top_down_rows with sample r's Q at Q[rows[r]]                     \
   * gather_rows:            y[r, :] = x[rows[r], :] (a sample's first drive, targets or       \
   *                         feedback weights by its index; y must not overlap x) */           \
  X (top_down_rows_indexed, cpu,                                                               \
     (float tau_i, gsize n_rows, gsize n_out, gsize n, const guint *rows,                      \
      const float *control, const float *q, float *du_i, gsize ldf),                           \
     (tau_i, n_rows, n_out, n, rows, control, q, du_i, ldf))                                   \
  X (gather_rows, cpu,                                                                         \
     (gsize n_rows, gsize n_cols, const guint *rows, const float *x, gsize ldx, float *y,      \
      gsize ldy),                                                                              \
     (n_rows, n_cols, rows, x, ldx, y, ldy))                                                   \
  /* Plasticity (MODEL.md §6) and the optimizers' steps: the element-wise work the learning    \
   * nodes (nodes/learning/disco-plasticity.c, disco-adam.c, disco-sgd.c) compute through      \
   * the table.                                                                                \
   *                                                                                           \
   * plasticity_delta:  one microcircuit layer, R rows of state laid out u_E (n) | u_I (n)     \
   *                    with row stride ldu: rate[s, j] = φ_E(u_E[s, j]),                      \
   *                    delta[s, j] = (φ̂_I⁻¹[s, j] − rate[s, j]) · φ_E′(u_E[s, j]) with       \
   *                    φ̂_I⁻¹ = u_I (exact inverse, y0 = NULL) or the Taylor line of φ_I⁻¹    \
   *                    around y0[j] applied to φ_I(u_I[s, j]) (linear threshold);             \
   *                    rate: R×n, ldr; delta: R×n, ldd                                        \
   * threshold_update:  y0[j] ← (1 − λ)·y0[j] + λ·mean_s φ_I(u_I[s, j]), u_I: R×n with row     \
   *                    stride ldu; mean summed in double                                      \
   *                    (the CPU table runs both rules with vectorised φ and φ′,               \
   *                    within a few ulp of the references: the _fast_cpu kernels)             \
   * column_mean:       mean[j] = Σ_s x[s, j] / R, summed in double (g_b)                      \
   * sub_rows:          y[s, :] −= x[s, :]  (δ_out = W_out r_L − y), R×C                       \
   * sum_squares:       acc[0] += Σ_i x[i]², in double (one running sum over all gradients;   \
   *                    the CPU sums each call in eight interleaved parts, CUDA in a tree);    \
   *                    @acc is one double in the table's memory                               \
   * norm_finish:       norm[0] = √acc[0], then acc[0] = 0 for the next sum; @acc and @norm    \
   *                    in the table's memory                                                  \
   * adam_update:       Adam (MODEL.md §5; Kingma & Ba 2015, as optax.adam computes it):       \
   *                    m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;                        \
   *                    p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε); p, g, m, v: n   \
   *                    values each; t = step ≥ 1; the scalars are derived in double and       \
   *                    rounded once (1 − 0.999f in float is 1.3e−5 off relative)              \
   * sgd_update:        momentum SGD, PyTorch's convention with dampening 0: b ← g at step 1,  \
   *                    else μ·b + g;  p ← p − lr·b (lr and μ rounded to float once)           \
   * softmax_rows:      y[r, :] = softmax(x[r, :]) (MODEL.md §3 error); y may be x (the        \
   *                    backprop rule's δ_out = softmax(y) − t) */                             \
  X (plasticity_delta, fast_cpu,                                                               \
     (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, gsize n_rows,          \
      gsize n, const float *u, gsize ldu, const float *y0, float *rate, gsize ldr,             \
      float *delta, gsize ldd),                                                                \
     (phi_e, phi_i, n_rows, n, u, ldu, y0, rate, ldr, delta, ldd))                             \
  X (threshold_update, fast_cpu,                                                               \
     (const DiscoSoftRectifier *phi_i, float lambda, gsize n_rows, gsize n,                    \
      const float *u_i, gsize ldu, float *y0),                                                 \
     (phi_i, lambda, n_rows, n, u_i, ldu, y0))                                                 \
  X (column_mean, cpu,                                                                         \
     (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *mean),                     \
     (n_rows, n_cols, x, ldx, mean))                                                           \
  X (sub_rows, cpu,                                                                            \
     (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy),             \
     (n_rows, n_cols, x, ldx, y, ldy))                                                         \
  X (sum_squares, cpu,                                                                         \
     (gsize n, const float *x, double *acc),                                                   \
     (n, x, acc))                                                                              \
  X (norm_finish, cpu,                                                                         \
     (double *acc, float *norm),                                                               \
     (acc, norm))                                                                              \
  X (adam_update, cpu,                                                                         \
     (gsize n, double learning_rate, double beta1, double beta2, double epsilon,               \
      guint64 step, float *p, const float *g, float *m, float *v),                             \
     (n, learning_rate, beta1, beta2, epsilon, step, p, g, m, v))                              \
  X (sgd_update, cpu,                                                                          \
     (gsize n, double learning_rate, double momentum, guint64 step, float *p,                  \
      const float *g, float *velocity),                                                        \
     (n, learning_rate, momentum, step, p, g, velocity))                                       \
  X (softmax_rows, cpu,                                                                        \
     (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy),             \
     (n_rows, n_cols, x, ldx, y, ldy))

/* ---------------------------------------------------------------------------
 * Declared in disco-ode-clock.h and disco-ode-lockstep.h: per-sample clocks
 *
 *   ode_clock_advance:        disco_ode_clock_advance() for each of B clocks; keep[s] = 1
 *                             when the step is kept
 *   ode_lockstep_step_sizes:  h[s] = disco_ode_lockstep_step_size()
 *   ode_lockstep_advance:     keep[s] = disco_ode_lockstep_advance()
 *   ode_lockstep_stop:        disco_ode_lockstep_stop() for every sample, and the count of
 *                             samples still running, *n_running, which the host polls
 *
 *   per-sample arrays (clocks, running, status, keep, at_rest, h, error_norm) and
 *   @n_running in the table's memory; @params and @limits on the host.
 * ------------------------------------------------------------------------- */

#define DISCO_OPS_LIST_ODE_CLOCK(X)                                                            \
  X (ode_clock_advance, cpu,                                                                   \
     (const DiscoOdeClockParams *params, gsize n_samples, DiscoOdeClock *clocks,               \
      const float *error_norm, gint *keep),                                                    \
     (params, n_samples, clocks, error_norm, keep))

#define DISCO_OPS_LIST_ODE_LOCKSTEP(X)                                                         \
  X (ode_lockstep_step_sizes, cpu,                                                             \
     (gsize n_samples, const DiscoOdeClock *clocks, const gint *running, float *h),            \
     (n_samples, clocks, running, h))                                                          \
  X (ode_lockstep_advance, cpu,                                                                \
     (const DiscoOdeClockParams *params, gsize n_samples, DiscoOdeClock *clocks,               \
      const gint *running, const float *error_norm, gint *keep),                               \
     (params, n_samples, clocks, running, error_norm, keep))                                   \
  X (ode_lockstep_stop, cpu,                                                                   \
     (const DiscoOdeLockstepLimits *limits, gsize n_samples, const DiscoOdeClock *clocks,      \
      const gint *at_rest, gint *running, gint *status, gint *n_running),                      \
     (limits, n_samples, clocks, at_rest, running, status, n_running))

/* ---------------------------------------------------------------------------
 * Declared in disco-kernels-equilibrium.h: the fixed-point solver
 * (model/disco-equilibrium.c, MODEL.md §2–§5); the parameter structs stay
 * on the host, everything else is in the table's memory.
 * ------------------------------------------------------------------------- */

#define DISCO_OPS_LIST_EQUILIBRIUM(X)                                                          \
  /* One pass through the network for the A rows (MODEL.md §2–§3)                              \
   *                                                                                           \
   * gather:              y[r, :] = x[source[r], :]  (source NULL: row r; ldx 0 broadcasts one \
   *                      row, e.g. a bias)                                                    \
   * microcircuit_units:  first the row's top-down input f = Σ_o c[rows[r], o] ·               \
   *                      Q[rows[r], o, :] (f_l = c·Q_l; c in double, rounded to float;        \
   *                      summed over o in order from 0; 0 without c or Q), written to         \
   *                      @top_down; then every unit of a row solves u_E + φ_I(φ_E(u_E) − f)   \
   *                      = d, d the row's drive (row drive_rows[r] of @drive when given,      \
   *                      e.g. the first layer's B × n drive), by scalar Newton sweeps from    \
   *                      @cold's start (#DiscoEquilibriumColdStart in host memory, its        \
   *                      values in the table's) or, @cold NULL, from its state, clipped to    \
   *                      ≤ d, until a sweep's steps are all below 1e−4·(1 + |u|); writes      \
   *                      u_E | u_I of the sample's                                            \
   *                      state, the rates, ∂r/∂d and φ_I′ (A × n each), adds the sweeps to    \
   *                      iterations[r]; after 50 sweeps the row gets ITERATION_LIMIT and      \
   *                      zeros.  @first: the pass's first layer, which resets                 \
   *                      iterations[r] = 0 and status[r] = CONVERGED                          \
   * rate_units:          u = d, r = φ(u), ∂r/∂d = φ′(u); NOT_FINITE on a non-finite u         \
   *                      (@first as above)                                                    \
   * readout:             y = d + c (c NULL: + 0); NOT_FINITE on a non-finite y (@first as     \
   *                      above) */                                                            \
  X (equilibrium_gather, cpu,                                                                  \
     (gsize n_rows, gsize n_cols, const guint *source, const float *x, gsize ldx, float *y,    \
      gsize ldy),                                                                              \
     (n_rows, n_cols, source, x, ldx, y, ldy))                                                 \
  X (equilibrium_microcircuit_units, cpu,                                                      \
     (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, gsize n_rows,          \
      gsize n, const guint *rows, float *state, gsize ld, const float *drive,                  \
      const guint *drive_rows, gsize n_out, const double *control, const float *q,             \
      float *top_down, const DiscoEquilibriumColdStart *cold, gboolean first, float *rate,     \
      float *slope, float *inhibitory_slope, guint *iterations, gint *status),                 \
     (phi_e, phi_i, n_rows, n, rows, state, ld, drive, drive_rows, n_out, control, q,          \
      top_down, cold, first, rate, slope, inhibitory_slope, iterations, status))               \
  X (equilibrium_rate_units, cpu,                                                              \
     (const DiscoSoftRectifier *phi, gsize n_rows, gsize n, const guint *rows, float *state,   \
      gsize ld, const float *drive, gboolean first, float *rate, float *slope,                 \
      guint *iterations, gint *status),                                                        \
     (phi, n_rows, n, rows, state, ld, drive, first, rate, slope, iterations, status))         \
  X (equilibrium_readout, cpu,                                                                 \
     (gsize n_rows, gsize n_out, const guint *rows, float *state, gsize ld,                    \
      const float *drive, const double *control, gboolean first, guint *iterations,            \
      gint *status),                                                                           \
     (n_rows, n_out, rows, state, ld, drive, control, first, iterations, status))              \
  /* The Jacobian ∂y/∂c (A × O × O) in reverse mode, G_l = ∂y/∂d_l (O × n_l)                   \
   *                                                                                           \
   * scale_rows:         out[r, o, j] = in[r·in_stride + o·n + j] · s[r, j] (in_stride 0: one  \
   *                     O × n matrix for every row; out may be in)                            \
   * feedback_products:  dydc[r] += (G_r ⊙ factor_r) Q_{rows[r]}ᵀ, with factor = φ_I′ · s (s   \
   *                     given) or φ_I′ (s NULL), G_r = g + r·g_stride (O × n; g_stride 0      \
   *                     shares one) */                                                        \
  X (equilibrium_scale_rows, cpu,                                                              \
     (gsize n_rows, gsize n_out, gsize n, const float *in, gsize in_stride, const float *s,    \
      float *out),                                                                             \
     (n_rows, n_out, n, in, in_stride, s, out))                                                \
  X (equilibrium_feedback_products, cpu,                                                       \
     (gsize n_rows, gsize n_out, gsize n, const guint *rows, const float *g, gsize g_stride,   \
      const float *slope, const float *inhibitory_slope, const float *q, float *dydc),         \
     (n_rows, n_out, n, rows, g, g_stride, slope, inhibitory_slope, q, dydc))                  \
  /* The closed loop's Newton iteration in c, per row (sample s = rows[r])                     \
   *                                                                                           \
   * residual:  unless the row's units failed (status[s] = their status): e = y* − softmax(y)  \
   *            (or y* − y), F = c − K e (B × O, double); converged (max|F| ≤                  \
   *            tol·max(1, max|c|)): c_int = e/λ into the state (just after y); else           \
   *            ITERATION_LIMIT, NOT_FALLING (max|F| did not fall after a fresh matrix) or     \
   *            NOT_FINITE; a row that goes on gets keep[r] = 1, or 2 when its next update     \
   *            needs a fresh Newton matrix; 0 otherwise.  evaluations += @passed.  @work:     \
   *            2·O doubles per row                                                            \
   * newton:    M = K·H·∂y/∂c (H = diag(p) − p pᵀ, or I), fresh from @dydc or the sample's     \
   *            saved one; a fresh M's spectral norm (power iteration on MᵀM) fails the        \
   *            sample at or above the limit; then (I + M) Δ = F in double by partial          \
   *            pivoting, c −= Δ, iterations += 1, keep[r] = 1 (0 on failure).  @work:         \
   *            DISCO_EQUILIBRIUM_WORK(O) doubles per row */                                   \
  X (equilibrium_residual, cpu,                                                                \
     (const DiscoEquilibriumParams *params, gsize n_rows, gsize n_out, const guint *rows,      \
      const gint *unit_status, gboolean passed, float *y, gsize ld, const float *target,       \
      const double *control, double *residual, DiscoEquilibriumSample *samples, double *work,  \
      gint *keep),                                                                             \
     (params, n_rows, n_out, rows, unit_status, passed, y, ld, target, control, residual,      \
      samples, work, keep))                                                                    \
  X (equilibrium_newton, cpu,                                                                  \
     (const DiscoEquilibriumParams *params, gsize n_rows, gsize n_out, const guint *rows,      \
      gboolean fresh, const float *dydc, const float *y, gsize ld, const float *target,        \
      const double *residual, double *control, double *newton_matrix,                          \
      DiscoEquilibriumSample *samples, double *work, gint *keep),                              \
     (params, n_rows, n_out, rows, fresh, dydc, y, ld, target, residual, control,              \
      newton_matrix, samples, work, keep))

/* ---------------------------------------------------------------------------
 * The whole table, in its order
 * ------------------------------------------------------------------------- */

#define DISCO_OPS_LIST(X)           \
  DISCO_OPS_LIST_KERNELS (X)        \
  DISCO_OPS_LIST_ODE_CLOCK (X)      \
  DISCO_OPS_LIST_ODE_LOCKSTEP (X)   \
  DISCO_OPS_LIST_EQUILIBRIUM (X)

/* clang-format on */
