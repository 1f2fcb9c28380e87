/* disco-ode.h: batched ODE solver, one clock per sample.
 *
 * SECTION:disco-ode
 * @title: ODE solver
 * @short_description: Tsit5 with Diffrax's PID control, Euler and RK4, over a
 *   batch whose finished samples drop out
 *
 * Solves dy/dt = f(t, y) for B samples at once (MODEL.md §5).  Each sample
 * has its own time, step size, controller history and step counters, exactly
 * as the reference's vmap over diffrax.diffeqsolve; samples never influence
 * each other's steps.  The right-hand side is evaluated on a COMPACT batch:
 * only the samples still running, packed into consecutive rows, so the
 * callback's matrix products stay batched and finished samples cost nothing.
 *
 * The states and stages live in the memory of an operations table
 * (disco-ops.h; the host table for disco_ode_solver_new()) and are combined
 * by its operations; the host keeps the clocks and decides, from two small
 * downloads per step, which samples step, stop and leave the batch.  This
 * is the CPU's solver; disco-ode-batched.h is the same solve in lockstep,
 * for a device that should not wait for the host.
 *
 * Shape legend:
 *   B = samples (rows of the caller's y), N = state length of one sample,
 *   A = samples still running (A ≤ B), packed rows of length N (stride N).
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DiscoOps DiscoOps;

#include "disco-kernels.h" /* DISCO_KERNELS_ERROR */

/**
 * DiscoOdeMethod:
 * @DISCO_ODE_METHOD_TSIT5: Tsitouras' 5(4) pair, 7 stages, first-same-as-last
 *   (6 evaluations per step), embedded error estimate; the model's solver
 * @DISCO_ODE_METHOD_EULER: forward Euler, 1 evaluation per step, no error
 *   estimate (MODEL.md §7 Figure 3 uses it)
 * @DISCO_ODE_METHOD_RK4: classic 4th-order Runge-Kutta, 4 evaluations per
 *   step, no error estimate
 *
 * The explicit Runge-Kutta method.
 */
typedef enum
{
  DISCO_ODE_METHOD_TSIT5,
  DISCO_ODE_METHOD_EULER,
  DISCO_ODE_METHOD_RK4,
} DiscoOdeMethod;

/**
 * DiscoOdeController:
 * @DISCO_ODE_CONTROLLER_DIFFRAX: Diffrax 0.4.1's PIDController: an accepted
 *   step never shrinks the next one (the factor is clipped to ≥ 1), only a
 *   rejected step shrinks (down to factormin)
 * @DISCO_ODE_CONTROLLER_TEXTBOOK: the same PID formula, but an accepted step
 *   may shrink the next one too (factor clipped to [factormin, factormax])
 * @DISCO_ODE_CONTROLLER_CONSTANT: fixed steps of dt0 (the last one clipped to
 *   t1); needs no error estimate, so it is the one controller for Euler and
 *   RK4
 *
 * How the step size evolves.
 */
typedef enum
{
  DISCO_ODE_CONTROLLER_DIFFRAX,
  DISCO_ODE_CONTROLLER_TEXTBOOK,
  DISCO_ODE_CONTROLLER_CONSTANT,
} DiscoOdeController;

/**
 * DiscoOdeStatus:
 * @DISCO_ODE_STATUS_REACHED_END: the sample was integrated up to t1
 * @DISCO_ODE_STATUS_STEADY_STATE: the sample came to rest before t1
 * @DISCO_ODE_STATUS_MAX_STEPS: the sample used max_steps steps (accepted and
 *   rejected together, as Diffrax counts) before reaching t1 or rest
 *
 * Why a sample stopped.
 */
typedef enum
{
  DISCO_ODE_STATUS_REACHED_END,
  DISCO_ODE_STATUS_STEADY_STATE,
  DISCO_ODE_STATUS_MAX_STEPS,
} DiscoOdeStatus;

