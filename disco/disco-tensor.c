/* disco-tensor.c
 *
 * A tensor keeps up to two copies of its data: host memory and, when it lives
 * on a device, device memory reached through a #DiscoBackend. Two flags say
 * which copy is current. Readers ask for the copy they need and it is made
 * lazily; writers mark the other copy stale. Callers therefore never know,
 * nor care, where a tensor was last written.
 */

/**
 * DiscoTensor:
 *
 * Float32 values in row-major order, batch first.
 *
 * A #DiscoTensor holds float32 values in row-major order with up to
 * %DISCO_TENSOR_MAX_DIMS dimensions, the first being the batch. From a
 * binding, read the values with disco_tensor_get_bytes() and create
 * tensors from arrays with disco_tensor_new_from_data(); the Python
 * overrides add `tensor.to_numpy()` (a view of a host tensor's memory) and
 * `Disco.Tensor.new_from_numpy(array)`, the GJS ones
 * `tensor.toFloat32Array()` and `Disco.Tensor.newFromFloat32Array()`.
 *
 * A tensor lives on a #DiscoDevice. One on a GPU keeps a host copy as well,
 * made when a reader asks for it: disco_tensor_read_host() and
 * disco_tensor_write_host() work whatever the device, so callers never need
 * to know where a tensor was last written.
 */

#include "disco-tensor.h"
#include "disco-backend.h"
#include "disco-error.h"
#include "disco-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _DiscoTensor
{
  GObject parent_instance;

  guint n_dims;
  gsize shape[DISCO_TENSOR_MAX_DIMS];
  gsize n_elements;
  DiscoDevice device;

  float *host;         /* allocated on first host access for device tensors */
  gpointer device_ptr; /* NULL for CPU tensors */
  gboolean host_valid;
  gboolean device_valid;
  gboolean checked; /* the run's finiteness check has seen these values */
};

G_DEFINE_FINAL_TYPE (DiscoTensor, disco_tensor, G_TYPE_OBJECT)

static const DiscoBackend *backends[DISCO_DEVICE_AUTO];

/* Host memory held by all tensors of the process, in bytes (atomic), and
 * the limit of the calling thread's run (0: none): see host_alloc(). */
static gsize live_host_bytes;
static GPrivate memory_limit;

/**
 * disco_backend_register: (skip)
 * @device: the device the backend serves
 * @backend: (nullable): its function table, which must outlive the process,
 *   or %NULL to unregister
 *
 * Installs the backend used for tensors on @device.
 */
void
disco_backend_register (DiscoDevice device, const DiscoBackend *backend)
{
  g_return_if_fail (device == DISCO_DEVICE_CUDA);
  backends[device] = backend;
}

/**
 * disco_backend_get: (skip)
 * @device: a concrete device
 *
 * Returns: (nullable): the backend of @device, or %NULL when none is loaded
 */
const DiscoBackend *
disco_backend_get (DiscoDevice device)
{
  g_return_val_if_fail (device < DISCO_DEVICE_AUTO, NULL);
  return backends[device];
}

/**
 * _disco_tensor_set_memory_limit:
 * @bytes: the most host memory tensors may hold, in bytes; 0 for no limit
 *
 * Sets the limit for tensors allocated from the calling thread (a pipeline
 * runs in one thread); the memory counted is that of every tensor of the
 * process.
 *
 * Returns: the previous limit of the thread
 */
gsize
_disco_tensor_set_memory_limit (gsize bytes)
{
  gsize previous = GPOINTER_TO_SIZE (g_private_get (&memory_limit));

  g_private_set (&memory_limit, GSIZE_TO_POINTER (bytes));
  return previous;
}

/* Host memory held by all tensors of the process, in bytes. */
gsize
_disco_tensor_get_memory_held (void)
{
  return (gsize) g_atomic_pointer_get (&live_host_bytes);
}

/**
 * _disco_format_bytes:
 * @bytes: a size
 *
 * Returns: (transfer full): @bytes for a message, "196.0 MiB" (GLib's IEC
 *   units, with a plain space where GLib puts a no-break space)
 */
