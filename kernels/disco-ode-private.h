/* disco-ode-private.h: what disco-ode.c shares with the lockstep solver
 * (disco-ode-batched.c); not installed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The Tsit5 tableau of disco-ode.c, so that both solvers combine stages
 * with the same float weights: a[s] (s = 1 … 6) holds stage s's s weights
 * (a[0] is NULL; a[6] is the solution's b), e the 7 error weights b − b̂. */
void _disco_ode_get_tsit5 (guint              *n_stages,
                           const float *const **a,
                           const float       **e,
                           double             *error_order);

G_END_DECLS
