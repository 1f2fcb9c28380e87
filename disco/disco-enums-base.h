/* disco-enums-base.h: small enums shared by several engine headers */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DiscoDevice:
 * @DISCO_DEVICE_CPU: host memory, CPU kernels (OpenBLAS)
 * @DISCO_DEVICE_CUDA: an NVIDIA GPU through CUDA and cuBLAS
 * @DISCO_DEVICE_AUTO: a preference only: CUDA when usable, else the CPU
 *
 * Where tensors live and kernels run.
 */
typedef enum
{
  DISCO_DEVICE_CPU,
  DISCO_DEVICE_CUDA,
  DISCO_DEVICE_AUTO,
} DiscoDevice;

/**
 * DiscoPhase:
 * @DISCO_PHASE_NONE: the tick belongs to no dataset phase
 * @DISCO_PHASE_TRAIN: training minibatch (closed loop, plasticity on)
 * @DISCO_PHASE_VALIDATION: validation minibatch (open loop, no learning)
 * @DISCO_PHASE_TEST: test minibatch (open loop, no learning)
 *
 * Which part of an epoch a tick belongs to.
 */
typedef enum
{
  DISCO_PHASE_NONE,
  DISCO_PHASE_TRAIN,
  DISCO_PHASE_VALIDATION,
  DISCO_PHASE_TEST,
} DiscoPhase;

/**
 * DiscoTickFlags:
 * @DISCO_TICK_FLAG_NONE: no flag
 * @DISCO_TICK_FLAG_PHASE_END: the last tick of its phase in this epoch
 * @DISCO_TICK_FLAG_EPOCH_END: the last tick of its epoch; the pipeline calls
 *   every node's end_epoch hook after it
 *
 * Marks a source sets on a tick.
 */
typedef enum /*< flags >*/
{
  DISCO_TICK_FLAG_NONE = 0,
  DISCO_TICK_FLAG_PHASE_END = 1 << 0,
  DISCO_TICK_FLAG_EPOCH_END = 1 << 1,
} DiscoTickFlags;

/**
 * DiscoPortDirection:
 * @DISCO_PORT_INPUT: the node reads a tensor there
 * @DISCO_PORT_OUTPUT: the node writes a tensor there
 *
 * Direction of a node port.
 */
typedef enum
{
  DISCO_PORT_INPUT,
  DISCO_PORT_OUTPUT,
} DiscoPortDirection;

/**
 * DiscoPortFlags:
 * @DISCO_PORT_FLAG_NONE: a required input / an ordinary output
 * @DISCO_PORT_FLAG_OPTIONAL: an input that may stay unlinked
 * @DISCO_PORT_FLAG_NAN_MEANS_NONE: an output on which NaN marks a value that
 *   does not apply (a loss not measured in this epoch): the run's
 *   finiteness check lets NaN through there, not ±inf
 * @DISCO_PORT_FLAG_GRADIENT_NORM: an output of one value, the Euclidean norm
 *   of every gradient the node publishes, written in the same process() as
 *   they are and summed so that a non-finite gradient value makes it
 *   non-finite: when it is finite, the run's finiteness check takes it for
 *   the gradients and does not scan them
 *
 * Properties of a port.
 */
typedef enum /*< flags >*/
{
  DISCO_PORT_FLAG_NONE = 0,
  DISCO_PORT_FLAG_OPTIONAL = 1 << 0,
  DISCO_PORT_FLAG_NAN_MEANS_NONE = 1 << 1,
  DISCO_PORT_FLAG_GRADIENT_NORM = 1 << 2,
} DiscoPortFlags;

/**
 * DiscoFlowReturn:
 * @DISCO_FLOW_OK: the node processed the tick
 * @DISCO_FLOW_EOS: end of stream: a source has nothing more to emit; the run ends
 * @DISCO_FLOW_ERROR: the node failed and set the error
 *
 * What a node's process hook returns.
 */
typedef enum
{
  DISCO_FLOW_OK,
  DISCO_FLOW_EOS,
  DISCO_FLOW_ERROR,
} DiscoFlowReturn;

/**
 * DiscoOutputMode:
 * @DISCO_OUTPUT_MODE_ADD: write into the output folder as it is: files of
 *   the same name are replaced, others stay (the library's default)
 * @DISCO_OUTPUT_MODE_NEW: refuse an output folder that holds a previous run
 *   (a checkpoint, results.json, or files a run recorded writing)
 * @DISCO_OUTPUT_MODE_OVERWRITE: first remove what a previous run wrote
 *   there (the files it recorded, results.json and its checkpoint folders);
 *   every other file stays
 *
 * What a run that does not resume does with an output folder that already
 * holds a run. A resumed run continues the folder's run whatever the mode.
 */
typedef enum
{
  DISCO_OUTPUT_MODE_ADD,
  DISCO_OUTPUT_MODE_NEW,
  DISCO_OUTPUT_MODE_OVERWRITE,
} DiscoOutputMode;

G_END_DECLS