char *
_disco_format_bytes (guint64 bytes)
{
  g_autofree char *text = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_auto (GStrv) parts = g_strsplit (text, "\xc2\xa0", -1);

  return g_strjoinv (" ", parts);
}

/* The one allocation of a tensor's host memory, zero-filled and 64-byte
 * aligned (AVX-512 loads in OpenBLAS and our loops). Failing is an error,
 * not an abort: over the thread's limit (checked before any allocation),
 * or when the system has no memory to give. */
static gboolean
host_alloc (DiscoTensor *self, GError **error)
{
  gsize bytes = self->n_elements * sizeof (float);
  gsize limit = GPOINTER_TO_SIZE (g_private_get (&memory_limit));
  gsize held = _disco_tensor_get_memory_held ();
  gpointer memory = NULL;

  if (limit > 0 && (bytes > limit || held > limit - bytes))
    {
      g_autofree char *shape = disco_tensor_shape_to_string (self);
      g_autofree char *size = _disco_format_bytes (bytes);
      g_autofree char *limit_text = _disco_format_bytes (limit);
      g_autofree char *held_text = _disco_format_bytes (held);

      g_set_error (error, DISCO_ERROR, DISCO_ERROR_MEMORY,
                   "a %s tensor needs %s, over the memory limit of %s (tensors already "
                   "hold %s)",
                   shape, size, limit_text, held_text);
      return FALSE;
    }
  if (posix_memalign (&memory, 64, MAX (bytes, 64)) != 0)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (self);
      g_autofree char *size = _disco_format_bytes (bytes);

      g_set_error (error, DISCO_ERROR, DISCO_ERROR_MEMORY,
                   "cannot allocate %s for a %s tensor: out of memory", size, shape);
      return FALSE;
    }
  memset (memory, 0, bytes);
  g_atomic_pointer_add (&live_host_bytes, bytes);
  self->host = memory;
  return TRUE;
}

static void
disco_tensor_finalize (GObject *object)
{
  DiscoTensor *self = DISCO_TENSOR (object);

  if (self->host != NULL)
    {
      g_atomic_pointer_add (&live_host_bytes, -(gssize) (self->n_elements * sizeof (float)));
      free (self->host);
    }
  if (self->device_ptr != NULL)
    backends[self->device]->free (self->device_ptr);

  G_OBJECT_CLASS (disco_tensor_parent_class)->finalize (object);
}

static void
disco_tensor_class_init (DiscoTensorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = disco_tensor_finalize;
}

static void
disco_tensor_init (DiscoTensor *self)
{
}

static gboolean
shape_is_valid (guint n_dims, const gsize *shape, gsize *n_elements, GError **error)
{
  gsize n = 1;

  if (n_dims < 1 || n_dims > DISCO_TENSOR_MAX_DIMS)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE, "a tensor has 1 to %d dimensions, not %u",
                   DISCO_TENSOR_MAX_DIMS, n_dims);
      return FALSE;
    }
  for (guint i = 0; i < n_dims; i++)
    {
      /* Keep the byte count representable: G_MAXSIZE / 4 elements at most. */
      if (shape[i] == 0 || n > (G_MAXSIZE / 4) / shape[i])
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "dimension %u of a tensor is %" G_GSIZE_FORMAT
                       " (must be at least 1, and the tensor must fit in memory)",
                       i, shape[i]);
          return FALSE;
        }
      n *= shape[i];
    }
  *n_elements = n;
  return TRUE;
}

/* A new tensor; with @lazy, a host tensor whose memory cannot be allocated
 * now is returned without memory: its first access allocates it, or fails
 * with the reason (see disco_tensor_new()). */
