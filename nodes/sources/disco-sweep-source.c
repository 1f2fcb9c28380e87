/* disco-sweep-source.c */

/**
 * SECTION:node-sweep-source
 * @title: sweep-source
 * @short_description: evenly spaced values of a parameter, as ticks
 *
 * A source for parameter sweeps such as the input of Figure 3 (MODEL.md §7):
 * the #DiscoSweepSource:count values of numpy's
 * `linspace(start, stop, count)`, that is start + i·(stop − start)/(count − 1)
 * for i = 0 … count − 1 with the last value exactly `stop` (and just `start`
 * when count is 1). The values are computed in double and stored as float32.
 * They leave in ticks of #DiscoSweepSource:batch-size values, one value per
 * row; the last tick of a sweep may be shorter. One epoch is the whole
 * sweep; #DiscoSweepSource:epochs repeats it.
 *
 * Ports: output `value` (the tick's values, n × 1).
 *
 * ## Example pipeline
 * |[
 * [x]
 * node = sweep-source
 * start = 0
 * stop = 10
 * count = 100
 * batch-size = 100          # the whole sweep in one tick
 * ]|
 */

#include "disco-sweep-source.h"
#include "disco-nodes.h"

#include <math.h>

#define DEFAULT_START 0.0
#define DEFAULT_STOP 1.0
#define DEFAULT_COUNT 50
#define DEFAULT_BATCH_SIZE 1
#define DEFAULT_EPOCHS 1

struct _DiscoSweepSource
{
  DiscoNode parent_instance;

  double start;
  double stop;
  guint count;
  guint batch_size;
  guint epochs;

  float *values; /* count values, filled in prepare */
  guint ticks_per_epoch;
  guint64 emitted; /* ticks */
};

G_DEFINE_FINAL_TYPE (DiscoSweepSource, disco_sweep_source, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (sweep_source, "sweep-source", DISCO_TYPE_SWEEP_SOURCE)

enum
{
  PROP_0,
  PROP_START,
  PROP_STOP,
  PROP_COUNT,
  PROP_BATCH_SIZE,
  PROP_EPOCHS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_sweep_source_finalize (GObject *object)
{
  DiscoSweepSource *self = DISCO_SWEEP_SOURCE (object);

  g_free (self->values);
  G_OBJECT_CLASS (disco_sweep_source_parent_class)->finalize (object);
}

static void
disco_sweep_source_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoSweepSource *self = DISCO_SWEEP_SOURCE (object);

  switch (prop_id)
    {
    case PROP_START: g_value_set_double (value, self->start); break;
    case PROP_STOP: g_value_set_double (value, self->stop); break;
    case PROP_COUNT: g_value_set_uint (value, self->count); break;
    case PROP_BATCH_SIZE: g_value_set_uint (value, self->batch_size); break;
    case PROP_EPOCHS: g_value_set_uint (value, self->epochs); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_sweep_source_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  DiscoSweepSource *self = DISCO_SWEEP_SOURCE (object);

  switch (prop_id)
    {
    case PROP_START: self->start = g_value_get_double (value); break;
    case PROP_STOP: self->stop = g_value_get_double (value); break;
    case PROP_COUNT: self->count = g_value_get_uint (value); break;
    case PROP_BATCH_SIZE: self->batch_size = g_value_get_uint (value); break;
    case PROP_EPOCHS: self->epochs = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_sweep_source_prepare (DiscoNode *node, GError **error)
{
  DiscoSweepSource *self = DISCO_SWEEP_SOURCE (node);
  gsize shape[2] = { 0, 1 };
  double step;

  /* The file loader and GObject's range check already refuse NaN and
   * infinities; this guard keeps a sweep from ever emitting one. */
  if (!isfinite (self->start) || !isfinite (self->stop))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "property \"%s\" of node \"%s\" is %g: the sweep needs finite ends",
                   isfinite (self->start) ? "stop" : "start", disco_node_get_name (node),
                   isfinite (self->start) ? self->stop : self->start);
      return FALSE;
    }

  /* numpy.linspace: i·step + start in double, the last value exactly stop. */
  g_clear_pointer (&self->values, g_free);
  self->values = g_new (float, self->count);
  step = self->count > 1 ? (self->stop - self->start) / (self->count - 1) : 0.0;
  for (guint i = 0; i < self->count; i++)
    {
      double v = self->count > 1 && i == self->count - 1 ? self->stop : i * step + self->start;

      if (!isfinite (v) || fabs (v) > G_MAXFLOAT)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "properties \"start\" and \"stop\" of node \"%s\" (%g, %g): value %u "
                       "of the sweep, %g, does not fit a float32",
                       disco_node_get_name (node), self->start, self->stop, i + 1, v);
          return FALSE;
        }
      self->values[i] = (float) v;
    }
  self->ticks_per_epoch = (self->count + self->batch_size - 1) / self->batch_size;
  self->emitted = 0;
  disco_node_declare_output (node, "value", 2, shape);
  return TRUE;
}

