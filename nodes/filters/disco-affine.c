/* disco-affine.c */

/**
 * SECTION:node-affine
 * @title: affine
 * @short_description: element-wise scale × x + offset
 *
 * Ports: input `input`; output `output` (same shape).
 *
 * ## Example pipeline
 * |[
 * [double]
 * node = affine
 * input = numbers
 * scale = 2
 * ]|
 */

#include "disco-affine.h"
#include "disco-nodes.h"

#define DEFAULT_SCALE 1.0
#define DEFAULT_OFFSET 0.0

struct _DiscoAffine
{
  DiscoNode parent_instance;

  double scale;
  double offset;
};

G_DEFINE_FINAL_TYPE (DiscoAffine, disco_affine, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (affine, "affine", DISCO_TYPE_AFFINE)

enum
{
  PROP_0,
  PROP_SCALE,
  PROP_OFFSET,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_affine_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoAffine *self = DISCO_AFFINE (object);

  switch (prop_id)
    {
    case PROP_SCALE: g_value_set_double (value, self->scale); break;
    case PROP_OFFSET: g_value_set_double (value, self->offset); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_affine_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoAffine *self = DISCO_AFFINE (object);

  switch (prop_id)
    {
    case PROP_SCALE: self->scale = g_value_get_double (value); break;
    case PROP_OFFSET: self->offset = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_affine_prepare (DiscoNode *node, GError **error)
{
  guint n_dims;
  const gsize *shape = disco_node_get_input_declared_shape (node, "input", &n_dims);

  if (shape != NULL)
    disco_node_declare_output (node, "output", n_dims, shape);
  return TRUE;
}

static DiscoFlowReturn
disco_affine_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoAffine *self = DISCO_AFFINE (node);
  DiscoTensor *in = disco_node_get_input (node, "input");
  const float *x;
  float *y;
  const gsize *shape;
  guint n_dims;
  gsize n;

  if (in == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "input \"input\" of node \"%s\" received no tensor this tick",
                   disco_node_get_name (node));
      return DISCO_FLOW_ERROR;
    }
  shape = disco_tensor_get_shape (in, &n_dims);
  n = disco_tensor_get_n_elements (in);
  x = disco_tensor_read_host (in, error);
  if (x == NULL)
    return DISCO_FLOW_ERROR;
  y = disco_tensor_write_host (disco_node_ensure_output (node, "output", n_dims, shape), error);
  if (y == NULL)
    return DISCO_FLOW_ERROR;
  for (gsize i = 0; i < n; i++)
    y[i] = (float) (self->scale * x[i] + self->offset);
  return DISCO_FLOW_OK;
}

static void
disco_affine_class_init (DiscoAffineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->get_property = disco_affine_get_property;
  object_class->set_property = disco_affine_set_property;
  node_class->prepare = disco_affine_prepare;
  node_class->process = disco_affine_process;

  properties[PROP_SCALE] =
      g_param_spec_double ("scale", "Scale", "Factor applied to every element", -G_MAXFLOAT,
                           G_MAXFLOAT, DEFAULT_SCALE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_OFFSET] =
      g_param_spec_double ("offset", "Offset", "Added to every element after scaling", -G_MAXFLOAT,
                           G_MAXFLOAT, DEFAULT_OFFSET, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  disco_node_class_set_metadata (node_class, "Affine map", "Filter/Math",
                                 "Computes scale × x + offset element-wise");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "any tensor");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "scale × input + offset, same shape as the input");
}

static void
disco_affine_init (DiscoAffine *self)
{
  self->scale = DEFAULT_SCALE;
  self->offset = DEFAULT_OFFSET;
}
