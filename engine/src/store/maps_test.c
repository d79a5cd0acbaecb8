/* maps_test.c -- the row map (int64 row id -> pointer) and the sparse row
 * (int32 column key -> typed value), each driven by a fixed-seed random
 * sequence of operations and compared after every step with a naive
 * reference (linear arrays), plus table-driven edge cases. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "store.h"
#include "../util/util.h"

/* ---- row map ------------------------------------------------------------- */

/* Keys that stress the hash and the empty marker's neighbourhood. */
static const int64_t SPECIAL_KEYS[] = {
    0, 1, -1, 2, -2, 15, 16, 17, INT64_MAX, INT64_MAX - 1, INT64_MIN + 1,
    INT64_MIN + 2, (int64_t)1 << 32, -((int64_t)1 << 32), (int64_t)1 << 62,
    1000000007, -999999999999LL};
enum { NSPECIAL = sizeof SPECIAL_KEYS / sizeof SPECIAL_KEYS[0] };

static void *val_of(uint64_t n) { return (void *)(uintptr_t)(n * 16 + 8); }

static void t_rowmap_empty(void) {
  pmi_rowmap m;
  pmi_rowmap_init(&m);
  for (int i = 0; i < NSPECIAL; i++)
    CHECK(pmi_rowmap_get(&m, SPECIAL_KEYS[i]) == NULL);
  pmi_rowmap_clear(&m); /* clearing an empty map is fine */
  CHECK_EQ_INT(m.count, 0);
  pmi_rowmap_free(&m);
  pmi_rowmap_free(&m); /* and freeing twice */
}

static void t_rowmap_special_keys(void) {
  pmi_rowmap m;
  pmi_rowmap_init(&m);
  for (int i = 0; i < NSPECIAL; i++)
    CHECK_EQ_INT(pmi_rowmap_put(&m, SPECIAL_KEYS[i], val_of((uint64_t)i)), 0);
  CHECK_EQ_INT(m.count, NSPECIAL);
  for (int i = 0; i < NSPECIAL; i++)
    CHECK(pmi_rowmap_get(&m, SPECIAL_KEYS[i]) == val_of((uint64_t)i));
  /* put on an existing key replaces its value, count unchanged */
  CHECK_EQ_INT(pmi_rowmap_put(&m, INT64_MAX, val_of(999)), 0);
  CHECK_EQ_INT(m.count, NSPECIAL);
  CHECK(pmi_rowmap_get(&m, INT64_MAX) == val_of(999));
  CHECK(pmi_rowmap_get(&m, 3) == NULL);
  CHECK(pmi_rowmap_get(&m, INT64_MIN + 3) == NULL);
  pmi_rowmap_free(&m);
}

/* 20000 distinct ids inserted in order: the map grows, stays a power of two
 * no more than 3/4 full, and keeps every id. */
static void t_rowmap_growth(void) {
  pmi_rowmap m;
  pmi_rowmap_init(&m);
  enum { N = 20000 };
  for (int64_t i = 0; i < N; i++) {
    int64_t key = i * 7919 - 5000000; /* negative and positive */
    CHECK_EQ_INT(pmi_rowmap_put(&m, key, val_of((uint64_t)i)), 0);
    CHECK_EQ_INT(m.count, i + 1);
    CHECK((m.cap & (m.cap - 1)) == 0);
    CHECK(m.count * 4 <= m.cap * 3);
  }
  for (int64_t i = 0; i < N; i++)
    CHECK(pmi_rowmap_get(&m, i * 7919 - 5000000) == val_of((uint64_t)i));
  CHECK(pmi_rowmap_get(&m, 1) == NULL);
  size_t cap = m.cap;
  pmi_rowmap_clear(&m);
  CHECK_EQ_INT(m.count, 0);
  CHECK_EQ_INT(m.cap, cap); /* clear keeps the storage */
  for (int64_t i = 0; i < N; i += 97)
    CHECK(pmi_rowmap_get(&m, i * 7919 - 5000000) == NULL);
  CHECK_EQ_INT(pmi_rowmap_put(&m, 42, val_of(1)), 0);
  CHECK(pmi_rowmap_get(&m, 42) == val_of(1));
  CHECK_EQ_INT(m.count, 1);
  pmi_rowmap_free(&m);
}

/* The reference: keys and values in insertion order, linear search. */
typedef struct {
  int64_t keys[4096];
  void *vals[4096];
  int n;
} ref_rowmap;

static void *ref_get(const ref_rowmap *r, int64_t key) {
  for (int i = 0; i < r->n; i++)
    if (r->keys[i] == key) return r->vals[i];
  return NULL;
}

