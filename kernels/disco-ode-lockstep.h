/* disco-ode-lockstep.h: per-sample bookkeeping of the lockstep solver, for
 * host and device.
 *
 * SECTION:disco-ode-lockstep
 * @title: Lockstep bookkeeping
 * @short_description: step sizes, masked clock updates and stop tests of a
 *   batch whose samples stay in place, one source for the CPU and for CUDA
 *
 * The lockstep solver (disco-ode-batched.h) keeps every sample of a batch in
 * its row for the whole solve.  A finished sample is not moved out (that
 * would need the host to know who finished after every step); it is masked:
 * it takes steps of size 0, its clock stands still and its state is
 * reverted after every step.  The three per-sample decisions of a step live
 * here as inline functions, compiled for the CPU (disco-ode-lockstep.c) and
 * for CUDA (disco-kernels-cuda.cu) from these very lines.  The PID update
 * itself is disco_ode_clock_advance() (disco-ode-clock.h), called, not
 * copied.
 *
 * Shape legend: B samples, one clock, one running flag and one status each.
 */

#pragma once

#include <glib.h>

#include "disco-ode.h"
#include "disco-ops-list.h"
#include "disco-ode-clock.h"

G_BEGIN_DECLS

/**
 * DiscoOdeLockstepLimits:
 * @t1: end time (s)
 * @max_steps: steps (accepted + rejected) allowed per sample
 * @steady_state_stop: stop a sample at rest
 *
 * The stop conditions of a solve, from its #DiscoOdeConfig.
 */
typedef struct
{
  double t1;
  guint max_steps;
  gint steady_state_stop;
} DiscoOdeLockstepLimits;

/**
 * disco_ode_lockstep_step_size:
 * @clock: a sample's clock
 * @running: whether the sample still runs
 *
 * The step the sample takes now: its planned step, rounded to float as
 * disco-ode.c rounds it, or 0 for a finished sample, whose stage inputs
 * then equal its state (no overflow can come from a sample that stopped).
 *
 * Returns: h (s)
 */
DISCO_ODE_CLOCK_FUNC float
disco_ode_lockstep_step_size (const DiscoOdeClock *clock, gint running)
{
  return running ? (float) (clock->t_next - clock->t) : 0.0f;
}

/**
 * disco_ode_lockstep_advance:
 * @p: the controller settings
 * @clock: the sample's clock
 * @running: whether the sample still runs
 * @error_norm: the scaled error norm of its step
 *
 * disco_ode_clock_advance() for a running sample; a finished one keeps its
 * clock and counts as rejected, so that its state is reverted.
 *
 * Returns: 1 when the step is kept, 0 otherwise
 */
DISCO_ODE_CLOCK_FUNC gint
disco_ode_lockstep_advance (const DiscoOdeClockParams *p, DiscoOdeClock *clock, gint running,
                            float error_norm)
{
  if (!running)
    return 0;
  return disco_ode_clock_advance (p, clock, error_norm) ? 1 : 0;
}

/**
 * disco_ode_lockstep_stop:
 * @limits: the stop conditions
 * @clock: the sample's clock, after its step
 * @at_rest: whether RMS(f(y)) < atol + rtol·RMS(y) at its current state
 *   (ignored unless @limits->steady_state_stop)
 * @running: (inout): whether the sample runs; cleared when it stops
 * @status: (inout): a #DiscoOdeStatus, set when it stops
 *
 * The end-of-step tests of disco_ode_solver_solve(), in its order: at rest
 * (only after a first step, as Diffrax checks after each step), then t1
 * reached, then max_steps used.
 */
DISCO_ODE_CLOCK_FUNC void
disco_ode_lockstep_stop (const DiscoOdeLockstepLimits *limits, const DiscoOdeClock *clock,
                         gint at_rest, gint *running, gint *status)
{
  const guint steps = clock->n_accepted + clock->n_rejected;

  if (!*running)
    return;
  if (limits->steady_state_stop && steps > 0 && at_rest)
    *status = DISCO_ODE_STATUS_STEADY_STATE;
  else if (clock->t >= limits->t1)
    *status = DISCO_ODE_STATUS_REACHED_END;
  else if (steps >= limits->max_steps)
    *status = DISCO_ODE_STATUS_MAX_STEPS;
  else
    return;
  *running = 0;
}

/* The CPU kernels over B samples (disco-ops-list.h documents each). */
DISCO_OPS_LIST_ODE_LOCKSTEP (DISCO_OPS_CPU_PROTOTYPE)

G_END_DECLS