static DiscoTensor *
tensor_alloc_full (DiscoDevice device, guint n_dims, const gsize *shape, gboolean lazy,
                   GError **error)
{
  gsize n_elements;
  DiscoTensor *self;

  if (!shape_is_valid (n_dims, shape, &n_elements, error))
    return NULL;

  self = g_object_new (DISCO_TYPE_TENSOR, NULL);
  self->n_dims = n_dims;
  memcpy (self->shape, shape, n_dims * sizeof (gsize));
  self->n_elements = n_elements;
  self->device = device;

  if (device == DISCO_DEVICE_CPU)
    {
      g_autoptr (GError) memory_error = NULL;

      if (host_alloc (self, &memory_error))
        self->host_valid = TRUE;
      else if (!lazy)
        {
          g_propagate_error (error, g_steal_pointer (&memory_error));
          g_object_unref (self);
          return NULL;
        }
    }
  else
    {
      const DiscoBackend *backend = backends[device];

      self->device_ptr = backend->alloc (n_elements * sizeof (float), error);
      if (self->device_ptr == NULL)
        {
          g_object_unref (self);
          return NULL;
        }
      self->device_valid = TRUE;
    }
  return self;
}

static DiscoTensor *
tensor_alloc (DiscoDevice device, guint n_dims, const gsize *shape, GError **error)
{
  return tensor_alloc_full (device, n_dims, shape, FALSE, error);
}

/**
 * disco_tensor_new:
 * @n_dims: number of dimensions, 1 to %DISCO_TENSOR_MAX_DIMS
 * @shape: (array length=n_dims): size of each dimension, each at least 1
 *
 * Creates a zero-filled tensor in host memory. An invalid shape is a
 * programmer error; use disco_tensor_new_on_device() to get a #GError.
 *
 * When the memory cannot be had now (over the run's memory limit, or none
 * left), the tensor is made without it: its first access — read, write,
 * fill, copy — tries again and fails with a %DISCO_ERROR_MEMORY error,
 * which the node reports as any other.
 *
 * Returns: (transfer full): a new tensor
 */
DiscoTensor *
disco_tensor_new (guint n_dims, const gsize *shape)
{
  g_autoptr (GError) error = NULL;
  DiscoTensor *self = tensor_alloc_full (DISCO_DEVICE_CPU, n_dims, shape, TRUE, &error);

  if (self == NULL)
    g_critical ("disco_tensor_new: %s", error->message);
  return self;
}

/**
 * disco_tensor_new_on_device:
 * @device: %DISCO_DEVICE_CPU or %DISCO_DEVICE_CUDA
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): size of each dimension
 * @error: return location for a #GError
 *
 * Creates a zero-filled tensor on @device.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with @error set
 *   when the shape is invalid or the device is unavailable
 */
DiscoTensor *
disco_tensor_new_on_device (DiscoDevice device, guint n_dims, const gsize *shape, GError **error)
{
  DiscoTensor *self;

  g_return_val_if_fail (device < DISCO_DEVICE_AUTO, NULL);

  if (device != DISCO_DEVICE_CPU && backends[device] == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                   "no backend for device \"cuda\" is loaded");
      return NULL;
    }
  self = tensor_alloc (device, n_dims, shape, error);
  if (self != NULL && device != DISCO_DEVICE_CPU)
    {
      /* Zero-fill from a zeroed host copy: backends stay small (no memset),
       * and both copies start out current. */
      if (!host_alloc (self, error)
          || !backends[device]->copy_to_device (self->device_ptr, self->host,
                                                self->n_elements * sizeof (float), error))
        g_clear_object (&self);
      else
        self->host_valid = TRUE;
    }
  return self;
}

/**
 * disco_tensor_new_from_data:
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): size of each dimension
 * @data: (array length=size) (element-type guint8): native-endian float32
 *   values, row-major, e.g. `numpy_array.astype(numpy.float32).tobytes()`
 * @size: number of bytes in @data: 4 × the number of elements
 * @error: return location for a #GError
 *
 * Creates a host tensor holding a copy of @data.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with @error set
 *   when @size does not match @shape
 */
DiscoTensor *
disco_tensor_new_from_data (guint n_dims, const gsize *shape, const guint8 *data, gsize size,
                            GError **error)
{
  DiscoTensor *self = tensor_alloc (DISCO_DEVICE_CPU, n_dims, shape, error);

  if (self != NULL && !disco_tensor_set_data (self, data, size, error))
    g_clear_object (&self);
  return self;
}

