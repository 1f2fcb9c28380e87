/* disco-activity-image.c */

/**
 * SECTION:node-activity-image
 * @title: activity-image
 * @short_description: a heat map of a layer's activity over solver time
 *
 * Draws how one layer of the network settles for the sample the integrator
 * records (its `record-sample` property, which must be set): rows are the
 * layer's units, columns are solver time, open loop from rest then (on
 * training ticks) closed loop, left to right. The integrator records on a
 * regular grid; the image has a fixed #DiscoActivityImage:width and each
 * column shows the recorded state nearest in time to its place on an evenly
 * spaced time axis from the first to the last recorded time, so the time axis
 * is linear whatever the recording's length.
 *
 * #DiscoActivityImage:signal picks what is drawn: excitatory rates
 * r_E = φ_E(u_E) or inhibitory rates r_I = φ_I(u_I) in viridis from 0 (dark)
 * to the image's largest rate (yellow); or the top-down input f = c·Q_l (the
 * control signal of each recorded state times the layer's feedback weights
 * of the recorded sample) in the diverging map, symmetric around 0 (blue −,
 * white 0, red +).
 *
 * An image is written on the first training tick and then every
 * #DiscoActivityImage:every-th training tick (ticks of other phases are not
 * counted or drawn), atomically, into the run's output folder; the file name
 * is #DiscoActivityImage:path with the layer, the signal and the tick index,
 * so the names sort by tick.
 *
 * Ports: input `state` (any output of the integrator that drives the layer,
 * e.g. `settle.output`; it names the integrator, its tensor is not used).
 *
 * ## Example pipeline
 * |[
 * [settle]
 * node = integrator
 * network = out
 * record-sample = 0
 *
 * [h1-activity]
 * node = activity-image
 * state = settle
 * layer = h1
 * signal = excitatory
 * every = 100
 * ]|
 */

#include "disco-activity-image.h"
#include "disco-receptive-fields.h"
#include "disco-integrator.h"
#include "disco-network.h"
#include "disco-nodes.h"

#include <math.h>
#include <string.h>

#define DEFAULT_LAYER NULL
#define DEFAULT_SIGNAL DISCO_ACTIVITY_EXCITATORY
#define DEFAULT_EVERY 100
#define DEFAULT_WIDTH 200
#define DEFAULT_SCALE 2
#define DEFAULT_BIT_DEPTH 8
#define DEFAULT_PATH "activity/%s-%s-%06u.png"

G_DEFINE_ENUM_TYPE (DiscoActivitySignal, disco_activity_signal,
  G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_EXCITATORY, "excitatory"),
  G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_INHIBITORY, "inhibitory"),
  G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_TOP_DOWN, "top-down"))

struct _DiscoActivityImage
{
  DiscoNode parent_instance;

  char *layer;
  DiscoActivitySignal signal;
  guint every;
  guint width;
  guint scale;
  guint bit_depth;
  char *path;

  guint64 train_ticks;
  guint written;
};

