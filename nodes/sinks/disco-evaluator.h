/* disco-evaluator.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoEvaluatorLoss:
 * @DISCO_EVALUATOR_LOSS_CROSS_ENTROPY: −Σ t·log softmax(y), soft targets allowed
 * @DISCO_EVALUATOR_LOSS_MSE: mean over outputs of (y − t)²
 *
 * The loss the evaluator reports.
 */
typedef enum
{
  DISCO_EVALUATOR_LOSS_CROSS_ENTROPY,
  DISCO_EVALUATOR_LOSS_MSE,
} DiscoEvaluatorLoss;

#define DISCO_TYPE_EVALUATOR_LOSS (disco_evaluator_loss_get_type ())
GType disco_evaluator_loss_get_type (void);

#define DISCO_TYPE_EVALUATOR (disco_evaluator_get_type ())
G_DECLARE_FINAL_TYPE (DiscoEvaluator, disco_evaluator, DISCO, EVALUATOR, DiscoNode)

double disco_evaluator_get_accuracy (DiscoEvaluator *self, guint epoch, DiscoPhase phase);
double disco_evaluator_get_loss (DiscoEvaluator *self, guint epoch, DiscoPhase phase);

G_END_DECLS
