/* test-layer-interface.c: a layer type defined outside the plugin joins a network
 *
 * The integrator knows the layers of its network only through the DiscoLayer
 * interface (nodes/network/disco-layer.h), and plasticity and activity-image know the
 * integrator only as a DiscoNetworkProvider. This test defines a rate layer
 * of its own, with its own parameters, initialisation and φ, and checks that
 * an integrator settles it to the closed form of MODEL.md §6's rate layer;
 * and that nodes which are not layers or not network providers are refused
 * with a GError.
 *
 * Shape legend: B = samples, F = input features, n = the layer's units,
 * O = the readout's units.
 */
#include <disco/disco.h>
#include "disco-layer.h"
#include "test-bad-pipeline.h"
#include "test-pipeline-run.h"
#include "test-random-source.h"

#include <math.h>

/* φ(x) = s·log(1 + exp(β(x − θ))), the test layer's rectifier: not the
 * default softplus, so that the test sees whether the network takes the
 * layer's own φ. */
#define TEST_SCALE 2.0
#define TEST_SHARPNESS 0.5
#define TEST_SHIFT 0.25
#define TEST_TAU 0.010

/* The interface lives in the plugin module, which the registry loads at run
 * time with its symbols kept local: the test finds it by name, as a type in
 * another module would. */
static GType
layer_interface_type (void)
{
  GType type;

  /* Looking a type up loads the plugin, whose layer types register the
   * interface. */
  g_assert_cmpuint (disco_registry_lookup ("rate-layer"), !=, G_TYPE_INVALID);
  type = g_type_from_name ("DiscoLayer");
  g_assert_true (G_TYPE_IS_INTERFACE (type));
  return type;
}

/* ----- a rate layer written against the interface ------------------------ */

#define TEST_TYPE_RATE_LAYER (test_rate_layer_get_type ())
G_DECLARE_FINAL_TYPE (TestRateLayer, test_rate_layer, TEST, RATE_LAYER, DiscoNode)

struct _TestRateLayer
{
  DiscoNode parent_instance;
  guint size;
  gsize n_in;
};

static void test_rate_layer_layer_init (DiscoLayerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestRateLayer, test_rate_layer, DISCO_TYPE_NODE,
                               G_IMPLEMENT_INTERFACE (layer_interface_type (),
                                                      test_rate_layer_layer_init))

enum
{
  PROP_0,
  PROP_SIZE
};

static void
test_rate_layer_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  if (id == PROP_SIZE)
    TEST_RATE_LAYER (object)->size = g_value_get_uint (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
test_rate_layer_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == PROP_SIZE)
    g_value_set_uint (value, TEST_RATE_LAYER (object)->size);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

/* Its own parameters: weight (n × F) uniform in [−1, 1)/√F from the node's
 * seed, bias (n) an evenly spaced ramp, so neither is zero. */
static gboolean
test_rate_layer_prepare (DiscoNode *node, GError **error)
{
  TestRateLayer *self = TEST_RATE_LAYER (node);
  guint n_dims;
  const gsize *in = disco_node_get_input_declared_shape (node, "input", &n_dims);
  gsize weight_shape[2], bias_shape[1] = { self->size }, out_shape[2] = { 0, self->size };
  g_autoptr (DiscoTensor) weight = NULL;
  g_autoptr (DiscoTensor) bias = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) disco_node_get_seed (node));
  float *w, *b;

  if (in == NULL || n_dims != 2)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE, "node \"%s\": no input shape",
                   disco_node_get_name (node));
      return FALSE;
    }
  self->n_in = in[1];
  weight_shape[0] = self->size;
  weight_shape[1] = self->n_in;
  weight = disco_tensor_new (2, weight_shape);
  bias = disco_tensor_new (1, bias_shape);
  if ((w = disco_tensor_write_host (weight, error)) == NULL
      || (b = disco_tensor_write_host (bias, error)) == NULL)
    return FALSE;
  for (gsize i = 0; i < self->size * self->n_in; i++)
    w[i] = (float) (g_rand_double_range (rand, -1.0, 1.0) / sqrt ((double) self->n_in));
  for (guint j = 0; j < self->size; j++)
    b[j] = 0.1f * ((float) j - 0.5f * (float) self->size);
  disco_node_add_parameter (node, "weight", weight);
  disco_node_add_parameter (node, "bias", bias);
  disco_node_declare_output (node, "output", 2, out_shape);
  return TRUE;
}

