/* disco-evaluator.c */

/**
 * SECTION:node-evaluator
 * @title: evaluator
 * @short_description: loss and accuracy per epoch and phase, written to results.json
 *
 * Sums the loss and counts correct predictions (arg max of the prediction
 * equals arg max of the target) over every tick of a phase (train,
 * validation, test), and at the end of each epoch writes the report file
 * into the run's output folder, atomically:
 *
 * |[
 * {"epochs": [{"epoch": 1,
 *              "train": {"loss": 0.31, "accuracy": 91.2, "samples": 54000, "mean_steps": 29.1,
 *                        "unconverged": 0},
 *              "validation": {…}, "test": {…},
 *              "weight_norm": 6.1, "weight_norms": {"h1.weight": 11.3, …}}],
 *  "wall_time_s": 215.3, "device": "cpu", "config": {…every node's properties…}}
 * ]|
 *
 * Accuracy is in percent. With `steps` linked (an integrator's `steps`
 * output), each phase also reports the mean solver steps per sample; with
 * `unconverged` linked (an integrator's `unconverged` output), the number of
 * samples whose solve ended unconverged ("unconverged": 0 in a sound run). At the
 * end of an epoch the Frobenius norm of every layer parameter is recorded,
 * with their mean as "weight_norm" (the reference's metric).
 *
 * Ports: inputs `prediction` (batch × classes, logits), `target`
 * (batch × classes, one-hot or soft), optional `steps` (batch) and
 * `unconverged` (batch, 1 per unconverged sample).
 *
 * ## Example pipeline
 * |[
 * [score]
 * node = evaluator
 * prediction = settle.output
 * target = data.targets
 * steps = settle.steps
 * unconverged = settle.unconverged
 * report = results.json
 * ]|
 */

#include "disco-evaluator.h"
#include "disco-json.h"
#include "disco-node-util.h"
#include "disco-nodes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

G_DEFINE_ENUM_TYPE (DiscoEvaluatorLoss, disco_evaluator_loss,
                    G_DEFINE_ENUM_VALUE (DISCO_EVALUATOR_LOSS_CROSS_ENTROPY, "cross-entropy"),
                    G_DEFINE_ENUM_VALUE (DISCO_EVALUATOR_LOSS_MSE, "mse"))

#define DEFAULT_REPORT "results.json"
#define DEFAULT_LOSS DISCO_EVALUATOR_LOSS_CROSS_ENTROPY
#define N_PHASES 4

typedef struct
{
  double loss_sum;
  guint64 correct;
  guint64 samples;
  double steps_sum;
  guint64 steps_samples;
  guint64 unconverged;
  guint64 unconverged_samples;
} PhaseSums;

typedef struct
{
  guint epoch;
  PhaseSums phases[N_PHASES]; /* indexed by DiscoPhase */
  char *weight_norms;         /* JSON members, set when the epoch ends */
} EpochSums;

static void
epoch_sums_clear (gpointer data)
{
  g_free (((EpochSums *) data)->weight_norms);
}

struct _DiscoEvaluator
{
  DiscoNode parent_instance;

  char *report;
  DiscoEvaluatorLoss loss;

  GArray *epochs;            /* EpochSums, finished and current */
  GPtrArray *restored;       /* report lines of epochs before a resume */
  double restored_wall_time; /* seconds the run had taken before a resume */
  gint64 start_us;
};

