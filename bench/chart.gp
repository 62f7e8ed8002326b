# written by bench/run: gnuplot chart.gp -> chart.png
set terminal pngcairo size 1200,460 font "DejaVu Sans,10"
set output '/work/main/bench/chart.png'
set multiplot layout 1,2 title "notifyd vs nchan on 2 cores, 19,000 connections (2026-12-04 00:44 UTC)"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set yrange [0:*]
set xtics nomirror
set title "broadcast: peak deliveries/s"
plot '/work/main/bench/chart.dat' using 2:xtic(1) notitle lc rgb "#3070b0", '' using 0:2:(sprintf("%.0f",$2)) with labels offset 0,0.7 notitle
set title "idle memory per connection (KB RSS, all server processes)"
plot '/work/main/bench/chart.dat' every ::0::2 using 3:xtic(1) notitle lc rgb "#b05030", '' every ::0::2 using 0:3:(sprintf("%.2f",$3)) with labels offset 0,0.7 notitle
unset multiplot
