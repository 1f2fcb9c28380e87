/* disco-receptive-fields.c */

/**
 * SECTION:node-receptive-fields
 * @title: receptive-fields
 * @short_description: a layer's input weights as a mosaic of images
 *
 * At the end of every #DiscoReceptiveFields:every-th epoch, writes the
 * `weight` parameter (units × inputs) of the layer linked to `layer` as a
 * PNG mosaic into the run's output folder: one tile per unit for the first
 * #DiscoReceptiveFields:units units, #DiscoReceptiveFields:columns tiles per
 * row, each the unit's weights reshaped tile-height × tile-width (row-major,
 * as the input images are), in the diverging colour map with a range
 * symmetric *per tile* (±max|w| of that unit: blue −, white 0, red +), so
 * each unit's structure shows whatever its norm. Tiles are separated by
 * 1-pixel gray (128) lines. Files are written atomically; the name is
 * #DiscoReceptiveFields:path with the epoch number, so they sort by epoch.
 *
 * Ports: input `layer` (the output of a microcircuit or rate-layer node,
 * whose `weight` is read; the tensor itself is not used).
 *
 * ## Example pipeline
 * |[
 * [fields]
 * node = receptive-fields
 * layer = h1
 * units = 64
 * ]|
 */

#include "disco-receptive-fields.h"
#include "disco-node-util.h"
#include "disco-nodes.h"

#include <math.h>
#include <string.h>

#define DEFAULT_UNITS 64
#define DEFAULT_TILE_WIDTH 28
#define DEFAULT_TILE_HEIGHT 28
#define DEFAULT_COLUMNS 8
#define DEFAULT_SCALE 2
#define DEFAULT_PATH "receptive-fields/epoch-%04u.png"
#define DEFAULT_EVERY 1

#define GAP_GRAY 128

struct _DiscoReceptiveFields
{
  DiscoNode parent_instance;

  guint units;
  guint tile_width;
  guint tile_height;
  guint columns;
  guint scale;
  char *path;
  guint every;

  guint written;
};

