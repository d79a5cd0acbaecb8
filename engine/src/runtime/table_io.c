/* table_io.c -- a dense table and a pmls_array (pmls.h), both ways.
 *
 * A saved model is a set of arrays (data/npy.c, data/npz.c); a host that
 * loads one, or saves what a run trained, needs the table as one array and
 * an array as the table's first values. Both go through the client's
 * public calls (pmls_get_many, pmls_init_dense), so every guarantee of the
 * store holds: a dump reads each row as the client's reads do, a fill is
 * an INIT that counts only for a row nothing has reached yet. Rows go in
 * batches of 4096 so that the id list stays small whatever the table.
 * This sits in runtime/ because it joins the data floor's arrays and the
 * client floor's reads, above both. */
#include <stdlib.h>
#include <string.h>

#include "../client/client_state.h"

#define BATCH 4096

static int spec_of(pmls_client *c, int table, pmls_table_spec *spec,
                   const char **name) {
  if (!c) return PMLS_EINVAL;
  if (table < 0 || table >= pmls_table_count(c->e))
    return pmi_fail(c->err, PMLS_EINVAL, "bad table id %d", table);
  pmls_table_spec_of(c->e, table, spec);
  *name = pmls_table_name(c->e, table);
  if (spec->layout != PMLS_DENSE)
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is sparse: only dense "
                    "tables are arrays", *name);
  return PMLS_OK;
}

int pmls_table_dump(pmls_client *c, int table, pmls_array *out) {
  pmls_table_spec spec;
  const char *name;
  if (!out) return c ? pmi_fail(c->err, PMLS_EINVAL, "missing out") : PMLS_EINVAL;
  memset(out, 0, sizeof *out);
  int rc = spec_of(c, table, &spec, &name);
  if (rc) return rc;
  size_t row_bytes = (size_t)spec.cols * pmls_dtype_size(spec.dtype);
  unsigned char *data = malloc(spec.rows ? (size_t)spec.rows * row_bytes : 1);
  int64_t *ids = malloc(BATCH * sizeof *ids);
  if (!data || !ids) {
    free(data), free(ids);
    return pmi_fail(c->err, PMLS_ENOMEM, "table '%s': out of memory for its "
                    "%lld rows", name, (long long)spec.rows);
  }
  for (int64_t lo = 0; lo < spec.rows && rc == PMLS_OK; lo += BATCH) {
    int64_t n = spec.rows - lo < BATCH ? spec.rows - lo : BATCH;
    for (int64_t k = 0; k < n; k++) ids[k] = lo + k;
    rc = pmls_get_many(c, table, n, ids, data + (size_t)lo * row_bytes);
  }
  free(ids);
  if (rc) {
    free(data);
    return rc;
  }
  out->dtype = spec.dtype;
  out->ndim = 2;
  out->shape[0] = spec.rows, out->shape[1] = spec.cols;
  out->data = data;
  return PMLS_OK;
}

/* Element k of a converted to t into dst (an integer t gets integers
 * only: pmls_table_fill refuses the rest). */
static void convert(const pmls_array *a, int64_t k, pmls_dtype t, void *dst) {
  double d = 0;
  int64_t i = 0;
  int is_int = a->dtype == PMLS_I32 || a->dtype == PMLS_I64;
  switch (a->dtype) {
  case PMLS_F64: d = ((const double *)a->data)[k]; break;
  case PMLS_F32: d = ((const float *)a->data)[k]; break;
  case PMLS_I32: i = ((const int32_t *)a->data)[k]; break;
  case PMLS_I64: i = ((const int64_t *)a->data)[k]; break;
  }
  switch (t) {
  case PMLS_F64: *(double *)dst = is_int ? (double)i : d; break;
  case PMLS_F32: *(float *)dst = (float)(is_int ? (double)i : d); break;
  case PMLS_I32: *(int32_t *)dst = (int32_t)i; break; /* ints only */
  case PMLS_I64: *(int64_t *)dst = i; break;
  }
}

int pmls_table_fill(pmls_client *c, int table, const pmls_array *a) {
  pmls_table_spec spec;
  const char *name;
  int rc = spec_of(c, table, &spec, &name);
  if (rc) return rc;
  if (!a || pmls_array_count(a) < 0 || (pmls_array_count(a) > 0 && !a->data))
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s': missing or bad array",
                    name);
  int fits = (a->ndim == 2 && a->shape[0] == spec.rows &&
              a->shape[1] == spec.cols) ||
             (a->ndim == 1 && spec.cols == 1 && a->shape[0] == spec.rows);
  if (!fits) {
    char shape[160] = "(";
    for (int k = 0; k < a->ndim; k++)
      snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld",
               k ? ", " : "", (long long)a->shape[k]);
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ")");
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' is %lld x %d, the array "
                    "is %s", name, (long long)spec.rows, (int)spec.cols, shape);
  }
  int int_table = spec.dtype == PMLS_I32 || spec.dtype == PMLS_I64;
  if (int_table && (a->dtype == PMLS_F64 || a->dtype == PMLS_F32))
    return pmi_fail(c->err, PMLS_EINVAL, "table '%s' holds integers, the "
                    "array floating-point numbers", name);
  size_t esize = pmls_dtype_size(spec.dtype);
  unsigned char *row = malloc(spec.cols ? (size_t)spec.cols * esize : 1);
  if (!row) return pmi_fail(c->err, PMLS_ENOMEM, "out of memory");
  for (int64_t r = 0; r < spec.rows && rc == PMLS_OK; r++) {
    for (int32_t f = 0; f < spec.cols; f++)
      convert(a, r * spec.cols + f, spec.dtype, row + (size_t)f * esize);
    rc = pmls_init_dense(c, table, r, row);
  }
  free(row);
  return rc;
}
