/* disco-pipeline-schedule.c: the tick order, dynamical networks,
 * algebraic loops and the device a pipeline runs on
 *
 * Links between two dynamical nodes are state couplings that an integrator
 * resolves within a tick, so they are left out of the tick order; every other
 * link orders ticks and must not close a loop (an "algebraic loop").
 */

#include "disco-pipeline.h"
#include "disco-pipeline-private.h"
#include "disco-error.h"
#include "disco-private.h"
#include "disco-backend.h"

/* ----- validation --------------------------------------------------------- */

/* Whether the link into @consumer from @producer orders ticks. */
static gboolean
orders_ticks (DiscoNode *producer, DiscoNode *consumer)
{
  return !(disco_node_is_dynamical (producer) && disco_node_is_dynamical (consumer));
}

/* The root of @i's set in a union-find forest, halving paths on the way. */
static guint
find_root (guint *parent, guint i)
{
  while (parent[i] != i)
    {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
  return i;
}

/* Dynamical nodes joined by state couplings form one network, which an
 * integrator advances as a whole: map each dynamical node to a network id
 * (1 + the index of one of its members), so that a consumer of any of them
 * runs after all of them. Union-find over the couplings: near-linear in the
 * links. */
static GHashTable *
find_dynamical_networks (DiscoPipeline *self, GHashTable *index_of)
{
  GHashTable *network = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autofree guint *parent = g_new (guint, self->nodes->len);

  for (guint i = 0; i < self->nodes->len; i++)
    parent[i] = i;
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      GList *ports;

      if (!disco_node_is_dynamical (node))
        continue;
      ports = _disco_node_get_linked_ports (node);
      for (GList *l = ports; l != NULL; l = l->next)
        {
          DiscoNode *producer = _disco_node_get_link (node, l->data)->producer;
          gpointer j = g_hash_table_lookup (index_of, producer);

          if (j != NULL && disco_node_is_dynamical (producer))
            {
              guint a = find_root (parent, i), b = find_root (parent, GPOINTER_TO_UINT (j) - 1);
              parent[MAX (a, b)] = MIN (a, b);
            }
        }
      g_list_free (ports);
    }
  for (guint i = 0; i < self->nodes->len; i++)
    if (disco_node_is_dynamical (g_ptr_array_index (self->nodes, i)))
      g_hash_table_insert (network, g_ptr_array_index (self->nodes, i),
                           GUINT_TO_POINTER (find_root (parent, i) + 1));
  return network;
}

/* The first node that must run before @node and has not yet: a producer
 * over a link that orders ticks, or, when @node consumes a dynamical node,
 * any member of that node's network. NULL when @node may run. */
static DiscoNode *
find_blocker (DiscoPipeline *self, GHashTable *networks, GHashTable *remaining, DiscoNode *node,
              const char **where)
{
  GList *ports = _disco_node_get_linked_ports (node);
  DiscoNode *blocker = NULL;

  for (GList *l = ports; l != NULL && blocker == NULL; l = l->next)
    {
      const DiscoLink *link = _disco_node_get_link (node, l->data);
      DiscoNode *producer = link->producer;

      if (!orders_ticks (producer, node))
        continue;
      *where = link->where;
      if (g_hash_table_contains (remaining, producer))
        blocker = producer;
      else if (disco_node_is_dynamical (producer))
        {
          gpointer id = g_hash_table_lookup (networks, producer);
          for (guint i = 0; i < self->nodes->len && blocker == NULL; i++)
            {
              DiscoNode *member = g_ptr_array_index (self->nodes, i);
              if (g_hash_table_contains (remaining, member)
                  && g_hash_table_lookup (networks, member) == id)
                blocker = member;
            }
        }
    }
  g_list_free (ports);
  return blocker;
}

/* Among nodes free to run, the one to run first: the fewest producers over
 * state couplings still to run, then the most producers already run
 * (score = done − 64 · pending, over every linked input), then the earliest
 * added. A binary heap of (score, index); a node's score only grows, and
 * each change pushes it again, so entries whose score is no longer the
 * node's are stale and skipped. */
typedef struct
{
  gint score;
  guint index;
} ReadyEntry;

/* A link, for the tick order: @network is the network id of a dynamical
 * producer, else 0. */
typedef struct
{
  guint producer;
  guint consumer;
  gboolean orders;
  guint network;
} OrderLink;

static gboolean
ready_before (const ReadyEntry *a, const ReadyEntry *b)
{
  return a->score > b->score || (a->score == b->score && a->index < b->index);
}

static void
ready_push (GArray *heap, gint score, guint index)
{
  ReadyEntry entry = { score, index };
  guint i = heap->len;

  g_array_append_val (heap, entry);
  while (i > 0)
    {
      guint up = (i - 1) / 2;
      ReadyEntry *e = &g_array_index (heap, ReadyEntry, i);
      ReadyEntry *p = &g_array_index (heap, ReadyEntry, up);
      ReadyEntry tmp;

      if (!ready_before (e, p))
        break;
      tmp = *e, *e = *p, *p = tmp;
      i = up;
    }
}

