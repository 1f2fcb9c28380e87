/* disco-ode-clock.h: one sample's step-size controller, for host and device.
 *
 * SECTION:disco-ode-clock
 * @title: ODE clocks
 * @short_description: the per-sample PID step-size update of the batched
 *   solver, one source compiled for the CPU and for CUDA
 *
 * Each sample of a batched solve carries its own clock (MODEL.md §5).  The
 * update after a step, Diffrax 0.4.1's PIDController.adapt_step_size followed
 * by the end-of-interval bookkeeping of its integrate loop, lives here as a
 * static inline function so that disco-ode.c and the CUDA kernels compile
 * the very same lines: the GPU's step decisions cannot drift from the CPU
 * reference when one of them is edited.  Under nvcc the function is
 * __host__ __device__; in C it is a plain inline function.
 *
 * Shape legend: B clocks, one per sample (structure of arrays is not worth
 * it here: one clock is 48 bytes, touched once per step).
 */

#pragma once

#include <math.h>
#include <glib.h>

#include "disco-ode.h"
#include "disco-ops-list.h"

G_BEGIN_DECLS

#ifdef __CUDACC__
#define DISCO_ODE_CLOCK_FUNC __host__ __device__ static inline
#else
#define DISCO_ODE_CLOCK_FUNC static inline
#endif

/* A step that would end less than this before t1 is stretched onto t1
 * (Diffrax's _clip_to_end, with its tolerance for the float32 time the
 * reference runs with), so no sliver of a step is left at the end. */
#define DISCO_ODE_END_TOLERANCE 1e-6

/**
 * DiscoOdeClock:
 * @t: start of the next step (Diffrax's tprev), in s
 * @t_next: its planned end (Diffrax's tnext), in s
 * @inv_error_prev: 1/ε of the last accepted step (1 at the start)
 * @inv_error_prev_prev: 1/ε of the one before
 * @n_accepted: accepted steps so far
 * @n_rejected: rejected steps so far
 * @at_dtmin: the next step is forced through whatever its error
 *   (Diffrax's force_dtmin)
 *
 * Everything one sample's step-size controller carries from step to step.
 */
typedef struct
{
  double t;
  double t_next;
  double inv_error_prev;
  double inv_error_prev_prev;
  guint n_accepted;
  guint n_rejected;
  gint at_dtmin;
  gint padding;
} DiscoOdeClock;

/**
 * DiscoOdeClockParams:
 * @controller: how the step size evolves
 * @t1: end time (s)
 * @dt0: every step of a constant-step solve (s)
 * @dtmin: smallest step (s)
 * @dtmax: largest step (s)
 * @coeff1: (icoeff + pcoeff + dcoeff) / order, the exponent of the newest error
 * @coeff2: −(pcoeff + 2·dcoeff) / order
 * @coeff3: dcoeff / order
 * @factormin: smallest factor after a rejected step
 * @factormax: largest factor
 * @safety: safety factor
 *
 * The controller settings a clock update reads, derived from a
 * #DiscoOdeConfig and the method's error order by
 * disco_ode_clock_params_init().
 */
typedef struct
{
  DiscoOdeController controller;
  double t1;
  double dt0;
  double dtmin;
  double dtmax;
  double coeff1;
  double coeff2;
  double coeff3;
  double factormin;
  double factormax;
  double safety;
} DiscoOdeClockParams;

/**
 * disco_ode_clock_params_init:
 * @params: (out caller-allocates): the parameters to fill in
 * @config: a valid solver configuration
 * @error_order: the order the error estimate is raised to (5 for Tsit5)
 *
 * Precomputes the PID exponents of Diffrax's choice (4),
 * δ_{n,n}^β1 · δ_{n−1,n−1}^β2 · δ_{n−2,n−2}^β3.
 */
