/* disco-node.h: the abstract base of every node type */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#include "disco-enums-base.h"
#include "disco-tensor.h"
#include "disco-tick.h"

G_BEGIN_DECLS

typedef struct _DiscoPipeline DiscoPipeline;

#define DISCO_TYPE_NODE (disco_node_get_type ())
G_DECLARE_DERIVABLE_TYPE (DiscoNode, disco_node, DISCO, NODE, GObject)

/**
 * DiscoNodeClass:
 * @parent_class: the parent class
 * @prepare: called once before the first tick, in tick order, after every
 *   property is set and every link is made. Check the configuration and the
 *   shapes producers declared, allocate state, declare output shapes with
 *   disco_node_declare_output(). Return %FALSE with the error set to stop the
 *   run before any tick. Optional.
 * @process: called once per tick, in tick order. Read inputs with
 *   disco_node_get_input(), write outputs with disco_node_set_output().
 *   A source node (one without inputs) fills in @tick and returns
 *   %DISCO_FLOW_EOS when it has nothing more to emit. Dynamical nodes are
 *   driven by an integrator and need not implement it.
 * @end_epoch: called on every node after the tick that ends an epoch (and at
 *   the end of the run if the last epoch was not ended). Optional.
 * @finish: called once after the last tick, also after an error or a
 *   cancellation, to release per-run resources. Optional.
 * @runs_on_cuda: whether this node, as configured, can run in a pipeline
 *   on CUDA; for types whose answer depends on their properties (an
 *   integrator's method, say). Optional: by default the type's flag
 *   (disco_node_type_set_runs_on_cuda()).
 * @resume: called after prepare when a run continues from a checkpoint
 *   taken at the end of epoch @epoch − 1 (the node's parameters are already
 *   restored): continue as if epochs 1 … @epoch − 1 had just run. A source
 *   starts emitting epoch @epoch. Optional.
 *
 * The hooks a node type implements. Ports and metadata are declared in
 * class_init with disco_node_class_add_port() and
 * disco_node_class_set_metadata().
 */
struct _DiscoNodeClass
{
  GObjectClass parent_class;

  /*< public >*/
  gboolean (*prepare) (DiscoNode *self, GError **error);
  DiscoFlowReturn (*process) (DiscoNode *self, DiscoTick *tick, GError **error);
  gboolean (*end_epoch) (DiscoNode *self, guint epoch, GError **error);
  gboolean (*finish) (DiscoNode *self, GError **error);
  gboolean (*resume) (DiscoNode *self, guint epoch, GError **error);
  gboolean (*runs_on_cuda) (DiscoNode *self);

  /*< private >*/
  gpointer padding[10];
};

/* Declaring a node type (class_init) */
void disco_node_class_add_port (DiscoNodeClass *klass, DiscoPortDirection direction,
                                const char *name, DiscoPortFlags flags, const char *blurb);
void disco_node_class_set_metadata (DiscoNodeClass *klass, const char *long_name,
                                    const char *category, const char *description);
void disco_node_class_set_dynamical (DiscoNodeClass *klass, gboolean dynamical);

void disco_node_type_add_port (GType type, DiscoPortDirection direction, const char *name,
                               DiscoPortFlags flags, const char *blurb);
void disco_node_type_set_metadata (GType type, const char *long_name, const char *category,
                                   const char *description);
void disco_node_type_set_dynamical (GType type, gboolean dynamical);
void disco_node_type_set_runs_on_cuda (GType type, gboolean runs_on_cuda);
void disco_node_class_set_runs_on_cuda (DiscoNodeClass *klass, gboolean runs_on_cuda);

/* Reading a node type */
char **disco_node_type_get_port_names (GType type, DiscoPortDirection direction);
gboolean disco_node_type_get_port_info (GType type, const char *name, DiscoPortDirection *direction,
                                        DiscoPortFlags *flags, const char **blurb);
const char *disco_node_type_get_default_output (GType type);
gboolean disco_node_type_is_dynamical (GType type);
gboolean disco_node_type_runs_on_cuda (GType type);
gboolean disco_node_runs_on_cuda (DiscoNode *self);
DiscoDevice disco_node_get_device (DiscoNode *self);
const char *disco_node_type_get_long_name (GType type);
const char *disco_node_type_get_category (GType type);
const char *disco_node_type_get_description (GType type);

/* Instances */
const char *disco_node_get_name (DiscoNode *self);
DiscoPipeline *disco_node_get_pipeline (DiscoNode *self);
gboolean disco_node_is_dynamical (DiscoNode *self);
guint64 disco_node_get_seed (DiscoNode *self);
guint64 disco_node_get_seed_for_name (DiscoNode *self, const char *name);

DiscoTensor *disco_node_get_input (DiscoNode *self, const char *port);
DiscoNode *disco_node_get_input_node (DiscoNode *self, const char *port,
                                      const char **producer_port);
gboolean disco_node_is_linked (DiscoNode *self, const char *port);
DiscoTensor *disco_node_get_output (DiscoNode *self, const char *port);
void disco_node_set_output (DiscoNode *self, const char *port, DiscoTensor *tensor);
DiscoTensor *disco_node_ensure_output (DiscoNode *self, const char *port, guint n_dims,
                                       const gsize *shape);

void disco_node_add_parameter (DiscoNode *self, const char *name, DiscoTensor *tensor);
DiscoTensor *disco_node_get_parameter (DiscoNode *self, const char *name);
char **disco_node_list_parameters (DiscoNode *self);

gboolean disco_node_check_output_path (DiscoNode *self, const char *property, const char *path,
                                       GError **error);

void disco_node_set_gradient (DiscoNode *self, const char *target, DiscoTensor *gradient);
DiscoTensor *disco_node_get_gradient (DiscoNode *self, const char *target);
char **disco_node_list_gradients (DiscoNode *self);

void disco_node_declare_output (DiscoNode *self, const char *port, guint n_dims,
                                const gsize *shape);
const gsize *disco_node_get_input_declared_shape (DiscoNode *self, const char *port, guint *n_dims);

G_END_DECLS
