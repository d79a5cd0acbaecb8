# scikit-learn's reference for bench/mlr.sh: LogisticRegression(C=1, lbfgs)
# (multinomial for more than two classes), as BASELINES.md's 68.8 % on the
# 20-class 20news set. Prints "fit_s accuracy log_loss n_iter fit_cpu_s"
# for TRAIN TEST (libsvm files; the fit's wall and CPU seconds exclude
# reading them).
import sys, time
from sklearn.datasets import load_svmlight_file
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
X, y = load_svmlight_file(sys.argv[1])
Xt, yt = load_svmlight_file(sys.argv[2], n_features=X.shape[1])
t, c = time.perf_counter(), time.process_time()
m = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(X, y)
fit, cpu = time.perf_counter() - t, time.process_time() - c
print(f"{fit:.3f} {(m.predict(Xt) == yt).mean():.6f} {log_loss(yt, m.predict_proba(Xt)):.6f} {int(m.n_iter_[0])} {cpu:.3f}")