/**
 * disco_tensor_new_from_bytes:
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): size of each dimension
 * @bytes: native-endian float32 values, row-major
 * @error: return location for a #GError
 *
 * Like disco_tensor_new_from_data() with the data in a #GBytes.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with @error set
 */
DiscoTensor *
disco_tensor_new_from_bytes (guint n_dims, const gsize *shape, GBytes *bytes, GError **error)
{
  gsize size;
  const guint8 *data;

  g_return_val_if_fail (bytes != NULL, NULL);
  data = g_bytes_get_data (bytes, &size);
  return disco_tensor_new_from_data (n_dims, shape, data, size, error);
}

/**
 * disco_tensor_new_from_values:
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): size of each dimension
 * @values: (array length=n_values): the values, row-major
 * @n_values: number of values: the product of @shape
 * @error: return location for a #GError
 *
 * Creates a host tensor from a float array (a Python list, a JavaScript
 * array of numbers).
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with @error set
 */
DiscoTensor *
disco_tensor_new_from_values (guint n_dims, const gsize *shape, const float *values, gsize n_values,
                              GError **error)
{
  DiscoTensor *self = tensor_alloc (DISCO_DEVICE_CPU, n_dims, shape, error);

  if (self != NULL && !disco_tensor_set_values (self, values, n_values, error))
    g_clear_object (&self);
  return self;
}

/**
 * disco_tensor_copy:
 * @self: a tensor
 * @error: return location for a #GError
 *
 * Copies @self, values included.
 *
 * Returns: (transfer full) (nullable): a deep copy on the same device
 */
DiscoTensor *
disco_tensor_copy (DiscoTensor *self, GError **error)
{
  g_autoptr (DiscoTensor) copy = NULL;

  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);

  copy = tensor_alloc (self->device, self->n_dims, self->shape, error);
  if (copy == NULL)
    return NULL;
  if (self->device != DISCO_DEVICE_CPU && self->device_valid)
    {
      if (!backends[self->device]->copy_on_device (copy->device_ptr, self->device_ptr,
                                                   self->n_elements * sizeof (float), error))
        return NULL;
    }
  else
    {
      const float *src = disco_tensor_read_host (self, error);
      float *dst;

      if (src == NULL || (dst = disco_tensor_write_host (copy, error)) == NULL)
        return NULL;
      memcpy (dst, src, self->n_elements * sizeof (float));
    }
  return g_steal_pointer (&copy);
}

/**
 * disco_tensor_get_n_dims:
 * @self: a tensor
 *
 * Gets the number of dimensions of @self, 1 to %DISCO_TENSOR_MAX_DIMS.
 *
 * Returns: the number of dimensions
 */
guint
disco_tensor_get_n_dims (DiscoTensor *self)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), 0);
  return self->n_dims;
}

/**
 * disco_tensor_get_shape:
 * @self: a tensor
 * @n_dims: (out) (optional): the number of dimensions
 *
 * Gets the shape of @self, batch first.
 *
 * Returns: (array length=n_dims) (transfer none): the size of each dimension
 */
const gsize *
disco_tensor_get_shape (DiscoTensor *self, guint *n_dims)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);
  if (n_dims != NULL)
    *n_dims = self->n_dims;
  return self->shape;
}

/**
 * disco_tensor_get_dim:
 * @self: a tensor
 * @axis: a dimension index
 *
 * Gets the size of one dimension of @self.
 *
 * Returns: the size of dimension @axis, 1 past the last dimension (so a
 *   vector reads as a single column)
 */
gsize
disco_tensor_get_dim (DiscoTensor *self, guint axis)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), 0);
  return axis < self->n_dims ? self->shape[axis] : 1;
}

/**
 * disco_tensor_get_n_elements:
 * @self: a tensor
 *
 * Gets the number of values @self holds: the product of its dimensions.
 *
 * Returns: the number of values
 */
