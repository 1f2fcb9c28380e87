/* test-figures.c: Figure 3 of the paper ("the sign of plasticity") as nodes:
 * sweep-source, single-circuit and table-writer (issue #7).
 *
 * The Figure 3 checks sweep the input finely and locate the sign changes of
 * Δw against r_E by linear interpolation; the measured values are printed
 * with g_test_message (run with --verbose to see them).
 */

#include <disco/disco.h>
#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <string.h>

#include "test-bad-pipeline.h"

/* φ of the paper, (1, 1, 3), in double for the hand-made references. */
static double
phi (double u)
{
  return log1p (exp (u - 3.0));
}

static double
phi_prime (double u)
{
  return 1.0 / (1.0 + exp (3.0 - u));
}

/* ----- running a pipeline and collecting outputs ------------------------------ */

typedef struct
{
  DiscoPipeline *pipeline;
  const char *const *wanted; /* "node.port", NULL-terminated */
  GPtrArray *values;         /* GArray of float per wanted output */
  GArray *ticks;             /* DiscoTick */
} Collector;

static void
collect_tick (DiscoPipeline *pipeline, DiscoTick *tick, Collector *c)
{
  g_array_append_val (c->ticks, *tick);
  for (guint i = 0; c->wanted[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (c->wanted[i], ".", 2);
      DiscoNode *node = disco_pipeline_get_node (pipeline, parts[0]);
      DiscoTensor *t;
      const float *v;
      GError *error = NULL;

      g_assert_nonnull (node);
      t = disco_node_get_output (node, parts[1]);
      g_assert_nonnull (t);
      v = disco_tensor_read_host (t, &error);
      g_assert_no_error (error);
      g_array_append_vals (g_ptr_array_index (c->values, i), v, disco_tensor_get_n_elements (t));
    }
}

static void
collector_free (Collector *c)
{
  g_clear_object (&c->pipeline);
  g_ptr_array_unref (c->values);
  g_array_unref (c->ticks);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Collector, collector_free)

/* Runs @text with @overrides (output folder @dir, may be NULL) and collects
 * the outputs named in @wanted at every tick. */
static Collector *
run_collect (const char *text, const char *const *overrides, const char *dir,
             const char *const *wanted)
{
  Collector *c = g_new0 (Collector, 1);
  GError *error = NULL;

  c->wanted = wanted;
  c->values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (guint i = 0; wanted[i] != NULL; i++)
    g_ptr_array_add (c->values, g_array_new (FALSE, FALSE, sizeof (float)));
  c->ticks = g_array_new (FALSE, FALSE, sizeof (DiscoTick));
  c->pipeline = disco_pipeline_new_from_string (text, overrides, &error);
  g_assert_no_error (error);
  if (dir != NULL)
    g_object_set (c->pipeline, "output-dir", dir, NULL);
  g_signal_connect (c->pipeline, "tick", G_CALLBACK (collect_tick), c);
  g_assert_true (disco_pipeline_run (c->pipeline, NULL, &error));
  g_assert_no_error (error);
  return c;
}

static const float *
column (Collector *c, guint i, guint *n)
{
  GArray *a = g_ptr_array_index (c->values, i);

  if (n != NULL)
    *n = a->len;
  return (const float *) a->data;
}

/* ----- sweep-source ----------------------------------------------------------- */

static const char *sweep_pipeline =
    "[x]\nnode = sweep-source\nstart = 0\nstop = 10\ncount = 100\nbatch-size = 100\n";

static void
test_sweep_linspace (void)
{
  const char *const wanted[] = { "x.value", NULL };
  g_autoptr (Collector) c = run_collect (sweep_pipeline, NULL, NULL, wanted);
  /* numpy.linspace(0, 10, 100).astype(float32), printed with %.9g */
  const struct
  {
    guint i;
    float v;
  } numpy[] = {
    { 0, 0.0f }, { 1, 0.101010099f }, { 37, 3.73737383f }, { 98, 9.89898968f }, { 99, 10.0f },
  };
  const float *v;
  guint n;

  g_test_summary ("sweep-source emits numpy.linspace(0, 10, 100) in float32: i·(10/99) "
                  "computed in double, the last value exactly 10, as one tick of 100 × 1");
  v = column (c, 0, &n);
  g_assert_cmpuint (n, ==, 100);
  g_assert_cmpuint (c->ticks->len, ==, 1);
  for (guint i = 0; i < n; i++)
    g_assert_cmpfloat (v[i], ==, (float) (i == 99 ? 10.0 : i * (10.0 / 99.0) + 0.0));
  for (guint k = 0; k < G_N_ELEMENTS (numpy); k++)
    g_assert_cmpfloat (v[numpy[k].i], ==, numpy[k].v);
}

static void
test_sweep_batches (void)
{
  const char *const overrides[] = { "x.start=-1.5",   "x.stop=2.25", "x.count=7",
                                    "x.batch-size=3", "x.epochs=2",  NULL };
  const char *const wanted[] = { "x.value", NULL };
  g_autoptr (Collector) c = run_collect (sweep_pipeline, overrides, NULL, wanted);
  const float expected[] = { -1.5f, -0.875f, -0.25f, 0.375f, 1.0f, 1.625f, 2.25f };
  const guint sizes[] = { 3, 3, 1 };
  const float *v;
  guint n;

  g_test_summary ("linspace(-1.5, 2.25, 7) in ticks of 3, 3 and 1 values; two epochs of "
                  "three ticks, each ending with the epoch-end flag");
  v = column (c, 0, &n);
  g_assert_cmpuint (n, ==, 14);
  g_assert_cmpuint (c->ticks->len, ==, 6);
  for (guint i = 0; i < n; i++)
    g_assert_cmpfloat (v[i], ==, expected[i % 7]);
  for (guint t = 0; t < 6; t++)
    {
      DiscoTick *tick = &g_array_index (c->ticks, DiscoTick, t);

      g_assert_cmpuint (tick->epoch, ==, t / 3 + 1);
      g_assert_cmpuint (tick->batch, ==, t % 3);
      g_assert_cmpuint (tick->batch_size, ==, sizes[t % 3]);
      g_assert_cmpuint (tick->n_epochs, ==, 2);
      g_assert_cmpuint (tick->n_ticks, ==, 6);
      g_assert_cmpuint (!!(tick->flags & DISCO_TICK_FLAG_EPOCH_END), ==, t % 3 == 2);
    }
}

static void
test_sweep_edges (void)
{
  const char *const one[] = { "x.start=2.5", "x.count=1", NULL };
  const char *const down[] = { "x.start=1", "x.stop=0", "x.count=3", NULL };
  const char *const wanted[] = { "x.value", NULL };
  g_autoptr (Collector) a = run_collect (sweep_pipeline, one, NULL, wanted);
  g_autoptr (Collector) b = run_collect (sweep_pipeline, down, NULL, wanted);
  const float *v;
  guint n;

  g_test_summary ("count = 1 gives just start (numpy); a sweep may run downwards");
  v = column (a, 0, &n);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpfloat (v[0], ==, 2.5f);
  v = column (b, 0, &n);
  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpfloat (v[0], ==, 1.0f);
  g_assert_cmpfloat (v[1], ==, 0.5f);
  g_assert_cmpfloat (v[2], ==, 0.0f);
}

/* ----- single-circuit: hand-made cases ------------------------------------------ */

static const char *circuit_pipeline = "[x]\nnode = constant-source\nshape = 1,1\nvalue = 2.5\n"
                                      "[c]\nnode = single-circuit\ninput = x\ninput-weight = 1.2\n";

static const char *const circuit_outputs[] = { "c.excitatory-potential", "c.inhibitory-potential",
                                               "c.excitatory-rate",      "c.inhibitory-rate",
                                               "c.weight-change",        NULL };

/* Checks the five outputs against (u_E, u_I) and the rule, in double. */
static void
check_outputs (Collector *c, double x, double u_e, double u_i, gboolean exact)
{
  double r_e = phi (u_e), r_i = phi (u_i);
  double dw =
      exact ? x * (r_e - u_i) * phi_prime (u_e) : x * (r_e - (1.5 + 1.5 * r_i)) * phi_prime (u_e);
  double expected[] = { u_e, u_i, r_e, r_i, dw };

  for (guint k = 0; k < G_N_ELEMENTS (expected); k++)
    {
      guint n;
      const float *v = column (c, k, &n);

      g_assert_cmpuint (n, ==, 1);
      g_assert_cmpfloat_with_epsilon (v[0], expected[k], 2e-6 * (1.0 + fabs (expected[k])));
    }
}

static void
test_circuit_euler_steps (void)
{
  const double x = 2.5, w = 1.2, dt = 0.02, alpha = 5.0, r_tar = 4.0;
  double u_e1 = dt * (w * x - phi (0)), u_i1 = dt * phi (0);
  double u_i1_fb = dt * (phi (0) - alpha * (r_tar - phi (0)));

  g_test_summary ("Forward Euler by hand from rest: 0 steps leave u = 0; one step gives "
                  "u_E = dt·(w·x − φ_I(0)), u_I = dt·φ_E(0) (− dt·α·(r_tar − φ_E(0)) with "
                  "feedback); two steps the same map again; rates and Δw of both rules follow");
  {
    const char *const o[] = { "c.steps=0", NULL };
    g_autoptr (Collector) c = run_collect (circuit_pipeline, o, NULL, circuit_outputs);
    check_outputs (c, x, 0.0, 0.0, FALSE);
  }
  {
    const char *const o[] = { "c.steps=1", NULL };
    g_autoptr (Collector) c = run_collect (circuit_pipeline, o, NULL, circuit_outputs);
    check_outputs (c, x, u_e1, u_i1, FALSE);
  }
  {
    const char *const o[] = { "c.steps=1", "c.feedback=true", "c.rule=exact", NULL };
    g_autoptr (Collector) c = run_collect (circuit_pipeline, o, NULL, circuit_outputs);
    check_outputs (c, x, u_e1, u_i1_fb, TRUE);
  }
  {
    const char *const o[] = { "c.steps=2", NULL };
    g_autoptr (Collector) c = run_collect (circuit_pipeline, o, NULL, circuit_outputs);
    double u_e2 = u_e1 + dt * (-u_e1 - phi (u_i1) + w * x);
    double u_i2 = u_i1 + dt * (-u_i1 + phi (u_e1));
    check_outputs (c, x, u_e2, u_i2, FALSE);
  }
}

static void
test_circuit_isolated (void)
{
  const char *const o[] = { "c.mode=isolated", "c.clamped-inhibitory-rate=0.75", NULL };
  g_autoptr (Collector) c = run_collect (circuit_pipeline, o, NULL, circuit_outputs);
  double u_i = 3.0 + log (expm1 (0.75));

  g_test_summary ("An isolated neuron has u_E = w·x and r_I clamped, u_I = φ_I⁻¹(r_I)");
  check_outputs (c, 2.5, 1.2 * 2.5, u_i, FALSE);
}

/* ----- Figure 3 ----------------------------------------------------------------- */

/* A fine sweep into circuits a (and b); overrides configure them. */
static const char *figure_pipeline =
    "[x]\nnode = sweep-source\nstart = 0\nstop = 13\ncount = 2601\nbatch-size = 2601\n"
    "[a]\nnode = single-circuit\ninput = x\n";

typedef struct
{
  double r;
  int direction; /* +1: − to +, −1: + to − */
} Crossing;

/* Sign changes of @dw against @r, by linear interpolation; a zero at x = 0
 * (Δw ∝ x) is no sign change. */
static GArray *
crossings (const float *r, const float *dw, guint n)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (Crossing));
  guint prev = G_MAXUINT;

  for (guint i = 0; i < n; i++)
    {
      if (dw[i] == 0.0f)
        continue;
      if (prev != G_MAXUINT && (dw[prev] < 0) != (dw[i] < 0))
        {
          Crossing c;
          c.r = r[prev] - dw[prev] * (r[i] - r[prev]) / (dw[i] - dw[prev]);
          c.direction = dw[i] > 0 ? 1 : -1;
          g_array_append_val (out, c);
        }
      prev = i;
    }
  return out;
}

