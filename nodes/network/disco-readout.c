/* disco-readout.c */

/**
 * SECTION:node-readout
 * @title: readout
 * @short_description: the linear output layer of a network
 *
 * τ dy/dt = −y + W r + c (MODEL.md §2): a linear layer without bias whose
 * state y are the network's logits; the control signal c, when linked, drives
 * it directly. Dynamical: an integrator advances it (a #DiscoLayer).
 * Parameter: `weight` (size × inputs, LeCun-normal from the pipeline seed).
 *
 * Ports: input `input` (rates of the last hidden layer), optional input
 * `feedback` (the controller's signal c); output `output` (y, batch × size).
 *
 * ## Example pipeline
 * |[
 * [out]
 * node = readout
 * input = h1
 * size = 10
 * ]|
 */

#include "disco-readout.h"
#include "disco-layer.h"
#include "disco-nodes.h"

#include <math.h>

#define DEFAULT_SIZE 10
#define DEFAULT_TAU 0.020

struct _DiscoReadout
{
  DiscoNode parent_instance;

  guint size;
  float tau;
  gsize n_in;
};

static void disco_readout_layer_init (DiscoLayerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DiscoReadout, disco_readout, DISCO_TYPE_NODE,
                               G_IMPLEMENT_INTERFACE (DISCO_TYPE_LAYER, disco_readout_layer_init))
DISCO_NODE_REGISTER_DEFINE (readout, "readout", DISCO_TYPE_READOUT)

enum
{
  PROP_0,
  PROP_SIZE,
  PROP_FIRST_FLOAT
};

static const DiscoFloatProperty float_properties[] = {
  { "tau", "τ", "Time constant of the output units (s); the model uses τ_E", 1e-6, 1e3, DEFAULT_TAU,
    G_STRUCT_OFFSET (DiscoReadout, tau) },
};

static void
disco_readout_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoReadout *self = DISCO_READOUT (object);

  if (disco_layer_get_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  if (prop_id == PROP_SIZE)
    g_value_set_uint (value, self->size);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
disco_readout_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoReadout *self = DISCO_READOUT (object);

  if (disco_layer_set_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  if (prop_id == PROP_SIZE)
    self->size = g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static gboolean
disco_readout_prepare (DiscoNode *node, GError **error)
{
  DiscoReadout *self = DISCO_READOUT (node);

  /* No bias: the control drives the readout directly (MODEL.md §2). */
  self->n_in = disco_layer_prepare_weights (node, self->size, FALSE, error);
  return self->n_in != 0;
}

/* DiscoLayer.get_spec */
static gboolean
disco_readout_get_spec (DiscoLayer *layer, DiscoLayerSpec *spec)
{
  DiscoNode *node = DISCO_NODE (layer);
  DiscoReadout *self = DISCO_READOUT (layer);

  if (disco_node_get_parameter (node, "weight") == NULL)
    return FALSE;
  *spec = (DiscoLayerSpec){
    .kind = DISCO_LAYER_READOUT,
    .node = node,
    .n_in = self->n_in,
    .n = self->size,
    .tau_e = self->tau,
    .weight = disco_node_get_parameter (node, "weight"),
  };
  return TRUE;
}

static void
disco_readout_layer_init (DiscoLayerInterface *iface)
{
  iface->get_spec = disco_readout_get_spec;
}

static void
disco_readout_class_init (DiscoReadoutClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->get_property = disco_readout_get_property;
  object_class->set_property = disco_readout_set_property;
  node_class->prepare = disco_readout_prepare;

  g_object_class_install_property (
      object_class, PROP_SIZE,
      g_param_spec_uint ("size", "Size", "Number of output units (classes)", 1, 65536, DEFAULT_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  disco_layer_install_float_properties (object_class, PROP_FIRST_FLOAT, float_properties,
                                        G_N_ELEMENTS (float_properties));

  disco_node_class_set_dynamical (node_class, TRUE);
  /* No process hook: the integrator computes and writes this node's
   * outputs, in the memory of its operations table. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Linear readout", "Network/Dynamical",
                                 "Linear output layer without bias, driven by the control "
                                 "signal in closed loop (MODEL.md §2)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "rates of the last hidden layer, batch × inputs");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "feedback", DISCO_PORT_FLAG_OPTIONAL,
                             "control signal c, batch × size (closed loop)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "logits y after the last solve, batch × size");
}

static void
disco_readout_init (DiscoReadout *self)
{
  self->size = DEFAULT_SIZE;
  disco_layer_init_float_properties (self, float_properties, G_N_ELEMENTS (float_properties));
}