G_DEFINE_FINAL_TYPE (DiscoActivityImage, disco_activity_image, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (activity_image, "activity-image", DISCO_TYPE_ACTIVITY_IMAGE)

enum
{
  PROP_0,
  PROP_LAYER,
  PROP_SIGNAL,
  PROP_EVERY,
  PROP_WIDTH,
  PROP_SCALE,
  PROP_BIT_DEPTH,
  PROP_PATH,
  PROP_WRITTEN,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_activity_image_finalize (GObject *object)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (object);

  g_free (self->layer);
  g_free (self->path);
  G_OBJECT_CLASS (disco_activity_image_parent_class)->finalize (object);
}

static void
disco_activity_image_get_property (GObject *object, guint prop_id, GValue *value,
                                   GParamSpec *pspec)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (object);

  switch (prop_id)
    {
    case PROP_LAYER:
      g_value_set_string (value, self->layer);
      break;
    case PROP_SIGNAL:
      g_value_set_enum (value, self->signal);
      break;
    case PROP_EVERY:
      g_value_set_uint (value, self->every);
      break;
    case PROP_WIDTH:
      g_value_set_uint (value, self->width);
      break;
    case PROP_SCALE:
      g_value_set_uint (value, self->scale);
      break;
    case PROP_BIT_DEPTH:
      g_value_set_uint (value, self->bit_depth);
      break;
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    case PROP_WRITTEN:
      g_value_set_uint (value, self->written);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_activity_image_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (object);

  switch (prop_id)
    {
    case PROP_LAYER:
      g_free (self->layer);
      self->layer = g_value_dup_string (value);
      break;
    case PROP_SIGNAL:
      self->signal = g_value_get_enum (value);
      break;
    case PROP_EVERY:
      self->every = g_value_get_uint (value);
      break;
    case PROP_WIDTH:
      self->width = g_value_get_uint (value);
      break;
    case PROP_SCALE:
      self->scale = g_value_get_uint (value);
      break;
    case PROP_BIT_DEPTH:
      self->bit_depth = g_value_get_uint (value);
      break;
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* The integrator, the network and the index of the layer; NULL with @error
 * set when the configuration does not fit. */
static DiscoNetwork *
find_layer (DiscoActivityImage *self, DiscoNode **integrator, guint *index, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  DiscoNode *producer = disco_node_get_input_node (node, "state", NULL);
  DiscoNetwork *network;
  gint sample = -1;

  if (producer == NULL || !DISCO_IS_INTEGRATOR (producer))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "input \"state\" of node \"%s\" must come from an integrator",
                   disco_node_get_name (node));
      return NULL;
    }
  g_object_get (producer, "record-sample", &sample, NULL);
  if (sample < 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "node \"%s\" draws the sample that integrator \"%s\" records, but its "
                   "\"record-sample\" is %d (set it to a sample of the minibatch, e.g. 0)",
                   disco_node_get_name (node), disco_node_get_name (producer), sample);
      return NULL;
    }
  network = disco_integrator_get_network (DISCO_INTEGRATOR (producer));
  for (guint i = 0; network != NULL && i < disco_network_get_n_layers (network); i++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, i);

      if (g_strcmp0 (disco_node_get_name (spec->node), self->layer) != 0)
        continue;
      if (spec->kind == DISCO_LAYER_READOUT ||
          (spec->kind == DISCO_LAYER_RATE && self->signal != DISCO_ACTIVITY_EXCITATORY))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "node \"%s\" cannot draw the %s activity of layer \"%s\": only a "
                       "microcircuit has inhibitory rates and top-down input, and a "
                       "readout has no rates",
                       disco_node_get_name (node),
                       g_enum_get_value (g_type_class_peek (DISCO_TYPE_ACTIVITY_SIGNAL),
                                         self->signal)->value_nick,
                       self->layer);
          return NULL;
        }
      *integrator = producer;
      *index = i;
      return network;
    }
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
               "property \"layer\" of node \"%s\" is \"%s\", which is no hidden layer of "
               "the network integrator \"%s\" drives",
               disco_node_get_name (node), self->layer ? self->layer : "(unset)",
               disco_node_get_name (producer));
  return NULL;
}

static gboolean
disco_activity_image_prepare (DiscoNode *node, GError **error)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (node);
  DiscoNode *integrator;
  guint index;

  self->train_ticks = 0;
  self->written = 0;
  if (self->bit_depth != 8 && self->bit_depth != 16)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "property \"bit-depth\" of node \"%s\" is %u: use 8 or 16",
                   disco_node_get_name (node), self->bit_depth);
      return FALSE;
    }
  if (!disco_image_check_pattern (node, "path", self->path, "ssu", error))
    return FALSE;
  if (!disco_node_check_output_path (node, "path", self->path, error))
    return FALSE;
  return find_layer (self, &integrator, &index, error) != NULL;
}

/* The recorded row nearest in time to @t; @times is non-decreasing. */
static gsize
nearest_row (const float *times, gsize T, double t)
{
  gsize lo = 0, hi = T - 1;

  while (lo < hi)
    {
      gsize mid = (lo + hi) / 2;

      if (times[mid] < t)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo > 0 && t - times[lo - 1] <= times[lo] - t)
    lo--;
  return lo;
}