G_DEFINE_FINAL_TYPE (DiscoEvaluator, disco_evaluator, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (evaluator, "evaluator", DISCO_TYPE_EVALUATOR)

enum
{
  PROP_0,
  PROP_REPORT,
  PROP_LOSS,
  PROP_TEST_ACCURACY,
  PROP_VALIDATION_ACCURACY,
  PROP_TRAIN_ACCURACY,
  PROP_TEST_LOSS,
  PROP_VALIDATION_LOSS,
  PROP_TRAIN_LOSS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static EpochSums *
find_epoch (DiscoEvaluator *self, guint epoch)
{
  for (guint i = 0; i < self->epochs->len; i++)
    if (g_array_index (self->epochs, EpochSums, i).epoch == epoch)
      return &g_array_index (self->epochs, EpochSums, i);
  return NULL;
}

/**
 * disco_evaluator_get_accuracy:
 * @self: an evaluator
 * @epoch: an epoch (0 for ticks without epochs)
 * @phase: a phase
 *
 * Returns: the accuracy in percent over the samples seen, or NaN when none
 */
double
disco_evaluator_get_accuracy (DiscoEvaluator *self, guint epoch, DiscoPhase phase)
{
  EpochSums *sums;

  g_return_val_if_fail (DISCO_IS_EVALUATOR (self), NAN);
  g_return_val_if_fail (phase < N_PHASES, NAN);
  sums = find_epoch (self, epoch);
  if (sums == NULL || sums->phases[phase].samples == 0)
    return NAN;
  return 100.0 * sums->phases[phase].correct / sums->phases[phase].samples;
}

/**
 * disco_evaluator_get_loss:
 * @self: an evaluator
 * @epoch: an epoch (0 for ticks without epochs)
 * @phase: a phase
 *
 * Returns: the mean loss per sample, or NaN when no sample was seen
 */
double
disco_evaluator_get_loss (DiscoEvaluator *self, guint epoch, DiscoPhase phase)
{
  EpochSums *sums;

  g_return_val_if_fail (DISCO_IS_EVALUATOR (self), NAN);
  g_return_val_if_fail (phase < N_PHASES, NAN);
  sums = find_epoch (self, epoch);
  if (sums == NULL || sums->phases[phase].samples == 0)
    return NAN;
  return sums->phases[phase].loss_sum / sums->phases[phase].samples;
}

static guint
last_epoch (DiscoEvaluator *self)
{
  return self->epochs->len > 0
             ? g_array_index (self->epochs, EpochSums, self->epochs->len - 1).epoch
             : G_MAXUINT;
}

static void
disco_evaluator_finalize (GObject *object)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (object);

  g_free (self->report);
  g_array_unref (self->epochs);
  g_ptr_array_unref (self->restored);
  G_OBJECT_CLASS (disco_evaluator_parent_class)->finalize (object);
}

static void
disco_evaluator_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (object);

  switch (prop_id)
    {
    case PROP_REPORT: g_value_set_string (value, self->report); break;
    case PROP_LOSS: g_value_set_enum (value, self->loss); break;
    case PROP_TEST_ACCURACY:
      g_value_set_double (value,
                          disco_evaluator_get_accuracy (self, last_epoch (self), DISCO_PHASE_TEST));
      break;
    case PROP_VALIDATION_ACCURACY:
      g_value_set_double (
          value, disco_evaluator_get_accuracy (self, last_epoch (self), DISCO_PHASE_VALIDATION));
      break;
    case PROP_TRAIN_ACCURACY:
      g_value_set_double (
          value, disco_evaluator_get_accuracy (self, last_epoch (self), DISCO_PHASE_TRAIN));
      break;
    case PROP_TEST_LOSS:
      g_value_set_double (value,
                          disco_evaluator_get_loss (self, last_epoch (self), DISCO_PHASE_TEST));
      break;
    case PROP_VALIDATION_LOSS:
      g_value_set_double (
          value, disco_evaluator_get_loss (self, last_epoch (self), DISCO_PHASE_VALIDATION));
      break;
    case PROP_TRAIN_LOSS:
      g_value_set_double (value,
                          disco_evaluator_get_loss (self, last_epoch (self), DISCO_PHASE_TRAIN));
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_evaluator_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (object);

  switch (prop_id)
    {
    case PROP_REPORT:
      g_free (self->report);
      self->report = g_value_dup_string (value);
      if (self->report != NULL && *self->report == '\0')
        g_clear_pointer (&self->report, g_free);
      break;
    case PROP_LOSS: self->loss = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_evaluator_prepare (DiscoNode *node, GError **error)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (node);
  guint n_pred, n_target;
  const gsize *pred = disco_node_get_input_declared_shape (node, "prediction", &n_pred);
  const gsize *target = disco_node_get_input_declared_shape (node, "target", &n_target);

  if (pred != NULL && target != NULL && (n_pred != 2 || n_target != 2 || pred[1] != target[1]))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": \"prediction\" and \"target\" must both be batch × classes "
                   "with the same number of classes",
                   disco_node_get_name (node));
      return FALSE;
    }
  if (!disco_node_check_output_path (node, "report", self->report, error))
    return FALSE;
  g_array_set_size (self->epochs, 0);
  g_ptr_array_set_size (self->restored, 0);
  self->restored_wall_time = 0;
  self->start_us = g_get_monotonic_time ();
  return TRUE;
}