static void ref_put(ref_rowmap *r, int64_t key, void *val) {
  for (int i = 0; i < r->n; i++)
    if (r->keys[i] == key) {
      r->vals[i] = val;
      return;
    }
  r->keys[r->n] = key;
  r->vals[r->n++] = val;
}

static int64_t random_key(pmi_rng *rng) {
  uint64_t pick = pmi_rng_next(rng) % 8;
  if (pick == 0) return SPECIAL_KEYS[pmi_rng_next(rng) % NSPECIAL];
  if (pick == 1) { /* any 64-bit id except the empty marker */
    int64_t k = (int64_t)pmi_rng_next(rng);
    return k == INT64_MIN ? 0 : k;
  }
  return (int64_t)(pmi_rng_next(rng) % 3000) - 1500; /* dense, collisions */
}

static void t_rowmap_random_vs_reference(void) {
  static ref_rowmap ref;
  ref.n = 0;
  pmi_rowmap m;
  pmi_rowmap_init(&m);
  pmi_rng rng = {12345};
  for (int step = 0; step < 40000; step++) {
    uint64_t op = pmi_rng_next(&rng) % 100;
    int64_t key = random_key(&rng);
    if (op < 50 && ref.n < 4096) {
      void *v = val_of((uint64_t)step);
      CHECK_EQ_INT(pmi_rowmap_put(&m, key, v), 0);
      ref_put(&ref, key, v);
    } else if (op < 99) {
      CHECK(pmi_rowmap_get(&m, key) == ref_get(&ref, key));
    } else if (pmi_rng_next(&rng) % 8 == 0) {
      pmi_rowmap_clear(&m);
      ref.n = 0;
    }
    CHECK_EQ_INT(m.count, ref.n);
  }
  for (int i = 0; i < ref.n; i++)
    CHECK(pmi_rowmap_get(&m, ref.keys[i]) == ref.vals[i]);
  pmi_rowmap_free(&m);
}

/* pmi_rowmap_slot against the reference, on the ids rows come in: runs of
 * consecutive ids, strides of 8 and of 1024 (which share the hash's low
 * bits), and random ones; a found slot keeps its value, a made one holds
 * NULL until written. */
static void t_rowmap_slot_vs_reference(void) {
  static ref_rowmap ref;
  ref.n = 0;
  pmi_rowmap m;
  pmi_rowmap_init(&m);
  pmi_rng rng = {777};
  for (int step = 0; step < 40000; step++) {
    uint64_t pattern = pmi_rng_next(&rng) % 4, i = pmi_rng_next(&rng) % 2048;
    int64_t key = pattern == 0   ? (int64_t)i
                  : pattern == 1 ? (int64_t)i * 8
                  : pattern == 2 ? (int64_t)i * 1024 - 70000
                                 : random_key(&rng);
    if (ref.n >= 4096 || pmi_rng_next(&rng) % 500 == 0) {
      pmi_rowmap_clear(&m);
      ref.n = 0;
    }
    int added = -1;
    void **slot = pmi_rowmap_slot(&m, key, &added);
    CHECK(slot != NULL);
    void *before = ref_get(&ref, key);
    CHECK_EQ_INT(added, before == NULL);
    CHECK(*slot == before);
    if (added || pmi_rng_next(&rng) % 2) {
      *slot = val_of((uint64_t)step);
      ref_put(&ref, key, *slot);
    }
    CHECK_EQ_INT(m.count, ref.n);
    CHECK(pmi_rowmap_get(&m, key) == ref_get(&ref, key));
  }
  for (int i = 0; i < ref.n; i++)
    CHECK(pmi_rowmap_get(&m, ref.keys[i]) == ref.vals[i]);
  pmi_rowmap_free(&m);
}

/* The direct form against the reference and against the hashed form, on
 * the same operations: ids inside 0..n-1 behave alike in both (slot, ref,
 * get, put, clear, the walk), ids outside are found in neither form's
 * direct map and cannot be inserted, and a walk visits each present id
 * once with its value. */
static int walk_matches(pmi_rowmap *m, const ref_rowmap *r) {
  int seen = 0, ok = 1;
  size_t at = 0;
  int64_t key;
  void **slot;
  while ((slot = pmi_rowmap_next(m, &at, &key))) {
    seen++;
    int found = 0;
    for (int i = 0; i < r->n; i++)
      if (r->keys[i] == key) found = *slot == r->vals[i];
    ok &= found;
  }
  return ok && seen == r->n;
}

