/* disco-sinusoid-source.c */

/**
 * SECTION:node-sinusoid-source
 * @title: sinusoid-source
 * @short_description: a fixed set of sinusoids, sampled epoch after epoch
 *
 * The time-varying input of the paper's student–teacher experiment
 * (Figure 4, MODEL.md §7): #DiscoSinusoidSource:channels sinusoids
 * x_i(t) = A_i·sin(2π f_i t + ϕ_i) whose amplitudes, frequencies and phases
 * are drawn once, uniformly from their ranges, from the node's seed. Time
 * runs on: every tick is one epoch of #DiscoSinusoidSource:duration
 * seconds, sampled every #DiscoSinusoidSource:sample-interval seconds, and
 * the next epoch continues where the last one ended.
 *
 * Ports: outputs `signal` (T × channels, the samples of this epoch, T =
 * duration / sample-interval) and `times` (T × 1, the sample times in
 * seconds since the start of the run).
 *
 * ## Example pipeline
 * |[
 * [input]
 * node = sinusoid-source
 * channels = 30
 * duration = 5          # s per epoch
 * epochs = 64
 * ]|
 */

#include "disco-sinusoid-source.h"
#include "disco-layer.h"
#include "disco-nodes.h"

#include <math.h>

#define DEFAULT_CHANNELS 30
#define DEFAULT_AMPLITUDE_MIN 0.1
#define DEFAULT_AMPLITUDE_MAX 1.0
#define DEFAULT_FREQUENCY_MIN 0.1
#define DEFAULT_FREQUENCY_MAX 2.0
#define DEFAULT_PHASE_MIN 0.0
#define DEFAULT_PHASE_MAX G_PI
#define DEFAULT_DURATION 5.0
#define DEFAULT_SAMPLE_INTERVAL 0.001
#define DEFAULT_EPOCHS 64

struct _DiscoSinusoidSource
{
  DiscoNode parent_instance;

  guint channels;
  double amplitude_min, amplitude_max;
  double frequency_min, frequency_max;
  double phase_min, phase_max;
  double duration;
  double sample_interval;
  guint epochs;

  gsize n_samples;   /* T, per epoch */
  double *amplitude; /* per channel */
  double *frequency;
  double *phase;
  guint emitted; /* epochs emitted so far */
};