static DiscoFlowReturn
disco_sweep_source_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoSweepSource *self = DISCO_SWEEP_SOURCE (node);
  guint batch, first;
  gsize shape[2] = { 0, 1 };
  float *out;

  if (self->emitted >= (guint64) self->ticks_per_epoch * self->epochs)
    return DISCO_FLOW_EOS;

  batch = self->emitted % self->ticks_per_epoch;
  first = batch * self->batch_size;
  shape[0] = MIN (self->batch_size, self->count - first);
  out = disco_tensor_write_host (disco_node_ensure_output (node, "value", 2, shape), error);
  if (out == NULL)
    return DISCO_FLOW_ERROR;
  for (gsize i = 0; i < shape[0]; i++)
    out[i] = self->values[first + i];

  tick->epoch = self->emitted / self->ticks_per_epoch + 1;
  tick->batch = batch;
  tick->n_epochs = self->epochs;
  tick->n_ticks = (guint64) self->ticks_per_epoch * self->epochs;
  tick->batch_size = shape[0];
  if (batch + 1 == self->ticks_per_epoch)
    tick->flags |= DISCO_TICK_FLAG_EPOCH_END | DISCO_TICK_FLAG_PHASE_END;
  self->emitted++;
  return DISCO_FLOW_OK;
}

static gboolean
disco_sweep_source_resume (DiscoNode *node, guint epoch, GError **error)
{
  DiscoSweepSource *self = DISCO_SWEEP_SOURCE (node);

  self->emitted = (guint64) (epoch - 1) * self->ticks_per_epoch;
  return TRUE;
}

static void
disco_sweep_source_class_init (DiscoSweepSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->finalize = disco_sweep_source_finalize;
  object_class->get_property = disco_sweep_source_get_property;
  object_class->set_property = disco_sweep_source_set_property;
  node_class->prepare = disco_sweep_source_prepare;
  node_class->process = disco_sweep_source_process;
  node_class->resume = disco_sweep_source_resume;

  properties[PROP_START] =
      g_param_spec_double ("start", "Start", "First value of the sweep (finite)", -G_MAXDOUBLE,
                           G_MAXDOUBLE, DEFAULT_START, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STOP] = g_param_spec_double (
      "stop", "Stop", "Last value of the sweep, included (finite; may be below start)",
      -G_MAXDOUBLE, G_MAXDOUBLE, DEFAULT_STOP, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_COUNT] =
      g_param_spec_uint ("count", "Count",
                         "Number of evenly spaced values from start to stop, both included "
                         "(numpy.linspace)",
                         1, 100000000, DEFAULT_COUNT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BATCH_SIZE] = g_param_spec_uint (
      "batch-size", "Batch size",
      "Values per tick (rows of the output); the last tick of a sweep may "
      "have fewer",
      1, 100000000, DEFAULT_BATCH_SIZE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_EPOCHS] =
      g_param_spec_uint ("epochs", "Epochs", "Times the whole sweep is emitted, one epoch each", 1,
                         1000000, DEFAULT_EPOCHS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Produces host tensors; a node on the device takes its copy lazily. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Sweep source", "Source/Sweep",
                                 "Emits evenly spaced values from start to stop "
                                 "(numpy.linspace) as ticks of batch-size rows");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "value", DISCO_PORT_FLAG_NONE,
                             "the tick's values of the sweep, n × 1 (float32)");
}

static void
disco_sweep_source_init (DiscoSweepSource *self)
{
  self->start = DEFAULT_START;
  self->stop = DEFAULT_STOP;
  self->count = DEFAULT_COUNT;
  self->batch_size = DEFAULT_BATCH_SIZE;
  self->epochs = DEFAULT_EPOCHS;
}
