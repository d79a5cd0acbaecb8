# bench/lasso_glmnet.R: glmnet's fit time and objective for one Lasso problem,
# the reference bench/lasso_glmnet.lua measures models/lasso.lua against.
#   Rscript bench/lasso_glmnet.R X Y|- ALPHA|ratio:R INTERCEPT(0|1) REPEATS
# X is libsvm (labels in it, Y = -) or Matrix Market (y in Matrix Market Y);
# either may be gzip-compressed. Prints one line of JSON: the fit times
# (glmnet() alone, as BASELINES.md measures it), objective and nnz, and the
# script's own phases: load_s (library()), read_s (file to sparse matrix)
# and job_s (from the script's first line to the end of the first fit: the
# in-process end-to-end, without the interpreter's start-up).
t0 <- proc.time()[["elapsed"]] # job_s counts from here, before the libraries load
suppressMessages({ library(Matrix); library(glmnet) })
load_s <- proc.time()[["elapsed"]] - t0
a <- commandArgs(trailingOnly = TRUE)
# The whole file as bytes (memDecompress is faster than a gzfile connection),
# ':' blanked so that one scan() parses every number in C; each line's ':'
# count is its row's number of features. Gives the same matrix as splitting
# lines into tokens in R, in a fraction of the time.
read_libsvm <- function(f) {
  b <- readBin(f, "raw", file.size(f))
  if (grepl("\\.gz$", f)) b <- memDecompress(b, "gzip")
  nl <- grepRaw("\n", b, fixed = TRUE, all = TRUE)
  if (!length(nl) || nl[length(nl)] != length(b)) nl <- c(nl, length(b) + 1L) # last line unterminated
  colon <- grepRaw(":", b, fixed = TRUE, all = TRUE)
  counts <- tabulate(findInterval(colon, nl) + 1L, length(nl))
  b[colon] <- as.raw(32L)
  # n: the count is known, so scan() allocates once instead of growing
  con <- rawConnection(b); num <- scan(con, n = length(nl) + 2L * length(colon), quiet = TRUE); close(con)
  # label, then index value pairs: a blank line would shift every row after it
  if (length(num) != length(nl) + 2L * length(colon)) stop(f, ": blank or malformed line")
  i <- rep.int(seq_along(nl), counts)
  at <- 2L * seq_along(i) - 1L + i # the k-th pair's index: after k - 1 pairs and i labels
  j <- as.integer(num[at])
  X <- sparseMatrix(i = i, j = j, x = num[at + 1L], dims = c(length(nl), max(j)))
  list(X = X, y = num[cumsum(c(1L, 1L + 2L * counts[-length(counts)]))]) # each row's first number
}
read_mm <- function(f) {
  con <- if (grepl("\\.gz$", f)) gzfile(f, "r") else file(f, "r")
  on.exit(close(con)) # else R warns when it collects the connection
  readMM(con)
}
t1 <- proc.time()[["elapsed"]]
if (a[2] == "-") { d <- read_libsvm(a[1]); X <- d$X; y <- d$y } else {
  X <- as(read_mm(a[1]), "CsparseMatrix"); y <- as.numeric(as.matrix(read_mm(a[2])))
}
read_s <- proc.time()[["elapsed"]] - t1
intercept <- a[4] == "1"
n <- nrow(X)
yc <- if (intercept) y - mean(y) else y
alpha <- if (startsWith(a[3], "ratio:")) {
  as.numeric(sub("ratio:", "", a[3])) * max(abs(as.numeric(crossprod(X, yc)))) / n
} else as.numeric(a[3])
repeats <- as.integer(a[5])
times <- c()
for (rep in seq_len(repeats)) {
  # The full collection before each timed fit only steadies repeated fits;
  # a single fit (the whole-job measure) runs as a plain script would.
  t <- system.time(f <- glmnet(X, y, family = "gaussian", lambda = alpha, standardize = FALSE,
                               intercept = intercept, thresh = 1e-12, maxit = 1e6),
                   gcFirst = repeats > 1)["elapsed"]
  times <- c(times, t)
  if (rep == 1) job_s <- proc.time()[["elapsed"]] - t0
}
w <- as.numeric(coef(f))
r <- y - as.numeric(X %*% w[-1]) - w[1]
obj <- sum(r^2) / (2 * n) + alpha * sum(abs(w[-1]))
cat(sprintf('{"times":[%s],"objective":%.12g,"nnz":%d,"alpha":%.12g,"passes":%d,"load_s":%.4f,"read_s":%.4f,"job_s":%.4f}\n',
            paste(sprintf("%.4f", times), collapse = ","), obj, sum(w[-1] != 0), alpha, f$npasses,
            load_s, read_s, job_s))