static const char *const figure_outputs[] = { "x.value", "a.excitatory-rate", "a.weight-change",
                                              "a.inhibitory-potential", NULL };

static void
test_figure3_bcm (void)
{
  const char *const o[] = { "a.theta=1.5", "a.delta=1.5", NULL };
  g_autoptr (Collector) c = run_collect (figure_pipeline, o, NULL, figure_outputs);
  g_autoptr (GArray) cross = NULL;
  const float *x, *r, *dw;
  guint n;
  double low, high;

  g_test_summary ("Figure 3b: without feedback, the linear rule with (θ, δ) = (1.5, 1.5) is "
                  "BCM-like over x in [0, 13]: Δw < 0 below r_E ≈ 1.9, > 0 up to ≈ 5.9, < 0 "
                  "above; both crossings within 0.1 of the paper's");
  x = column (c, 0, &n);
  r = column (c, 1, NULL);
  dw = column (c, 2, NULL);
  cross = crossings (r, dw, n);
  g_assert_cmpuint (cross->len, ==, 2);
  low = g_array_index (cross, Crossing, 0).r;
  high = g_array_index (cross, Crossing, 1).r;
  g_test_message ("no feedback, linear (1.5, 1.5): LTD→LTP at r_E = %.4f, LTP→LTD at "
                  "r_E = %.4f",
                  low, high);
  g_assert_cmpint (g_array_index (cross, Crossing, 0).direction, ==, 1);
  g_assert_cmpint (g_array_index (cross, Crossing, 1).direction, ==, -1);
  g_assert_cmpfloat (fabs (low - 1.9), <, 0.1);
  g_assert_cmpfloat (fabs (high - 5.9), <, 0.1);
  for (guint i = 1; i < n; i++)
    {
      g_assert_cmpfloat (r[i], >, r[i - 1]); /* r_E grows with x */
      if (r[i] < low - 0.01)
        g_assert_cmpfloat (dw[i], <, 0.0f);
      else if (r[i] > low + 0.01 && r[i] < high - 0.01)
        g_assert_cmpfloat (dw[i], >, 0.0f);
      else if (r[i] > high + 0.01)
        g_assert_cmpfloat (dw[i], <, 0.0f);
    }
  g_assert_cmpfloat (x[0], ==, 0.0f);
  g_assert_cmpfloat (dw[0], ==, 0.0f);
}

