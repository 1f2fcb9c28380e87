/* disco-learning-curves.c */

/**
 * SECTION:node-learning-curves
 * @title: learning-curves
 * @short_description: accuracy and loss per epoch, drawn from results.json
 *
 * After every epoch, reads the report that an #DiscoEvaluator wrote
 * (#DiscoLearningCurves:report, "results.json" by default) and draws one
 * PNG figure into the run's output folder, atomically: accuracy in percent
 * per epoch on top and loss per epoch below, one line per phase (train,
 * validation, test), with axes, tick numbers, labels and a legend. The file
 * is redrawn each epoch, so it always shows the run so far.
 *
 * The drawing happens when #DiscoPipeline::epoch-finished is emitted, that
 * is after every node's end_epoch hook (the evaluator's included) has run,
 * so the node may stand anywhere in the pipeline file. An error while
 * drawing fails the run at its next tick, or at its end.
 *
 * Ports: none; the node needs no links.
 *
 * ## Example pipeline
 * |[
 * [score]
 * node = evaluator
 * prediction = settle.output
 * target = data.targets
 * report = results.json
 *
 * [curves]
 * node = learning-curves
 * report = results.json
 * path = learning-curves.png
 * ]|
 *
 * The disco-plot tool draws the same figure from a finished run's report.
 */

#include "disco-learning-curves.h"
#include "disco-node-util.h"
#include "disco-nodes.h"
#include "disco-plot.h"

#define DEFAULT_REPORT "results.json"
#define DEFAULT_PATH "learning-curves.png"
#define DEFAULT_WIDTH 800
#define DEFAULT_HEIGHT 900
#define MIN_SIZE 200
#define MAX_SIZE 8192

struct _DiscoLearningCurves
{
  DiscoNode parent_instance;

  char *report;
  char *path;
  guint width;
  guint height;
  guint figures_written;
  gulong handler;
  GError *pending; /* an error of the epoch-finished handler, not yet reported */
};

G_DEFINE_FINAL_TYPE (DiscoLearningCurves, disco_learning_curves, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (learning_curves, "learning-curves", DISCO_TYPE_LEARNING_CURVES)

enum
{
  PROP_0,
  PROP_REPORT,
  PROP_PATH,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_FIGURES_WRITTEN,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_learning_curves_finalize (GObject *object)
{
  DiscoLearningCurves *self = DISCO_LEARNING_CURVES (object);

  g_free (self->report);
  g_free (self->path);
  g_clear_error (&self->pending);
  G_OBJECT_CLASS (disco_learning_curves_parent_class)->finalize (object);
}

static void
disco_learning_curves_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  DiscoLearningCurves *self = DISCO_LEARNING_CURVES (object);

  switch (prop_id)
    {
    case PROP_REPORT: g_value_set_string (value, self->report); break;
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_WIDTH: g_value_set_uint (value, self->width); break;
    case PROP_HEIGHT: g_value_set_uint (value, self->height); break;
    case PROP_FIGURES_WRITTEN: g_value_set_uint (value, self->figures_written); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_learning_curves_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  DiscoLearningCurves *self = DISCO_LEARNING_CURVES (object);

  switch (prop_id)
    {
    case PROP_REPORT:
      g_free (self->report);
      self->report = g_value_dup_string (value);
      break;
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_WIDTH: self->width = g_value_get_uint (value); break;
    case PROP_HEIGHT: self->height = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
draw (DiscoLearningCurves *self, GError **error)
{
  DiscoPipeline *pipeline = disco_node_get_pipeline (DISCO_NODE (self));
  g_autofree char *report = NULL;
  g_autoptr (GBytes) png = NULL;

  report = disco_pipeline_build_output_path (pipeline, self->report, error);
  if (report == NULL)
    return FALSE;
  png = disco_plot_learning_curves (report, self->width, self->height, error);
  if (png == NULL)
    return FALSE;
  if (!disco_node_util_write_output (DISCO_NODE (self), self->path, png, error))
    return FALSE;
  self->figures_written++;
  return TRUE;
}

static void
on_epoch_finished (DiscoPipeline *pipeline, guint epoch, gpointer user_data)
{
  DiscoLearningCurves *self = user_data;

  if (self->pending == NULL)
    draw (self, &self->pending);
}

static gboolean
take_pending (DiscoLearningCurves *self, GError **error)
{
  if (self->pending == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&self->pending));
  return FALSE;
}

static gboolean
disco_learning_curves_prepare (DiscoNode *node, GError **error)
{
  DiscoLearningCurves *self = DISCO_LEARNING_CURVES (node);
  DiscoPipeline *pipeline = disco_node_get_pipeline (node);
  const char *names[] = { "report", "path" };
  const char *values[] = { self->report, self->path };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      if (values[i] == NULL || values[i][0] == '\0')
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"%s\" of node \"%s\" is empty", names[i],
                       disco_node_get_name (node));
          return FALSE;
        }
      if (!disco_node_check_output_path (node, names[i], values[i], error))
        return FALSE;
    }
  self->figures_written = 0;
  g_clear_error (&self->pending);
  if (self->handler == 0)
    self->handler = g_signal_connect_object (pipeline, "epoch-finished",
                                             G_CALLBACK (on_epoch_finished), self, 0);
  return TRUE;
}

static DiscoFlowReturn
disco_learning_curves_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  return take_pending (DISCO_LEARNING_CURVES (node), error) ? DISCO_FLOW_OK : DISCO_FLOW_ERROR;
}

static gboolean
disco_learning_curves_finish (DiscoNode *node, GError **error)
{
  DiscoLearningCurves *self = DISCO_LEARNING_CURVES (node);

  if (self->handler != 0)
    g_signal_handler_disconnect (disco_node_get_pipeline (node), self->handler);
  self->handler = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FIGURES_WRITTEN]);
  return take_pending (self, error);
}

static void
disco_learning_curves_class_init (DiscoLearningCurvesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->finalize = disco_learning_curves_finalize;
  object_class->get_property = disco_learning_curves_get_property;
  object_class->set_property = disco_learning_curves_set_property;
  node_class->prepare = disco_learning_curves_prepare;
  node_class->process = disco_learning_curves_process;
  node_class->finish = disco_learning_curves_finish;

  properties[PROP_REPORT] = g_param_spec_string (
      "report", "Report", "The evaluator's results.json to read, relative to the output folder",
      DEFAULT_REPORT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "PNG file of the figure, relative to the output folder; redrawn "
                           "after every epoch",
                           DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_WIDTH] =
      g_param_spec_uint ("width", "Width", "Width of the figure in pixels", MIN_SIZE, MAX_SIZE,
                         DEFAULT_WIDTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_HEIGHT] = g_param_spec_uint (
      "height", "Height", "Height of the figure in pixels (accuracy and loss plots share it)",
      MIN_SIZE, MAX_SIZE, DEFAULT_HEIGHT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FIGURES_WRITTEN] =
      g_param_spec_uint ("figures-written", "Figures written",
                         "Times the figure was written in the current or last run", 0, G_MAXUINT, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Learning curves", "Sink/Report",
                                 "Draws accuracy and loss per epoch from results.json into "
                                 "a PNG after every epoch");
}

static void
disco_learning_curves_init (DiscoLearningCurves *self)
{
  self->report = g_strdup (DEFAULT_REPORT);
  self->path = g_strdup (DEFAULT_PATH);
  self->width = DEFAULT_WIDTH;
  self->height = DEFAULT_HEIGHT;
}
