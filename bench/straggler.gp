# bench/straggler.gp: objective against time, one curve per consistency
# model, from the files bench/straggler_report.lua writes. Called by
# bench/straggler.sh as
#   gnuplot -e "dir='build/bench'; out='docs/straggler.svg'; factor='2'; pprob='0.1'; pms='50'" bench/straggler.gp
if (!exists("dir")) dir = "build/bench"
if (!exists("out")) out = "docs/straggler.svg"
if (!exists("factor")) factor = "2"
if (!exists("pprob")) pprob = "0.1"
if (!exists("pms")) pms = "50"
load dir . "/straggler-plot.gp"   # sets target, models, titles

set terminal svg size 900,520 font "sans,12" noenhanced background rgb "white"
set output out
set title sprintf("MF-SGD on MovieLens-100K, 2 workers\nworker 1 computes %sx slower and pauses %s ms with probability %s per clock", factor, pms, pprob)
set xlabel "time (s)"
set ylabel "training RMSE over the last epoch"
set yrange [*:1.00]
set xrange [0:*]
set key top right
set grid
set style line 100 lc rgb "#888888" dt 2 lw 1
set arrow from graph 0, first target to graph 1, first target nohead ls 100
set label sprintf("target %.3f", target) at graph 0.01, first target offset 0,0.6 tc rgb "#666666"
plot for [i=1:words(models)] sprintf("%s/straggler-%s.dat", dir, word(models, i)) \
     using 1:2 with lines lw 2 title word(titles, i)
