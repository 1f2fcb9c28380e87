/* disco-integrator-private.h: what the integrator's files share — its
 * instance struct and the functions that more than one of them calls
 * (disco-integrator.c: the node; disco-integrator-table.c: the network and
 * closed loop on the node's table; disco-integrator-ode.c and
 * disco-integrator-equilibrium.c: the two strategies).  Not installed; the
 * functions are hidden in the plugin (G_GNUC_INTERNAL). */
#pragma once

#include "disco-integrator.h"
#include "disco-equilibrium.h"
#include "disco-network.h"
#include "disco-ode.h"
#include "disco-parallel.h"
#include "disco-ode-batched.h"
#include "disco-ops-closed-loop.h"

G_BEGIN_DECLS

#define N_PHASES 4

struct _DiscoIntegrator
{
  DiscoNode parent_instance;

  DiscoIntegratorMethod method;
  DiscoIntegratorController controller;
  double duration, dt, dt_min, dt_max, rtol, atol;
  guint max_steps;
  gboolean steady_state_stop;
  gboolean feedback_average;
  double feedback_norm;
  double feedback_clip;
  gint record_sample;
  double record_interval;
  double newton_tolerance;
  guint newton_max_iterations;
  double contraction_limit;
  double unconverged_warning;

  DiscoNetwork *network;      /* the description: layers, offsets, parameters */
  DiscoNode *controller_node; /* the layers' feedback source (the pipeline owns it);
                                   * NULL without a controller */
  DiscoOdeSolver *solver;     /* the compacting solver on the table, ops */
  /* On the host table a batch is solved in blocks of samples, one thread
   * each: block 0 by solver, block b > 0 by block_solvers[b]. */
  DiscoOdeSolver *block_solvers[DISCO_PARALLEL_MAX_PIECES];
  DiscoOdeSampleStats *stats;
  gsize stats_capacity;
  DiscoEquilibrium *equilibrium; /* method = equilibrium */
  /* On the host table block b > 0 of a minibatch has a solver of its own. */
  DiscoEquilibrium *block_equilibria[DISCO_PARALLEL_MAX_PIECES];
  DiscoEquilibriumSampleStats *eq_stats;                    /* B */
  guint *sample_steps, *sample_evaluations, *fallback_rows; /* B */
  gsize eq_capacity;
  gboolean batch_begun; /* the table network's first drive is set this tick */

  double last_mean_steps;
  guint last_max_steps;
  double last_mean_evaluations;
  double last_solve_seconds;
  double last_mean_closed_loop_steps;
  double last_open_loop_seconds, last_feedback_seconds, last_closed_loop_seconds;
  double last_open_loop_evaluations, last_closed_loop_evaluations;
  double last_max_contraction;
  guint64 solves;
  guint64 fallbacks;

  /* Samples whose solve ended unconverged: this tick's, per sample (bits
   * above; B), and this epoch's counts per phase, for the warning. */
  guint8 *unconverged_rows;
  gsize unconverged_capacity;
  guint count_epoch;
  guint64 phase_samples[N_PHASES];
  guint64 phase_unconverged[N_PHASES];
  guint64 phase_max_steps[N_PHASES];
  guint64 unconverged;

  /* The arithmetic: the network and its closed loop on the node's table
   * (disco_node_get_ops(): the host table on the CPU), made on first use. */
  const DiscoOps *ops;
  DiscoOpsNetwork *ops_network;
  DiscoOpsClosedLoop *ops_closed_loop; /* NULL without a controller */
  /* On CUDA, the host table's twins for the recorded sample (record-sample). */
  DiscoOpsNetwork *record_network;
  DiscoOpsClosedLoop *record_closed_loop;
  DiscoOdeBatchedSolver *batched;
  float *ops_closed_loop_state; /* B × (N + O), the table's memory */
  gsize ops_closed_loop_capacity;
  float *fallback_rows_buffer;  /* the equilibrium's ODE fallback rows, packed, table memory */
  gsize fallback_rows_capacity; /* bytes */
  guint last_host_syncs;
  double last_host_wait_seconds;
  guint64 last_operations;
};

/* disco-integrator.c */
G_GNUC_INTERNAL
void _disco_integrator_fill_config (DiscoIntegrator *self, DiscoOdeConfig *config);
G_GNUC_INTERNAL
void _disco_integrator_as_disco_error (DiscoIntegrator *self, GError **error);
G_GNUC_INTERNAL
DiscoTensor *_disco_integrator_controller_targets (DiscoIntegrator *self, GError **error);
G_GNUC_INTERNAL
guint8 _disco_integrator_unconverged_bits (DiscoIntegrator *self, const DiscoOdeSampleStats *stats);

/* disco-integrator-table.c */
G_GNUC_INTERNAL
void _disco_integrator_clear_ops (DiscoIntegrator *self);
G_GNUC_INTERNAL
gboolean _disco_integrator_ensure_ops_objects (DiscoIntegrator *self, const DiscoOps *ops,
                                               GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_set_table_parameters (DiscoIntegrator *self, DiscoOpsNetwork *network,
                                                 const DiscoOps *ops, GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_begin_table_batch (DiscoIntegrator *self, DiscoTensor *input,
                                              GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_publish_ops (DiscoIntegrator *self, const float *state, gsize B,
                                        DiscoTensor **logits, GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_publish_closed_loop (DiscoIntegrator *self,
                                                const float *closed_loop_state, gsize B,
                                                float *state, GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_ensure_closed_loop_state (DiscoIntegrator *self, gsize B,
                                                     GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_begin_closed_loop_on (DiscoIntegrator *self, const DiscoOps *ops,
                                                 DiscoOpsClosedLoop *loop, const float *open_loop,
                                                 gsize B, float *state, GError **error);
G_GNUC_INTERNAL
gboolean _disco_integrator_record_trajectory (DiscoIntegrator *self, DiscoTensor *input, gsize B,
                                              gboolean closed, GError **error);

/* disco-integrator-ode.c */
G_GNUC_INTERNAL
DiscoFlowReturn _disco_integrator_process_ode (DiscoIntegrator *self, DiscoTensor *input,
                                               gboolean closed, GError **error);

G_GNUC_INTERNAL
guint _disco_integrator_n_blocks (DiscoIntegrator *self, gsize n_samples);
G_GNUC_INTERNAL
gboolean _disco_integrator_run_blocks (guint n_blocks, DiscoParallelFunc solve_block, gpointer job,
                                       GError **errors, GError **error);

/* disco-integrator-equilibrium.c */
G_GNUC_INTERNAL
DiscoEquilibrium *_disco_integrator_new_equilibrium (DiscoNetwork *network);
G_GNUC_INTERNAL
void _disco_integrator_clear_equilibria (DiscoIntegrator *self);
G_GNUC_INTERNAL
DiscoFlowReturn _disco_integrator_process_equilibrium (DiscoIntegrator *self, DiscoTensor *input,
                                                       gboolean closed, GError **error);

G_END_DECLS
