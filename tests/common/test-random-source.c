/* test-random-source.c: a source of fixed random inputs for the tests */
#include "test-random-source.h"

/* ----- a source of fixed random inputs ------------------------------------ */

struct _TestRandomSource
{
  DiscoNode parent_instance;
  guint rows, cols, ticks, emitted, only_row, classes;
  double amplitude;
  DiscoPhase phase;
};
G_DEFINE_FINAL_TYPE (TestRandomSource, test_random_source, DISCO_TYPE_NODE)

enum
{
  PROP_0,
  PROP_ROWS,
  PROP_COLS,
  PROP_TICKS,
  PROP_ONLY_ROW,
  PROP_AMPLITUDE,
  PROP_CLASSES,
  PROP_PHASE
};

static void
test_random_source_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestRandomSource *self = TEST_RANDOM_SOURCE (object);
  switch (id)
    {
    case PROP_ROWS: self->rows = g_value_get_uint (value); break;
    case PROP_COLS: self->cols = g_value_get_uint (value); break;
    case PROP_TICKS: self->ticks = g_value_get_uint (value); break;
    case PROP_ONLY_ROW: self->only_row = g_value_get_uint (value); break;
    case PROP_AMPLITUDE: self->amplitude = g_value_get_double (value); break;
    case PROP_CLASSES: self->classes = g_value_get_uint (value); break;
    case PROP_PHASE: self->phase = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_random_source_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static gboolean
test_random_source_prepare (DiscoNode *node, GError **error)
{
  TestRandomSource *self = TEST_RANDOM_SOURCE (node);
  gsize shape[2] = { 0, self->cols };

  gsize target_shape[2] = { 0, self->classes };

  self->emitted = 0;
  disco_node_declare_output (node, "output", 2, shape);
  disco_node_declare_output (node, "targets", 2, target_shape);
  return TRUE;
}

/* Row r of the data is the same whichever rows are emitted: a fixed seed
 * per row, so a batch of one reproduces one row of a larger batch. */
static DiscoFlowReturn
test_random_source_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  TestRandomSource *self = TEST_RANDOM_SOURCE (node);
  gboolean single = self->only_row != G_MAXUINT;
  gsize shape[2] = { single ? 1 : self->rows, self->cols };
  gsize target_shape[2] = { shape[0], self->classes };
  float *x, *t;

  if (self->emitted++ >= self->ticks)
    return DISCO_FLOW_EOS;
  tick->phase = self->phase;
  x = disco_tensor_write_host (disco_node_ensure_output (node, "output", 2, shape), error);
  t = disco_tensor_write_host (disco_node_ensure_output (node, "targets", 2, target_shape), error);
  for (guint r = 0; r < shape[0]; r++)
    {
      guint label = (single ? self->only_row : r) % self->classes;
      for (guint c = 0; c < self->classes; c++)
        t[r * self->classes + c] = c == label ? 0.99f : 0.01f / (self->classes - 1);
    }
  for (guint r = 0; r < shape[0]; r++)
    {
      g_autoptr (GRand) rand = g_rand_new_with_seed (1000 + (single ? self->only_row : r));
      for (guint c = 0; c < self->cols; c++)
        x[r * self->cols + c] = (float) (self->amplitude * g_rand_double (rand));
    }
  return DISCO_FLOW_OK;
}

static void
test_random_source_class_init (TestRandomSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->set_property = test_random_source_set_property;
  object_class->get_property = test_random_source_get_property;
  node_class->prepare = test_random_source_prepare;
  node_class->process = test_random_source_process;
  g_object_class_install_property (object_class, PROP_ROWS,
                                   g_param_spec_uint ("rows", "rows", "rows", 1, 1000, 4, rw));
  g_object_class_install_property (object_class, PROP_COLS,
                                   g_param_spec_uint ("cols", "cols", "cols", 1, 1000, 20, rw));
  g_object_class_install_property (object_class, PROP_TICKS,
                                   g_param_spec_uint ("ticks", "ticks", "ticks", 0, 1000, 1, rw));
  g_object_class_install_property (object_class, PROP_ONLY_ROW,
                                   g_param_spec_uint ("only-row", "only row", "emit just this row",
                                                      0, G_MAXUINT, G_MAXUINT, rw));
  g_object_class_install_property (
      object_class, PROP_AMPLITUDE,
      g_param_spec_double ("amplitude", "amplitude", "values in [0, amplitude)", 0, 100, 1, rw));
  g_object_class_install_property (
      object_class, PROP_CLASSES,
      g_param_spec_uint ("classes", "classes", "target classes; row r is class r mod classes", 2,
                         100, 3, rw));
  g_object_class_install_property (object_class, PROP_PHASE,
                                   g_param_spec_enum ("phase", "phase", "phase of every tick",
                                                      DISCO_TYPE_PHASE, DISCO_PHASE_NONE, rw));
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", 0, "uniform values");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "targets", 0, "soft one-hot");
}

static void
test_random_source_init (TestRandomSource *self)
{
  self->rows = 4;
  self->cols = 20;
  self->ticks = 1;
  self->only_row = G_MAXUINT;
  self->amplitude = 1.0;
  self->classes = 3;
  self->phase = DISCO_PHASE_NONE;
}