G_DEFINE_FINAL_TYPE (DiscoReceptiveFields, disco_receptive_fields, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (receptive_fields, "receptive-fields", DISCO_TYPE_RECEPTIVE_FIELDS)

enum
{
  PROP_0,
  PROP_UNITS,
  PROP_TILE_WIDTH,
  PROP_TILE_HEIGHT,
  PROP_COLUMNS,
  PROP_SCALE,
  PROP_PATH,
  PROP_EVERY,
  PROP_WRITTEN,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

/**
 * disco_image_check_pattern: (skip)
 * @node: the node whose property it is
 * @property: the property's name, for the message
 * @pattern: the file-name pattern
 * @conversions: the printf conversions @pattern must hold, in order: `u`
 *   (an unsigned number) or `s` (a string), e.g. "ssu"
 * @error: return location for a #GError
 *
 * Checks that @pattern is safe to give to printf with arguments of the
 * types in @conversions: each conversion is `%`, optional flags `0-`, an
 * optional width, then the letter; `%%` is a literal percent sign.
 *
 * Returns: %TRUE when it is, else %FALSE with @error set (BAD_VALUE)
 */
gboolean
disco_image_check_pattern (DiscoNode *node, const char *property, const char *pattern,
                           const char *conversions, GError **error)
{
  const char *c = conversions;

  if (pattern == NULL || *pattern == '\0')
    goto bad;
  for (const char *p = pattern; *p != '\0'; p++)
    {
      if (*p != '%')
        continue;
      p++;
      if (*p == '%')
        continue;
      while (*p == '0' || *p == '-')
        p++;
      for (int digits = 0; g_ascii_isdigit (*p); p++)
        if (++digits > 2)
          goto bad;
      if (*c == '\0' || *p != *c)
        goto bad;
      c++;
    }
  if (*c == '\0')
    return TRUE;

bad:
  {
    g_autoptr (GString) want = g_string_new (NULL);

    for (c = conversions; *c != '\0'; c++)
      g_string_append_printf (want, "%s%s", want->len > 0 ? ", " : "",
                              *c == 'u' ? "%u (a number)" : "%s (a name)");
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                 "property \"%s\" of node \"%s\" is \"%s\": a file-name pattern needs, in "
                 "this order, %s, and no other %% conversion (%%%% is a percent sign)",
                 property, disco_node_get_name (node), pattern ? pattern : "", want->str);
    return FALSE;
  }
}

static void
disco_receptive_fields_finalize (GObject *object)
{
  DiscoReceptiveFields *self = DISCO_RECEPTIVE_FIELDS (object);

  g_free (self->path);
  G_OBJECT_CLASS (disco_receptive_fields_parent_class)->finalize (object);
}

static void
disco_receptive_fields_get_property (GObject *object, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
  DiscoReceptiveFields *self = DISCO_RECEPTIVE_FIELDS (object);

  switch (prop_id)
    {
    case PROP_UNITS: g_value_set_uint (value, self->units); break;
    case PROP_TILE_WIDTH: g_value_set_uint (value, self->tile_width); break;
    case PROP_TILE_HEIGHT: g_value_set_uint (value, self->tile_height); break;
    case PROP_COLUMNS: g_value_set_uint (value, self->columns); break;
    case PROP_SCALE: g_value_set_uint (value, self->scale); break;
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_EVERY: g_value_set_uint (value, self->every); break;
    case PROP_WRITTEN: g_value_set_uint (value, self->written); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_receptive_fields_set_property (GObject *object, guint prop_id, const GValue *value,
                                     GParamSpec *pspec)
{
  DiscoReceptiveFields *self = DISCO_RECEPTIVE_FIELDS (object);

  switch (prop_id)
    {
    case PROP_UNITS: self->units = g_value_get_uint (value); break;
    case PROP_TILE_WIDTH: self->tile_width = g_value_get_uint (value); break;
    case PROP_TILE_HEIGHT: self->tile_height = g_value_get_uint (value); break;
    case PROP_COLUMNS: self->columns = g_value_get_uint (value); break;
    case PROP_SCALE: self->scale = g_value_get_uint (value); break;
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_EVERY: self->every = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static DiscoTensor *
get_weight (DiscoReceptiveFields *self, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  DiscoNode *layer = disco_node_get_input_node (node, "layer", NULL);
  DiscoTensor *weight = layer != NULL ? disco_node_get_parameter (layer, "weight") : NULL;

  if (weight == NULL || disco_tensor_get_n_dims (weight) != 2)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "input \"layer\" of node \"%s\" must come from a layer node with a 2-D "
                   "\"weight\" parameter (a microcircuit or rate-layer)",
                   disco_node_get_name (node));
      return NULL;
    }
  if (disco_tensor_get_dim (weight, 1) != (gsize) self->tile_width * self->tile_height)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\" shows tiles of %u × %u = %u weights, but layer \"%s\" has "
                   "%" G_GSIZE_FORMAT " inputs per unit (set tile-width and tile-height)",
                   disco_node_get_name (node), self->tile_height, self->tile_width,
                   self->tile_width * self->tile_height, disco_node_get_name (layer),
                   disco_tensor_get_dim (weight, 1));
      return NULL;
    }
  return weight;
}

static gboolean
disco_receptive_fields_prepare (DiscoNode *node, GError **error)
{
  DiscoReceptiveFields *self = DISCO_RECEPTIVE_FIELDS (node);

  self->written = 0;
  if (!disco_image_check_pattern (node, "path", self->path, "u", error))
    return FALSE;
  if (!disco_node_check_output_path (node, "path", self->path, error))
    return FALSE;
  return get_weight (self, error) != NULL;
}

static DiscoFlowReturn
disco_receptive_fields_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  return DISCO_FLOW_OK;
}

