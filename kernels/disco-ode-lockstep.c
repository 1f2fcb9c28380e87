/* disco-ode-lockstep.c: CPU reference of the lockstep solver's per-sample
 * bookkeeping (disco-ode-lockstep.h), the twin of its CUDA kernels.
 *
 * Shape legend: B samples; clocks, running flags and statuses are B long.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ode-lockstep.h"

/**
 * disco_ode_lockstep_step_sizes_cpu:
 * @n_samples: B
 * @clocks: (array length=n_samples): the clocks
 * @running: (array length=n_samples): 1 for each sample still running
 * @h: (array length=n_samples) (out): each sample's step now, 0 when it
 *   has finished
 *
 * disco_ode_lockstep_step_size() for every sample.
 */
void
disco_ode_lockstep_step_sizes_cpu (gsize n_samples, const DiscoOdeClock *clocks,
                                   const gint *running, float *h)
{
  g_return_if_fail (n_samples == 0 || (clocks != NULL && running != NULL && h != NULL));

  for (gsize i = 0; i < n_samples; i++)
    h[i] = disco_ode_lockstep_step_size (&clocks[i], running[i]);
}

/**
 * disco_ode_lockstep_advance_cpu:
 * @params: the controller settings
 * @n_samples: B
 * @clocks: (array length=n_samples): the clocks, advanced where running
 * @running: (array length=n_samples): 1 for each sample still running
 * @error_norm: (array length=n_samples) (nullable): each step's scaled
 *   error norm; %NULL for constant steps
 * @keep: (array length=n_samples) (out): 1 where the step is kept, 0 where
 *   it is rejected or the sample has finished
 *
 * disco_ode_lockstep_advance() for every sample.
 */
void
disco_ode_lockstep_advance_cpu (const DiscoOdeClockParams *params, gsize n_samples,
                                DiscoOdeClock *clocks, const gint *running, const float *error_norm,
                                gint *keep)
{
  g_return_if_fail (params != NULL);
  g_return_if_fail (n_samples == 0 || (clocks != NULL && running != NULL && keep != NULL));

  for (gsize i = 0; i < n_samples; i++)
    keep[i] = disco_ode_lockstep_advance (params, &clocks[i], running[i],
                                          error_norm != NULL ? error_norm[i] : 0.0f);
}

/**
 * disco_ode_lockstep_stop_cpu:
 * @limits: the stop conditions
 * @n_samples: B
 * @clocks: (array length=n_samples): the clocks after the step
 * @at_rest: (array length=n_samples) (nullable): the steady-state test of
 *   each sample's current state; %NULL when @limits does not stop at rest
 * @running: (array length=n_samples) (inout): cleared where a sample stops
 * @status: (array length=n_samples) (inout): a #DiscoOdeStatus, set where
 *   a sample stops
 * @n_running: (out): the samples still running afterwards
 *
 * disco_ode_lockstep_stop() for every sample, and the count the host polls.
 */
void
disco_ode_lockstep_stop_cpu (const DiscoOdeLockstepLimits *limits, gsize n_samples,
                             const DiscoOdeClock *clocks, const gint *at_rest, gint *running,
                             gint *status, gint *n_running)
{
  gint count = 0;

  g_return_if_fail (limits != NULL && n_running != NULL);
  g_return_if_fail (!limits->steady_state_stop || n_samples == 0 || at_rest != NULL);
  g_return_if_fail (n_samples == 0 || (clocks != NULL && running != NULL && status != NULL));

  for (gsize i = 0; i < n_samples; i++)
    {
      disco_ode_lockstep_stop (limits, &clocks[i], at_rest != NULL ? at_rest[i] : 0, &running[i],
                               &status[i]);
      count += running[i] != 0;
    }
  *n_running = count;
}
