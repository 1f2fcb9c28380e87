/* disco-activity-image.c */

/**
 * SECTION:node-activity-image
 * @title: activity-image
 * @short_description: a figure of how one sample settles in a layer
 *
 * Draws how one layer of the network settles for the sample the integrator
 * records (its `record-sample` property, which must be set), open loop from
 * rest then (on training ticks) closed loop.
 *
 * #DiscoActivityImage:signal picks what the heat map shows: excitatory rates
 * r_E = φ_E(u_E) or inhibitory rates r_I = φ_I(u_I) in viridis from 0 (dark)
 * to the largest rate (yellow); or the top-down input f = c·Q_l (the
 * control signal of each recorded state times the layer's feedback weights
 * of the recorded sample) in the diverging map, symmetric around 0 (blue −,
 * white 0, red +).
 *
 * With #DiscoActivityImage:style `figure` (the default) the image is a
 * figure of #DiscoActivityImage:figure-width × #DiscoActivityImage:figure-height
 * pixels: a title (layer, signal, sample, its label and the open-loop
 * prediction, tick, epoch and batch); the open loop and the closed loop side
 * by side, each on its own time axis in ms since it began, separated by a
 * marker; in each, a heat map of units × time, and under it the output
 * layer's trajectories (softmax(y) when the controller compares softmax(y)
 * with the target, else y) and the control c, the label's class in red, the
 * prediction's in blue, the others gray, the target y* dashed; and a colour
 * bar naming the signal. #DiscoActivityImage:time-axis `log` (the default)
 * spreads each loop's time logarithmically from its first recorded step,
 * so that the fast transient (τ_I = 5 ms, τ_E = 20 ms, the controller's
 * proportional kick) gets as much room as the slow approach (τ_c = 100 ms)
 * to rest; `linear` spreads it evenly from the loop's start.
 * #DiscoActivityImage:sort orders the rows: by unit index, or by how much
 * each unit changes over the closed loop (largest increase at the top).
 * The label comes from the optional `target` input (the data's targets); the
 * prediction is the class of the largest output at the end of the open loop.
 *
 * With #DiscoActivityImage:style `pixels` the image is the plain heat map for
 * analysis: rows are the layer's units in index order, columns are solver
 * time, open loop then closed loop; the image has #DiscoActivityImage:width
 * columns, each the recorded state nearest in time to its place on an evenly
 * spaced axis from the first to the last recorded time, each value a square
 * of #DiscoActivityImage:scale pixels, or one 16-bit gray pixel with
 * #DiscoActivityImage:bit-depth 16.
 *
 * An image is written on the first training tick and then every
 * #DiscoActivityImage:every-th training tick (ticks of other phases are not
 * counted or drawn), atomically, into the run's output folder; the file name
 * is #DiscoActivityImage:path with the layer, the signal and the tick index,
 * so the names sort by tick.
 *
 * Ports: input `state` (any output of the integrator that drives the layer,
 * e.g. `settle.output`; it names the integrator, whose `trajectory` outputs
 * hold every layer's state, the output layer's included, and the control c,
 * row by row); optional input `target` (the targets, batch × outputs, e.g.
 * `data.targets`: the recorded sample's label is its largest entry).
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
 * target = data.targets
 * layer = h1
 * signal = excitatory
 * every = 100
 * ]|
 */

#include "disco-activity-image.h"
#include "disco-receptive-fields.h"
#include "disco-leaky-pi.h"
#include "disco-network-provider.h"
#include "disco-node-util.h"
#include "disco-nodes.h"
#include "disco-plot.h"

#include <math.h>
#include <string.h>

#define DEFAULT_LAYER NULL
#define DEFAULT_SIGNAL DISCO_ACTIVITY_EXCITATORY
#define DEFAULT_EVERY 100
#define DEFAULT_WIDTH 200
#define DEFAULT_SCALE 2
#define DEFAULT_BIT_DEPTH 8
#define DEFAULT_PATH "activity/%s-%s-%06u.png"
#define DEFAULT_STYLE DISCO_ACTIVITY_STYLE_FIGURE
#define DEFAULT_SORT DISCO_ACTIVITY_SORT_CLOSED_LOOP_CHANGE
#define DEFAULT_TIME_AXIS DISCO_ACTIVITY_TIME_AXIS_LOG
#define DEFAULT_FIGURE_WIDTH 1200
#define DEFAULT_FIGURE_HEIGHT 900