static void t_rowmap_direct_vs_reference(void) {
  static ref_rowmap ref;
  ref.n = 0;
  const int64_t n = 3000;
  pmi_rowmap d, h;
  pmi_rowmap_init(&d);
  pmi_rowmap_init(&h);
  pmi_rowmap_direct(&d, n, 64);
  CHECK_EQ_INT(d.direct, n);
  pmi_rng rng = {4242};
  for (int step = 0; step < 60000; step++) {
    int64_t key = (int64_t)(pmi_rng_next(&rng) % (uint64_t)n);
    uint64_t op = pmi_rng_next(&rng) % 1000;
    if (ref.n >= 4000 || op == 0) {
      CHECK(walk_matches(&d, &ref));
      CHECK(walk_matches(&h, &ref));
      pmi_rowmap_clear(&d);
      pmi_rowmap_clear(&h);
      ref.n = 0;
    } else if (op < 300) {
      void *v = val_of((uint64_t)step);
      CHECK_EQ_INT(pmi_rowmap_put(&d, key, v), 0);
      CHECK_EQ_INT(pmi_rowmap_put(&h, key, v), 0);
      ref_put(&ref, key, v);
    } else if (op < 700) {
      int ad = -1, ah = -1;
      void **sd = pmi_rowmap_slot(&d, key, &ad), **sh = pmi_rowmap_slot(&h, key, &ah);
      CHECK(sd && sh);
      CHECK_EQ_INT(ad, ah);
      CHECK(*sd == *sh);
      if (ad) ref_put(&ref, key, NULL); /* present, holding NULL */
      if (pmi_rng_next(&rng) % 2) {
        *sd = *sh = val_of((uint64_t)step);
        ref_put(&ref, key, *sd);
      }
    } else {
      void **rd = pmi_rowmap_ref(&d, key), **rh = pmi_rowmap_ref(&h, key);
      CHECK_EQ_INT(rd != NULL, rh != NULL);
      if (rd) CHECK(*rd == *rh);
    }
    CHECK_EQ_INT(d.count, h.count);
    CHECK(pmi_rowmap_get(&d, key) == ref_get(&ref, key));
  }
  CHECK(walk_matches(&d, &ref));
  /* Outside 0..n-1: absent, and refused. */
  static const int64_t outside[] = {-1, 3000, 3001, INT64_MAX, INT64_MIN + 1};
  for (size_t k = 0; k < sizeof outside / sizeof *outside; k++) {
    CHECK(pmi_rowmap_get(&d, outside[k]) == NULL);
    CHECK(pmi_rowmap_ref(&d, outside[k]) == NULL);
    CHECK(pmi_rowmap_slot(&d, outside[k], NULL) == NULL);
    CHECK_EQ_INT(pmi_rowmap_put(&d, outside[k], val_of(1)), -1);
  }
  pmi_rowmap_free(&d);
  pmi_rowmap_free(&h);
}

/* Which maps go direct: a table's small index always, a large one only
 * when it weighs at most a quarter of the rows; a map in use never. */
static void t_rowmap_direct_policy(void) {
  pmi_rowmap m;
  pmi_rowmap_init(&m);
  pmi_rowmap_direct(&m, 1000, 8);
  CHECK_EQ_INT(m.direct, 1000);
  pmi_rowmap_free(&m);
  pmi_rowmap_direct(&m, (int64_t)1 << 22, 8); /* 32 MiB index, 32 MiB rows */
  CHECK_EQ_INT(m.direct, 0);
  pmi_rowmap_direct(&m, (int64_t)1 << 22, 32);
  CHECK_EQ_INT(m.direct, (int64_t)1 << 22);
  pmi_rowmap_free(&m);
  pmi_rowmap_direct(&m, (int64_t)1 << 30, 4096); /* 8 GiB of index: never */
  CHECK_EQ_INT(m.direct, 0);
  pmi_rowmap_direct(&m, ((int64_t)8 << 20) + 1, 4096);
  CHECK_EQ_INT(m.direct, 0);
  CHECK_EQ_INT(pmi_rowmap_put(&m, 5, val_of(5)), 0); /* hashed, in use */
  pmi_rowmap_direct(&m, 1000, 64);
  CHECK_EQ_INT(m.direct, 0);
  CHECK(pmi_rowmap_get(&m, 5) == val_of(5));
  pmi_rowmap_free(&m);
  pmls_table_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.rows = 500;
  spec.cols = 4;
  spec.dtype = PMLS_F64;
  spec.layout = PMLS_DENSE;
  pmi_rowmap_for_table(&m, &spec);
  CHECK_EQ_INT(m.direct, 500);
  pmi_rowmap_free(&m);
}

/* ---- sparse row ---------------------------------------------------------- */

