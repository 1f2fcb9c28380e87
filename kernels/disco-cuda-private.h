/* disco-cuda-private.h: shared between disco-cuda-backend.c and
 * disco-kernels-cuda.cu; not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Records the first failure since the last disco_cuda_check(); later ones
 * are dropped, as GError never piles errors up. */
void _disco_cuda_record_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* The cuBLAS handle, created on first use; NULL (with an error recorded)
 * when cuBLAS cannot start. */
void *_disco_cuda_get_cublas (void);

/* Counts one kernel launch or cuBLAS call (disco_cuda_get_launch_count()). */
void _disco_cuda_count_launch (void);

G_END_DECLS