static inline void
disco_ode_clock_params_init (DiscoOdeClockParams *params, const DiscoOdeConfig *config,
                             double error_order)
{
  params->controller = config->controller;
  params->t1 = config->t1;
  params->dt0 = config->dt0;
  params->dtmin = config->dtmin;
  params->dtmax = config->dtmax;
  /* Methods without an error estimate (order 0) only run constant steps,
   * which never read the exponents. */
  if (error_order > 0.0)
    {
      params->coeff1 = (config->icoeff + config->pcoeff + config->dcoeff) / error_order;
      params->coeff2 = -(config->pcoeff + 2.0 * config->dcoeff) / error_order;
      params->coeff3 = config->dcoeff / error_order;
    }
  else
    params->coeff1 = params->coeff2 = params->coeff3 = 0.0;
  params->factormin = config->factormin;
  params->factormax = config->factormax;
  params->safety = config->safety;
}

/**
 * disco_ode_clock_advance:
 * @p: the controller settings
 * @clock: the sample's clock, moved past its step
 * @error_norm: the scaled error norm of the step just taken (ignored for
 *   constant steps); < 1 meets the tolerance, +inf marks a failed step
 *
 * Moves one sample past its step: PID control as in Diffrax 0.4.1's
 * PIDController.adapt_step_size, then the end-of-interval bookkeeping of its
 * integrate loop (clip to t1, count the step).
 *
 * Returns: whether the step is kept
 */
DISCO_ODE_CLOCK_FUNC gboolean
disco_ode_clock_advance (const DiscoOdeClockParams *p, DiscoOdeClock *clock, float error_norm)
{
  const double t1 = p->t1;
  /* The step just taken, which is not the controller's last choice when it
   * was clipped onto t1. */
  const double prev_dt = clock->t_next - clock->t;
  double next_t0, next_t1;
  gboolean keep;

  if (p->controller == DISCO_ODE_CONTROLLER_CONSTANT)
    {
      keep = TRUE;
      next_t0 = clock->t_next;
      next_t1 = next_t0 + p->dt0;
    }
  else
    {
      /* 1/0 = inf for a perfect step: the factor then saturates at
       * factormax, which is the intent. */
      double inv_error = 1.0 / (double) error_norm;
      double factor, factor_min, dt;

      keep = error_norm < 1.0f || clock->at_dtmin;

      /* Diffrax's choice (4), the safety factor outside the exponents. */
      factor = p->safety * pow (inv_error, p->coeff1) * pow (clock->inv_error_prev, p->coeff2)
               * pow (clock->inv_error_prev_prev, p->coeff3);

      /* The one difference between the two PID variants: Diffrax never
       * shrinks the step after an accepted one. */
      if (keep && p->controller == DISCO_ODE_CONTROLLER_DIFFRAX)
        factor_min = 1.0;
      else
        factor_min = p->factormin;
      factor = MIN (MAX (factor, factor_min), p->factormax);

      dt = prev_dt * factor;

      /* An infinite error (a failed step) or a zero one must not steer the
       * next two steps through the P and D terms. */
      if (inv_error == 0.0 || isinf (inv_error))
        inv_error = 1.0;

      dt = MIN (dt, p->dtmax);
      clock->at_dtmin = dt <= p->dtmin;
      dt = MAX (dt, p->dtmin);

      next_t0 = keep ? clock->t_next : clock->t;
      next_t1 = next_t0 + dt;

      if (keep)
        {
          clock->inv_error_prev_prev = clock->inv_error_prev;
          clock->inv_error_prev = inv_error;
        }
    }

  clock->t = MIN (next_t0, t1);
  if (next_t1 > t1 - DISCO_ODE_END_TOLERANCE)
    next_t1 = keep ? t1 : clock->t + 0.5 * (t1 - clock->t);
  clock->t_next = next_t1;

  if (keep)
    clock->n_accepted++;
  else
    clock->n_rejected++;

  return keep;
}

/* The CPU kernels over B samples (disco-ops-list.h documents each). */
DISCO_OPS_LIST_ODE_CLOCK (DISCO_OPS_CPU_PROTOTYPE)

G_END_DECLS