gsize
disco_tensor_get_n_elements (DiscoTensor *self)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), 0);
  return self->n_elements;
}

/**
 * disco_tensor_get_row_size:
 * @self: a tensor
 *
 * Gets the number of values per batch entry of @self.
 *
 * Returns: the number of values per batch entry (all dimensions but the first)
 */
gsize
disco_tensor_get_row_size (DiscoTensor *self)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), 0);
  return self->n_elements / self->shape[0];
}

/**
 * disco_tensor_has_shape:
 * @self: a tensor
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): expected sizes
 *
 * Compares the shape of @self with @shape.
 *
 * Returns: whether @self has exactly this shape
 */
gboolean
disco_tensor_has_shape (DiscoTensor *self, guint n_dims, const gsize *shape)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), FALSE);
  return n_dims == self->n_dims && memcmp (shape, self->shape, n_dims * sizeof (gsize)) == 0;
}

/**
 * disco_tensor_shape_to_string:
 * @self: a tensor
 *
 * Formats the shape of @self for messages.
 *
 * Returns: (transfer full): the shape as text, e.g. "100×784"
 */
char *
disco_tensor_shape_to_string (DiscoTensor *self)
{
  GString *s;

  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);
  s = g_string_new (NULL);
  for (guint i = 0; i < self->n_dims; i++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, i ? "×" : "", self->shape[i]);
  return g_string_free (s, FALSE);
}

/**
 * disco_tensor_get_device:
 * @self: a tensor
 *
 * Gets the device @self lives on.
 *
 * Returns: the device the tensor lives on
 */
DiscoDevice
disco_tensor_get_device (DiscoTensor *self)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), DISCO_DEVICE_CPU);
  return self->device;
}

/* The host values when they are the current copy, else NULL; never copies
 * (the run's finiteness check looks at device tensors only once a reader
 * has made their host copy). */
const float *
_disco_tensor_peek_host (DiscoTensor *self)
{
  return self->host_valid ? self->host : NULL;
}

/* Whether the finiteness check has seen the current values: any write
 * access (disco_tensor_write_host(), _write_device() and the setters built
 * on them) clears the mark, so the check skips what did not change. */
gboolean
_disco_tensor_get_checked (DiscoTensor *self)
{
  return self->checked;
}

void
_disco_tensor_set_checked (DiscoTensor *self)
{
  self->checked = TRUE;
}

static gboolean
sync_host (DiscoTensor *self, GError **error)
{
  if (self->host_valid)
    return TRUE;
  if (self->host == NULL && !host_alloc (self, error))
    return FALSE;
  if (self->device == DISCO_DEVICE_CPU)
    {
      /* A host tensor made without memory (disco_tensor_new()): zeros. */
      self->host_valid = TRUE;
      return TRUE;
    }
  if (!backends[self->device]->copy_to_host (self->host, self->device_ptr,
                                             self->n_elements * sizeof (float), error))
    return FALSE;
  self->host_valid = TRUE;
  return TRUE;
}

static gboolean
sync_device (DiscoTensor *self, GError **error)
{
  if (self->device_valid)
    return TRUE;
  if (!backends[self->device]->copy_to_device (self->device_ptr, self->host,
                                               self->n_elements * sizeof (float), error))
    return FALSE;
  self->device_valid = TRUE;
  return TRUE;
}

/**
 * disco_tensor_read_host: (skip)
 * @self: a tensor
 * @error: return location for a #GError
 *
 * Gives read access to the values in host memory, copying them from the
 * device first when the device copy is the current one.
 *
 * Returns: (nullable): the values, valid until the next write access, or
 *   %NULL with @error set when a device copy failed
 */
const float *
disco_tensor_read_host (DiscoTensor *self, GError **error)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);
  if (!sync_host (self, error))
    return NULL;
  return self->host;
}

/**
 * disco_tensor_write_host: (skip)
 * @self: a tensor
 * @error: return location for a #GError
 *
 * Gives write access to the values in host memory (current values included)
 * and marks the device copy stale.
 *
 * Returns: (nullable): the values, or %NULL with @error set
 */
