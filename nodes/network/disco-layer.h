/* disco-layer.h: the DiscoLayer interface, what a network reads of a layer
 *
 * The layer nodes (microcircuit, rate-layer, readout, or any type that
 * implements #DiscoLayer) own their parameters and configuration; the
 * integrator reads them through the interface once, into this plain struct,
 * so that the right-hand side of the whole network is one tight loop over
 * layers, not a chain of virtual calls per element.
 */
#pragma once

#include <disco/disco.h>
#include "disco-kernels.h"

G_BEGIN_DECLS

/**
 * DiscoLayerKind:
 * @DISCO_LAYER_MICROCIRCUIT: E–I pairs: state (u_E, u_I), MODEL.md §2
 * @DISCO_LAYER_RATE: plain rate units, state u, r = φ(u) (backprop baseline)
 * @DISCO_LAYER_READOUT: linear, no bias, state y (logits)
 *
 * The dynamics of a layer: which equations of MODEL.md the network's
 * arithmetic applies to it. A layer type picks one of these and supplies the
 * parameters and constants.
 */
typedef enum
{
  DISCO_LAYER_MICROCIRCUIT,
  DISCO_LAYER_RATE,
  DISCO_LAYER_READOUT,
} DiscoLayerKind;

/**
 * DiscoLayerSpec:
 * @kind: its dynamics
 * @node: the layer node itself
 * @n_in: inputs per sample (the layer below's units, or the data's features)
 * @n: units
 * @phi_e: φ_E, or φ of a rate layer
 * @phi_i: φ_I (microcircuit only)
 * @tau_e: τ_E, or τ of a rate layer / the readout (s)
 * @tau_i: τ_I (microcircuit only) (s)
 * @weight: (transfer none): W, n × n_in, a parameter of @node
 * @bias: (transfer none) (nullable): b, n values, a parameter of @node, or
 *   %NULL (no bias; always %NULL for a readout)
 *
 * One layer of a network, as disco_layer_get_spec() describes it.
 */
typedef struct
{
  DiscoLayerKind kind;
  DiscoNode *node;
  gsize n_in;
  gsize n;
  DiscoSoftRectifier phi_e;
  DiscoSoftRectifier phi_i;
  float tau_e;
  float tau_i;
  DiscoTensor *weight;
  DiscoTensor *bias;
} DiscoLayerSpec;

#define DISCO_TYPE_LAYER (disco_layer_get_type ())
G_DECLARE_INTERFACE (DiscoLayer, disco_layer, DISCO, LAYER, DiscoNode)

/**
 * DiscoLayerInterface:
 * @g_iface: the parent interface
 * @get_spec: fills the spec of a prepared layer, its parameters included;
 *   returns %FALSE before the layer has been prepared (it has no `weight`
 *   yet). Called by the integrator when it builds its network, after every
 *   node's prepare, and by nodes that read the network (the controller).
 *
 * A dynamical node that an integrator can drive as one layer of a network.
 * The integrator follows the `input` links from its `network` node down to
 * the data, asks each layer on the way for its spec, and integrates the
 * equations of the spec's kind with the spec's parameters; it writes the
 * layer's outputs itself, so a layer needs no process hook.
 */
struct _DiscoLayerInterface
{
  GTypeInterface g_iface;

  gboolean (*get_spec) (DiscoLayer *self, DiscoLayerSpec *spec);
};

gboolean disco_layer_get_spec (DiscoLayer *self, DiscoLayerSpec *spec);
gsize disco_layer_input_size (DiscoNode *node, GError **error);
DiscoTensor *disco_layer_ensure_parameter (DiscoNode *node, const char *name, guint n_dims,
                                           const gsize *shape, double init_std, gboolean *created,
                                           GError **error);
gsize disco_layer_prepare_weights (DiscoNode *node, gsize size, gboolean bias, GError **error);

/* Seeded random numbers for any node's initial values and draws. */
GRand *disco_rand_new_for_stream (guint64 seed, const char *stream);
double disco_rand_standard_normal (GRand *rand);

G_END_DECLS

G_BEGIN_DECLS

/* Table-driven float properties: the layer nodes have many (φ parameters,
 * time constants) that differ only in name, range and default. */
typedef struct
{
  const char *name;
  const char *nick;
  const char *blurb;
  double minimum;
  double maximum;
  double default_value;
  gsize offset; /* of a float in the instance struct */
} DiscoFloatProperty;

/* The three rows of a soft rectifier φ_CELL (MODEL.md §1) stored as floats
 * cell_scale, cell_sharpness and cell_shift of the instance struct Type,
 * with their defaults. */
#define DISCO_RECTIFIER_PROPERTIES(Type, cell, CELL, scale, sharpness, shift)                      \
  { #cell "-scale",                                                                                \
    #CELL " scale",                                                                                \
    "Scale s of φ_" #CELL "(x) = s·log(1 + exp(β(x − θ)))",                                        \
    1e-6,                                                                                          \
    1e6,                                                                                           \
    scale,                                                                                         \
    G_STRUCT_OFFSET (Type, cell##_scale) },                                                        \
      { #cell "-sharpness",                                                                        \
        #CELL " sharpness",                                                                        \
        "Sharpness β of φ_" #CELL,                                                                 \
        1e-6,                                                                                      \
        1e6,                                                                                       \
        sharpness,                                                                                 \
        G_STRUCT_OFFSET (Type, cell##_sharpness) },                                                \
  {                                                                                                \
#cell "-shift", #CELL " shift", "Shift θ of φ_" #CELL, -1e6, 1e6, shift,                       \
        G_STRUCT_OFFSET(Type, cell##_shift)                                                        \
  }

void disco_layer_install_float_properties (GObjectClass *klass, guint first_id,
                                           const DiscoFloatProperty *table, guint n);
void disco_layer_init_float_properties (gpointer instance, const DiscoFloatProperty *table,
                                        guint n);
gboolean disco_layer_get_float_property (gpointer instance, guint id, guint first_id,
                                         const DiscoFloatProperty *table, guint n, GValue *value);
gboolean disco_layer_set_float_property (gpointer instance, guint id, guint first_id,
                                         const DiscoFloatProperty *table, guint n,
                                         const GValue *value);

G_END_DECLS