G_DEFINE_FINAL_TYPE (DiscoSinusoidSource, disco_sinusoid_source, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (sinusoid_source, "sinusoid-source", DISCO_TYPE_SINUSOID_SOURCE)

enum
{
  PROP_0,
  PROP_CHANNELS,
  PROP_AMPLITUDE_MIN,
  PROP_AMPLITUDE_MAX,
  PROP_FREQUENCY_MIN,
  PROP_FREQUENCY_MAX,
  PROP_PHASE_MIN,
  PROP_PHASE_MAX,
  PROP_DURATION,
  PROP_SAMPLE_INTERVAL,
  PROP_EPOCHS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

/* The double-valued properties, in enum order from PROP_AMPLITUDE_MIN. */
static double *
double_field (DiscoSinusoidSource *self, guint prop_id)
{
  double *fields[] = {
    &self->amplitude_min, &self->amplitude_max, &self->frequency_min, &self->frequency_max,
    &self->phase_min,     &self->phase_max,     &self->duration,      &self->sample_interval,
  };

  if (prop_id < PROP_AMPLITUDE_MIN || prop_id > PROP_SAMPLE_INTERVAL)
    return NULL;
  return fields[prop_id - PROP_AMPLITUDE_MIN];
}

static void
free_draws (DiscoSinusoidSource *self)
{
  g_clear_pointer (&self->amplitude, g_free);
  g_clear_pointer (&self->frequency, g_free);
  g_clear_pointer (&self->phase, g_free);
}

static void
disco_sinusoid_source_finalize (GObject *object)
{
  free_draws (DISCO_SINUSOID_SOURCE (object));
  G_OBJECT_CLASS (disco_sinusoid_source_parent_class)->finalize (object);
}

static void
disco_sinusoid_source_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  DiscoSinusoidSource *self = DISCO_SINUSOID_SOURCE (object);
  double *field = double_field (self, prop_id);

  if (field != NULL)
    {
      g_value_set_double (value, *field);
      return;
    }
  switch (prop_id)
    {
    case PROP_CHANNELS: g_value_set_uint (value, self->channels); break;
    case PROP_EPOCHS: g_value_set_uint (value, self->epochs); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_sinusoid_source_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  DiscoSinusoidSource *self = DISCO_SINUSOID_SOURCE (object);
  double *field = double_field (self, prop_id);

  if (field != NULL)
    {
      *field = g_value_get_double (value);
      return;
    }
  switch (prop_id)
    {
    case PROP_CHANNELS: self->channels = g_value_get_uint (value); break;
    case PROP_EPOCHS: self->epochs = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
check_range (DiscoNode *node, const char *what, double minimum, double maximum, GError **error)
{
  if (minimum <= maximum)
    return TRUE;
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
               "node \"%s\": %s-min (%g) is above %s-max (%g)", disco_node_get_name (node), what,
               minimum, what, maximum);
  return FALSE;
}

/* Uniform draws in [minimum, maximum), one stream per quantity so that
 * changing one range leaves the other draws as they were. */
static double *
draw_uniform (DiscoNode *node, const char *quantity, guint n, double minimum, double maximum)
{
  g_autoptr (GRand) rand = disco_rand_new_for_stream (disco_node_get_seed (node), quantity);
  double *values = g_new (double, n);

  for (guint i = 0; i < n; i++)
    values[i] = minimum + (maximum - minimum) * g_rand_double (rand);
  return values;
}

static gboolean
disco_sinusoid_source_prepare (DiscoNode *node, GError **error)
{
  DiscoSinusoidSource *self = DISCO_SINUSOID_SOURCE (node);
  double samples = self->duration / self->sample_interval;
  gsize shape[2];

  if (!check_range (node, "amplitude", self->amplitude_min, self->amplitude_max, error)
      || !check_range (node, "frequency", self->frequency_min, self->frequency_max, error)
      || !check_range (node, "phase", self->phase_min, self->phase_max, error))
    return FALSE;
  /* The epochs must tile time exactly, or the sample grid would drift
   * between epochs. */
  if (fabs (samples - round (samples)) > 1e-6 * samples || round (samples) < 2)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "node \"%s\": duration (%g s) is not a whole number (≥ 2) of "
                   "sample-interval (%g s)",
                   disco_node_get_name (node), self->duration, self->sample_interval);
      return FALSE;
    }
  self->n_samples = (gsize) round (samples);

  free_draws (self);
  self->amplitude =
      draw_uniform (node, "amplitude", self->channels, self->amplitude_min, self->amplitude_max);
  self->frequency =
      draw_uniform (node, "frequency", self->channels, self->frequency_min, self->frequency_max);
  self->phase = draw_uniform (node, "phase", self->channels, self->phase_min, self->phase_max);
  self->emitted = 0;

  shape[0] = self->n_samples;
  shape[1] = self->channels;
  disco_node_declare_output (node, "signal", 2, shape);
  shape[1] = 1;
  disco_node_declare_output (node, "times", 2, shape);
  return TRUE;
}

static DiscoFlowReturn
disco_sinusoid_source_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoSinusoidSource *self = DISCO_SINUSOID_SOURCE (node);
  gsize T = self->n_samples, C = self->channels;
  gsize signal_shape[2] = { T, C }, times_shape[2] = { T, 1 };
  float *signal, *times;

  if (self->emitted >= self->epochs)
    return DISCO_FLOW_EOS;

  signal =
      disco_tensor_write_host (disco_node_ensure_output (node, "signal", 2, signal_shape), error);
  times = disco_tensor_write_host (disco_node_ensure_output (node, "times", 2, times_shape), error);
  if (signal == NULL || times == NULL)
    return DISCO_FLOW_ERROR;

  for (gsize k = 0; k < T; k++)
    {
      /* Sample index since the start of the run, so that time is exact
       * at every epoch boundary. */
      double t = (double) (self->emitted * T + k) * self->sample_interval;

      times[k] = (float) t;
      for (gsize i = 0; i < C; i++)
        signal[k * C + i] = (float) (self->amplitude[i]
                                     * sin (2.0 * G_PI * self->frequency[i] * t + self->phase[i]));
    }

  tick->phase = DISCO_PHASE_TRAIN;
  tick->n_ticks = self->epochs;
  tick->n_epochs = self->epochs;
  tick->epoch = self->emitted + 1;
  tick->batch = 0;
  tick->batch_size = 1;
  tick->flags |= DISCO_TICK_FLAG_EPOCH_END | DISCO_TICK_FLAG_PHASE_END;
  self->emitted++;
  return DISCO_FLOW_OK;
}