G_DEFINE_ENUM_TYPE (DiscoActivitySignal, disco_activity_signal,
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_EXCITATORY, "excitatory"),
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_INHIBITORY, "inhibitory"),
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_TOP_DOWN, "top-down"))

G_DEFINE_ENUM_TYPE (DiscoActivityStyle, disco_activity_style,
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_STYLE_FIGURE, "figure"),
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_STYLE_PIXELS, "pixels"))

G_DEFINE_ENUM_TYPE (DiscoActivitySort, disco_activity_sort,
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_SORT_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_SORT_CLOSED_LOOP_CHANGE,
                                         "closed-loop-change"))

G_DEFINE_ENUM_TYPE (DiscoActivityTimeAxis, disco_activity_time_axis,
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_TIME_AXIS_LOG, "log"),
                    G_DEFINE_ENUM_VALUE (DISCO_ACTIVITY_TIME_AXIS_LINEAR, "linear"))

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
  DiscoActivityStyle style;
  DiscoActivitySort sort;
  DiscoActivityTimeAxis time_axis;
  guint figure_width;
  guint figure_height;

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
  PROP_STYLE,
  PROP_SORT,
  PROP_TIME_AXIS,
  PROP_FIGURE_WIDTH,
  PROP_FIGURE_HEIGHT,
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
disco_activity_image_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (object);

  switch (prop_id)
    {
    case PROP_LAYER: g_value_set_string (value, self->layer); break;
    case PROP_SIGNAL: g_value_set_enum (value, self->signal); break;
    case PROP_EVERY: g_value_set_uint (value, self->every); break;
    case PROP_WIDTH: g_value_set_uint (value, self->width); break;
    case PROP_SCALE: g_value_set_uint (value, self->scale); break;
    case PROP_BIT_DEPTH: g_value_set_uint (value, self->bit_depth); break;
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_STYLE: g_value_set_enum (value, self->style); break;
    case PROP_SORT: g_value_set_enum (value, self->sort); break;
    case PROP_TIME_AXIS: g_value_set_enum (value, self->time_axis); break;
    case PROP_FIGURE_WIDTH: g_value_set_uint (value, self->figure_width); break;
    case PROP_FIGURE_HEIGHT: g_value_set_uint (value, self->figure_height); break;
    case PROP_WRITTEN: g_value_set_uint (value, self->written); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
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
    case PROP_SIGNAL: self->signal = g_value_get_enum (value); break;
    case PROP_EVERY: self->every = g_value_get_uint (value); break;
    case PROP_WIDTH: self->width = g_value_get_uint (value); break;
    case PROP_SCALE: self->scale = g_value_get_uint (value); break;
    case PROP_BIT_DEPTH: self->bit_depth = g_value_get_uint (value); break;
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_STYLE: self->style = g_value_get_enum (value); break;
    case PROP_SORT: self->sort = g_value_get_enum (value); break;
    case PROP_TIME_AXIS: self->time_axis = g_value_get_enum (value); break;
    case PROP_FIGURE_WIDTH: self->figure_width = g_value_get_uint (value); break;
    case PROP_FIGURE_HEIGHT: self->figure_height = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
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

  /* The integrator, or any node that drives a network and records a sample. */
  if (producer == NULL || !DISCO_IS_NETWORK_PROVIDER (producer)
      || g_object_class_find_property (G_OBJECT_GET_CLASS (producer), "record-sample") == NULL)
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
  network = disco_network_provider_get_network (DISCO_NETWORK_PROVIDER (producer));
  for (guint i = 0; network != NULL && i < disco_network_get_n_layers (network); i++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, i);

      if (g_strcmp0 (disco_node_get_name (spec->node), self->layer) != 0)
        continue;
      if (spec->kind == DISCO_LAYER_READOUT
          || (spec->kind == DISCO_LAYER_RATE && self->signal != DISCO_ACTIVITY_EXCITATORY))
        {
          g_set_error (
              error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
              "node \"%s\" cannot draw the %s activity of layer \"%s\": only a "
              "microcircuit has inhibitory rates and top-down input, and a "
              "readout has no rates",
              disco_node_get_name (node),
              g_enum_get_value (g_type_class_peek (DISCO_TYPE_ACTIVITY_SIGNAL), self->signal)
                  ->value_nick,
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

/* Values per sample of the network's last layer (the readout). */
static gsize
output_size (DiscoNetwork *network)
{
  return disco_network_get_layer (network, disco_network_get_n_layers (network) - 1)->n;
}

static gboolean
disco_activity_image_prepare (DiscoNode *node, GError **error)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (node);
  DiscoNode *integrator;
  DiscoNetwork *network;
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
  network = find_layer (self, &integrator, &index, error);
  if (network == NULL)
    return FALSE;
  if (disco_node_is_linked (node, "target"))
    {
      guint n_dims = 0;
      const gsize *shape = disco_node_get_input_declared_shape (node, "target", &n_dims);
      gsize O = output_size (network);

      if (shape != NULL && (n_dims != 2 || shape[1] != O))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "node \"%s\": input \"target\" has %" G_GSIZE_FORMAT " values per "
                       "sample, the network %" G_GSIZE_FORMAT " outputs",
                       disco_node_get_name (node), n_dims == 2 ? shape[1] : 0, O);
          return FALSE;
        }
    }
  return TRUE;
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

/* The drawn value of unit @j in one recorded @state (N + O values); @q is
 * the recorded sample's feedback weights (O × n) for the top-down input. */
static inline float
signal_at (DiscoActivitySignal signal, const DiscoLayerSpec *spec, const float *state, gsize offset,
           gsize N, gsize O, const float *q, gsize j)
{
  const gsize n = spec->n;
  float v;

  switch (signal)
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
  return v;
}

/* The feedback weights (@O × n) of the drawn layer @spec for the recorded
 * @sample, for the top-down input; NULL with @error set when the layer has
 * none this tick. */
static const float *
read_feedback_weights (DiscoActivityImage *self, const DiscoLayerSpec *spec, gsize O, gint sample,
                       GError **error)
{
  DiscoTensor *qt = disco_node_get_output (spec->node, "feedback-weights");
  const float *q;

  if (qt == NULL || disco_tensor_get_n_dims (qt) != 3
      || disco_tensor_get_dim (qt, 0) <= (gsize) sample || disco_tensor_get_dim (qt, 1) != O
      || disco_tensor_get_dim (qt, 2) != spec->n)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": layer \"%s\" has no feedback weights of %" G_GSIZE_FORMAT
                   " × %" G_GSIZE_FORMAT " for sample %d this tick (the top-down input "
                   "needs a closed-loop solve)",
                   disco_node_get_name (DISCO_NODE (self)), self->layer, O, spec->n, sample);
      return NULL;
    }
  q = disco_tensor_read_host (qt, error);
  return q != NULL ? q + (gsize) sample * O * spec->n : NULL;
}