static gboolean
test_rate_layer_get_spec (DiscoLayer *layer, DiscoLayerSpec *spec)
{
  TestRateLayer *self = TEST_RATE_LAYER (layer);
  DiscoNode *node = DISCO_NODE (layer);

  if (disco_node_get_parameter (node, "weight") == NULL)
    return FALSE;
  *spec = (DiscoLayerSpec){
    .kind = DISCO_LAYER_RATE,
    .node = node,
    .n_in = self->n_in,
    .n = self->size,
    .phi_e = { TEST_SCALE, TEST_SHARPNESS, TEST_SHIFT },
    .tau_e = TEST_TAU,
    .weight = disco_node_get_parameter (node, "weight"),
    .bias = disco_node_get_parameter (node, "bias"),
  };
  return TRUE;
}

static void
test_rate_layer_layer_init (DiscoLayerInterface *iface)
{
  iface->get_spec = test_rate_layer_get_spec;
}

static void
test_rate_layer_class_init (TestRateLayerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->set_property = test_rate_layer_set_property;
  object_class->get_property = test_rate_layer_get_property;
  node_class->prepare = test_rate_layer_prepare;
  g_object_class_install_property (object_class, PROP_SIZE,
                                   g_param_spec_uint ("size", "size", "units", 1, 1000, 4,
                                                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  disco_node_class_set_dynamical (node_class, TRUE);
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", 0, "batch × inputs");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", 0, "rates, batch × size");
}

static void
test_rate_layer_init (TestRateLayer *self)
{
  self->size = 4;
}

/* ----- a dynamical node that is no layer ---------------------------------- */

#define TEST_TYPE_NOT_A_LAYER (test_not_a_layer_get_type ())
G_DECLARE_FINAL_TYPE (TestNotALayer, test_not_a_layer, TEST, NOT_A_LAYER, DiscoNode)

struct _TestNotALayer
{
  DiscoNode parent_instance;
};

G_DEFINE_FINAL_TYPE (TestNotALayer, test_not_a_layer, DISCO_TYPE_NODE)

static gboolean
test_not_a_layer_prepare (DiscoNode *node, GError **error)
{
  gsize shape[2] = { 0, 3 };

  disco_node_declare_output (node, "output", 2, shape);
  return TRUE;
}

static void
test_not_a_layer_class_init (TestNotALayerClass *klass)
{
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  node_class->prepare = test_not_a_layer_prepare;
  disco_node_class_set_dynamical (node_class, TRUE);
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", 0, "anything");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", 0, "batch × 3");
}

static void
test_not_a_layer_init (TestNotALayer *self)
{
}

/* ----- tests ---------------------------------------------------------------- */

static double
test_phi (double x)
{
  double z = TEST_SHARPNESS * (x - TEST_SHIFT);

  return TEST_SCALE * (z > 0 ? z + log1p (exp (-z)) : log1p (exp (z)));
}

static void
test_new_layer_type_joins_a_network (void)
{
  const char *text = "[data]\nnode = test-random-source\nrows = 5\ncols = 12\n"
                     "[h1]\nnode = test-rate-layer\ninput = data\nsize = 7\n"
                     "[out]\nnode = readout\ninput = h1\nsize = 3\n"
                     "[settle]\nnode = integrator\nnetwork = out\nsteady-state-stop = false\n";
  enum
  {
    B = 5,
    F = 12,
    n = 7,
    O = 3
  };
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *x = test_output_of (p, "data", "output");
  const float *w = test_parameter_of (p, "h1.weight"), *b = test_parameter_of (p, "h1.bias");
  const float *w_out = test_parameter_of (p, "out.weight");
  const float *r = test_output_of (p, "h1", "output");
  const float *y = test_output_of (p, "settle", "output");
  double worst_r = 0, worst_y = 0;

  g_test_summary ("A rate layer defined in the test, known to the integrator only through "
                  "DiscoLayer, settles to r = φ(W x + b) with its own φ, weights and bias, "
                  "and the readout to y = W_out r (MODEL.md §6)");
  for (int s = 0; s < B; s++)
    {
      double h[n];

      for (int j = 0; j < n; j++)
        {
          double d = b[j];

          for (int k = 0; k < F; k++)
            d += (double) w[j * F + k] * x[s * F + k];
          h[j] = test_phi (d);
          worst_r = MAX (worst_r, fabs (h[j] - r[s * n + j]));
        }
      for (int o = 0; o < O; o++)
        {
          double d = 0;

          for (int j = 0; j < n; j++)
            d += (double) w_out[o * n + j] * h[j];
          worst_y = MAX (worst_y, fabs (d - y[s * O + o]));
        }
    }
  g_test_message ("largest |r − φ(W x + b)| = %.3g, |y − W_out r| = %.3g", worst_r, worst_y);
  /* 2 s of integration is 200 τ: the state is at its fixed point to float32
   * rounding; r is φ of it through the fast φ (within 4 ulp). */
  g_assert_cmpfloat (worst_r, <, 2e-5);
  g_assert_cmpfloat (worst_y, <, 2e-5);
}