static gboolean
disco_sinusoid_source_resume (DiscoNode *node, guint epoch, GError **error)
{
  DiscoSinusoidSource *self = DISCO_SINUSOID_SOURCE (node);

  self->emitted = MIN (epoch - 1, self->epochs);
  return TRUE;
}

static void
disco_sinusoid_source_class_init (DiscoSinusoidSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = disco_sinusoid_source_finalize;
  object_class->get_property = disco_sinusoid_source_get_property;
  object_class->set_property = disco_sinusoid_source_set_property;
  node_class->prepare = disco_sinusoid_source_prepare;
  node_class->process = disco_sinusoid_source_process;
  node_class->resume = disco_sinusoid_source_resume;

  properties[PROP_CHANNELS] =
      g_param_spec_uint ("channels", "Channels", "Number of sinusoids (input dimensions)", 1,
                         1 << 20, DEFAULT_CHANNELS, flags);
  properties[PROP_AMPLITUDE_MIN] = g_param_spec_double (
      "amplitude-min", "Smallest amplitude", "Lower end of the uniform range of the amplitudes A",
      0.0, 1e6, DEFAULT_AMPLITUDE_MIN, flags);
  properties[PROP_AMPLITUDE_MAX] = g_param_spec_double (
      "amplitude-max", "Largest amplitude", "Upper end of the uniform range of the amplitudes A",
      0.0, 1e6, DEFAULT_AMPLITUDE_MAX, flags);
  properties[PROP_FREQUENCY_MIN] =
      g_param_spec_double ("frequency-min", "Lowest frequency",
                           "Lower end of the uniform range of the frequencies f (Hz)", 0.0, 1e6,
                           DEFAULT_FREQUENCY_MIN, flags);
  properties[PROP_FREQUENCY_MAX] =
      g_param_spec_double ("frequency-max", "Highest frequency",
                           "Upper end of the uniform range of the frequencies f (Hz)", 0.0, 1e6,
                           DEFAULT_FREQUENCY_MAX, flags);
  properties[PROP_PHASE_MIN] = g_param_spec_double (
      "phase-min", "Smallest phase", "Lower end of the uniform range of the phases ϕ (rad)", -1e3,
      1e3, DEFAULT_PHASE_MIN, flags);
  properties[PROP_PHASE_MAX] = g_param_spec_double (
      "phase-max", "Largest phase", "Upper end of the uniform range of the phases ϕ (rad)", -1e3,
      1e3, DEFAULT_PHASE_MAX, flags);
  properties[PROP_DURATION] =
      g_param_spec_double ("duration", "Epoch duration", "Simulated time per epoch (s)", 1e-6, 1e6,
                           DEFAULT_DURATION, flags);
  properties[PROP_SAMPLE_INTERVAL] = g_param_spec_double (
      "sample-interval", "Sample interval", "Time between two samples of the signal (s)", 1e-9, 1e3,
      DEFAULT_SAMPLE_INTERVAL, flags);
  properties[PROP_EPOCHS] =
      g_param_spec_uint ("epochs", "Epochs", "Epochs (ticks) to emit before end of stream", 1,
                         G_MAXUINT, DEFAULT_EPOCHS, flags);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Produces host tensors; a node on the device takes its copy lazily. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Sinusoid source", "Source/Signal",
                                 "Fixed random sinusoids A·sin(2πft + ϕ), one epoch of "
                                 "samples per tick, time continuing across epochs");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "signal", DISCO_PORT_FLAG_NONE,
                             "the epoch's samples, T × channels");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "times", DISCO_PORT_FLAG_NONE,
                             "the sample times (s since the start of the run), T × 1");
}

static void
disco_sinusoid_source_init (DiscoSinusoidSource *self)
{
  self->channels = DEFAULT_CHANNELS;
  self->amplitude_min = DEFAULT_AMPLITUDE_MIN;
  self->amplitude_max = DEFAULT_AMPLITUDE_MAX;
  self->frequency_min = DEFAULT_FREQUENCY_MIN;
  self->frequency_max = DEFAULT_FREQUENCY_MAX;
  self->phase_min = DEFAULT_PHASE_MIN;
  self->phase_max = DEFAULT_PHASE_MAX;
  self->duration = DEFAULT_DURATION;
  self->sample_interval = DEFAULT_SAMPLE_INTERVAL;
  self->epochs = DEFAULT_EPOCHS;
}