static ReadyEntry
ready_pop (GArray *heap)
{
  ReadyEntry top = g_array_index (heap, ReadyEntry, 0);
  guint i = 0;

  g_array_index (heap, ReadyEntry, 0) = g_array_index (heap, ReadyEntry, heap->len - 1);
  g_array_set_size (heap, heap->len - 1);
  for (;;)
    {
      guint best = i, l = 2 * i + 1, r = 2 * i + 2;
      ReadyEntry tmp;

      if (l < heap->len
          && ready_before (&g_array_index (heap, ReadyEntry, l),
                           &g_array_index (heap, ReadyEntry, best)))
        best = l;
      if (r < heap->len
          && ready_before (&g_array_index (heap, ReadyEntry, r),
                           &g_array_index (heap, ReadyEntry, best)))
        best = r;
      if (best == i)
        break;
      tmp = g_array_index (heap, ReadyEntry, i);
      g_array_index (heap, ReadyEntry, i) = g_array_index (heap, ReadyEntry, best);
      g_array_index (heap, ReadyEntry, best) = tmp;
      i = best;
    }
  return top;
}

static char *
describe_loop (DiscoPipeline *self, GHashTable *networks, GHashTable *remaining, const char **where)
{
  /* Every remaining node has a blocker; follow blockers until a node
   * repeats, then print the loop in data-flow order. */
  g_autoptr (GPtrArray) path = g_ptr_array_new ();
  DiscoNode *node = NULL;
  GString *s;
  guint start;

  for (guint i = 0; i < self->nodes->len && node == NULL; i++)
    if (g_hash_table_contains (remaining, g_ptr_array_index (self->nodes, i)))
      node = g_ptr_array_index (self->nodes, i);

  while (!g_ptr_array_find (path, node, &start))
    {
      g_ptr_array_add (path, node);
      node = find_blocker (self, networks, remaining, node, where);
      g_assert_nonnull (node);
    }
  s = g_string_new (NULL);
  for (guint i = path->len; i > start; i--)
    g_string_append_printf (s, "%s → ", disco_node_get_name (g_ptr_array_index (path, i - 1)));
  g_string_append (s, disco_node_get_name (g_ptr_array_index (path, path->len - 1)));
  return g_string_free (s, FALSE);
}

static gboolean
check_required_inputs (DiscoPipeline *self, GError **error)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) inputs =
          disco_node_type_get_port_names (G_OBJECT_TYPE (node), DISCO_PORT_INPUT);

      for (guint j = 0; inputs[j] != NULL; j++)
        {
          DiscoPortFlags flags;

          disco_node_type_get_port_info (G_OBJECT_TYPE (node), inputs[j], NULL, &flags, NULL);
          if (!(flags & DISCO_PORT_FLAG_OPTIONAL) && !disco_node_is_linked (node, inputs[j]))
            {
              g_autofree char *label = _disco_pipeline_node_label (node);
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                           "%s: input \"%s\" of %s is not linked (add \"%s = <node>.<port>\")",
                           disco_pipeline_get_node_location (self, disco_node_get_name (node)),
                           inputs[j], label, inputs[j]);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static DiscoDevice
node_device_setting (DiscoNode *node)
{
  DiscoDevice device;

  g_object_get (node, "device", &device, NULL);
  return device;
}

/* The first node that cannot run on CUDA and was not put on the CPU by its
 * own device setting, or NULL. */
static DiscoNode *
first_node_without_cuda (DiscoPipeline *self)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);

      if (node_device_setting (node) != DISCO_DEVICE_CPU && !disco_node_runs_on_cuda (node))
        return node;
    }
  return NULL;
}

/* A node that asks for CUDA gets it or the pipeline does not run. */
static gboolean
check_node_devices (DiscoPipeline *self, GError **error)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);

      if (node_device_setting (node) != DISCO_DEVICE_CUDA
          || self->active_device == DISCO_DEVICE_CUDA)
        continue;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                   "%s%snode \"%s\" (%s) has device = cuda, but the pipeline runs on the "
                   "CPU (%s)",
                   self->source_file ? self->source_file : "", self->source_file ? ": " : "",
                   disco_node_get_name (node), G_OBJECT_TYPE_NAME (node),
                   !disco_node_runs_on_cuda (node)
                       ? "the node has no CUDA implementation, at least for its settings"
                   : disco_backend_get (DISCO_DEVICE_CUDA) == NULL
                       ? "no CUDA device is usable"
                       : "another node cannot run on CUDA: give it device = cpu");
      return FALSE;
    }
  return TRUE;
}

