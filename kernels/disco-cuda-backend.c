/* disco-cuda-backend.c: the CUDA device behind DiscoBackend, and the error
 * bookkeeping of the CUDA kernels.
 *
 * Plain C over the CUDA runtime API.  Every failure becomes a GError in the
 * DISCO_ERROR domain (code DISCO_ERROR_DEVICE) whose message names the
 * operation and carries cudaGetErrorString()'s text.  The quark is looked up
 * by name, so this library needs no link to libdisco (which must stay free
 * of CUDA, see disco-backend.h).
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-CUDA"

#include "disco-kernels-cuda.h"
#include "disco-ops.h"
#include "disco-cuda-private.h"
#include "disco/disco-error.h"

#include <cuda_runtime_api.h>
#include <cublas_v2.h>

/* The first failure recorded by this thread's calls and not yet reported.
 * Per thread, like the runtime's own cudaGetLastError(): two pipelines run
 * from two threads each learn only of their own failures. */
static GPrivate pending_error = G_PRIVATE_INIT ((GDestroyNotify) g_error_free);

static cublasHandle_t cublas;

void
_disco_cuda_record_error (const char *format, ...)
{
  va_list args;

  if (g_private_get (&pending_error) != NULL)
    return;
  va_start (args, format);
  g_private_set (&pending_error,
                 g_error_new_valist (DISCO_KERNELS_ERROR, DISCO_ERROR_DEVICE, format, args));
  va_end (args);
}

static gboolean
cuda_ok (cudaError_t status, const char *what, GError **error)
{
  if (status == cudaSuccess)
    return TRUE;
  g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_DEVICE, "CUDA: %s failed: %s (%s)", what,
               cudaGetErrorString (status), cudaGetErrorName (status));
  /* The runtime also latches the failure as its last error; this GError
   * reports it, so clear it, else the next disco_cuda_check() would fail
   * the later, successful work with the same message. */
  cudaGetLastError ();
  return FALSE;
}

/* Kernel launches and cuBLAS calls since the library was loaded. */
static guint64 launch_count;

void
_disco_cuda_count_launch (void)
{
  __atomic_fetch_add (&launch_count, 1, __ATOMIC_RELAXED);
}

/**
 * disco_cuda_get_launch_count:
 *
 * The number of kernel launches and cuBLAS calls made by this library's
 * operations since it was loaded, from every thread.  Small kernels cost a
 * few microseconds each to launch, so the count per minibatch, with the
 * integrator's `last-host-wait`, tells launch overhead from kernel time
 * (tools/disco-bench-train --tables).
 *
 * Returns: the count
 */
guint64
disco_cuda_get_launch_count (void)
{
  return __atomic_load_n (&launch_count, __ATOMIC_RELAXED);
}

void *
_disco_cuda_get_cublas (void)
{
  static gsize created = 0;

  if (g_once_init_enter (&created))
    {
      cublasStatus_t status = cublasCreate (&cublas);

      if (status != CUBLAS_STATUS_SUCCESS)
        {
          cublas = NULL;
          _disco_cuda_record_error ("cuBLAS: cublasCreate failed: %s",
                                    cublasGetStatusString (status));
        }
      else
        /* Float32 stays float32: the default math mode never uses TF32 for
         * SGEMM (only CUBLAS_TF32_TENSOR_OP_MATH would), and saying so here
         * keeps a future library default from changing it silently. */
        cublasSetMathMode (cublas, CUBLAS_DEFAULT_MATH);
      g_once_init_leave (&created, 1);
    }
  if (cublas == NULL)
    _disco_cuda_record_error ("cuBLAS: no handle (cublasCreate failed earlier)");
  return cublas;
}

/**
 * disco_cuda_get_device_count:
 * @error: return location for a #GError
 *
 * Asks the CUDA runtime how many devices it can use.  Without a driver or
 * a GPU this is no failure: it returns 0 and sets @error to say why, so a
 * caller can report the reason (a CPU-only machine) or ignore it.
 *
 * Returns: the number of usable CUDA devices, 0 when there are none
 */
