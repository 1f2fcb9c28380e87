/* disco-error.h: the one error domain of Disco */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DISCO_ERROR:
 *
 * The error domain of every runtime error Disco reports: pipeline files,
 * node configuration, data files, devices. Messages read
 * `file:line: what, "which name"` whenever a file and line are known.
 *
 * It is the one domain of Disco: the engine, the nodes, the dataset readers
 * and the CUDA backend report every error with a code of #DiscoError, and
 * a new kind of failure gets a new, documented code there, not a domain of
 * its own. Only what comes from outside keeps its domain: a cancelled run
 * ends with %G_IO_ERROR_CANCELLED, as GIO's cancellable calls do, and an
 * exception raised by a node written in a binding comes back as the
 * binding reports it.
 */
/* The quark's name, "disco-error-quark" (disco-error.c), must not change:
 * the kernels, the solvers and the CUDA backend, which stay free of
 * libdisco, find the domain by that name (DISCO_KERNELS_ERROR,
 * kernels/disco-kernels.h). */
#define DISCO_ERROR (disco_error_quark ())

/**
 * DiscoError:
 * @DISCO_ERROR_FAILED: any other failure
 * @DISCO_ERROR_SYNTAX: a pipeline file or override line could not be parsed
 * @DISCO_ERROR_NO_SUCH_NODE_TYPE: no node type is registered under that name
 * @DISCO_ERROR_NO_SUCH_NODE: no node of that name in the pipeline
 * @DISCO_ERROR_NO_SUCH_PROPERTY: the node type has no such property
 * @DISCO_ERROR_NO_SUCH_PORT: the node type has no such port
 * @DISCO_ERROR_BAD_VALUE: a value of the wrong type or out of range
 * @DISCO_ERROR_LINK: a link that cannot be made (two producers, unlinked input, ...)
 * @DISCO_ERROR_ALGEBRAIC_LOOP: a cycle that no dynamical node breaks
 * @DISCO_ERROR_SHAPE: tensors of mismatching shapes
 * @DISCO_ERROR_IO: a file could not be read or written
 * @DISCO_ERROR_DATA: a data file is malformed (bad magic, truncated, ...)
 * @DISCO_ERROR_DEVICE: the requested device is not usable
 * @DISCO_ERROR_NUMERIC: a computation failed (non-finite values, no convergence)
 * @DISCO_ERROR_MEMORY: the run needs more memory than its limit allows, or
 *   than the system could give
 *
 * Error codes of the %DISCO_ERROR domain, the one error domain of Disco:
 * every runtime error of the engine, the nodes, the dataset readers and the
 * CUDA backend carries one of them. They follow GStreamer's GstParseError
 * where the meaning is the same.
 */
typedef enum
{
  DISCO_ERROR_FAILED,
  DISCO_ERROR_SYNTAX,
  DISCO_ERROR_NO_SUCH_NODE_TYPE,
  DISCO_ERROR_NO_SUCH_NODE,
  DISCO_ERROR_NO_SUCH_PROPERTY,
  DISCO_ERROR_NO_SUCH_PORT,
  DISCO_ERROR_BAD_VALUE,
  DISCO_ERROR_LINK,
  DISCO_ERROR_ALGEBRAIC_LOOP,
  DISCO_ERROR_SHAPE,
  DISCO_ERROR_IO,
  DISCO_ERROR_DATA,
  DISCO_ERROR_DEVICE,
  DISCO_ERROR_NUMERIC,
  DISCO_ERROR_MEMORY,
} DiscoError;

GQuark disco_error_quark (void);

G_END_DECLS