/**
 * DiscoOdeConfig:
 * @method: the Runge-Kutta method
 * @controller: how the step size evolves
 * @t0: start time (s), shared by all samples
 * @t1: end time T (s), > @t0
 * @dt0: first step (adaptive) or every step (constant), in s, > 0
 * @dtmin: smallest step the PID controller may choose (s), > 0; a step made
 *   at dtmin is accepted whatever its error (Diffrax's force_dtmin)
 * @dtmax: largest step the PID controller may choose (s), ≥ @dtmin
 * @rtol: relative tolerance, > 0
 * @atol: absolute tolerance, ≥ 0
 * @pcoeff: proportional coefficient of the PID controller, ≥ 0
 * @icoeff: integral coefficient, ≥ 0
 * @dcoeff: derivative coefficient, ≥ 0
 * @factormin: smallest step-size factor after a rejected step, in (0, 1]
 * @factormax: largest step-size factor, ≥ 1
 * @safety: safety factor of the PID controller, in (0, 1]
 * @max_steps: steps (accepted + rejected) allowed per sample, > 0
 * @steady_state_stop: stop a sample once RMS(f(y)) < atol + rtol·RMS(y),
 *   one RMS over the sample's whole state (Diffrax's SteadyStateEvent with
 *   the controller's tolerances); %FALSE integrates every sample to @t1
 *
 * Everything a solve needs to know besides the problem.
 * disco_ode_config_init() fills in the model's settings (MODEL.md §5).
 */
typedef struct
{
  DiscoOdeMethod method;
  DiscoOdeController controller;
  double t0;
  double t1;
  double dt0;
  double dtmin;
  double dtmax;
  double rtol;
  double atol;
  double pcoeff;
  double icoeff;
  double dcoeff;
  double factormin;
  double factormax;
  double safety;
  guint max_steps;
  gboolean steady_state_stop;
} DiscoOdeConfig;

/**
 * DiscoOdeSampleStats:
 * @n_accepted: accepted steps
 * @n_rejected: rejected steps
 * @n_rhs_evals: right-hand side evaluations that included this sample
 * @t_final: the time the sample stopped at (s)
 * @status: why it stopped
 *
 * What one sample's solve did.
 */
typedef struct
{
  guint n_accepted;
  guint n_rejected;
  guint n_rhs_evals;
  double t_final;
  DiscoOdeStatus status;
} DiscoOdeSampleStats;

/**
 * DiscoOdeRhsFunc:
 * @user_data: the pointer given to the solve
 * @n_active: A, the number of samples in this evaluation (≥ 1)
 * @rows: (array length=n_active): for each packed row, the index of its
 *   sample in the caller's batch (0 … B−1), strictly increasing
 * @t: (array length=n_active): the time of each packed row (s)
 * @y: (array): the states, A×N, packed with row stride N, in the memory of
 *   the solver's table
 * @dydt: (array): where to write f(t, y), A×N, packed with row stride N,
 *   in the table's memory; every entry must be written
 * @error: return location for a #GError
 *
 * The right-hand side f(t, y) of the ODE, on the samples still running.
 * Use @rows to pick each sample's own constant inputs (its image, its
 * target, its feedback weights).  Within one solve the active set only
 * shrinks, so @rows is the same as in the previous call whenever @n_active
 * is.  The solver never reads @dydt before the call, and @y is not
 * modified by it.
 *
 * Returns: %TRUE on success; %FALSE with @error set aborts the solve
 */
typedef gboolean (*DiscoOdeRhsFunc) (gpointer user_data, gsize n_active, const guint *rows,
                                     const double *t, const float *y, float *dydt, GError **error);

/**
 * DiscoOdeSolver:
 *
 * An opaque solver that keeps its workspace between solves, growing it when
 * a larger batch or state comes along.  Not thread-safe: one solve at a
 * time per solver.
 */
typedef struct _DiscoOdeSolver DiscoOdeSolver;

void disco_ode_config_init (DiscoOdeConfig *config);

gboolean disco_ode_config_validate (const DiscoOdeConfig *config, GError **error);

DiscoOdeSolver *disco_ode_solver_new (void);

DiscoOdeSolver *disco_ode_solver_new_on (const DiscoOps *ops);

void disco_ode_solver_free (DiscoOdeSolver *solver);

gboolean disco_ode_solver_solve (DiscoOdeSolver *solver, const DiscoOdeConfig *config,
                                 gsize n_samples, gsize n_state, float *y, DiscoOdeRhsFunc rhs,
                                 gpointer user_data, DiscoOdeSampleStats *stats, GError **error);

gboolean disco_ode_solve (const DiscoOdeConfig *config, gsize n_samples, gsize n_state, float *y,
                          DiscoOdeRhsFunc rhs, gpointer user_data, DiscoOdeSampleStats *stats,
                          GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoOdeSolver, disco_ode_solver_free)

G_END_DECLS