static void
test_figure3_exact_no_feedback (void)
{
  const char *const o[] = { "a.rule=exact", NULL };
  g_autoptr (Collector) c = run_collect (figure_pipeline, o, NULL, figure_outputs);
  const float *r, *dw, *u_i;
  double max_dw = 0.0, max_gap = 0.0;
  guint n;

  g_test_summary ("Figure 3b: without feedback the exact rule gives Δw ≈ 0 (u_I = r_E at "
                  "rest): measured max |Δw| ≈ 1.3e-3 over x in [0, 13] (the distance from "
                  "rest after 12 τ), asserted < 1.5e-2");
  r = column (c, 1, &n);
  dw = column (c, 2, NULL);
  u_i = column (c, 3, NULL);
  for (guint i = 0; i < n; i++)
    {
      max_dw = MAX (max_dw, fabs (dw[i]));
      max_gap = MAX (max_gap, fabs (u_i[i] - r[i]));
    }
  g_test_message ("no feedback, exact rule: max |Δw| = %.3g, max |u_I − r_E| = %.3g", max_dw,
                  max_gap);
  g_assert_cmpfloat (max_dw, <, 1.5e-2);
  g_assert_cmpfloat (max_gap, <, 1.5e-2);
}

static void
test_figure3_feedback (void)
{
  const double targets[] = { 4.0, 3.0 };

  g_test_summary ("Figure 3a: with feedback (α = 5) the linear rule (1.5, 1.5) turns from LTP "
                  "to LTD within 0.3 of r_tar, for r_tar = 4 and 3, over x in [0, 10]; the "
                  "exact rule changes sign within 0.01 of r_tar");
  for (guint t = 0; t < G_N_ELEMENTS (targets); t++)
    {
      g_autofree char *target = g_strdup_printf ("a.target-rate=%g", targets[t]);
      const char *const lin[] = { "a.feedback=true", target, "x.stop=10", NULL };
      const char *const exact[] = { "a.feedback=true", target, "x.stop=10", "a.rule=exact", NULL };
      g_autoptr (Collector) c = run_collect (figure_pipeline, lin, NULL, figure_outputs);
      g_autoptr (Collector) e = run_collect (figure_pipeline, exact, NULL, figure_outputs);
      g_autoptr (GArray) cross = NULL;
      g_autoptr (GArray) exact_cross = NULL;
      const Crossing *down, *exact_down;
      guint n;
      const float *r = column (c, 1, &n);

      cross = crossings (r, column (c, 2, NULL), n);
      exact_cross = crossings (column (e, 1, NULL), column (e, 2, NULL), n);
      /* LTD at the lowest rates (r_E < θ), LTP, then LTD above r_tar. */
      g_assert_cmpuint (cross->len, ==, 2);
      down = &g_array_index (cross, Crossing, 1);
      g_assert_cmpint (down->direction, ==, -1);
      g_assert_cmpuint (exact_cross->len, ==, 1);
      exact_down = &g_array_index (exact_cross, Crossing, 0);
      g_assert_cmpint (exact_down->direction, ==, -1);
      g_test_message ("feedback, r_tar = %g: linear rule LTD→LTP at r_E = %.4f, LTP→LTD at "
                      "r_E = %.4f; exact rule LTP→LTD at r_E = %.4f",
                      targets[t], g_array_index (cross, Crossing, 0).r, down->r, exact_down->r);
      g_assert_cmpfloat (fabs (down->r - targets[t]), <, 0.3);
      g_assert_cmpfloat (fabs (exact_down->r - targets[t]), <, 0.01);
    }
}