static void t_kv_empty(void) {
  static const pmls_dtype types[] = {PMLS_F64, PMLS_F32, PMLS_I32, PMLS_I64};
  for (size_t k = 0; k < 4; k++) {
    pmi_kv m;
    CHECK_EQ_INT(pmi_kv_init(&m, types[k]), 0);
    CHECK_EQ_INT(m.elem, pmls_dtype_size(types[k]));
    CHECK_EQ_INT(m.count, 0);
    CHECK(pmi_kv_find(&m, 0) == NULL);
    int32_t keys[1];
    int64_t vals[1];
    CHECK_EQ_INT(pmi_kv_export(&m, keys, vals, 1), 0);
    /* clearing a map that never held a key (no storage yet) */
    pmi_kv_clear(&m);
    CHECK_EQ_INT(m.count, 0);
    void *slot = pmi_kv_slot(&m, 7);
    CHECK(slot != NULL);
    CHECK(pmi_is_zero(types[k], slot, 0)); /* new slots are zero */
    CHECK(pmi_kv_find(&m, 7) == slot);
    pmi_kv_free(&m);
  }
}

/* Slots accumulate per key, whatever the type; export is in key order. */
static void t_kv_accumulate_types(void) {
  static const struct { int32_t key; double delta; } incs[] = {
      {5, 1}, {INT32_MAX, 2}, {0, 3}, {5, 4}, {1000000, -5}, {0, 6}, {5, 0.75}};
  static const struct { int32_t key; double f, i; } want[] = {
      {0, 9, 9}, {5, 5.75, 6}, {1000000, -5, -5}, {INT32_MAX, 2, 2}};
  static const pmls_dtype types[] = {PMLS_F64, PMLS_F32, PMLS_I32, PMLS_I64};
  for (size_t k = 0; k < 4; k++) {
    pmls_dtype t = types[k];
    int isint = t == PMLS_I32 || t == PMLS_I64;
    pmi_kv m;
    pmi_kv_init(&m, t);
    for (size_t i = 0; i < sizeof incs / sizeof incs[0]; i++) {
      void *slot = pmi_kv_slot(&m, incs[i].key);
      CHECK(slot != NULL);
      pmi_add_at(t, slot, 0, incs[i].delta); /* 0.75 rounds to 1 for ints */
    }
    CHECK_EQ_INT(m.count, 4);
    int32_t keys[8];
    int64_t vals[8];
    CHECK_EQ_INT(pmi_kv_export(&m, keys, vals, 8), 4);
    for (int i = 0; i < 4; i++) {
      CHECK_EQ_INT(keys[i], want[i].key);
      CHECK_EQ_DBL(pmi_get_at(t, vals, i), isint ? want[i].i : want[i].f);
      CHECK_EQ_DBL(pmi_get_at(t, pmi_kv_find(&m, want[i].key), 0),
                   isint ? want[i].i : want[i].f);
    }
    CHECK(pmi_kv_find(&m, 6) == NULL);
    pmi_kv_free(&m);
  }
}

/* The reference for the sparse row: a value and a presence flag per key of
 * a small key space, plus a few huge keys. */
enum { KEYSPACE = 2048, NHUGE = 4 };
static const int32_t HUGE_KEYS[NHUGE] = {INT32_MAX, INT32_MAX - 1, 1 << 30,
                                         123456789};

static int32_t key_at(int idx) {
  return idx < KEYSPACE ? idx : HUGE_KEYS[idx - KEYSPACE];
}

typedef struct {
  int64_t val[KEYSPACE + NHUGE];
  unsigned char present[KEYSPACE + NHUGE];
  int count;
} ref_kv;

/* Checks an export of at most cap pairs against the reference: the first
 * min(cap, count) keys in ascending order with their values. */
static void check_export(const pmi_kv *m, const ref_kv *r, int64_t cap) {
  static int32_t keys[KEYSPACE + NHUGE + 2];
  static int64_t vals[KEYSPACE + NHUGE + 2];
  keys[cap] = -7; /* a sentinel past the capacity */
  int64_t n = pmi_kv_export(m, keys, vals, cap);
  int64_t want_n = r->count < cap ? r->count : cap;
  CHECK_EQ_INT(n, want_n);
  CHECK_EQ_INT(keys[cap], -7); /* nothing written past cap */
  /* expected order: ascending key; HUGE keys sort after the key space */
  static int order[KEYSPACE + NHUGE];
  int no = 0;
  for (int i = 0; i < KEYSPACE; i++)
    if (r->present[i]) order[no++] = i;
  int huge_sorted[NHUGE] = {KEYSPACE + 3, KEYSPACE + 2, KEYSPACE + 1,
                            KEYSPACE + 0}; /* 123456789 < 2^30 < MAX-1 < MAX */
  for (int h = 0; h < NHUGE; h++)
    if (r->present[huge_sorted[h]]) order[no++] = huge_sorted[h];
  CHECK_EQ_INT(no, r->count);
  for (int64_t i = 0; i < n; i++) {
    CHECK_EQ_INT(keys[i], key_at(order[i]));
    CHECK_EQ_INT(vals[i], r->val[order[i]]);
  }
}