int
disco_cuda_get_device_count (GError **error)
{
  int count = 0;
  cudaError_t status = cudaGetDeviceCount (&count);

  if (status != cudaSuccess)
    {
      /* The runtime latches this error; clear it so that the first kernel
       * check of a later, successful start does not report it again. */
      cudaGetLastError ();
      cuda_ok (status, "cudaGetDeviceCount", error);
      return 0;
    }
  if (count == 0)
    g_set_error_literal (error, DISCO_KERNELS_ERROR, DISCO_ERROR_DEVICE,
                         "CUDA: the driver reports no device");
  return count;
}

/**
 * disco_cuda_init:
 * @error: return location for a #GError
 *
 * Starts device 0: creates its context and the cuBLAS handle, so that the
 * first kernel of a run does not pay for them.  Safe to call again.
 *
 * Returns: %TRUE when the device is ready, %FALSE with @error set
 */
gboolean
disco_cuda_init (GError **error)
{
  if (disco_cuda_get_device_count (error) == 0)
    return FALSE;
  if (!cuda_ok (cudaSetDevice (0), "cudaSetDevice (0)", error))
    return FALSE;
  /* cudaFree (NULL) is the documented way to create the context now. */
  if (!cuda_ok (cudaFree (NULL), "creating the CUDA context", error))
    return FALSE;
  if (_disco_cuda_get_cublas () == NULL)
    return disco_cuda_check (error);
  return TRUE;
}

/**
 * disco_cuda_describe:
 *
 * Returns: (transfer full): one line naming device 0: model, memory,
 *   compute capability, multiprocessors, runtime and driver versions; or
 *   the reason there is none
 */
char *
disco_cuda_describe (void)
{
  struct cudaDeviceProp prop;
  int device = 0, runtime = 0, driver = 0;
  g_autoptr (GError) error = NULL;

  if (disco_cuda_get_device_count (&error) == 0)
    return g_strdup_printf ("no CUDA device (%s)", error->message);
  cudaGetDevice (&device);
  if (cudaGetDeviceProperties (&prop, device) != cudaSuccess)
    {
      /* Described here; not a failure for the next launch to report. */
      cudaGetLastError ();
      return g_strdup ("CUDA device (properties unreadable)");
    }
  cudaRuntimeGetVersion (&runtime);
  cudaDriverGetVersion (&driver);
  return g_strdup_printf ("%s, %.1f GiB, compute capability %d.%d, %d multiprocessors, "
                          "CUDA runtime %d.%d, driver %d.%d",
                          prop.name, prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.major,
                          prop.minor, prop.multiProcessorCount, runtime / 1000,
                          (runtime % 1000) / 10, driver / 1000, (driver % 1000) / 10);
}

/**
 * disco_cuda_check:
 * @error: return location for a #GError
 *
 * Reports the first failure of the CUDA kernels since the last check: a
 * recorded cuBLAS status or precondition, else the runtime's last launch
 * error.  Asynchronous faults (a bad address inside a kernel) show up only
 * after a synchronisation; see disco_cuda_synchronize().  Clears what it
 * reports.
 *
 * Returns: %TRUE when nothing failed, %FALSE with @error set
 */
gboolean
disco_cuda_check (GError **error)
{
  GError *recorded = g_private_get (&pending_error);
  cudaError_t status = cudaGetLastError ();

  /* Taken out of the slot (set, not replace, so it is not freed). */
  g_private_set (&pending_error, NULL);

  if (recorded != NULL)
    {
      g_propagate_error (error, recorded);
      return FALSE;
    }
  return cuda_ok (status, "a kernel launch", error);
}

/**
 * disco_cuda_synchronize:
 * @error: return location for a #GError
 *
 * Waits until all queued device work is done, then reports any failure as
 * disco_cuda_check() does.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_cuda_synchronize (GError **error)
{
  if (!cuda_ok (cudaDeviceSynchronize (), "cudaDeviceSynchronize", error))
    {
      /* This error reports the failure; a recorded one from before it
       * would otherwise surface at the next check as a new failure. */
      g_private_replace (&pending_error, NULL); /* frees it */
      return FALSE;
    }
  return disco_cuda_check (error);
}