static void
test_figure3_isolated (void)
{
  const double levels[] = { 0.01, 0.673333333333333, 1.33666666666667, 2.0 };
  double previous = -INFINITY;

  g_test_summary ("Figure 3c: an isolated neuron with r_I clamped at linspace(0.01, 2, 4): "
                  "the LTP threshold (LTD→LTP sign change of Δw against r_E) rises with r_I, "
                  "and sits at θ + δ·r_I");
  for (guint k = 0; k < G_N_ELEMENTS (levels); k++)
    {
      g_autofree char *level = g_strdup_printf ("a.clamped-inhibitory-rate=%.15g", levels[k]);
      const char *const o[] = { "a.mode=isolated", level, "x.stop=9", NULL };
      g_autoptr (Collector) c = run_collect (figure_pipeline, o, NULL, figure_outputs);
      g_autoptr (GArray) cross = NULL;
      guint n;
      const float *r = column (c, 1, &n);
      double threshold;

      cross = crossings (r, column (c, 2, NULL), n);
      g_assert_cmpuint (cross->len, ==, 1);
      g_assert_cmpint (g_array_index (cross, Crossing, 0).direction, ==, 1);
      threshold = g_array_index (cross, Crossing, 0).r;
      g_test_message ("isolated, r_I = %.4f: LTP threshold at r_E = %.4f", levels[k], threshold);
      g_assert_cmpfloat (threshold, >, previous);
      g_assert_cmpfloat (fabs (threshold - (1.5 + 1.5 * levels[k])), <, 1e-3);
      previous = threshold;
    }
}