static void t_kv_random_vs_reference(void) {
  static ref_kv ref;
  memset(&ref, 0, sizeof ref);
  pmi_kv m;
  pmi_kv_init(&m, PMLS_I64);
  pmi_rng rng = {777};
  for (int step = 0; step < 30000; step++) {
    uint64_t op = pmi_rng_next(&rng) % 1000;
    int idx = pmi_rng_next(&rng) % 16 == 0
                  ? KEYSPACE + (int)(pmi_rng_next(&rng) % NHUGE)
                  : (int)(pmi_rng_next(&rng) % KEYSPACE);
    int32_t key = key_at(idx);
    if (op < 600) { /* accumulate into a slot */
      int64_t delta = (int64_t)(pmi_rng_next(&rng) % 2001) - 1000;
      int64_t *slot = pmi_kv_slot(&m, key);
      CHECK(slot != NULL);
      *slot += delta;
      if (!ref.present[idx]) ref.count++;
      ref.present[idx] = 1;
      ref.val[idx] += delta;
    } else if (op < 990) { /* find */
      const int64_t *p = pmi_kv_find(&m, key);
      CHECK_EQ_INT(p != NULL, ref.present[idx]);
      if (p) CHECK_EQ_INT(*p, ref.val[idx]);
    } else if (op < 998) { /* export, with a capacity below the count too */
      int64_t cap = (int64_t)(pmi_rng_next(&rng) % (uint64_t)(ref.count + 2));
      check_export(&m, &ref, cap);
      if (th_failed()) return;
    } else { /* clear */
      pmi_kv_clear(&m);
      memset(&ref, 0, sizeof ref);
      for (int i = 0; i < KEYSPACE + NHUGE; i += 31)
        CHECK(pmi_kv_find(&m, key_at(i)) == NULL);
    }
    CHECK_EQ_INT(m.count, ref.count);
    CHECK(m.count * 4 <= m.cap * 3 || m.cap == 0);
  }
  check_export(&m, &ref, KEYSPACE + NHUGE);
  pmi_kv_free(&m);
}

/* After clear, re-used slots start from zero, not from the old values. */
static void t_kv_clear_zeroes_values(void) {
  pmi_kv m;
  pmi_kv_init(&m, PMLS_F64);
  for (int32_t k = 0; k < 100; k++) *(double *)pmi_kv_slot(&m, k) = k + 0.5;
  pmi_kv_clear(&m);
  CHECK_EQ_INT(m.count, 0);
  for (int32_t k = 0; k < 100; k++) {
    CHECK(pmi_kv_find(&m, k) == NULL);
    double *p = pmi_kv_slot(&m, k);
    CHECK_EQ_DBL(*p, 0);
  }
  int32_t keys[3];
  double vals[3];
  CHECK_EQ_INT(pmi_kv_export(&m, keys, vals, 3), 3);
  CHECK_EQ_INT(keys[2], 2);
  CHECK_EQ_DBL(vals[2], 0);
  CHECK_EQ_INT(pmi_kv_export(&m, keys, vals, 0), 0);
  pmi_kv_free(&m);
}

static const th_case cases[] = {
    {"direct row map: the same answers as the hashed one and the reference", t_rowmap_direct_vs_reference},
    {"direct row map: which maps go direct", t_rowmap_direct_policy},
    {"rowmap: empty map", t_rowmap_empty},
    {"rowmap: negative, huge and boundary ids", t_rowmap_special_keys},
    {"rowmap: growth to 20000 ids, clear keeps storage", t_rowmap_growth},
    {"rowmap: 40000 random ops match a reference", t_rowmap_random_vs_reference},
    {"rowmap: slot on runs, strides and random ids matches a reference", t_rowmap_slot_vs_reference},
    {"kv: empty map (find, export, clear, first slot)", t_kv_empty},
    {"kv: slots accumulate for every dtype, export in key order", t_kv_accumulate_types},
    {"kv: 30000 random ops match a reference (find, export, cap, clear)", t_kv_random_vs_reference},
    {"kv: clear zeroes the values of re-used slots", t_kv_clear_zeroes_values},
};

TH_MAIN(cases)