static void
test_new_layer_type_trains (void)
{
  /* Backprop through the test layer: the plasticity node reads the network
   * through the integrator's DiscoNetworkProvider interface. */
  const char *text =
      "[data]\nnode = test-random-source\nrows = 4\ncols = 6\nclasses = 3\n"
      "[h1]\nnode = test-rate-layer\ninput = data\nsize = 5\n"
      "[out]\nnode = readout\ninput = h1\nsize = 3\n"
      "[settle]\nnode = integrator\nnetwork = out\nsteady-state-stop = false\n"
      "[learn]\nnode = plasticity\nrule = backprop\nstate = settle\ntarget = data.targets\n";
  enum
  {
    B = 4,
    F = 6,
    n = 5,
    O = 3
  };
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *x = test_output_of (p, "data", "output");
  const float *t = test_output_of (p, "data", "targets");
  const float *w = test_parameter_of (p, "h1.weight"), *b = test_parameter_of (p, "h1.bias");
  const float *w_out = test_parameter_of (p, "out.weight");
  DiscoNode *learn = disco_pipeline_get_node (p, "learn");
  DiscoTensor *g_out = disco_node_get_gradient (learn, "out.weight");
  const float *g = g_out ? disco_tensor_read_host (g_out, NULL) : NULL;
  double expected[O * n] = { 0 }, worst = 0;

  g_test_summary ("Backprop's readout gradient through a test-defined layer is "
                  "mean_s (softmax(y) − t) rᵀ, r = φ(W x + b)");
  g_assert_nonnull (g);
  for (int s = 0; s < B; s++)
    {
      double h[n], y[O], top = -INFINITY, sum = 0;

      for (int j = 0; j < n; j++)
        {
          double d = b[j];

          for (int k = 0; k < F; k++)
            d += (double) w[j * F + k] * x[s * F + k];
          h[j] = test_phi (d);
        }
      for (int o = 0; o < O; o++)
        {
          y[o] = 0;
          for (int j = 0; j < n; j++)
            y[o] += (double) w_out[o * n + j] * h[j];
          top = MAX (top, y[o]);
        }
      for (int o = 0; o < O; o++)
        sum += exp (y[o] - top);
      for (int o = 0; o < O; o++)
        for (int j = 0; j < n; j++)
          expected[o * n + j] += (exp (y[o] - top) / sum - t[s * O + o]) * h[j] / B;
    }
  for (int i = 0; i < O * n; i++)
    worst = MAX (worst, fabs (expected[i] - g[i]));
  g_test_message ("largest |g − closed form| = %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-5);
}

static const TestBadPipeline bad_links[] = {
  /* checks: a dynamical node without DiscoLayer in the integrator's chain */
  { "dynamical-but-not-a-layer",
    "[data]\nnode = test-random-source\n[h1]\nnode = test-not-a-layer\ninput = data\n"
    "[out]\nnode = readout\ninput = h1\n[settle]\nnode = integrator\nnetwork = out\n",
    DISCO_ERROR_LINK, "\"h1\" (linked to network) is dynamical but not a layer" },
  /* checks: plasticity's state linked to a layer, which provides no network */
  { "plasticity-state-not-a-provider",
    "[data]\nnode = test-random-source\n[h1]\nnode = test-rate-layer\ninput = data\n"
    "[out]\nnode = readout\ninput = h1\n[settle]\nnode = integrator\nnetwork = out\n"
    "[learn]\nnode = plasticity\nrule = backprop\nstate = out\ntarget = data.targets\n",
    DISCO_ERROR_LINK, "must link to an integrator, not to \"out\"" },
  /* checks: activity-image's state linked to a layer, which provides no network */
  { "activity-image-state-not-a-provider",
    "[data]\nnode = test-random-source\n[h1]\nnode = microcircuit\ninput = data\nsize = 4\n"
    "[out]\nnode = readout\ninput = h1\n[settle]\nnode = integrator\nnetwork = out\n"
    "record-sample = 0\n[picture]\nnode = activity-image\nstate = h1\nlayer = h1\n"
    "path = /nonexistent/%s-%s-%06u.png\n",
    DISCO_ERROR_LINK, "\"picture\" must come from an integrator" },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);
  disco_registry_register ("test-rate-layer", TEST_TYPE_RATE_LAYER);
  disco_registry_register ("test-not-a-layer", TEST_TYPE_NOT_A_LAYER);

  g_test_add_func ("/disco/layer/new-type-joins-a-network", test_new_layer_type_joins_a_network);
  g_test_add_func ("/disco/layer/new-type-trains", test_new_layer_type_trains);
  test_add_bad_pipelines ("/disco/layer/bad", bad_links, G_N_ELEMENTS (bad_links));
  return g_test_run ();
}