/* ----- table-writer ------------------------------------------------------------- */

static const char *table_pipeline =
    "[x]\nnode = sweep-source\nstart = 0\nstop = 6\ncount = 7\nbatch-size = 3\nepochs = 3\n"
    "[c]\nnode = single-circuit\ninput = x\n"
    "[t]\nnode = table-writer\ncolumn-1 = x.value\ncolumn-2 = c.excitatory-rate\n"
    "column-3 = c.weight-change\nindex = true\nnames = x,rE,dw\npath = out/table.csv\n";

static char **
read_lines (const char *path)
{
  g_autofree char *text = NULL;
  char **lines;
  guint n;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_true (g_str_has_suffix (text, "\n"));
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  g_free (lines[n - 1]); /* after the last newline */
  lines[n - 1] = NULL;
  return lines;
}

static guint
count_entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  if (d == NULL)
    return 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
count_tick (DiscoPipeline *pipeline, DiscoTick *tick, guint64 *ticks)
{
  (*ticks)++;
}

static void
test_table_exact (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "out", "table.csv", NULL);
  const char *const wanted[] = { "x.value", "c.excitatory-rate", "c.weight-change", NULL };
  g_autoptr (Collector) c = run_collect (table_pipeline, NULL, dir, wanted);
  g_auto (GStrv) lines = read_lines (path);
  guint64 rows;

  g_test_summary ("The table has the header tick,epoch,x,rE,dw and one row per value and "
                  "tick; every number reads back to the very float32 the nodes emitted");
  g_object_get (disco_pipeline_get_node (c->pipeline, "t"), "rows", &rows, NULL);
  g_assert_cmpuint (rows, ==, 21);
  g_assert_cmpuint (g_strv_length (lines), ==, 22);
  g_assert_cmpstr (lines[0], ==, "tick,epoch,x,rE,dw");
  for (guint i = 0; i < 21; i++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[i + 1], ",", -1);
      guint tick = (i / 7) * 3 + (i % 7) / 3;

      g_assert_cmpuint (g_strv_length (cells), ==, 5);
      g_assert_cmpuint (g_ascii_strtoull (cells[0], NULL, 10), ==, tick);
      g_assert_cmpuint (g_ascii_strtoull (cells[1], NULL, 10), ==, i / 7 + 1);
      for (guint k = 0; k < 3; k++)
        g_assert_cmpfloat ((float) g_ascii_strtod (cells[k + 2], NULL), ==, column (c, k, NULL)[i]);
    }
  g_assert_cmpstr (lines[3], ==, "0,1,2,0.296240836,-0.667114735");
}