/* The recorded trajectory of this tick: rows of @row_size values at
 * @times, the first @ol_rows open loop; and for the top-down input the
 * recorded sample's feedback weights.  FALSE with @error set when the
 * integrator's outputs do not fit the network. */
typedef struct
{
  DiscoNode *integrator;
  DiscoNetwork *network;
  const DiscoLayerSpec *spec;
  gsize T, row_size, N, O, n, offset, ol_rows;
  gint sample;
  const float *traj, *times, *q;
} Recording;

static gboolean
read_recording (DiscoActivityImage *self, Recording *rec, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  DiscoTensor *trajectory, *times_tensor, *ol_tensor;
  guint index;

  memset (rec, 0, sizeof *rec);
  rec->network = find_layer (self, &rec->integrator, &index, error);
  if (rec->network == NULL)
    return FALSE;
  rec->spec = disco_network_get_layer (rec->network, index);
  rec->offset = disco_network_get_layer_offset (rec->network, index);
  rec->N = disco_network_get_state_size (rec->network);
  rec->O = output_size (rec->network);
  rec->n = rec->spec->n;
  g_object_get (rec->integrator, "record-sample", &rec->sample, NULL);

  trajectory = disco_node_get_output (rec->integrator, "trajectory");
  times_tensor = disco_node_get_output (rec->integrator, "trajectory-times");
  ol_tensor = disco_node_get_output (rec->integrator, "trajectory-open-loop-rows");
  if (trajectory == NULL || times_tensor == NULL || disco_tensor_get_n_dims (trajectory) != 2
      || disco_tensor_get_dim (trajectory, 0) == 0
      || disco_tensor_get_dim (trajectory, 0) != disco_tensor_get_n_elements (times_tensor)
      || disco_tensor_get_dim (trajectory, 1) != rec->N + rec->O || ol_tensor == NULL
      || disco_tensor_get_n_elements (ol_tensor) != 1)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": integrator \"%s\" recorded no trajectory of %" G_GSIZE_FORMAT
                   " state and %" G_GSIZE_FORMAT " control values per row with its times "
                   "this tick (is record-sample %d in the minibatch?)",
                   disco_node_get_name (node), disco_node_get_name (rec->integrator), rec->N,
                   rec->O, rec->sample);
      return FALSE;
    }
  rec->T = disco_tensor_get_dim (trajectory, 0);
  rec->row_size = disco_tensor_get_dim (trajectory, 1);
  rec->traj = disco_tensor_read_host (trajectory, error);
  rec->times = rec->traj != NULL ? disco_tensor_read_host (times_tensor, error) : NULL;
  if (rec->times == NULL)
    return FALSE;
  {
    const float *ol = disco_tensor_read_host (ol_tensor, error);

    if (ol == NULL)
      return FALSE;
    if (!(ol[0] >= 1.0f && ol[0] <= rec->T))
      {
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                     "node \"%s\": integrator \"%s\" says %g of its %" G_GSIZE_FORMAT
                     " recorded rows are open loop",
                     disco_node_get_name (node), disco_node_get_name (rec->integrator), ol[0],
                     rec->T);
        return FALSE;
      }
    rec->ol_rows = (gsize) ol[0];
  }
  if (self->signal == DISCO_ACTIVITY_TOP_DOWN)
    {
      rec->q = read_feedback_weights (self, rec->spec, rec->O, rec->sample, error);
      if (rec->q == NULL)
        return FALSE;
    }
  return TRUE;
}

