# bench/lasso_sched.gp: relative distance to the optimum against rounds, one
# panel per data set, one curve per scheduler x U (colour: U; dash:
# scheduler), from the files bench/lasso_sched_report.lua writes. Called by
# bench/lasso_sched.sh as
#   gnuplot -e "dir='build/bench'; out='docs/lasso_sched.svg'" bench/lasso_sched.gp
if (!exists("dir")) dir = "build/bench"
if (!exists("out")) out = "docs/lasso_sched.svg"
load dir . "/lasso_sched-plot.gp"   # sets eps, ndatasets, title_i, files_i, titles_i, dts_i, colors_i

if (ndatasets < 1) exit
set terminal svg size 960,(400 * ndatasets) font "sans,11" noenhanced background rgb "white"
set output out
set multiplot layout ndatasets,1 title "Lasso (--lambda-ratio 0.1, 2 workers): SAP (priority + dependency filter) against Shotgun (uniform), U coordinates per round"
set logscale xy
set format y "1e%T"
set xrange [1:*]
set yrange [1e-9:1e3]
set xlabel "round"
set ylabel "(objective - optimum) / optimum"
set key outside right top spacing 0.9
set grid
set style line 100 lc rgb "#888888" dt 2 lw 1
array pal[8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
do for [i=1:ndatasets] {
  files = value(sprintf("files_%d", i))
  titles = value(sprintf("titles_%d", i))
  dts = value(sprintf("dts_%d", i))
  colors = value(sprintf("colors_%d", i))
  set title value(sprintf("title_%d", i))
  unset arrow
  unset label
  set arrow from graph 0, first eps to graph 1, first eps nohead ls 100
  set label sprintf("target %g", eps) at graph 0.01, first eps offset 0,0.6 tc rgb "#666666"
  plot for [k=1:words(files)] sprintf("%s/%s", dir, word(files, k)) \
       using 1:2 with lines lw 1.6 dashtype int(word(dts, k)) \
       lc rgb (pal[(word(colors, k) + 0 - 1) % 8 + 1]) \
       title (word(titles, k))
}
unset multiplot