static DiscoFlowReturn
disco_evaluator_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (node);
  DiscoTensor *prediction = disco_node_get_input (node, "prediction");
  DiscoTensor *target = disco_node_get_input (node, "target");
  DiscoTensor *steps = disco_node_get_input (node, "steps");
  DiscoTensor *unconverged = disco_node_get_input (node, "unconverged");
  const float *y, *t, *s = NULL, *u = NULL;
  gsize B, C;
  EpochSums *sums;
  PhaseSums *phase;

  if (prediction == NULL || target == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK, "node \"%s\" received no %s this tick",
                   disco_node_get_name (node), prediction == NULL ? "prediction" : "target");
      return DISCO_FLOW_ERROR;
    }
  B = disco_tensor_get_dim (prediction, 0);
  C = disco_tensor_get_row_size (prediction);
  if (disco_tensor_get_dim (target, 0) != B || disco_tensor_get_row_size (target) != C
      || (steps != NULL && disco_tensor_get_n_elements (steps) != B)
      || (unconverged != NULL && disco_tensor_get_n_elements (unconverged) != B))
    {
      g_autofree char *a = disco_tensor_shape_to_string (prediction);
      g_autofree char *b = disco_tensor_shape_to_string (target);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": prediction %s and target %s do not match",
                   disco_node_get_name (node), a, b);
      return DISCO_FLOW_ERROR;
    }
  if ((y = disco_tensor_read_host (prediction, error)) == NULL
      || (t = disco_tensor_read_host (target, error)) == NULL
      || (steps != NULL && (s = disco_tensor_read_host (steps, error)) == NULL)
      || (unconverged != NULL && (u = disco_tensor_read_host (unconverged, error)) == NULL))
    return DISCO_FLOW_ERROR;

  sums = find_epoch (self, tick->epoch);
  if (sums == NULL)
    {
      EpochSums fresh = { .epoch = tick->epoch };
      g_array_append_val (self->epochs, fresh);
      sums = &g_array_index (self->epochs, EpochSums, self->epochs->len - 1);
    }
  phase = &sums->phases[tick->phase];

  for (gsize b = 0; b < B; b++)
    {
      const float *yb = y + b * C, *tb = t + b * C;
      double loss = 0;

      if (self->loss == DISCO_EVALUATOR_LOSS_CROSS_ENTROPY)
        {
          /* log softmax with the maximum subtracted, in double */
          double m = yb[disco_node_util_argmax (yb, C)], z = 0;
          for (gsize c = 0; c < C; c++)
            z += exp ((double) yb[c] - m);
          for (gsize c = 0; c < C; c++)
            loss -= tb[c] * ((double) yb[c] - m - log (z));
        }
      else
        {
          for (gsize c = 0; c < C; c++)
            loss += ((double) yb[c] - tb[c]) * ((double) yb[c] - tb[c]);
          loss /= C;
        }
      phase->loss_sum += loss;
      phase->correct += disco_node_util_argmax (yb, C) == disco_node_util_argmax (tb, C);
      if (s != NULL)
        {
          phase->steps_sum += s[b];
          phase->steps_samples++;
        }
      if (u != NULL)
        {
          phase->unconverged += u[b] != 0;
          phase->unconverged_samples++;
        }
    }
  phase->samples += B;
  return DISCO_FLOW_OK;
}

/* ----- the report ------------------------------------------------------- */

static void
json_number (GString *out, double v)
{
  if (isfinite (v))
    g_string_append_printf (out, "%.9g", v);
  else
    g_string_append (out, "null");
}

