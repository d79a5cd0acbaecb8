/* bench_corpus.c -- the corpus readers (engine/src/data/corpus.c) against a
 * plain C strtol loop over the same file.
 *
 * What it measures: the time pmls_corpus_read_docword / _ldac take to turn
 * a file into the engine's arrays, as MB of (inflated) text per second, and
 * the same for the loop any C programmer would write first: getline (gzgets
 * for a .gz file), strtol per number, the numbers appended to growing
 * arrays, no check beyond what strtol does. Both build the same arrays
 * (word and count per entry, an offset per document), and their entry and
 * token counts are compared, so neither side skips work. The ratio is the
 * reader's MB/s over the loop's, median over repeats, the two interleaved
 * (alternating which goes first); target >= 1. The absolute
 * target, 150 MB/s of plain text per core, is judged on MB per CPU second
 * of the process (the reader inflates or reads ahead on a thread of its
 * own, so per CPU second counts both threads; wall-clock MB/s is reported
 * beside it).
 *
 * Files: a generated UCI docword file of about 100 MB (fixed seed, sorted
 * as UCI writes them, written under $PMLS_BENCH_OUT and removed at the
 * end), 20news's docword.20news.txt.gz as staged and inflated into a plain
 * copy there, and AP's ap.dat (LDA-C), which bench/run.sh extracts from
 * ap-blei.tar.xz into build/data. The staged files are skipped with a
 * message when $PMLS_DATA (default ../shared/data) lacks them.
 *
 * Usage: bench_corpus [AP_DIR]. PMLS_BENCH_READER_REPEATS (default 3). */
#include <time.h>
#include <zlib.h>

#include "common.h"

#define TARGET_MBPS 150.0
enum { MAXR = 101 };

typedef struct {
  int64_t docs, nnz, tokens;
} counts;

/* ---- the reference: getline / gzgets and strtol ---------------------------- */

typedef struct {
  FILE *f;
  gzFile g;
  char *buf;
  size_t cap;
} lines;

static int lines_open(lines *l, const char *path) {
  memset(l, 0, sizeof *l);
  size_t n = strlen(path);
  if (n > 3 && strcmp(path + n - 3, ".gz") == 0) {
    l->g = gzopen(path, "rb");
    l->cap = 1 << 22; /* longer lines would be split: none in these files */
    l->buf = malloc(l->cap);
    return l->g && l->buf ? 0 : -1;
  }
  l->f = fopen(path, "rb");
  return l->f ? 0 : -1;
}

static char *lines_next(lines *l) {
  if (l->g) return gzgets(l->g, l->buf, (int)l->cap);
  return getline(&l->buf, &l->cap, l->f) >= 0 ? l->buf : NULL;
}

static void lines_close(lines *l) {
  if (l->g) gzclose(l->g);
  if (l->f) fclose(l->f);
  free(l->buf);
}

typedef struct {
  int32_t *word, *count;
  int64_t *docptr;
  int64_t nnz, cap, docs, doc_cap;
} arrays;

static void push(arrays *a, long w, long c) {
  if (a->nnz == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 65536;
    a->word = realloc(a->word, (size_t)a->cap * sizeof *a->word);
    a->count = realloc(a->count, (size_t)a->cap * sizeof *a->count);
    if (!a->word || !a->count) bench_die("out of memory");
  }
  a->word[a->nnz] = (int32_t)w;
  a->count[a->nnz++] = (int32_t)c;
}

static void new_doc(arrays *a, int64_t upto) { /* documents up to upto */
  while (a->docs < upto) {
    if (a->docs + 2 > a->doc_cap) {
      int first = a->doc_cap == 0;
      a->doc_cap = first ? 4096 : 2 * a->doc_cap;
      a->docptr = realloc(a->docptr, (size_t)a->doc_cap * sizeof *a->docptr);
      if (!a->docptr) bench_die("out of memory");
      if (first) a->docptr[0] = 0;
    }
    a->docptr[++a->docs] = a->nnz;
  }
}

static counts finish(arrays *a) {
  counts k = {a->docs, a->nnz, 0};
  for (int64_t i = 0; i < a->nnz; i++) k.tokens += a->count[i];
  free(a->word);
  free(a->count);
  free(a->docptr);
  return k;
}

static counts strtol_docword(const char *path) {
  lines l;
  if (lines_open(&l, path)) bench_die("cannot open %s", path);
  arrays a = {0};
  long header[3];
  int got = 0;
  int64_t doc = 0;
  char *s;
  while (got < 3 && (s = lines_next(&l))) header[got++] = strtol(s, NULL, 10);
  while ((s = lines_next(&l))) {
    char *e;
    long d = strtol(s, &e, 10);
    if (e == s) continue;
    long w = strtol(e, &e, 10);
    long c = strtol(e, &e, 10);
    if (d != doc) new_doc(&a, (doc = d) - 1);
    push(&a, w - 1, c);
  }
  new_doc(&a, got == 3 ? header[0] : doc);
  lines_close(&l);
  return finish(&a);
}