/* The recorded sample's label from the `target` input: its largest entry,
 * and that entry (the target y* of the label); -1 when unlinked. */
static gboolean
read_label (DiscoActivityImage *self, const Recording *rec, gint *label, double *value,
            GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  DiscoTensor *target;
  const float *t;

  *label = -1;
  *value = NAN;
  if (!disco_node_is_linked (node, "target"))
    return TRUE;
  target = disco_node_get_input (node, "target");
  if (target == NULL || disco_tensor_get_n_dims (target) != 2
      || disco_tensor_get_dim (target, 0) <= (gsize) rec->sample
      || disco_tensor_get_dim (target, 1) != rec->O)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": input \"target\" is not batch × %" G_GSIZE_FORMAT
                   " targets with a row for the recorded sample %d this tick",
                   disco_node_get_name (node), rec->O, rec->sample);
      return FALSE;
    }
  t = disco_tensor_read_host (target, error);
  if (t == NULL)
    return FALSE;
  t += (gsize) rec->sample * rec->O;
  *label = disco_node_util_argmax (t, rec->O);
  *value = t[*label];
  return TRUE;
}

static gboolean
write_image (DiscoActivityImage *self, GBytes *png, guint64 tick_index, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  g_autofree char *relative = NULL;
  const char *signal_nick;

  signal_nick =
      g_enum_get_value (g_type_class_peek (DISCO_TYPE_ACTIVITY_SIGNAL), self->signal)->value_nick;
  relative = g_strdup_printf (self->path, self->layer, signal_nick, (guint) tick_index);
  if (!disco_node_util_write_output (node, relative, png, error))
    return FALSE;
  self->written++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITTEN]);
  return TRUE;
}

/* What the figure calls a signal: its name in the title, the colour bar's
 * label and the closed-loop change's label. */
typedef struct
{
  const char *title;
  const char *unit;
  const char *change;
} SignalText;