static gboolean
resolve_device (DiscoPipeline *self, GError **error)
{
  gboolean cuda_usable = disco_backend_get (DISCO_DEVICE_CUDA) != NULL;
  /* A pipeline is on CUDA only if all of it is: saying "cuda" while some
   * node computes on the host would misreport where the work ran. */
  DiscoNode *host_only = first_node_without_cuda (self);

  switch (self->device)
    {
    case DISCO_DEVICE_CUDA:
      if (!cuda_usable)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                       "%s%sdevice \"cuda\" was requested, but no CUDA device is usable "
                       "(this build has no CUDA backend, or no GPU was found); "
                       "use device=cpu or device=auto",
                       self->source_file ? self->source_file : "", self->source_file ? ": " : "");
          return FALSE;
        }
      if (host_only != NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                       "%s%sdevice \"cuda\" was requested, but node \"%s\" (%s) has no "
                       "CUDA implementation (at least for its settings); use device=cpu or "
                       "device=auto",
                       self->source_file ? self->source_file : "", self->source_file ? ": " : "",
                       disco_node_get_name (host_only), G_OBJECT_TYPE_NAME (host_only));
          return FALSE;
        }
      self->active_device = DISCO_DEVICE_CUDA;
      break;
    case DISCO_DEVICE_AUTO:
      self->active_device = cuda_usable && host_only == NULL ? DISCO_DEVICE_CUDA : DISCO_DEVICE_CPU;
      break;
    case DISCO_DEVICE_CPU:
    default: self->active_device = DISCO_DEVICE_CPU;
    }
  return check_node_devices (self, error);
}

/**
 * disco_pipeline_validate:
 * @self: a pipeline
 * @error: return location for a #GError
 *
 * Checks that every required input is linked, that the links that order
 * ticks form no loop (links between two dynamical nodes may), that there is
 * a source, and that the requested device is usable; computes the tick
 * order. disco_pipeline_run() validates when needed.
 *
 * Returns: %TRUE when the pipeline can run, %FALSE with @error set
 */