static counts strtol_ldac(const char *path) {
  lines l;
  if (lines_open(&l, path)) bench_die("cannot open %s", path);
  arrays a = {0};
  char *s;
  while ((s = lines_next(&l))) {
    char *e;
    long n = strtol(s, &e, 10);
    if (e == s) continue;
    for (long i = 0; i < n; i++) {
      long w = strtol(e, &e, 10);
      if (*e == ':') e++;
      push(&a, w, strtol(e, &e, 10));
    }
    new_doc(&a, a.docs + 1);
  }
  lines_close(&l);
  return finish(&a);
}

/* ---- the subject ------------------------------------------------------------ */

static counts pmls_read(const char *path, int docword) {
  pmls_corpus *c = NULL;
  char err[1024];
  int rc = docword ? pmls_corpus_read_docword(path, NULL, &c, err, sizeof err)
                   : pmls_corpus_read_ldac(path, NULL, &c, err, sizeof err);
  if (rc != PMLS_OK) bench_die("%s", err);
  counts k = {c->docs, c->nnz, c->tokens};
  pmls_corpus_free(c);
  return k;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- files ------------------------------------------------------------------ */

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The bytes of text in path (inflated when it is gzip); writes the text to
 * copy when not NULL. */
static double text_bytes(const char *path, const char *copy) {
  gzFile g = gzopen(path, "rb"); /* reads plain files as they are */
  FILE *out = copy ? fopen(copy, "wb") : NULL;
  if (!g || (copy && !out)) bench_die("cannot read %s", path);
  static char buf[1 << 16];
  double total = 0;
  int n;
  while ((n = gzread(g, buf, sizeof buf)) > 0) {
    total += n;
    if (out && fwrite(buf, 1, (size_t)n, out) != (size_t)n)
      bench_die("cannot write %s", copy);
  }
  gzclose(g);
  if (out && fclose(out) != 0) bench_die("cannot write %s", copy);
  return total;
}

/* A UCI docword file of about 100 MB: 300,000 documents over 100,000 words,
 * 1 to 45 distinct words each, counts mostly 1. */
static void generate_docword(const char *path) {
  enum { D = 300000, W = 100000 };
  uint64_t x = 20240601;
#define NEXT() (x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 33)
  FILE *f = fopen(path, "wb");
  if (!f) bench_die("cannot write %s", path);
  static char buf[1 << 20];
  setvbuf(f, buf, _IOFBF, sizeof buf);
  /* NNZ is known only at the end: the header is written with room for it. */
  fprintf(f, "%d\n%d\n%-12s\n", D, W, "");
  long nnz = 0;
  for (int d = 1; d <= D; d++) {
    int n = 1 + (int)(NEXT() % 45), w = 0;
    for (int i = 0; i < n; i++) {
      w += 1 + (int)(NEXT() % (2 * W / 46));
      if (w > W) break;
      int c = NEXT() % 4 ? 1 : 2 + (int)(NEXT() % 9);
      fprintf(f, "%d %d %d\n", d, w, c);
      nnz++;
    }
  }
#undef NEXT
  if (fseek(f, 0, SEEK_SET) != 0) bench_die("cannot write %s", path);
  fprintf(f, "%d\n%d\n%-12ld\n", D, W, nnz);
  if (fclose(f) != 0) bench_die("cannot write %s", path);
}

/* ---- one file ---------------------------------------------------------------- */

typedef struct {
  const char *name, *path;
  int docword, plain;
  double mb;
  double ratio, pmls_mbps, pmls_cpu_mbps, ref_mbps;
  double ratios[MAXR];
} result;

static void measure(result *r, int repeats) {
  double wall[MAXR], cpu[MAXR], ref[MAXR];
  counts a = pmls_read(r->path, r->docword); /* warm the page cache */
  for (int i = 0; i < repeats; i++) {
    for (int side = 0; side < 2; side++) {
      if ((side == 0) == (i % 2 == 0)) {
        double t0 = bench_now(), c0 = cpu_now();
        a = pmls_read(r->path, r->docword);
        wall[i] = bench_now() - t0;
        cpu[i] = cpu_now() - c0;
      } else {
        double t0 = bench_now();
        counts b = r->docword ? strtol_docword(r->path) : strtol_ldac(r->path);
        ref[i] = bench_now() - t0;
        if (b.docs != a.docs || b.nnz != a.nnz || b.tokens != a.tokens)
          bench_die("%s: the loop read %lld docs, %lld entries, %lld tokens; "
                    "the reader %lld, %lld, %lld", r->path, (long long)b.docs,
                    (long long)b.nnz, (long long)b.tokens, (long long)a.docs,
                    (long long)a.nnz, (long long)a.tokens);
      }
    }
    r->ratios[i] = ref[i] / wall[i];
  }
  r->ratio = bench_median(r->ratios, repeats);
  r->pmls_mbps = r->mb / bench_median(wall, repeats);
  r->pmls_cpu_mbps = r->mb / bench_median(cpu, repeats);
  r->ref_mbps = r->mb / bench_median(ref, repeats);
  printf("%-22s %7.1f MB  reader %6.1f MB/s (%6.1f per CPU s), strtol loop "
         "%6.1f MB/s: ratio %.2f\n", r->name, r->mb, r->pmls_mbps,
         r->pmls_cpu_mbps, r->ref_mbps, r->ratio);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int repeats = bench_env_int("PMLS_BENCH_READER_REPEATS", 3, 1, MAXR);
  const char *data = getenv("PMLS_DATA");
  if (!data || !*data) data = "../shared/data";
  char dir[600], gen[700], news_plain[700], news_gz[700], ap[700];
  snprintf(dir, sizeof dir, "%s/corpus", bench_out_dir());
  bench_mkdirs(dir);
  snprintf(gen, sizeof gen, "%s/docword.gen.txt", dir);
  snprintf(news_plain, sizeof news_plain, "%s/docword.20news.txt", dir);
  snprintf(news_gz, sizeof news_gz, "%s/docword.20news.txt.gz", data);
  snprintf(ap, sizeof ap, "%s/ap.dat", argc > 1 ? argv[1] : "build/data/ap");

  result rs[4];
  int n = 0;
  generate_docword(gen);
  rs[n++] = (result){.name = "docword 100MB", .path = gen, .docword = 1, .plain = 1,
                     .mb = text_bytes(gen, NULL) / 1e6};
  if (file_exists(news_gz)) {
    double bytes = text_bytes(news_gz, news_plain);
    rs[n++] = (result){.name = "docword 20news", .path = news_plain,
                       .docword = 1, .plain = 1, .mb = bytes / 1e6};
    rs[n++] = (result){.name = "docword 20news.gz", .path = news_gz,
                       .docword = 1, .mb = bytes / 1e6};
  } else {
    printf("skipping 20news: %s not found (set PMLS_DATA)\n", news_gz);
  }
  if (file_exists(ap))
    rs[n++] = (result){.name = "ldac AP", .path = ap, .plain = 1,
                       .mb = text_bytes(ap, NULL) / 1e6};
  else
    printf("skipping AP: %s not found (bench/run.sh extracts it)\n", ap);
  for (int i = 0; i < n; i++) measure(&rs[i], repeats);
  remove(gen);
  remove(news_plain);
  rmdir(dir);

  bench_json j;
  bj_open(&j, "corpus_readers");
  bj_str(&j, "name", "corpus_readers");
  bj_str(&j, "what", "pmls_corpus_read_docword/_ldac MB/s over a getline + "
                     "strtol loop on the same file");
  bj_str(&j, "op", ">=");
  bj_num(&j, "target", 1.0);
  bj_num(&j, "target_mb_per_cpu_s", TARGET_MBPS);
  bj_int(&j, "repeats", repeats);
  bj_begin(&j, "files", '[');
  for (int i = 0; i < n; i++) {
    result *r = &rs[i];
    char name[128], note[256];
    snprintf(name, sizeof name, "corpus %s", r->name);
    snprintf(note, sizeof note, "%.0f MB/s (%.0f per CPU s) reader, %.0f MB/s "
             "strtol loop, %.1f MB", r->pmls_mbps, r->pmls_cpu_mbps,
             r->ref_mbps, r->mb);
    bench_summary(name, r->ratio, ">=", 1.0, bench_verdict(r->ratio, ">=", 1.0),
                  note);
    if (r->plain) {
      snprintf(name, sizeof name, "corpus %s per core /%.0f", r->name,
               TARGET_MBPS);
      double per_core = r->pmls_cpu_mbps / TARGET_MBPS;
      snprintf(note, sizeof note, "%.0f MB per CPU s of plain text (target "
               "%.0f)", r->pmls_cpu_mbps, TARGET_MBPS);
      bench_summary(name, per_core, ">=", 1.0,
                    bench_verdict(per_core, ">=", 1.0), note);
    }
    bj_begin(&j, NULL, '{');
    bj_str(&j, "file", r->name);
    bj_num(&j, "mb", r->mb);
    bj_num(&j, "ratio", r->ratio);
    bj_str(&j, "status", bench_verdict(r->ratio, ">=", 1.0));
    bj_num(&j, "reader_mb_s", r->pmls_mbps);
    bj_num(&j, "reader_mb_per_cpu_s", r->pmls_cpu_mbps);
    bj_num(&j, "strtol_mb_s", r->ref_mbps);
    bj_nums(&j, "ratios", r->ratios, repeats);
    bj_end(&j, '}');
  }
  bj_end(&j, ']');
  bj_num(&j, "ratio", n ? rs[0].ratio : NAN);
  bj_close(&j);
  return 0;
}