static const SignalText *
signal_text (DiscoActivitySignal signal, const DiscoLayerSpec *spec)
{
  static const SignalText rate = { "rates r", "rate r = φ(u) (a.u.)",
                                   "change of r since open loop (a.u.)" };
  static const SignalText excitatory = { "excitatory rates r_E", "rate r_E = φ_E(u_E) (a.u.)",
                                         "change of r_E since open loop (a.u.)" };
  static const SignalText inhibitory = { "inhibitory rates r_I", "rate r_I = φ_I(u_I) (a.u.)",
                                         "change of r_I since open loop (a.u.)" };
  static const SignalText top_down = { "top-down input f", "top-down input f = c·Q (a.u.)",
                                       "change of f since open loop (a.u.)" };

  switch (signal)
    {
    case DISCO_ACTIVITY_EXCITATORY: return spec->kind == DISCO_LAYER_RATE ? &rate : &excitatory;
    case DISCO_ACTIVITY_INHIBITORY: return &inhibitory;
    case DISCO_ACTIVITY_TOP_DOWN:
    default: return &top_down;
    }
}

/* The figure: heat map, outputs and control over both loops. */
static gboolean
draw_figure (DiscoActivityImage *self, const DiscoTick *tick, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  Recording rec;
  DiscoPlotActivity activity = { 0 };
  DiscoControllerSpec controller = { 0 };
  DiscoNode *controller_node;
  const DiscoLayerSpec *readout;
  const SignalText *text;
  gboolean softmax;
  g_autofree float *values = NULL;
  g_autofree float *outputs = NULL;
  g_autofree float *control = NULL;
  g_autofree double *times = NULL;
  g_autofree char *title = NULL;
  g_autofree char *subtitle = NULL;
  g_autoptr (GString) when = g_string_new (NULL);
  g_autoptr (GBytes) png = NULL;
  gsize out_offset;
  gint label, prediction, final;
  double target_value;

  if (!read_recording (self, &rec, error) || !read_label (self, &rec, &label, &target_value, error))
    return FALSE;
  text = signal_text (self->signal, rec.spec);
  readout = disco_network_get_layer (rec.network, disco_network_get_n_layers (rec.network) - 1);
  out_offset =
      disco_network_get_layer_offset (rec.network, disco_network_get_n_layers (rec.network) - 1);
  controller_node = disco_node_get_input_node (readout->node, "feedback", NULL);
  softmax = controller_node != NULL && disco_controller_get_spec (controller_node, &controller)
            && controller.error == DISCO_CONTROL_ERROR_CROSS_ENTROPY;

  values = g_new (float, rec.T *rec.n);
  outputs = g_new (float, rec.T *rec.O);
  control = g_new (float, rec.T *rec.O);
  times = g_new (double, rec.T);
  for (gsize i = 0; i < rec.T; i++)
    {
      const float *state = rec.traj + i * rec.row_size;
      float *y = outputs + i * rec.O;

      times[i] = rec.times[i];
      for (gsize j = 0; j < rec.n; j++)
        values[i * rec.n + j] =
            signal_at (self->signal, rec.spec, state, rec.offset, rec.N, rec.O, rec.q, j);
      memcpy (y, state + out_offset, rec.O * sizeof (float));
      memcpy (control + i * rec.O, state + rec.N, rec.O * sizeof (float));
      if (softmax)
        {
          float max = y[disco_node_util_argmax (y, rec.O)], sum = 0.0f;

          for (gsize o = 0; o < rec.O; o++)
            sum += y[o] = expf (y[o] - max);
          for (gsize o = 0; o < rec.O; o++)
            y[o] /= sum;
        }
    }
  prediction = disco_node_util_argmax (outputs + (rec.ol_rows - 1) * rec.O, rec.O);
  final = disco_node_util_argmax (outputs + (rec.T - 1) * rec.O, rec.O);

  if (label >= 0)
    title = g_strdup_printf ("%s: %s of sample %d (label %d, prediction %d)", self->layer,
                             text->title, rec.sample, label, prediction);
  else
    title = g_strdup_printf ("%s: %s of sample %d (prediction %d)", self->layer, text->title,
                             rec.sample, prediction);
  g_string_append_printf (when, "%s tick %" G_GUINT64_FORMAT, disco_phase_to_string (tick->phase),
                          tick->index);
  if (tick->epoch > 0)
    g_string_append_printf (when, ", epoch %u, batch %u", tick->epoch, tick->batch);
  if (rec.ol_rows < rec.T)
    subtitle = g_strdup_printf ("%s · open loop, then closed loop: output %d after control",
                                when->str, final);
  else
    subtitle = g_strdup_printf ("%s · open loop only", when->str);

  activity.title = title;
  activity.subtitle = subtitle;
  activity.signal_label = text->unit;
  activity.values = values;
  activity.n_units = rec.n;
  activity.times = times;
  activity.n_times = rec.T;
  activity.open_loop_rows = rec.ol_rows;
  activity.diverging = self->signal == DISCO_ACTIVITY_TOP_DOWN;
  activity.order = self->sort == DISCO_ACTIVITY_SORT_CLOSED_LOOP_CHANGE
                       ? DISCO_PLOT_UNIT_ORDER_CLOSED_LOOP_CHANGE
                       : DISCO_PLOT_UNIT_ORDER_NONE;
  activity.time_axis = self->time_axis == DISCO_ACTIVITY_TIME_AXIS_LINEAR ? DISCO_PLOT_TIME_LINEAR
                                                                          : DISCO_PLOT_TIME_LOG;
  activity.outputs = outputs;
  activity.output_label = softmax ? "output softmax(y)" : "output y";
  activity.output_min = softmax ? 0.0 : NAN;
  activity.output_max = softmax ? 1.0 : NAN;
  activity.control = controller_node != NULL ? control : NULL;
  activity.n_outputs = rec.O;
  activity.label = label;
  activity.prediction = prediction;
  activity.target_value = controller_node != NULL ? target_value : NAN;
  /* Rates move little in the closed loop next to their rise from rest:
   * the closed-loop map shows the change, on its own scale. */
  activity.closed_loop_change = self->signal != DISCO_ACTIVITY_TOP_DOWN;
  activity.change_label = text->change;

  png = disco_plot_render_activity (&activity, self->figure_width, self->figure_height, NULL, NULL,
                                    error);
  if (png == NULL)
    {
      g_prefix_error (error, "node \"%s\": ", disco_node_get_name (node));
      return FALSE;
    }
  return write_image (self, png, tick->index, error);
}