static void
test_table_epochs (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "out", "table.csv", NULL);
  const char *const o[] = { "t.epochs=1,3", "t.names=", NULL };
  const char *const wanted[] = { "x.value", NULL };
  g_autoptr (Collector) c = run_collect (table_pipeline, o, dir, wanted);
  g_auto (GStrv) lines = read_lines (path);

  g_test_summary ("epochs = 1,3 keeps the rows of epochs 1 and 3 only; without names the "
                  "header holds node.port of each producer");
  g_assert_cmpuint (g_strv_length (lines), ==, 15);
  g_assert_cmpstr (lines[0], ==, "tick,epoch,x.value,c.excitatory-rate,c.weight-change");
  for (guint i = 1; i < 15; i++)
    g_assert_true (g_str_has_prefix (lines[i], i <= 7 ? "0,1," : "6,3,")
                   || g_str_has_prefix (lines[i], i <= 7 ? "1,1," : "7,3,")
                   || g_str_has_prefix (lines[i], i <= 7 ? "2,1," : "8,3,"));
}

static void
test_table_epoch_ranges (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "out", "table.csv", NULL);
  const char *const o[] = { "t.epochs=2-3", NULL };
  const char *const wanted[] = { "x.value", NULL };
  g_autoptr (Collector) c = run_collect (table_pipeline, o, dir, wanted);
  g_auto (GStrv) lines = read_lines (path);

  g_test_summary ("epochs = 2-3 keeps the rows of epochs 2 and 3, a range");
  g_assert_cmpuint (g_strv_length (lines), ==, 15);
  for (guint i = 1; i < 15; i++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[i], ",", -1);
      g_assert_cmpuint (g_ascii_strtoull (cells[1], NULL, 10), ==, i <= 7 ? 2 : 3);
    }
}

static void
test_table_wide_input (void)
{
  /* A 3 × 2 input fills two columns, k_1 and k_2, beside a 3 × 1 one. */
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "table.csv", NULL);
  const char *text = "[x]\nnode = sweep-source\ncount = 3\nbatch-size = 3\nstart = 1\nstop = 3\n"
                     "[k]\nnode = constant-source\nshape = 3,2\nvalue = 0.5\nticks = 1\n"
                     "[t]\nnode = table-writer\ncolumn-1 = x\ncolumn-2 = k\nnames = x,k\n"
                     "path = table.csv\nplot = table.png\nplot-series = x:k_2\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (text, NULL, &error);
  g_auto (GStrv) lines = NULL;

  g_test_summary ("An input declared rows × 2 fills two columns name_1, name_2, which plots "
                  "can name");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  lines = read_lines (path);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);
  g_assert_cmpstr (lines[0], ==, "x,k_1,k_2");
  g_assert_cmpstr (lines[1], ==, "1,0.5,0.5");
  g_assert_cmpstr (lines[3], ==, "3,0.5,0.5");
}

static void
test_table_mismatch (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  const char *text = "[x]\nnode = sweep-source\ncount = 7\nbatch-size = 3\n"
                     "[k]\nnode = constant-source\nshape = 2,1\n"
                     "[t]\nnode = table-writer\ncolumn-1 = x\ncolumn-3 = k\npath = table.csv\n";
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (text, NULL, &error);

  g_test_summary ("Columns of different lengths fail the tick with a shape error naming "
                  "both ports and counts, and no table is written");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "\"column-1\" (x.value, 3 rows)"));
  g_assert_nonnull (strstr (error->message, "\"column-3\" (k.output, 2 rows)"));
  g_assert_cmpuint (count_entries (dir), ==, 0);
  g_clear_error (&error);
}

static void
test_table_unknown_plot_column (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  const char *const o[] = { "t.plot=plot.png", "t.plot-series=rE:dw,rE:dW", NULL };
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (table_pipeline, o, &error);
  guint64 ticks = 0;

  g_test_summary ("A plot-series naming no column is an error in prepare, before any "
                  "tick; the message lists the table's columns; nothing is written");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_signal_connect (p, "tick", G_CALLBACK (count_tick), &ticks);
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (
      strstr (error->message, "no column \"dW\" (the table has: tick, epoch, x, rE, dw)"));
  g_assert_nonnull (strstr (error->message, "<string>:"));
  g_assert_cmpuint (ticks, ==, 0);
  g_assert_cmpuint (count_entries (dir), ==, 0);
  g_clear_error (&error);
}

