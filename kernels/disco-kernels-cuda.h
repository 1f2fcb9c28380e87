/* disco-kernels-cuda.h: the CUDA twin of disco-kernels.h, a plain-C API.
 *
 * SECTION:disco-kernels-cuda
 * @title: CUDA kernels
 * @short_description: every operation of disco-kernels.h on device memory,
 *   plus the CUDA device backend
 *
 * `disco_<op>_cuda` has the signature of `disco_<op>_cpu`; matrices and
 * per-row vectors (h, alpha, norm, rms, drive_rows, at_rest, clocks, …) are
 * device pointers.  Small parameter arrays stay on the host, as the CPU
 * versions take them: the rectifier struct, a tableau's @coeffs and the
 * array of stage pointers @k (whose entries are device pointers).  They are
 * passed to the kernel by value, so the caller may reuse them at once.
 *
 * All work is queued on the default stream and runs asynchronously; nothing
 * here makes a host round trip except disco_cuda_synchronize() and the
 * backend's copies to the host.  Since the functions return void like their
 * CPU twins, a failure (a launch error, a cuBLAS status, a size past the
 * device's limits) is recorded and reported by the next
 * disco_cuda_check(), which also picks up asynchronous faults after a
 * synchronisation.  Kernels never exit() or abort().
 *
 * Numerics: this library is compiled with `-fmad=false`, so that every
 * float operation rounds as written, like the CPU reference (whose fast file
 * uses -ffp-contract=off for the same reason): the Runge–Kutta and
 * row-scaling kernels agree with the CPU to the bit, the rest to the
 * rounding of CUDA's maths library (expf, logf: ≤ 2 ulp) and of parallel
 * double sums.  cuBLAS runs in CUBLAS_DEFAULT_MATH, which in single
 * precision never uses TF32 tensor cores: Disco promises float32.
 *
 * Shape legend: as disco-kernels.h (R rows, C columns, ld* row strides,
 * S stages) and disco-ode-clock.h (B clocks).
 */

#pragma once

#include <glib.h>

#include "disco-kernels.h"
#include "disco-kernels-equilibrium.h"
#include "disco-ode-clock.h"
#include "disco-ode-lockstep.h"
#include "disco-ops-list.h"
#include "disco/disco-backend.h"

G_BEGIN_DECLS

/* ---------------------------------------------------------------------------
 * Device, errors, backend
 * ------------------------------------------------------------------------- */

int disco_cuda_get_device_count (GError **error);
gboolean disco_cuda_init (GError **error);
char *disco_cuda_describe (void);
gboolean disco_cuda_check (GError **error);
gboolean disco_cuda_synchronize (GError **error);
const DiscoBackend *disco_cuda_get_backend (void);
guint64 disco_cuda_get_launch_count (void);

gpointer disco_cuda_alloc (gsize size, GError **error);
void disco_cuda_free (gpointer device_ptr);
gboolean disco_cuda_copy_to_host (gpointer host, gconstpointer device_ptr, gsize size,
                                  GError **error);
gboolean disco_cuda_copy_to_device (gpointer device_ptr, gconstpointer host, gsize size,
                                    GError **error);
gboolean disco_cuda_copy_on_device (gpointer dst, gconstpointer src, gsize size, GError **error);

/* ---------------------------------------------------------------------------
 * Operations the tables do not carry (see disco-kernels.h for each formula)
 * ------------------------------------------------------------------------- */

void disco_gemm_strided_batched_cuda (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k,
                                      float alpha, const float *a, gsize lda, gsize stride_a,
                                      const float *b, gsize ldb, gsize stride_b, float beta,
                                      float *c, gsize ldc, gsize stride_c, gsize batch);

void disco_softrect_derivative_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                     const float *x, gsize ldx, float *y, gsize ldy);

void disco_softrect_inverse_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                  const float *x, gsize ldx, float *y, gsize ldy);

void disco_axpy_rows_cuda (gsize n_rows, gsize n_cols, const float *alpha, const float *x,
                           gsize ldx, float *y, gsize ldy);

void disco_rms_rows_cuda (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *rms);

void disco_rk_combine_softrect_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                     gsize ld, const float *y0, const float *h, guint n_stages,
                                     const float *coeffs, const float *const *k, float *out,
                                     float *rate, gsize ldr);

void disco_rk_error_norm_cuda (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol,
                               const float *y0, const float *y1, const float *err, float *norm);

/* ---------------------------------------------------------------------------
 * The table operations, declared and documented once in disco-ops-list.h
 * (kernels in disco-kernels-cuda.cu, disco-kernels-cuda-feedback.cu,
 * -learning.cu and -equilibrium.cu); every array is a device pointer, the
 * parameter and rectifier structs stay on the host
 * ------------------------------------------------------------------------- */

DISCO_OPS_LIST (DISCO_OPS_CUDA_PROTOTYPE)

G_END_DECLS
