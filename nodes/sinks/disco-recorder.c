/* disco-recorder.c */

/**
 * SECTION:node-recorder
 * @title: recorder
 * @short_description: a sink that records what it saw
 *
 * Counts the ticks it sees and sums their values; with
 * #DiscoRecorder:path set it writes one CSV line per tick
 * (`tick,epoch,batch,phase,elements,sum`) into the run's output folder at
 * the end of the run, atomically. The last tensor stays readable with
 * disco_node_get_input().
 *
 * Ports: input `input`.
 *
 * ## Example pipeline
 * |[
 * [log]
 * node = recorder
 * input = double
 * path = seen.csv
 * ]|
 */

#include "disco-recorder.h"
#include "disco-nodes.h"

#define DEFAULT_PATH NULL

struct _DiscoRecorder
{
  DiscoNode parent_instance;

  char *path;
  guint64 ticks;
  guint epochs_ended;
  double sum;
  double last_sum;
  GString *csv;
};

G_DEFINE_FINAL_TYPE (DiscoRecorder, disco_recorder, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (recorder, "recorder", DISCO_TYPE_RECORDER)

enum
{
  PROP_0,
  PROP_PATH,
  PROP_TICKS,
  PROP_EPOCHS_ENDED,
  PROP_SUM,
  PROP_LAST_SUM,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_recorder_finalize (GObject *object)
{
  DiscoRecorder *self = DISCO_RECORDER (object);

  g_free (self->path);
  if (self->csv != NULL)
    g_string_free (self->csv, TRUE);
  G_OBJECT_CLASS (disco_recorder_parent_class)->finalize (object);
}

static void
disco_recorder_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoRecorder *self = DISCO_RECORDER (object);

  switch (prop_id)
    {
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_TICKS: g_value_set_uint64 (value, self->ticks); break;
    case PROP_EPOCHS_ENDED: g_value_set_uint (value, self->epochs_ended); break;
    case PROP_SUM: g_value_set_double (value, self->sum); break;
    case PROP_LAST_SUM: g_value_set_double (value, self->last_sum); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_recorder_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoRecorder *self = DISCO_RECORDER (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_recorder_prepare (DiscoNode *node, GError **error)
{
  DiscoRecorder *self = DISCO_RECORDER (node);

  if (!disco_node_check_output_path (node, "path", self->path, error))
    return FALSE;
  self->ticks = 0;
  self->epochs_ended = 0;
  self->sum = 0.0;
  self->last_sum = 0.0;
  if (self->csv != NULL)
    g_string_free (self->csv, TRUE);
  self->csv = g_string_new ("tick,epoch,batch,phase,elements,sum\n");
  return TRUE;
}

static DiscoFlowReturn
disco_recorder_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoRecorder *self = DISCO_RECORDER (node);
  DiscoTensor *in = disco_node_get_input (node, "input");
  const float *x;
  gsize n;
  double sum = 0.0;

  if (in == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "input \"input\" of node \"%s\" received no tensor this tick",
                   disco_node_get_name (node));
      return DISCO_FLOW_ERROR;
    }
  x = disco_tensor_read_host (in, error);
  if (x == NULL)
    return DISCO_FLOW_ERROR;
  n = disco_tensor_get_n_elements (in);
  for (gsize i = 0; i < n; i++)
    sum += x[i];

  self->ticks++;
  self->sum += sum;
  self->last_sum = sum;
  g_string_append_printf (self->csv, "%" G_GUINT64_FORMAT ",%u,%u,%s,%" G_GSIZE_FORMAT ",%.9g\n",
                          tick->index, tick->epoch, tick->batch,
                          disco_phase_to_string (tick->phase), n, sum);
  return DISCO_FLOW_OK;
}

static gboolean
disco_recorder_end_epoch (DiscoNode *node, guint epoch, GError **error)
{
  DISCO_RECORDER (node)->epochs_ended++;
  return TRUE;
}

static gboolean
disco_recorder_finish (DiscoNode *node, GError **error)
{
  DiscoRecorder *self = DISCO_RECORDER (node);
  g_autofree char *path = NULL;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TICKS]);
  if (self->path == NULL)
    return TRUE;
  path = disco_pipeline_build_output_path (disco_node_get_pipeline (node), self->path, error);
  return path != NULL
         && disco_write_file_atomically (path, (const guint8 *) self->csv->str, self->csv->len,
                                         error);
}

static void
disco_recorder_class_init (DiscoRecorderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->finalize = disco_recorder_finalize;
  object_class->get_property = disco_recorder_get_property;
  object_class->set_property = disco_recorder_set_property;
  node_class->prepare = disco_recorder_prepare;
  node_class->process = disco_recorder_process;
  node_class->end_epoch = disco_recorder_end_epoch;
  node_class->finish = disco_recorder_finish;

  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "CSV file of one line per tick, relative to the output folder "
                           "(NULL: write nothing)",
                           DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TICKS] =
      g_param_spec_uint64 ("ticks", "Ticks", "Ticks seen in the current or last run", 0,
                           G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_EPOCHS_ENDED] = g_param_spec_uint (
      "epochs-ended", "Epochs ended", "Times the end_epoch hook ran in the current or last run", 0,
      G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SUM] =
      g_param_spec_double ("sum", "Sum", "Sum of every value seen in the run", -G_MAXDOUBLE,
                           G_MAXDOUBLE, 0.0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_LAST_SUM] = g_param_spec_double (
      "last-sum", "Last sum", "Sum of the values of the last tick", -G_MAXDOUBLE, G_MAXDOUBLE, 0.0,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Recorder", "Sink/Testing",
                                 "Counts and sums what it receives; optionally writes a "
                                 "CSV line per tick");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "any tensor");
}

static void
disco_recorder_init (DiscoRecorder *self)
{
  self->path = DEFAULT_PATH;
}
