/* disco-table-writer.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DISCO_TABLE_WRITER_MAX_COLUMNS:
 *
 * Input ports of a table-writer: `column-1` … `column-12`.
 */
#define DISCO_TABLE_WRITER_MAX_COLUMNS 12

/**
 * DISCO_TABLE_WRITER_MAX_WIDTH:
 *
 * The most columns one input fills: an input declared rows × k with
 * 1 < k ≤ this fills k columns; a wider one is written flattened, one
 * value per row.
 */
#define DISCO_TABLE_WRITER_MAX_WIDTH 64

#define DISCO_TYPE_TABLE_WRITER (disco_table_writer_get_type ())
G_DECLARE_FINAL_TYPE (DiscoTableWriter, disco_table_writer, DISCO, TABLE_WRITER, DiscoNode)

G_END_DECLS
