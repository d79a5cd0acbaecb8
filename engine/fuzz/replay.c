/* replay.c -- a plain main() for the fuzz harnesses: runs
 * LLVMFuzzerTestOneInput on every file named (a directory: on each file in
 * it), so the corpora are replayed under gcc's ASan and UBSan on a machine
 * without libFuzzer (make test does it on every machine). Prints how many
 * inputs it ran; a harness that finds a bug aborts, and the exit status
 * says so. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static long inputs;

static void run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  /* A copy of exactly n bytes, so ASan sees a read past the input. */
  uint8_t *exact = malloc(n ? n : 1);
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  inputs++;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    run_file(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d) {
    perror(path);
    exit(2);
  }
  char **names = NULL;
  size_t n = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (de->d_name[0] == '.') continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n] = malloc(strlen(path) + strlen(de->d_name) + 2);
    sprintf(names[n++], "%s/%s", path, de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name); /* the same order every time */
  for (size_t i = 0; i < n; i++) {
    run_path(names[i]);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) run_path(argv[i]);
  printf("replayed %ld inputs\n", inputs);
  return 0;
}