float *
disco_tensor_write_host (DiscoTensor *self, GError **error)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);
  if (!sync_host (self, error))
    return NULL;
  self->device_valid = self->device == DISCO_DEVICE_CPU;
  self->checked = FALSE;
  return self->host;
}

/**
 * disco_tensor_get_host_address:
 * @self: a tensor
 * @writable: whether the caller will write the values (the device copy, if
 *   any, then becomes stale)
 * @error: return location for a #GError
 *
 * For bindings that wrap tensor memory without copying it (the Python
 * override's `Tensor.to_numpy()`): the address of the current values in host
 * memory, disco_tensor_get_n_elements() float32 values, row-major. The host
 * memory of a tensor never moves, so the address stays valid for as long as
 * the caller holds a reference to @self; for a tensor on a device, values the
 * device writes later reach it only through another call.
 *
 * Returns: the address, or 0 with @error set when a device copy failed
 */
guintptr
disco_tensor_get_host_address (DiscoTensor *self, gboolean writable, GError **error)
{
  const float *values;

  g_return_val_if_fail (DISCO_IS_TENSOR (self), 0);
  values = writable ? disco_tensor_write_host (self, error) : disco_tensor_read_host (self, error);
  return (guintptr) values;
}

/**
 * disco_tensor_read_device: (skip)
 * @self: a tensor on a device other than the CPU
 * @error: return location for a #GError
 *
 * Gets the device copy of @self for reading, copying the host values there
 * first when they are newer. For kernels; bindings read the host copy.
 *
 * Returns: (nullable): device memory holding the current values
 */
gconstpointer
disco_tensor_read_device (DiscoTensor *self, GError **error)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);
  g_return_val_if_fail (self->device != DISCO_DEVICE_CPU, NULL);
  if (!sync_device (self, error))
    return NULL;
  return self->device_ptr;
}

/**
 * disco_tensor_write_device: (skip)
 * @self: a tensor on a device other than the CPU
 * @error: return location for a #GError
 *
 * Gets the device copy of @self for writing. For kernels; bindings write the
 * host copy.
 *
 * Returns: (nullable): device memory to write; the host copy becomes stale
 */
gpointer
disco_tensor_write_device (DiscoTensor *self, GError **error)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), NULL);
  g_return_val_if_fail (self->device != DISCO_DEVICE_CPU, NULL);
  if (!sync_device (self, error))
    return NULL;
  self->host_valid = FALSE;
  self->checked = FALSE;
  return self->device_ptr;
}

/**
 * disco_tensor_to_device:
 * @self: a tensor
 * @device: %DISCO_DEVICE_CPU or %DISCO_DEVICE_CUDA
 * @error: return location for a #GError
 *
 * Moves the tensor to @device, keeping its values.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_tensor_to_device (DiscoTensor *self, DiscoDevice device, GError **error)
{
  g_return_val_if_fail (DISCO_IS_TENSOR (self), FALSE);
  g_return_val_if_fail (device < DISCO_DEVICE_AUTO, FALSE);

  if (device == self->device)
    return TRUE;
  if (!sync_host (self, error))
    return FALSE;
  if (self->device_ptr != NULL)
    {
      backends[self->device]->free (self->device_ptr);
      self->device_ptr = NULL;
    }
  if (device != DISCO_DEVICE_CPU)
    {
      if (backends[device] == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                       "no backend for device \"cuda\" is loaded");
          self->device = DISCO_DEVICE_CPU;
          return FALSE;
        }
      self->device_ptr = backends[device]->alloc (self->n_elements * sizeof (float), error);
      if (self->device_ptr == NULL)
        {
          self->device = DISCO_DEVICE_CPU;
          return FALSE;
        }
    }
  self->device = device;
  self->device_valid = device == DISCO_DEVICE_CPU;
  return TRUE;
}

/**
 * disco_tensor_get_bytes:
 * @self: a tensor
 * @error: return location for a #GError
 *
 * Copies the values out as native-endian float32 bytes, row-major. In
 * Python: `numpy.frombuffer(t.get_bytes().get_data(), dtype=numpy.float32)
 * .reshape(t.get_shape())`; in GJS:
 * `new Float32Array(t.get_bytes().toArray().buffer)`.
 *
 * Returns: (transfer full) (nullable): the bytes, or %NULL with @error set
 */
