# bench/block_straggler.gp: training RMSE against time for block-scheduled
# MF-SGD, agnostic rounds against the barrier, at F = 1 and the largest slow
# factor, from the files bench/block_straggler_report.lua writes. Called by
# bench/block_straggler.sh as
#   gnuplot -e "dir='build/bench'; out='docs/block_straggler.svg'" bench/block_straggler.gp
if (!exists("dir")) dir = "build/bench"
if (!exists("out")) out = "docs/block_straggler.svg"
load dir . "/block_straggler-plot.gp"   # sets target, fmax, curves, titles

set terminal svg size 900,520 font "sans,12" noenhanced background rgb "white"
set output out
set title sprintf("Block-scheduled MF-SGD (models/mf_block.lua) on MovieLens-100K, 2 workers\nworker 1 slowed by F (F = 1 and F = %s): agnostic rounds vs barrier", fmax)
set xlabel "time (s)"
set ylabel "training RMSE over the last epoch"
set xrange [0:*]
set key top right
set grid
set style line 100 lc rgb "#888888" dt 2 lw 1
set arrow from graph 0, first target to graph 1, first target nohead ls 100
set label sprintf("target %.3f", target) at graph 0.01, first target offset 0,0.6 tc rgb "#666666"
# curves: agnostic F=1, barrier F=1, agnostic F=max, barrier F=max;
# agnostic solid, barrier dashed; F=1 blue, F=max red
set linetype 1 lc rgb "#1f77b4" lw 2 dt 1
set linetype 2 lc rgb "#1f77b4" lw 2 dt 2
set linetype 3 lc rgb "#d62728" lw 2 dt 1
set linetype 4 lc rgb "#d62728" lw 2 dt 2
plot for [i=1:words(curves)] sprintf("%s/block_straggler-%s.dat", dir, word(curves, i)) \
     using 1:2 with lines lt i title word(titles, i)
