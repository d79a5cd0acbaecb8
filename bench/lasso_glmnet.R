# bench/lasso_glmnet.R: glmnet's fit time and objective for one Lasso problem,
# the reference bench/lasso_glmnet.sh measures models/lasso.lua against.
#   Rscript bench/lasso_glmnet.R X Y|- ALPHA|ratio:R INTERCEPT(0|1) REPEATS
# X is libsvm (labels in it, Y = -) or Matrix Market (y in Matrix Market Y);
# either may be gzip-compressed. Prints one line of JSON: the fit times
# (glmnet() alone, as BASELINES.md measures it), objective and nnz.
suppressMessages({ library(Matrix); library(glmnet) })
a <- commandArgs(trailingOnly = TRUE)
open_text <- function(f) if (grepl("\\.gz$", f)) gzfile(f, "r") else file(f, "r")
read_libsvm <- function(f) {
  con <- open_text(f); lines <- readLines(con); close(con)
  parts <- strsplit(trimws(lines), "[ \t]+")
  y <- as.numeric(vapply(parts, `[`, "", 1))
  feats <- lapply(parts, function(p) p[-1])
  counts <- lengths(feats)
  kv <- strsplit(unlist(feats), ":", fixed = TRUE)
  j <- as.integer(vapply(kv, `[`, "", 1)); v <- as.numeric(vapply(kv, `[`, "", 2))
  X <- sparseMatrix(i = rep(seq_along(lines), counts), j = j, x = v, dims = c(length(lines), max(j)))
  list(X = X, y = y)
}
read_mm <- function(f) { con <- open_text(f); m <- readMM(con); m }
if (a[2] == "-") { d <- read_libsvm(a[1]); X <- d$X; y <- d$y } else {
  X <- as(read_mm(a[1]), "CsparseMatrix"); y <- as.numeric(as.matrix(read_mm(a[2])))
}
intercept <- a[4] == "1"
n <- nrow(X)
yc <- if (intercept) y - mean(y) else y
alpha <- if (startsWith(a[3], "ratio:")) {
  as.numeric(sub("ratio:", "", a[3])) * max(abs(as.numeric(crossprod(X, yc)))) / n
} else as.numeric(a[3])
times <- c()
for (rep in seq_len(as.integer(a[5]))) {
  t <- system.time(f <- glmnet(X, y, family = "gaussian", lambda = alpha, standardize = FALSE,
                               intercept = intercept, thresh = 1e-12, maxit = 1e6))["elapsed"]
  times <- c(times, t)
}
w <- as.numeric(coef(f))
r <- y - as.numeric(X %*% w[-1]) - w[1]
obj <- sum(r^2) / (2 * n) + alpha * sum(abs(w[-1]))
cat(sprintf('{"times":[%s],"objective":%.12g,"nnz":%d,"alpha":%.12g,"passes":%d}\n',
            paste(sprintf("%.4f", times), collapse = ","), obj, sum(w[-1] != 0), alpha, f$npasses))
