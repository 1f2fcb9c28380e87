/* disco-integrator.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoIntegratorMethod:
 * @DISCO_INTEGRATOR_TSIT5: Tsitouras 5(4), adaptive (the reference's solver)
 * @DISCO_INTEGRATOR_EULER: forward Euler, fixed steps of dt
 * @DISCO_INTEGRATOR_RK4: classic Runge–Kutta, fixed steps of dt
 * @DISCO_INTEGRATOR_EQUILIBRIUM: no integration: the steady states solved
 *   as fixed points by Newton's method (disco-equilibrium.h); samples that
 *   do not converge are integrated with tsit5 instead
 *
 * How the integrator advances the network.
 */
typedef enum
{
  DISCO_INTEGRATOR_TSIT5,
  DISCO_INTEGRATOR_EULER,
  DISCO_INTEGRATOR_RK4,
  DISCO_INTEGRATOR_EQUILIBRIUM,
} DiscoIntegratorMethod;

/**
 * DiscoIntegratorController:
 * @DISCO_INTEGRATOR_CONTROLLER_DIFFRAX: Diffrax 0.4.1's PID controller: an
 *   accepted step never shrinks the next one (matches the reference's step counts)
 * @DISCO_INTEGRATOR_CONTROLLER_TEXTBOOK: the same PID formula, accepted steps may shrink
 *
 * The step-size controller of the adaptive method.
 */
typedef enum
{
  DISCO_INTEGRATOR_CONTROLLER_DIFFRAX,
  DISCO_INTEGRATOR_CONTROLLER_TEXTBOOK,
} DiscoIntegratorController;

#define DISCO_TYPE_INTEGRATOR_METHOD (disco_integrator_method_get_type ())
GType disco_integrator_method_get_type (void);
#define DISCO_TYPE_INTEGRATOR_CONTROLLER (disco_integrator_controller_get_type ())
GType disco_integrator_controller_get_type (void);

#define DISCO_TYPE_INTEGRATOR (disco_integrator_get_type ())
G_DECLARE_FINAL_TYPE (DiscoIntegrator, disco_integrator, DISCO, INTEGRATOR, DiscoNode)

G_END_DECLS