/* The plain heat map (style = pixels), as it has always been drawn. */
static gboolean
draw_pixels (DiscoActivityImage *self, guint64 tick_index, GError **error)
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
  float *pixels;

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
  if (trajectory == NULL || times_tensor == NULL || disco_tensor_get_n_dims (trajectory) != 2
      || disco_tensor_get_dim (trajectory, 0) != disco_tensor_get_n_elements (times_tensor)
      || disco_tensor_get_dim (trajectory, 1) < N)
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
      q = read_feedback_weights (self, spec, O, sample, error);
      if (q == NULL)
        return FALSE;
    }

  shape[0] = n;
  shape[1] = self->width;
  image = disco_tensor_new (2, shape);
  pixels = disco_tensor_write_host (image, error);
  if (pixels == NULL)
    return FALSE;
  for (guint col = 0; col < self->width; col++)
    {
      double t = self->width > 1 ? times[0] + (times[T - 1] - times[0]) * col / (self->width - 1.0)
                                 : times[0];
      const float *state = traj + nearest_row (times, T, t) * row_size;

      for (gsize j = 0; j < n; j++)
        pixels[j * self->width + col] = signal_at (self->signal, spec, state, offset, N, O, q, j);
    }

  if (self->bit_depth == 16)
    png = disco_tensor_render_png16 (image, NAN, NAN, error);
  else if (self->signal == DISCO_ACTIVITY_TOP_DOWN)
    png = disco_tensor_render_png (image, DISCO_COLORMAP_DIVERGING, NAN, NAN, self->scale, error);
  else
    png = disco_tensor_render_png (image, DISCO_COLORMAP_VIRIDIS, 0.0, NAN, self->scale, error);
  if (png == NULL)
    {
      g_prefix_error (error, "node \"%s\": ", disco_node_get_name (node));
      return FALSE;
    }
  return write_image (self, png, tick_index, error);
}