/**
 * disco_cuda_alloc:
 * @size: bytes (0 is given one byte, as the CPU table does)
 * @error: return location for a #GError
 *
 * Returns: (nullable): device memory (cudaMalloc: plain, not managed), or
 *   %NULL with @error set
 */
gpointer
disco_cuda_alloc (gsize size, GError **error)
{
  void *ptr = NULL;
  /* cudaMalloc (0) succeeds with NULL, which callers read as a failure
   * without an error; the CPU table gives 0 bytes a buffer too. */
  cudaError_t status = cudaMalloc (&ptr, MAX (size, 1));

  if (status != cudaSuccess)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_DEVICE,
                   "CUDA: cannot allocate %" G_GSIZE_FORMAT " bytes of device memory: %s", size,
                   cudaGetErrorString (status));
      cudaGetLastError ();
      return NULL;
    }
  return ptr;
}

/**
 * disco_cuda_free:
 * @device_ptr: (nullable): memory from disco_cuda_alloc()
 *
 * Releases device memory; cudaFree waits for the work that uses it.
 */
void
disco_cuda_free (gpointer device_ptr)
{
  cudaError_t status;

  if (device_ptr == NULL || (status = cudaFree (device_ptr)) == cudaSuccess)
    return;
  /* Recorded for the next check, and cleared from the runtime, which would
   * otherwise blame the next kernel launch for it. */
  _disco_cuda_record_error ("CUDA: cudaFree failed: %s", cudaGetErrorString (status));
  cudaGetLastError ();
}

/**
 * disco_cuda_copy_to_host:
 * @host: destination in host memory
 * @device_ptr: source in device memory
 * @size: bytes
 * @error: return location for a #GError
 *
 * Copies after all queued work (cudaMemcpy on the default stream), so the
 * host sees the results of every kernel launched before.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_cuda_copy_to_host (gpointer host, gconstpointer device_ptr, gsize size, GError **error)
{
  return cuda_ok (cudaMemcpy (host, device_ptr, size, cudaMemcpyDeviceToHost),
                  "copying device memory to the host", error);
}

/**
 * disco_cuda_copy_to_device:
 * @device_ptr: destination in device memory
 * @host: source in host memory
 * @size: bytes
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_cuda_copy_to_device (gpointer device_ptr, gconstpointer host, gsize size, GError **error)
{
  return cuda_ok (cudaMemcpy (device_ptr, host, size, cudaMemcpyHostToDevice),
                  "copying host memory to the device", error);
}

/**
 * disco_cuda_copy_on_device:
 * @dst: destination in device memory
 * @src: source in device memory
 * @size: bytes
 * @error: return location for a #GError
 *
 * Queues a device-to-device copy; it does not wait for it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_cuda_copy_on_device (gpointer dst, gconstpointer src, gsize size, GError **error)
{
  return cuda_ok (cudaMemcpyAsync (dst, src, size, cudaMemcpyDeviceToDevice, 0),
                  "copying device memory", error);
}

static DiscoBackend cuda_backend = {
  .name = "cuda",
  .describe = disco_cuda_describe,
  .alloc = disco_cuda_alloc,
  .free = disco_cuda_free,
  .copy_to_host = disco_cuda_copy_to_host,
  .copy_to_device = disco_cuda_copy_to_device,
  .copy_on_device = disco_cuda_copy_on_device,
  .synchronize = disco_cuda_synchronize,
};

/**
 * disco_cuda_get_backend:
 *
 * Returns: (transfer none): the #DiscoBackend of CUDA device 0, to hand to
 *   disco_backend_register() once disco_cuda_init() succeeded
 */
const DiscoBackend *
disco_cuda_get_backend (void)
{
  /* Set here, not in the initialiser: the table lives in another file. */
  cuda_backend.ops = disco_ops_cuda ();
  return &cuda_backend;
}