static void
test_table_plot (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-figures-XXXXXX", NULL);
  g_autofree char *png_path = g_build_filename (dir, "out", "plot.png", NULL);
  const char *const o[] = { "x.count=200", "x.stop=13", "t.plot=out/plot.png",
                            "t.plot-series=rE:dw:linear,x:rE", NULL };
  const char *const wanted[] = { "x.value", NULL };
  png_image image;
  g_autofree guint8 *rgb = NULL;
  guint red = 0, blue = 0;

  g_test_summary ("The plot is a PNG of the asked size (libpng decodes it) with pixels of "
                  "the first curve's red and the second curve's blue");
  {
    g_autofree char *with_size = NULL;
    g_autoptr (Collector) c = NULL;

    with_size = g_strdup_printf ("%swidth = 640\nheight = 480\n", table_pipeline);
    c = run_collect (with_size, o, dir, wanted);
  }
  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  g_assert_true (png_image_begin_read_from_file (&image, png_path));
  g_assert_cmpuint (image.width, ==, 640);
  g_assert_cmpuint (image.height, ==, 480);
  image.format = PNG_FORMAT_RGB;
  rgb = g_malloc (PNG_IMAGE_SIZE (image));
  g_assert_true (png_image_finish_read (&image, NULL, rgb, 0, NULL));
  for (gsize i = 0; i < (gsize) image.width * image.height; i++)
    {
      const guint8 *p = rgb + 3 * i;
      /* The palette's first two colours: (0.84, 0.15, 0.16) and (0.12, 0.47, 0.71). */
      if (abs (p[0] - 214) <= 2 && abs (p[1] - 38) <= 2 && abs (p[2] - 41) <= 2)
        red++;
      if (abs (p[0] - 31) <= 2 && abs (p[1] - 120) <= 2 && abs (p[2] - 181) <= 2)
        blue++;
    }
  g_test_message ("%u red and %u blue pixels", red, blue);
  g_assert_cmpuint (red, >, 300);
  g_assert_cmpuint (blue, >, 300);
  {
    g_autofree char *sub = g_build_filename (dir, "out", NULL);
    g_assert_cmpuint (count_entries (sub), ==, 2); /* the table and the plot, no temporaries */
  }
}

/* ----- bad inputs ----------------------------------------------------------------- */

#define SWEEP                                                                                      \
  "[pipeline]\noutput-dir = /nonexistent/disco-figures\n"                                          \
  "[x]\nnode = sweep-source\ncount = 5\nbatch-size = 5\n"
#define CIRCUIT SWEEP "[c]\nnode = single-circuit\ninput = x\n"
#define TABLE CIRCUIT "[t]\nnode = table-writer\ncolumn-1 = x\ncolumn-2 = c.weight-change\n"

