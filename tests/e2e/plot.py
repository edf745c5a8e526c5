#!/usr/bin/env python3
"""The e2e timeline as a PNG (gnuplot): blocks (outstanding per Prometheus, live, per
level; log scale) above, replicas (the scaler's spec.replicas, the kubelet's ready)
below, with the scenario's steps as numbered vertical lines listed on the right.

test_e2e.py calls write(); `plot.py DIR OUT` re-draws from the timeline.dat and
timeline.marks that write() left in a run's work dir (TC_E2E_KEEP=1)."""
import os
import subprocess
import sys


def write(rows, marks, path, work, maxr):
    """rows: dicts t, replicas, ready, outstanding (None if unknown), live, levels
    {level: n}; marks: (t, what). Returns (ok, gnuplot's stderr)."""
    levels = sorted({k for r in rows for k in r["levels"]})
    dat = os.path.join(work, "timeline.dat")
    with open(dat, "w") as f:
        f.write("# t replicas ready outstanding live %s\n" % " ".join("L%d" % k for k in levels))
        for r in rows:
            f.write("%.1f %d %d %s %d %s\n" % (
                r["t"], r["replicas"], r["ready"],
                "NaN" if r["outstanding"] is None else "%d" % r["outstanding"], r["live"],
                " ".join(str(r["levels"].get(k, 0)) for k in levels)))
    with open(os.path.join(work, "timeline.marks"), "w") as f:
        for tm, what in marks:
            f.write("%.1f %s\n" % (tm, what))
    return _gnuplot(dat, levels, marks, path, maxr)


def _gnuplot(dat, levels, marks, path, maxr):
    gp = ["set terminal pngcairo size 1400,760 font ',10'",
          "set output '%s'" % path,
          "set multiplot layout 2,1 title 'tempo-compactor e2e: helm + controller + kubelet + "
          "KEDA-style scaler + Prometheus behind a tenant gateway + Ceph RGW'",
          "set lmargin at screen 0.06", "set rmargin at screen 0.68",
          "set grid", "set key outside right top", "set xlabel 'seconds since start'"]
    for tm, _ in marks:
        gp.append("set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 3 lc 'gray50'"
                  % (tm, tm))
    gp += ["set ylabel 'blocks'", "set logscale y", "set yrange [0.8:*]"]
    cols = ["'%s' using 1:4 with lines lw 2 lc 'purple' title 'outstanding (Prometheus)'" % dat,
            "'' using 1:5 with lines lw 3 lc 'dark-green' title 'live blocks (bucket)'"]
    for i, lv in enumerate(levels):
        cols.append("'' using 1:($%d > 0 ? $%d : NaN) with lines title 'live at level %d'"
                    % (6 + i, 6 + i, lv))
    gp.append("plot " + ", ".join(cols))
    gp += ["unset logscale y", "set yrange [0:%d]" % (maxr + 1), "set ylabel 'replicas'",
           "set ytics 1"]
    # step numbers above each line, alternating height where steps are close
    last, up = -1e9, False
    for n, (tm, _) in enumerate(marks):
        up = (not up) if tm - last < 8 else False
        last = tm
        gp.append("set label %d '%d' at %.1f, graph %.2f center font ',9' tc 'gray30'"
                  % (n + 1, n + 1, tm, 1.03 if not up else 1.08))
    listing = "\\n".join("%d  %.0f s  %s" % (n + 1, tm, what.replace('"', ""))
                         for n, (tm, what) in enumerate(marks))
    gp.append('set label 100 "steps:\\n%s" at screen 0.70, screen 0.40 left font \',9\''
              % listing)
    gp.append("plot '%s' using 1:2 with steps lw 3 lc 'blue' title 'spec.replicas (scaler)', "
              "'' using 1:3 with steps lw 1 lc 'orange' title 'ready (kubelet)'" % dat)
    gp.append("unset multiplot")
    p = subprocess.run(["gnuplot"], input="\n".join(gp), capture_output=True, text=True,
                       timeout=60)
    return p.returncode == 0 and os.path.exists(path), p.stderr


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: plot.py WORKDIR OUT.png [MAXR]")
    work, out = argv[1], argv[2]
    dat = os.path.join(work, "timeline.dat")
    with open(dat) as f:
        head = f.readline().split()
    levels = [int(c[1:]) for c in head[6:]]
    marks = []
    with open(os.path.join(work, "timeline.marks")) as f:
        for line in f:
            tm, what = line.rstrip("\n").split(" ", 1)
            marks.append((float(tm), what))
    ok, err = _gnuplot(dat, levels, marks, out, int(argv[3]) if len(argv) > 3 else 4)
    if not ok:
        sys.exit(err)


if __name__ == "__main__":
    main(sys.argv)