static gboolean
draw (DiscoActivityImage *self, guint64 tick_index, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  DiscoNode *integrator;
  DiscoNetwork *network;
  const DiscoLayerSpec *spec;
  DiscoTensor *trajectory, *times_tensor;
  const float *traj, *times, *q = NULL;
  gsize T, row_size, N, O, n, offset, shape[2];
  guint index;
  gint sample;
  g_autoptr (DiscoTensor) image = NULL;
  g_autoptr (GBytes) png = NULL;
  g_autofree char *relative = NULL;
  g_autofree char *path = NULL;
  float *pixels;
  const char *signal_nick;

  network = find_layer (self, &integrator, &index, error);
  if (network == NULL)
    return FALSE;
  spec = disco_network_get_layer (network, index);
  offset = disco_network_get_layer_offset (network, index);
  N = disco_network_get_state_size (network);
  n = spec->n;
  g_object_get (integrator, "record-sample", &sample, NULL);

  trajectory = disco_node_get_output (integrator, "trajectory");
  times_tensor = disco_node_get_output (integrator, "trajectory-times");
  if (trajectory == NULL || times_tensor == NULL || disco_tensor_get_n_dims (trajectory) != 2 ||
      disco_tensor_get_dim (trajectory, 0) != disco_tensor_get_n_elements (times_tensor) ||
      disco_tensor_get_dim (trajectory, 1) < N)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": integrator \"%s\" recorded no trajectory of %" G_GSIZE_FORMAT
                   " state values per row this tick (is record-sample %d in the minibatch?)",
                   disco_node_get_name (node), disco_node_get_name (integrator), N, sample);
      return FALSE;
    }
  T = disco_tensor_get_dim (trajectory, 0);
  row_size = disco_tensor_get_dim (trajectory, 1);
  O = row_size - N;
  traj = disco_tensor_read_host (trajectory, error);
  times = traj != NULL ? disco_tensor_read_host (times_tensor, error) : NULL;
  if (times == NULL)
    return FALSE;

  if (self->signal == DISCO_ACTIVITY_TOP_DOWN)
    {
      DiscoTensor *qt = disco_node_get_output (spec->node, "feedback-weights");

      if (qt == NULL || disco_tensor_get_n_dims (qt) != 3 ||
          disco_tensor_get_dim (qt, 0) <= (gsize) sample ||
          disco_tensor_get_dim (qt, 1) != O || disco_tensor_get_dim (qt, 2) != n)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "node \"%s\": layer \"%s\" has no feedback weights of %" G_GSIZE_FORMAT
                       " × %" G_GSIZE_FORMAT " for sample %d this tick (the top-down input "
                       "needs a closed-loop solve)", disco_node_get_name (node), self->layer,
                       O, n, sample);
          return FALSE;
        }
      q = disco_tensor_read_host (qt, error);
      if (q == NULL)
        return FALSE;
      q += (gsize) sample * O * n;
    }

  shape[0] = n;
  shape[1] = self->width;
  image = disco_tensor_new (2, shape);
  pixels = disco_tensor_write_host (image, error);
  if (pixels == NULL)
    return FALSE;
  for (guint col = 0; col < self->width; col++)
    {
      double t = self->width > 1
                 ? times[0] + (times[T - 1] - times[0]) * col / (self->width - 1.0)
                 : times[0];
      const float *state = traj + nearest_row (times, T, t) * row_size;

      for (gsize j = 0; j < n; j++)
        {
          float v;

          switch (self->signal)
            {
            case DISCO_ACTIVITY_EXCITATORY:
              v = disco_softrect_forward (&spec->phi_e, state[offset + j]);
              break;
            case DISCO_ACTIVITY_INHIBITORY:
              v = disco_softrect_forward (&spec->phi_i, state[offset + n + j]);
              break;
            case DISCO_ACTIVITY_TOP_DOWN:
            default:
              v = 0.0f;
              for (gsize o = 0; o < O; o++)
                v += state[N + o] * q[o * n + j];
              break;
            }
          pixels[j * self->width + col] = v;
        }
    }

  if (self->bit_depth == 16)
    png = disco_tensor_render_png16 (image, NAN, NAN, error);
  else if (self->signal == DISCO_ACTIVITY_TOP_DOWN)
    png = disco_tensor_render_png (image, DISCO_COLORMAP_DIVERGING, NAN, NAN, self->scale,
                                   error);
  else
    png = disco_tensor_render_png (image, DISCO_COLORMAP_VIRIDIS, 0.0, NAN, self->scale, error);
  if (png == NULL)
    {
      g_prefix_error (error, "node \"%s\": ", disco_node_get_name (node));
      return FALSE;
    }
  signal_nick = g_enum_get_value (g_type_class_peek (DISCO_TYPE_ACTIVITY_SIGNAL),
                                  self->signal)->value_nick;
  relative = g_strdup_printf (self->path, self->layer, signal_nick, (guint) tick_index);
  path = disco_pipeline_build_output_path (disco_node_get_pipeline (node), relative, error);
  if (path == NULL ||
      !disco_write_file_atomically (path, g_bytes_get_data (png, NULL), g_bytes_get_size (png),
                                    error))
    return FALSE;
  self->written++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITTEN]);
  return TRUE;
}

