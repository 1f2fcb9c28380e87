/* disco-ode-batched.h: the batched Runge-Kutta solve (Tsit5, RK4, Euler)
 * written once against an operations table, every sample on its own clock,
 * in lockstep.
 *
 * SECTION:disco-ode-batched
 * @title: Lockstep ODE solver
 * @short_description: Tsit5 with Diffrax's PID control (or RK4 and Euler
 *   with constant steps) over a batch that stays in one memory space (host
 *   or device), polled every few steps
 *
 * The solve of disco_ode_solver_solve() (MODEL.md §5) with everything kept
 * in the memory of a #DiscoOps table: states, stages, each sample's clock,
 * its running flag and its status.  Every step is a fixed sequence of the
 * table's operations over all B rows: step sizes from the clocks, six
 * right-hand sides, the embedded error norm, the masked PID update
 * (accept or reject, per sample, where the data is), the revert of
 * rejected and finished rows, the steady-state test and the stop tests.
 * The host learns nothing in between; every @sync_interval steps it
 * downloads one integer, the number of samples still running, and stops
 * when it is 0.
 *
 * Finished samples are masked, not compacted: they take steps of size 0,
 * their clocks stand still and their rows are reverted after every step,
 * so they stop changing but still pass through the right-hand side (the
 * price of not asking the host; see disco-ode.h for the compacting solver).
 *
 * RK4 and Euler run the same way with constant steps: they have no error
 * estimate and are not first same as last, so each step starts with
 * k_0 = f(y) and the steady-state test on it, as in disco-ode.c.
 *
 * Equivalence with disco_ode_solver_solve(): both call the same Runge-Kutta
 * weights (disco-ode.c's tables), the same stage and error-norm kernels,
 * the same clock update (disco-ode-clock.h) and the same stop tests in the
 * same order, on each sample's own row.  In exact arithmetic, and in
 * float32 whenever the right-hand side computes a row independently of
 * which other rows are in the batch, each sample's sequence of accepted
 * and rejected steps, its final time, its status and its final state are
 * identical.  OpenBLAS's SGEMM is not quite such a right-hand side: it
 * rounds a row differently once the compacting solver's batch has shrunk,
 * so on the network the step sequences agree and the final states differ
 * by about 1e-6 relative.  tests/kernels/test-ode-batched.c checks both
 * with the CPU table.
 *
 * Only autonomous problems: the right-hand side is not given the stage
 * times (the model's open and closed loops are autonomous, the controller
 * integral being part of the state), which saves a per-stage time kernel.
 *
 * Shape legend: B = samples (rows), N = state length of one sample; every
 * state buffer is B×N with row stride N.
 */

#pragma once

#include <glib.h>

#include "disco-ode.h"
#include "disco-ops.h"

G_BEGIN_DECLS

/**
 * DISCO_ODE_BATCHED_DEFAULT_SYNC_INTERVAL:
 *
 * Steps between two polls of the running count: at most 7 wasted steps
 * after the last sample stops, against one host round trip per step.
 */
#define DISCO_ODE_BATCHED_DEFAULT_SYNC_INTERVAL 8

/**
 * DiscoOdeBatchedRhsFunc:
 * @user_data: the pointer given to the solve
 * @ops: the operations table of the solve; @y and @dydt are its buffers
 * @n_rows: B, every sample of the batch (running or not)
 * @n_state: N
 * @y: B×N states, row stride N (a buffer of @ops)
 * @dydt: B×N, where to write f(y) (a buffer of @ops); every entry of
 *   every row must be written
 * @error: return location for a #GError
 *
 * The autonomous right-hand side f(y) on all rows, queued through @ops.
 * Row r is always sample r.  Rows of finished samples are evaluated too and
 * their results ignored; a row must not depend on another.  Failures of
 * queued operations surface at the solver's next poll; return %FALSE only
 * for what the callback itself detects.
 *
 * Returns: %TRUE on success; %FALSE with @error set aborts the solve
 */
typedef gboolean (*DiscoOdeBatchedRhsFunc) (gpointer user_data, const DiscoOps *ops, gsize n_rows,
                                            gsize n_state, const float *y, float *dydt,
                                            GError **error);

/**
 * DiscoOdeBatchedInfo:
 * @n_steps: lockstep steps taken (the slowest sample's steps, rounded up
 *   to the next poll)
 * @n_syncs: host round trips during the solve: polls of the running count
 *   (the final download of the statistics not included)
 * @n_rhs_calls: right-hand side calls, each on all B rows
 * @wait_seconds: wall time the host spent in the polls' and the final
 *   statistics' downloads, which wait for the work queued before them: on
 *   CUDA, the time the device was behind the host (kernel time beyond the
 *   host's queueing); about 0 on the synchronous host table (a memcpy)
 *
 * What one lockstep solve did as a whole.
 */
typedef struct
{
  guint n_steps;
  guint n_syncs;
  guint n_rhs_calls;
  double wait_seconds;
} DiscoOdeBatchedInfo;

/**
 * DiscoOdeBatchedSolver:
 *
 * A lockstep solver bound to one #DiscoOps table, keeping its buffers in
 * that table's memory between solves (grown for a larger batch or state).
 * Not thread-safe.
 */
typedef struct _DiscoOdeBatchedSolver DiscoOdeBatchedSolver;

DiscoOdeBatchedSolver *disco_ode_batched_solver_new (const DiscoOps *ops);

void disco_ode_batched_solver_free (DiscoOdeBatchedSolver *solver);

const DiscoOps *disco_ode_batched_solver_get_ops (DiscoOdeBatchedSolver *solver);

gboolean disco_ode_batched_solver_solve (DiscoOdeBatchedSolver *solver,
                                         const DiscoOdeConfig *config, guint sync_interval,
                                         gsize n_samples, gsize n_state, float *y,
                                         DiscoOdeBatchedRhsFunc rhs, gpointer user_data,
                                         DiscoOdeSampleStats *stats, DiscoOdeBatchedInfo *info,
                                         GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoOdeBatchedSolver, disco_ode_batched_solver_free)

G_END_DECLS
