/* disco-ode-private.h: what disco-ode.c shares with the lockstep solver
 * (disco-ode-batched.c); not installed. */
#pragma once

#include <glib.h>

#include "disco-ode.h"

G_BEGIN_DECLS

/* A tableau of disco-ode.c, so that both solvers combine stages with the
 * same float weights.  a[s] (1 ≤ s < S) holds stage s's s weights (a[0] is
 * NULL).  For Tsit5 (first same as last) the last stage's weights are the
 * solution's, b is NULL and e holds the S error weights b − b̂; for Euler
 * and RK4, b holds the S solution weights and e is NULL (no estimate). */
void _disco_ode_get_tableau (DiscoOdeMethod method, guint *n_stages, const float *const **a,
                             const float **b, const float **e, gboolean *fsal, double *error_order);

G_END_DECLS