GBytes *
disco_tensor_get_bytes (DiscoTensor *self, GError **error)
{
  const float *host = disco_tensor_read_host (self, error);

  if (host == NULL)
    return NULL;
  return g_bytes_new (host, self->n_elements * sizeof (float));
}

/**
 * disco_tensor_get_values:
 * @self: a tensor
 * @n_values: (out): number of values
 * @error: return location for a #GError
 *
 * Copies the values out as an array of floats (a Python list, a JavaScript
 * array). For large tensors disco_tensor_get_bytes() is faster.
 *
 * Returns: (array length=n_values) (transfer full) (nullable): the values
 */
float *
disco_tensor_get_values (DiscoTensor *self, gsize *n_values, GError **error)
{
  const float *host = disco_tensor_read_host (self, error);

  *n_values = 0;
  if (host == NULL)
    return NULL;
  *n_values = self->n_elements;
  return g_memdup2 (host, self->n_elements * sizeof (float));
}

/**
 * disco_tensor_get_value:
 * @self: a host-readable tensor
 * @index: flat (row-major) index, less than the number of elements
 *
 * Reads one value of @self, making the host copy current if needed.
 *
 * Returns: one value, or NaN when the device copy cannot be read
 */
float
disco_tensor_get_value (DiscoTensor *self, gsize index)
{
  const float *host;

  g_return_val_if_fail (DISCO_IS_TENSOR (self), NAN);
  g_return_val_if_fail (index < self->n_elements, NAN);
  host = disco_tensor_read_host (self, NULL);
  return host != NULL ? host[index] : NAN;
}

/**
 * disco_tensor_set_data:
 * @self: a tensor
 * @data: (array length=size) (element-type guint8): native-endian float32 values
 * @size: number of bytes: 4 × the number of elements
 * @error: return location for a #GError
 *
 * Overwrites all values.
 *
 * Returns: %TRUE on success, %FALSE with @error set when @size does not fit
 */
gboolean
disco_tensor_set_data (DiscoTensor *self, const guint8 *data, gsize size, GError **error)
{
  float *host;

  g_return_val_if_fail (DISCO_IS_TENSOR (self), FALSE);
  g_return_val_if_fail (data != NULL || size == 0, FALSE);

  if (size != self->n_elements * sizeof (float))
    {
      g_autofree char *shape = disco_tensor_shape_to_string (self);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "%" G_GSIZE_FORMAT " bytes given for a tensor of shape %s, which "
                   "holds %" G_GSIZE_FORMAT " float32 values (%" G_GSIZE_FORMAT " bytes)",
                   size, shape, self->n_elements, self->n_elements * sizeof (float));
      return FALSE;
    }
  host = disco_tensor_write_host (self, error);
  if (host == NULL)
    return FALSE;
  memcpy (host, data, size);
  return TRUE;
}

/**
 * disco_tensor_set_values:
 * @self: a tensor
 * @values: (array length=n_values): the values, row-major
 * @n_values: number of values: the number of elements of @self
 * @error: return location for a #GError
 *
 * Overwrites all values.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_tensor_set_values (DiscoTensor *self, const float *values, gsize n_values, GError **error)
{
  return disco_tensor_set_data (self, (const guint8 *) values, n_values * sizeof (float), error);
}

/**
 * disco_tensor_fill:
 * @self: a tensor
 * @value: the value for every element
 * @error: return location for a #GError
 *
 * Sets every value of @self to @value.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_tensor_fill (DiscoTensor *self, float value, GError **error)
{
  float *host = disco_tensor_write_host (self, error);

  if (host == NULL)
    return FALSE;
  for (gsize i = 0; i < self->n_elements; i++)
    host[i] = value;
  return TRUE;
}