static gboolean
disco_receptive_fields_end_epoch (DiscoNode *node, guint epoch, GError **error)
{
  DiscoReceptiveFields *self = DISCO_RECEPTIVE_FIELDS (node);
  DiscoTensor *weight;
  const float *w;
  guint units, columns, rows, tile_w, tile_h;
  gsize width, height, n_in;
  g_autofree guint8 *pixels = NULL;
  g_autofree char *relative = NULL;
  g_autoptr (GBytes) png = NULL;

  if (epoch % self->every != 0)
    return TRUE;
  weight = get_weight (self, error);
  if (weight == NULL)
    return FALSE;
  w = disco_tensor_read_host (weight, error);
  if (w == NULL)
    return FALSE;
  n_in = disco_tensor_get_dim (weight, 1);
  units = (guint) MIN ((gsize) self->units, disco_tensor_get_dim (weight, 0));
  columns = MIN (self->columns, units);
  rows = (units + columns - 1) / columns;
  tile_w = self->tile_width * self->scale;
  tile_h = self->tile_height * self->scale;
  width = (gsize) columns * tile_w + (columns - 1);
  height = (gsize) rows * tile_h + (rows - 1);

  pixels = g_malloc (width * height * 3);
  memset (pixels, GAP_GRAY, width * height * 3);
  for (guint u = 0; u < units; u++)
    {
      const float *wu = w + u * n_in;
      gsize x0 = (u % columns) * (gsize) (tile_w + 1);
      gsize y0 = (u / columns) * (gsize) (tile_h + 1);
      double range = 0.0;

      for (gsize k = 0; k < n_in; k++)
        range = MAX (range, fabs (wu[k]));
      if (!isfinite (range))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                       "node \"%s\": unit %u of layer \"%s\" has a non-finite weight",
                       disco_node_get_name (node), u,
                       disco_node_get_name (disco_node_get_input_node (node, "layer", NULL)));
          return FALSE;
        }
      if (range == 0.0)
        range = 1.0;
      for (gsize k = 0; k < n_in; k++)
        {
          gsize ty = k / self->tile_width, tx = k % self->tile_width;
          guint8 rgb[3];

          disco_colormap_get_color (DISCO_COLORMAP_DIVERGING, 0.5 + 0.5 * wu[k] / range, &rgb[0],
                                    &rgb[1], &rgb[2]);
          for (guint sy = 0; sy < self->scale; sy++)
            for (guint sx = 0; sx < self->scale; sx++)
              memcpy (pixels
                          + ((y0 + ty * self->scale + sy) * width + x0 + tx * self->scale + sx) * 3,
                      rgb, 3);
        }
    }

  png = disco_png_encode_rgb (pixels, width * height * 3, (guint) width, (guint) height, error);
  if (png == NULL)
    return FALSE;
  relative = g_strdup_printf (self->path, epoch);
  if (!disco_node_util_write_output (node, relative, png, error))
    return FALSE;
  self->written++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WRITTEN]);
  return TRUE;
}

static void
disco_receptive_fields_class_init (DiscoReceptiveFieldsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->finalize = disco_receptive_fields_finalize;
  object_class->get_property = disco_receptive_fields_get_property;
  object_class->set_property = disco_receptive_fields_set_property;
  node_class->prepare = disco_receptive_fields_prepare;
  node_class->process = disco_receptive_fields_process;
  node_class->end_epoch = disco_receptive_fields_end_epoch;

  properties[PROP_UNITS] =
      g_param_spec_uint ("units", "Units",
                         "How many units to show, the first ones of the layer (fewer if the "
                         "layer is smaller)",
                         1, 65536, DEFAULT_UNITS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TILE_WIDTH] =
      g_param_spec_uint ("tile-width", "Tile width",
                         "Width of one input image in values; tile-width × tile-height must "
                         "equal the layer's inputs",
                         1, 4096, DEFAULT_TILE_WIDTH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TILE_HEIGHT] =
      g_param_spec_uint ("tile-height", "Tile height", "Height of one input image in values", 1,
                         4096, DEFAULT_TILE_HEIGHT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_COLUMNS] =
      g_param_spec_uint ("columns", "Columns", "Tiles per row of the mosaic", 1, 1024,
                         DEFAULT_COLUMNS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SCALE] =
      g_param_spec_uint ("scale", "Scale", "Side of the square of pixels that shows one weight", 1,
                         16, DEFAULT_SCALE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "PNG file to write, relative to the output folder: a pattern with "
                           "one %u (the epoch), e.g. %04u so the names sort",
                           DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_EVERY] = g_param_spec_uint (
      "every", "Every", "Write at the end of the epochs whose number is a multiple of this", 1,
      G_MAXUINT, DEFAULT_EVERY, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_WRITTEN] =
      g_param_spec_uint ("written", "Written", "Images written in the current or last run", 0,
                         G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Receptive fields", "Sink/Image",
                                 "Writes a layer's input weights as a PNG mosaic of tiles, "
                                 "one per unit, at the end of epochs");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "layer", DISCO_PORT_FLAG_NONE,
                             "the output of the layer whose \"weight\" (units × inputs) to show");
}

static void
disco_receptive_fields_init (DiscoReceptiveFields *self)
{
  self->units = DEFAULT_UNITS;
  self->tile_width = DEFAULT_TILE_WIDTH;
  self->tile_height = DEFAULT_TILE_HEIGHT;
  self->columns = DEFAULT_COLUMNS;
  self->scale = DEFAULT_SCALE;
  self->path = g_strdup (DEFAULT_PATH);
  self->every = DEFAULT_EVERY;
}