static const TestBadPipeline bad_rows[] = {
  /* checks: sweep-source */
  { "sweep-nan-start", SWEEP "start = nan\n", DISCO_ERROR_BAD_VALUE, "\"start\"" },
  { "sweep-inf-stop", SWEEP "stop = inf\n", DISCO_ERROR_BAD_VALUE, "\"stop\"" },
  { "sweep-overflow",
    SWEEP,
    DISCO_ERROR_BAD_VALUE,
    "does not fit a float32",
    { "x.start=-1e300" } },
  { "sweep-count-0", SWEEP, DISCO_ERROR_BAD_VALUE, "\"count\"", { "x.count=0" } },
  { "sweep-batch-0", SWEEP, DISCO_ERROR_BAD_VALUE, "\"batch-size\"", { "x.batch-size=0" } },
  /* checks: single-circuit */
  { "circuit-rule", CIRCUIT, DISCO_ERROR_BAD_VALUE, "\"rule\"", { "c.rule=quadratic" } },
  { "circuit-mode", CIRCUIT, DISCO_ERROR_BAD_VALUE, "\"mode\"", { "c.mode=clamped" } },
  { "circuit-dt", CIRCUIT, DISCO_ERROR_BAD_VALUE, "\"dt\"", { "c.dt=0" } },
  { "circuit-clamp",
    CIRCUIT,
    DISCO_ERROR_BAD_VALUE,
    "\"clamped-inhibitory-rate\"",
    { "c.clamped-inhibitory-rate=0" } },
  { "circuit-shape",
    "[k]\nnode = constant-source\nshape = 3,2\n[c]\nnode = single-circuit\ninput = k\n",
    DISCO_ERROR_SHAPE, "\"k.output\"" },
  { "circuit-diverges",
    "[k]\nnode = constant-source\nshape = 1,1\nvalue = 3e38\n"
    "[c]\nnode = single-circuit\ninput = k\ninput-weight = 10\n",
    DISCO_ERROR_NUMERIC, "\"c\"" },
  { "circuit-no-input", "[c]\nnode = single-circuit\n", DISCO_ERROR_LINK, "input" },
  /* checks: table-writer */
  { "table-no-column", SWEEP "[t]\nnode = table-writer\n", DISCO_ERROR_LINK, "column-1" },
  { "table-names-count", TABLE "names = a\n", DISCO_ERROR_BAD_VALUE, "\"names\"" },
  { "table-names-twice", TABLE "names = a,a\n", DISCO_ERROR_BAD_VALUE, "\"a\" is used twice" },
  { "table-names-index", TABLE "names = tick,b\nindex = true\n", DISCO_ERROR_BAD_VALUE,
    "\"tick\" is used twice" },
  { "table-names-comma", TABLE "names = a:b,c\n", DISCO_ERROR_BAD_VALUE, "\"a:b\"" },
  { "table-epochs", TABLE "epochs = 1,two\n", DISCO_ERROR_BAD_VALUE, "\"two\"" },
  { "table-epochs-0", TABLE "epochs = 0\n", DISCO_ERROR_BAD_VALUE, "\"epochs\"" },
  { "table-epochs-backwards", TABLE "epochs = 9-5\n", DISCO_ERROR_BAD_VALUE, "9-5" },
  { "table-empty-path", TABLE "path =\n", DISCO_ERROR_BAD_VALUE, "\"path\"" },
  { "table-relative-path", "[x]\nnode = sweep-source\n[t]\nnode = table-writer\ncolumn-1 = x\n",
    DISCO_ERROR_BAD_VALUE, "output folder" },
  { "table-series-syntax", TABLE "plot = p.png\nplot-series = x.value\n", DISCO_ERROR_BAD_VALUE,
    "\"x.value\"" },
  { "table-series-column", TABLE "plot-series = x.value:c.dw\n", DISCO_ERROR_BAD_VALUE,
    "no column \"c.dw\"" },
  { "table-plot-one-column", SWEEP "[t]\nnode = table-writer\ncolumn-1 = x\nplot = p.png\n",
    DISCO_ERROR_BAD_VALUE, "\"plot\"" },
  { "table-width", TABLE, DISCO_ERROR_BAD_VALUE, "\"width\"", { "t.width=10" } },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/disco/figures/sweep/linspace", test_sweep_linspace);
  g_test_add_func ("/disco/figures/sweep/batches", test_sweep_batches);
  g_test_add_func ("/disco/figures/sweep/edges", test_sweep_edges);
  g_test_add_func ("/disco/figures/circuit/euler-steps", test_circuit_euler_steps);
  g_test_add_func ("/disco/figures/circuit/isolated", test_circuit_isolated);
  g_test_add_func ("/disco/figures/figure3/bcm", test_figure3_bcm);
  g_test_add_func ("/disco/figures/figure3/exact-no-feedback", test_figure3_exact_no_feedback);
  g_test_add_func ("/disco/figures/figure3/feedback", test_figure3_feedback);
  g_test_add_func ("/disco/figures/figure3/isolated", test_figure3_isolated);
  g_test_add_func ("/disco/figures/table/exact", test_table_exact);
  g_test_add_func ("/disco/figures/table/epochs", test_table_epochs);
  g_test_add_func ("/disco/figures/table/epoch-ranges", test_table_epoch_ranges);
  g_test_add_func ("/disco/figures/table/wide-input", test_table_wide_input);
  g_test_add_func ("/disco/figures/table/mismatch", test_table_mismatch);
  g_test_add_func ("/disco/figures/table/unknown-plot-column", test_table_unknown_plot_column);
  g_test_add_func ("/disco/figures/table/plot", test_table_plot);
  test_add_bad_pipelines ("/disco/figures/bad", bad_rows, G_N_ELEMENTS (bad_rows));
  return g_test_run ();
}