static DiscoFlowReturn
disco_activity_image_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (node);

  if (tick->phase != DISCO_PHASE_TRAIN)
    return DISCO_FLOW_OK;
  if (self->train_ticks++ % self->every != 0)
    return DISCO_FLOW_OK;
  return draw (self, tick->index, error) ? DISCO_FLOW_OK : DISCO_FLOW_ERROR;
}

static void
disco_activity_image_class_init (DiscoActivityImageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->finalize = disco_activity_image_finalize;
  object_class->get_property = disco_activity_image_get_property;
  object_class->set_property = disco_activity_image_set_property;
  node_class->prepare = disco_activity_image_prepare;
  node_class->process = disco_activity_image_process;

  properties[PROP_LAYER] =
    g_param_spec_string ("layer", "Layer",
                         "Name of the hidden layer node (microcircuit or rate-layer) to draw",
                         DEFAULT_LAYER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SIGNAL] =
    g_param_spec_enum ("signal", "Signal",
                       "What to draw: excitatory or inhibitory rates, or the top-down input "
                       "c·Q_l",
                       DISCO_TYPE_ACTIVITY_SIGNAL, DEFAULT_SIGNAL,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_EVERY] =
    g_param_spec_uint ("every", "Every",
                       "Draw the first training tick and then every this many training ticks",
                       1, G_MAXUINT, DEFAULT_EVERY, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_WIDTH] =
    g_param_spec_uint ("width", "Width",
                       "Columns of the image: evenly spaced times from the first to the last "
                       "recorded state (before scaling)",
                       1, 100000, DEFAULT_WIDTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SCALE] =
    g_param_spec_uint ("scale", "Scale", "Side of the square of pixels that shows one value",
                       1, 16, DEFAULT_SCALE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BIT_DEPTH] =
    g_param_spec_uint ("bit-depth", "Bit depth",
                       "8: a colour image to look at; 16: one 16-bit gray pixel per value, "
                       "for analysis (range in the tEXt chunks disco-vmin, disco-vmax; "
                       "scale is ignored); other values are errors",
                       8, 16, DEFAULT_BIT_DEPTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH] =
    g_param_spec_string ("path", "Path",
                         "PNG file to write, relative to the output folder: a pattern with "
                         "%s (the layer), %s (the signal) and %u (the tick index), in order",
                         DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_WRITTEN] =
    g_param_spec_uint ("written", "Written", "Images written in the current or last run",
                       0, G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Activity image", "Sink/Image",
                                 "Writes a heat map of a layer's rates or top-down input over "
                                 "solver time (units × time) for the recorded sample");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "state", DISCO_PORT_FLAG_NONE,
                             "any output of the integrator that records the trajectory");
}

static void
disco_activity_image_init (DiscoActivityImage *self)
{
  self->layer = DEFAULT_LAYER;
  self->signal = DEFAULT_SIGNAL;
  self->every = DEFAULT_EVERY;
  self->width = DEFAULT_WIDTH;
  self->scale = DEFAULT_SCALE;
  self->bit_depth = DEFAULT_BIT_DEPTH;
  self->path = g_strdup (DEFAULT_PATH);
}
