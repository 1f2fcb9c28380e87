/* gpu-test-common.h: what every GPU test needs: whether a CUDA device is
 * usable (else each case skips with the reason), checked copies to and
 * from it, and seeded random inputs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

extern gboolean cuda_usable;
extern char *skip_reason;

#define SKIP_WITHOUT_DEVICE()                                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    if (!cuda_usable)                                                                              \
      {                                                                                            \
        g_test_skip (skip_reason);                                                                 \
        return;                                                                                    \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

/* For the pipeline cases: a usable device, and the disco-cuda plugin
 * (loaded with the registry) registered it as a backend.  Needs
 * <disco/disco.h> and <disco/disco-backend.h>. */
#define SKIP_WITHOUT_BACKEND()                                                                     \
  G_STMT_START                                                                                     \
  {                                                                                                \
    SKIP_WITHOUT_DEVICE ();                                                                        \
    g_strfreev (disco_registry_list_names ());                                                     \
    if (disco_backend_get (DISCO_DEVICE_CUDA) == NULL)                                             \
      {                                                                                            \
        g_test_skip ("the disco-cuda plugin registered no backend");                               \
        return;                                                                                    \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

#ifdef DISCO_SOURCE_ROOT
/* The 30-sample digits fixture, for the pipeline cases.  The environment
 * wins over the compiled-in source root: a bundle built elsewhere
 * (tests/gpu/bundle.sh) runs from another checkout. */
static inline char *
gpu_test_digits_fixture (void)
{
  const char *root =
      g_getenv ("DISCO_SOURCE_ROOT") != NULL ? g_getenv ("DISCO_SOURCE_ROOT") : DISCO_SOURCE_ROOT;

  return g_build_filename (root, "data", "fixtures", "digits", "digits.csv.gz", NULL);
}
#endif

void gpu_test_init (void);
gpointer gpu_test_upload (gconstpointer host, gsize size);
void gpu_test_download (gpointer host, gconstpointer dev, gsize size);
float *random_floats (GRand *rand, gsize n, double lo, double hi);

G_END_DECLS