static void
json_value (GString *out, const GValue *value)
{
  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value)))
    {
    case G_TYPE_BOOLEAN:
      g_string_append (out, g_value_get_boolean (value) ? "true" : "false");
      break;
    case G_TYPE_INT: g_string_append_printf (out, "%d", g_value_get_int (value)); break;
    case G_TYPE_UINT: g_string_append_printf (out, "%u", g_value_get_uint (value)); break;
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, g_value_get_int64 (value));
      break;
    case G_TYPE_UINT64:
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_value_get_uint64 (value));
      break;
    case G_TYPE_FLOAT: json_number (out, g_value_get_float (value)); break;
    case G_TYPE_DOUBLE: json_number (out, g_value_get_double (value)); break;
    case G_TYPE_STRING:
      if (g_value_get_string (value) == NULL)
        g_string_append (out, "null");
      else
        disco_json_append_string (out, g_value_get_string (value));
      break;
    default:
      {
        /* Enums and flags by nick, as the pipeline file writes them. */
        g_autofree char *text = disco_value_to_string (value);
        disco_json_append_string (out, text);
      }
    }
}

/* Every writable property of an object: the configuration that made the run. */
static void
json_object_properties (GString *out, GObject *object, const char *type_name)
{
  guint n;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n);
  gboolean first = TRUE;

  g_string_append_c (out, '{');
  if (type_name != NULL)
    {
      g_string_append (out, "\"node\": ");
      disco_json_append_string (out, type_name);
      first = FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      GValue value = G_VALUE_INIT;

      if (!(pspecs[i]->flags & G_PARAM_WRITABLE) || (pspecs[i]->flags & G_PARAM_CONSTRUCT_ONLY))
        continue;
      g_value_init (&value, pspecs[i]->value_type);
      g_object_get_property (object, pspecs[i]->name, &value);
      g_string_append (out, first ? "" : ", ");
      disco_json_append_string (out, pspecs[i]->name);
      g_string_append (out, ": ");
      json_value (out, &value);
      g_value_unset (&value);
      first = FALSE;
    }
  g_string_append_c (out, '}');
}

/* One epoch's line of the report; a resumed run keeps earlier lines verbatim. */
static char *
epoch_json (const EpochSums *sums)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "    {\"epoch\": %u", sums->epoch);
  for (DiscoPhase p = DISCO_PHASE_NONE; p < N_PHASES; p++)
    {
      const PhaseSums *phase = &sums->phases[p];
      if (phase->samples == 0)
        continue;
      g_string_append_printf (out, ", \"%s\": {\"loss\": ", disco_phase_to_string (p));
      json_number (out, phase->loss_sum / phase->samples);
      g_string_append (out, ", \"accuracy\": ");
      json_number (out, 100.0 * phase->correct / phase->samples);
      g_string_append_printf (out, ", \"samples\": %" G_GUINT64_FORMAT, phase->samples);
      if (phase->steps_samples > 0)
        {
          g_string_append (out, ", \"mean_steps\": ");
          json_number (out, phase->steps_sum / phase->steps_samples);
        }
      if (phase->unconverged_samples > 0)
        g_string_append_printf (out, ", \"unconverged\": %" G_GUINT64_FORMAT, phase->unconverged);
      g_string_append_c (out, '}');
    }
  if (sums->weight_norms != NULL)
    g_string_append_printf (out, ", %s", sums->weight_norms);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