gboolean
disco_pipeline_validate (DiscoPipeline *self, GError **error)
{
  g_autoptr (GHashTable) index_of = NULL; /* node -> 1 + its index */
  g_autoptr (GHashTable) networks = NULL;
  g_autoptr (GPtrArray) order = NULL;
  g_autoptr (GArray) links = NULL; /* OrderLink */
  g_autoptr (GArray) heap = NULL;  /* ReadyEntry */
  g_autofree gint *score = NULL;
  g_autofree guint *blockers = NULL, *network_left = NULL;
  g_autofree guint *by_producer = NULL, *out_links = NULL;
  g_autofree guint *by_network = NULL, *waiting = NULL;
  g_autofree gboolean *done = NULL;
  gboolean has_source = FALSE;
  guint n;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);

  if (self->validated)
    return TRUE;
  if (!check_required_inputs (self, error))
    return FALSE;

  /* Kahn's algorithm, taking the earliest-added ready node each time so the
   * order is the file's order wherever the links allow it. State couplings
   * do not block, but among ready nodes the one waiting on the fewest of
   * them goes first, then the one with the most inputs ready, so a chain of
   * layers with top-down feedback prepares input-first and each layer sees
   * the shape of its input. */
  n = self->nodes->len;
  index_of = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < n; i++)
    g_hash_table_insert (index_of, g_ptr_array_index (self->nodes, i), GUINT_TO_POINTER (i + 1));
  networks = find_dynamical_networks (self, index_of);

  /* Every link once. A node's score starts at −64 per linked input and
   * gains 65 as each producer runs; a link that orders ticks blocks its
   * consumer until its producer ran or, from a dynamical producer, until
   * that producer's whole network ran. Near-linear in nodes and links. */
  links = g_array_new (FALSE, FALSE, sizeof (OrderLink));
  score = g_new0 (gint, n);
  blockers = g_new0 (guint, n);
  network_left = g_new0 (guint, n + 1);
  done = g_new0 (gboolean, n);
  for (guint i = 0; i < n; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      GList *ports = _disco_node_get_linked_ports (node);

      if (disco_node_is_dynamical (node))
        network_left[GPOINTER_TO_UINT (g_hash_table_lookup (networks, node))]++;
      for (GList *l = ports; l != NULL; l = l->next)
        {
          DiscoNode *producer = _disco_node_get_link (node, l->data)->producer;
          guint p = GPOINTER_TO_UINT (g_hash_table_lookup (index_of, producer));
          OrderLink link = { p - 1, i, orders_ticks (producer, node),
                             GPOINTER_TO_UINT (g_hash_table_lookup (networks, producer)) };

          if (p == 0)
            continue; /* not in this pipeline */
          score[i] -= 64;
          blockers[i] += link.orders;
          g_array_append_val (links, link);
        }
      g_list_free (ports);
    }
  /* The links by producer, and the ordering ones from dynamical producers by
   * network (counting sorts). */
  by_producer = g_new0 (guint, n + 1);
  by_network = g_new0 (guint, n + 2);
  for (guint k = 0; k < links->len; k++)
    {
      OrderLink *link = &g_array_index (links, OrderLink, k);
      by_producer[link->producer + 1]++;
      if (link->orders && link->network != 0)
        by_network[link->network + 1]++;
    }
  for (guint i = 0; i < n; i++)
    by_producer[i + 1] += by_producer[i];
  for (guint i = 0; i <= n; i++)
    by_network[i + 1] += by_network[i];
  out_links = g_new (guint, MAX (links->len, 1));
  waiting = g_new (guint, MAX (links->len, 1));
  {
    g_autofree guint *fill = g_memdup2 (by_producer, (n + 1) * sizeof (guint));
    g_autofree guint *fill_network = g_memdup2 (by_network, (n + 2) * sizeof (guint));

    for (guint k = 0; k < links->len; k++)
      {
        OrderLink *link = &g_array_index (links, OrderLink, k);
        out_links[fill[link->producer]++] = k;
        if (link->orders && link->network != 0)
          waiting[fill_network[link->network]++] = link->consumer;
      }
  }

  heap = g_array_new (FALSE, FALSE, sizeof (ReadyEntry));
  for (guint i = 0; i < n; i++)
    if (blockers[i] == 0)
      ready_push (heap, score[i], i);
  order = g_ptr_array_new_full (n, g_object_unref);
  while (heap->len > 0)
    {
      ReadyEntry next = ready_pop (heap);
      guint r = next.index;
      DiscoNode *ready = g_ptr_array_index (self->nodes, r);

      if (done[r] || next.score != score[r])
        continue; /* ran already, or a stale score */
      done[r] = TRUE;
      g_ptr_array_add (order, g_object_ref (ready));
      for (guint k = by_producer[r]; k < by_producer[r + 1]; k++)
        {
          OrderLink *link = &g_array_index (links, OrderLink, out_links[k]);
          guint c = link->consumer;

          score[c] += 65;
          if (link->orders && link->network == 0)
            blockers[c]--;
          if (blockers[c] == 0 && !done[c])
            ready_push (heap, score[c], c);
        }
      if (disco_node_is_dynamical (ready))
        {
          guint id = GPOINTER_TO_UINT (g_hash_table_lookup (networks, ready));

          if (--network_left[id] == 0)
            for (guint k = by_network[id]; k < by_network[id + 1]; k++)
              {
                guint c = waiting[k];

                if (--blockers[c] == 0 && !done[c])
                  ready_push (heap, score[c], c);
              }
        }
    }
  if (order->len < n)
    {
      const char *where = NULL;
      g_autoptr (GHashTable) remaining = g_hash_table_new (g_direct_hash, g_direct_equal);
      g_autofree char *loop = NULL;

      for (guint i = 0; i < n; i++)
        if (!done[i])
          g_hash_table_add (remaining, g_ptr_array_index (self->nodes, i));
      loop = describe_loop (self, networks, remaining, &where);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_ALGEBRAIC_LOOP,
                   "%s: algebraic loop %s: a loop must pass through a link between "
                   "two dynamical nodes (whose state an integrator advances)",
                   where, loop);
      return FALSE;
    }

  for (guint i = 0; i < self->nodes->len && !has_source; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      GList *ports = _disco_node_get_linked_ports (node);

      has_source = ports == NULL && !disco_node_is_dynamical (node);
      g_list_free (ports);
    }
  if (!has_source)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s%sthe pipeline has no source (a node without linked inputs that "
                   "emits ticks), so it would never end",
                   self->source_file ? self->source_file : "", self->source_file ? ": " : "");
      return FALSE;
    }
  if (!resolve_device (self, error))
    return FALSE;

  g_clear_pointer (&self->tick_order, g_ptr_array_unref);
  self->tick_order = g_steal_pointer (&order);
  self->validated = TRUE;
  _disco_pipeline_notify_active_device (self);
  return TRUE;
}

/**
 * disco_pipeline_get_tick_order:
 * @self: a validated pipeline
 *
 * Lists the nodes in the order every tick runs them: a topological order of
 * the links, leaving out the state couplings between dynamical nodes.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the node
 *   names in the order a tick runs them, or %NULL when not validated
 */
char **
disco_pipeline_get_tick_order (DiscoPipeline *self)
{
  char **names;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  if (!self->validated)
    return NULL;
  names = g_new0 (char *, self->tick_order->len + 1);
  for (guint i = 0; i < self->tick_order->len; i++)
    names[i] = g_strdup (disco_node_get_name (g_ptr_array_index (self->tick_order, i)));
  return names;
}