static DiscoFlowReturn
disco_activity_image_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoActivityImage *self = DISCO_ACTIVITY_IMAGE (node);

  if (tick->phase != DISCO_PHASE_TRAIN)
    return DISCO_FLOW_OK;
  if (self->train_ticks++ % self->every != 0)
    return DISCO_FLOW_OK;
  if (self->style == DISCO_ACTIVITY_STYLE_PIXELS)
    return draw_pixels (self, tick->index, error) ? DISCO_FLOW_OK : DISCO_FLOW_ERROR;
  return draw_figure (self, tick, error) ? DISCO_FLOW_OK : DISCO_FLOW_ERROR;
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

  properties[PROP_LAYER] = g_param_spec_string (
      "layer", "Layer", "Name of the hidden layer node (microcircuit or rate-layer) to draw",
      DEFAULT_LAYER, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SIGNAL] = g_param_spec_enum (
      "signal", "Signal",
      "What to draw: excitatory or inhibitory rates, or the top-down input "
      "c·Q_l",
      DISCO_TYPE_ACTIVITY_SIGNAL, DEFAULT_SIGNAL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_EVERY] = g_param_spec_uint (
      "every", "Every", "Draw the first training tick and then every this many training ticks", 1,
      G_MAXUINT, DEFAULT_EVERY, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_WIDTH] =
      g_param_spec_uint ("width", "Width",
                         "Columns of the image: evenly spaced times from the first to the last "
                         "recorded state (before scaling); style = pixels",
                         1, 100000, DEFAULT_WIDTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SCALE] = g_param_spec_uint (
      "scale", "Scale", "Side of the square of pixels that shows one value (style = pixels)", 1, 16,
      DEFAULT_SCALE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_BIT_DEPTH] = g_param_spec_uint (
      "bit-depth", "Bit depth",
      "style = pixels: 8: a colour image to look at; 16: one 16-bit gray "
      "pixel per value, for analysis (range in the tEXt chunks disco-vmin, disco-vmax; "
      "scale is ignored); other values are errors",
      8, 16, DEFAULT_BIT_DEPTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "PNG file to write, relative to the output folder: a pattern with "
                           "%s (the layer), %s (the signal) and %u (the tick index), in order",
                           DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STYLE] = g_param_spec_enum (
      "style", "Style",
      "figure: a figure with time axes in ms, colour bar, title and the output "
      "and control trajectories; pixels: the plain heat map, one value per "
      "square of pixels, for analysis (width, scale and bit-depth apply)",
      DISCO_TYPE_ACTIVITY_STYLE, DEFAULT_STYLE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SORT] = g_param_spec_enum (
      "sort", "Sort",
      "Order of the figure's rows: none (unit index), or closed-loop-change "
      "(largest increase over the closed loop at the top); style = figure",
      DISCO_TYPE_ACTIVITY_SORT, DEFAULT_SORT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TIME_AXIS] = g_param_spec_enum (
      "time-axis", "Time axis",
      "Time scale of each loop's panel: log (from the first recorded step, "
      "so the fast transient gets room) or linear (from the loop's start); "
      "style = figure",
      DISCO_TYPE_ACTIVITY_TIME_AXIS, DEFAULT_TIME_AXIS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FIGURE_WIDTH] = g_param_spec_uint (
      "figure-width", "Figure width", "Width of the figure in pixels (style = figure)", 320, 16384,
      DEFAULT_FIGURE_WIDTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FIGURE_HEIGHT] = g_param_spec_uint (
      "figure-height", "Figure height", "Height of the figure in pixels (style = figure)", 240,
      16384, DEFAULT_FIGURE_HEIGHT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_WRITTEN] =
      g_param_spec_uint ("written", "Written", "Images written in the current or last run", 0,
                         G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Activity image", "Sink/Image",
                                 "Writes a figure of how the recorded sample settles: a heat "
                                 "map of a layer's rates or top-down input (units × time), "
                                 "open then closed loop, with the outputs and the control");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "state", DISCO_PORT_FLAG_NONE,
                             "any output of the integrator that records the trajectory");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "target", DISCO_PORT_FLAG_OPTIONAL,
                             "the targets, batch × outputs (e.g. data.targets): the recorded "
                             "sample's label, named in the title and drawn in red");
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
  self->style = DEFAULT_STYLE;
  self->sort = DEFAULT_SORT;
  self->time_axis = DEFAULT_TIME_AXIS;
  self->figure_width = DEFAULT_FIGURE_WIDTH;
  self->figure_height = DEFAULT_FIGURE_HEIGHT;
}