static char *
build_report (DiscoEvaluator *self)
{
  DiscoPipeline *pipeline = disco_node_get_pipeline (DISCO_NODE (self));
  g_auto (GStrv) names = disco_pipeline_list_nodes (pipeline);
  GString *out = g_string_new ("{\n  \"epochs\": [");
  g_autoptr (GEnumClass) devices = g_type_class_ref (DISCO_TYPE_DEVICE);
  guint n_lines = 0;

  for (guint i = 0; i < self->restored->len; i++)
    g_string_append_printf (out, "%s\n%s", n_lines++ ? "," : "",
                            (const char *) g_ptr_array_index (self->restored, i));
  for (guint i = 0; i < self->epochs->len; i++)
    {
      g_autofree char *line = epoch_json (&g_array_index (self->epochs, EpochSums, i));
      g_string_append_printf (out, "%s\n%s", n_lines++ ? "," : "", line);
    }
  g_string_append (out, "\n  ],\n  \"wall_time_s\": ");
  json_number (out, self->restored_wall_time + (g_get_monotonic_time () - self->start_us) / 1e6);
  g_string_append (out, ",\n  \"device\": ");
  disco_json_append_string (
      out, g_enum_get_value (devices, disco_pipeline_get_active_device (pipeline))->value_nick);
  g_string_append (out, ",\n  \"config\": {\n    \"pipeline\": ");
  json_object_properties (out, G_OBJECT (pipeline), NULL);
  for (guint i = 0; names[i] != NULL; i++)
    {
      DiscoNode *node = disco_pipeline_get_node (pipeline, names[i]);
      const char *type = disco_registry_get_name_for_type (G_OBJECT_TYPE (node));

      g_string_append (out, ",\n    ");
      disco_json_append_string (out, names[i]);
      g_string_append (out, ": ");
      json_object_properties (out, G_OBJECT (node),
                              type != NULL ? type : G_OBJECT_TYPE_NAME (node));
    }
  g_string_append (out, "\n  }\n}\n");
  return g_string_free (out, FALSE);
}

static gboolean
write_report (DiscoEvaluator *self, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *json = NULL;

  if (self->report == NULL)
    return TRUE;
  path = disco_pipeline_build_output_path (disco_node_get_pipeline (DISCO_NODE (self)),
                                           self->report, error);
  if (path == NULL)
    return FALSE;
  json = build_report (self);
  return disco_write_file_atomically (path, (const guint8 *) json, strlen (json), error);
}

/* The Frobenius norm of every parameter of every layer (dynamical node),
 * and their mean, as the reference logs it ("weight_norm"). */
static char *
weight_norms_json (DiscoPipeline *pipeline)
{
  g_auto (GStrv) names = disco_pipeline_list_nodes (pipeline);
  GString *members = g_string_new (NULL);
  double sum = 0;
  guint count = 0;

  for (guint i = 0; names[i] != NULL; i++)
    {
      DiscoNode *node = disco_pipeline_get_node (pipeline, names[i]);
      g_auto (GStrv) parameters = NULL;

      if (!disco_node_is_dynamical (node))
        continue;
      parameters = disco_node_list_parameters (node);
      for (guint j = 0; parameters[j] != NULL; j++)
        {
          DiscoTensor *tensor = disco_node_get_parameter (node, parameters[j]);
          const float *v = disco_tensor_read_host (tensor, NULL);
          double norm2 = 0;

          if (v == NULL)
            continue;
          for (gsize k = 0; k < disco_tensor_get_n_elements (tensor); k++)
            norm2 += (double) v[k] * v[k];
          g_string_append_printf (members, "%s\"%s.%s\": ", count ? ", " : "", names[i],
                                  parameters[j]);
          json_number (members, sqrt (norm2));
          sum += sqrt (norm2);
          count++;
        }
    }
  if (count == 0)
    {
      g_string_free (members, TRUE);
      return NULL;
    }
  {
    GString *out = g_string_new ("\"weight_norm\": ");
    json_number (out, sum / count);
    g_string_append_printf (out, ", \"weight_norms\": {%s}", members->str);
    g_string_free (members, TRUE);
    return g_string_free (out, FALSE);
  }
}

static gboolean
disco_evaluator_end_epoch (DiscoNode *node, guint epoch, GError **error)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (node);
  EpochSums *sums = find_epoch (self, epoch);

  if (sums != NULL)
    {
      g_free (sums->weight_norms);
      sums->weight_norms = weight_norms_json (disco_node_get_pipeline (node));
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TEST_ACCURACY]);
  return write_report (self, error);
}

/* Takes the lines of epochs before @epoch, and the wall time, from the
 * report the interrupted run wrote (one epoch per line, as epoch_json). */
static gboolean
disco_evaluator_resume (DiscoNode *node, guint epoch, GError **error)
{
  DiscoEvaluator *self = DISCO_EVALUATOR (node);
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) read_error = NULL;

  if (self->report == NULL)
    return TRUE;
  path = disco_pipeline_build_output_path (disco_node_get_pipeline (node), self->report, error);
  if (path == NULL)
    return FALSE;
  if (!g_file_get_contents (path, &contents, NULL, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                   "%s: cannot read the report of the run to resume: %s", path,
                   read_error->message);
      return FALSE;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      guint line_epoch;

      if (sscanf (line, "    {\"epoch\": %u", &line_epoch) == 1 && line_epoch < epoch)
        g_ptr_array_add (self->restored,
                         g_strndup (line, strlen (line) - (g_str_has_suffix (line, ",") ? 1 : 0)));
      else if (g_str_has_prefix (line, "  \"wall_time_s\": "))
        self->restored_wall_time = g_ascii_strtod (line + strlen ("  \"wall_time_s\": "), NULL);
    }
  if (self->restored->len + 1 != epoch)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: holds %u epochs before epoch %u, expected %u", path, self->restored->len,
                   epoch, epoch - 1);
      return FALSE;
    }
  return TRUE;
}

static void
disco_evaluator_class_init (DiscoEvaluatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = disco_evaluator_finalize;
  object_class->get_property = disco_evaluator_get_property;
  object_class->set_property = disco_evaluator_set_property;
  node_class->prepare = disco_evaluator_prepare;
  node_class->process = disco_evaluator_process;
  node_class->end_epoch = disco_evaluator_end_epoch;
  node_class->resume = disco_evaluator_resume;

  properties[PROP_REPORT] =
      g_param_spec_string ("report", "Report file",
                           "JSON report rewritten after every epoch, relative to the output "
                           "folder (empty: write nothing)",
                           DEFAULT_REPORT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOSS] = g_param_spec_enum (
      "loss", "Loss", "cross-entropy (soft targets allowed) or mse", DISCO_TYPE_EVALUATOR_LOSS,
      DEFAULT_LOSS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TEST_ACCURACY] =
      g_param_spec_double ("test-accuracy", "Test accuracy",
                           "Test accuracy of the latest epoch (%), NaN when it had no test tick",
                           -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  properties[PROP_VALIDATION_ACCURACY] = g_param_spec_double (
      "validation-accuracy", "Validation accuracy", "Validation accuracy of the latest epoch (%)",
      -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  properties[PROP_TRAIN_ACCURACY] = g_param_spec_double (
      "train-accuracy", "Train accuracy", "Training accuracy of the latest epoch (%)", -G_MAXDOUBLE,
      G_MAXDOUBLE, 0, ro);
  properties[PROP_TEST_LOSS] =
      g_param_spec_double ("test-loss", "Test loss", "Mean test loss of the latest epoch",
                           -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  properties[PROP_VALIDATION_LOSS] = g_param_spec_double (
      "validation-loss", "Validation loss", "Mean validation loss of the latest epoch",
      -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  properties[PROP_TRAIN_LOSS] =
      g_param_spec_double ("train-loss", "Train loss", "Mean training loss of the latest epoch",
                           -G_MAXDOUBLE, G_MAXDOUBLE, 0, ro);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Evaluator", "Sink/Metrics",
                                 "Loss and accuracy per epoch and phase; writes results.json "
                                 "after every epoch");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "prediction", DISCO_PORT_FLAG_NONE,
                             "the network's output (logits), batch × classes");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "target", DISCO_PORT_FLAG_NONE,
                             "targets, one-hot or soft, batch × classes");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "steps", DISCO_PORT_FLAG_OPTIONAL,
                             "solver steps per sample (an integrator's \"steps\"), batch");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "unconverged", DISCO_PORT_FLAG_OPTIONAL,
                             "1 per sample whose solve ended unconverged (an integrator's "
                             "\"unconverged\"), batch; counted per phase in the report");
}

static void
disco_evaluator_init (DiscoEvaluator *self)
{
  self->report = g_strdup (DEFAULT_REPORT);
  self->loss = DEFAULT_LOSS;
  self->epochs = g_array_new (FALSE, TRUE, sizeof (EpochSums));
  g_array_set_clear_func (self->epochs, epoch_sums_clear);
  self->restored = g_ptr_array_new_with_free_func (g_free);
}
