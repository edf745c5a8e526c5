#!/usr/bin/env python3
"""The e2e timelines as one PNG (gnuplot): the KEDA-rules run and the builtin run
(autoscaling.mode builtin, no scaler process) on one time axis, each run's seconds counted
from the moment its backlog met the compactors (KEDA: helm install; builtin: the first
backlog uploaded again). Blocks (outstanding per Prometheus, live in the bucket, per level
for the KEDA run; log scale) above, replicas (spec.replicas, the kubelet's ready) below;
each run's steps are numbered vertical lines (K1.. gray, B1.. red) listed on the right.

test_e2e.py calls write(); `plot.py DIR OUT` re-draws from the timeline*.dat and
timeline*.marks that write() left in a run's work dir (TC_E2E_KEEP=1)."""
import os
import subprocess
import sys

ORIGIN = {"keda": "helm install", "builtin": "the first backlog again"}


def _dump(rows, marks, work, name):
    levels = sorted({k for r in rows for k in r["levels"]})
    dat = os.path.join(work, "%s.dat" % name)
    with open(dat, "w") as f:
        f.write("# t replicas ready outstanding live %s\n" % " ".join("L%d" % k for k in levels))
        for r in rows:
            f.write("%.1f %d %d %s %d %s\n" % (
                r["t"], r["replicas"], r["ready"],
                "NaN" if r["outstanding"] is None else "%d" % r["outstanding"], r["live"],
                " ".join(str(r["levels"].get(k, 0)) for k in levels)))
    with open(os.path.join(work, "%s.marks" % name), "w") as f:
        for tm, what in marks:
            f.write("%.1f %s\n" % (tm, what))
    return dat, levels


def write(rows, marks, path, work, maxr, brows, bmarks):
    """rows/brows: the KEDA and builtin runs' dicts t, replicas, ready, outstanding (None if
    unknown), live, levels {level: n}; marks/bmarks: (t, what). Returns (ok, gnuplot's
    stderr)."""
    dat, levels = _dump(rows, marks, work, "timeline")
    bdat, _ = _dump(brows, bmarks, work, "timeline-builtin")
    return _gnuplot(dat, levels, marks, bdat, bmarks, path, maxr)


def _origin(marks, what):
    for tm, w in marks:
        if w.startswith(what):
            return tm
    return 0.0


def _gnuplot(dat, levels, marks, bdat, bmarks, path, maxr):
    k0, b0 = _origin(marks, ORIGIN["keda"]), _origin(bmarks, ORIGIN["builtin"])
    km = [(tm - k0, "K%d" % (n + 1), w) for n, (tm, w) in enumerate(marks)]
    bm = [(tm - b0, "B%d" % (n + 1), w) for n, (tm, w) in enumerate(bmarks)]
    gp = ["set terminal pngcairo size 1400,820 font ',10'",
          "set output '%s'" % path,
          "set multiplot layout 2,1 title 'tempo-compactor e2e: helm + controller + kubelet + "
          "Prometheus behind a tenant gateway + Ceph RGW; KEDA-rules scaler vs "
          "autoscaling.mode builtin (no scaler)'",
          "set lmargin at screen 0.06", "set rmargin at screen 0.66",
          "set grid", "set key outside right top"]
    for tm, _, _ in km:
        gp.append("set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 3 lc 'gray50'"
                  % (tm, tm))
    for tm, _, _ in bm:
        gp.append("set arrow from %.1f, graph 0 to %.1f, graph 1 nohead dt 2 lc 'red'"
                  % (tm, tm))
    gp += ["set ylabel 'blocks'", "set logscale y", "set yrange [0.8:*]"]
    cols = ["'%s' using ($1-%.1f):4 with lines lw 2 lc 'purple' title 'KEDA: outstanding "
            "(Prometheus)'" % (dat, k0),
            "'' using ($1-%.1f):5 with lines lw 3 lc 'dark-green' title 'KEDA: live blocks "
            "(bucket)'" % k0]
    for i, lv in enumerate(levels):
        cols.append("'' using ($1-%.1f):($%d > 0 ? $%d : NaN) with lines title "
                    "'KEDA: live at level %d'" % (k0, 6 + i, 6 + i, lv))
    cols += ["'%s' using ($1-%.1f):4 with lines lw 2 dt 2 lc 'red' title 'builtin: "
             "outstanding (Prometheus)'" % (bdat, b0),
             "'' using ($1-%.1f):5 with lines lw 2 dt 2 lc 'olive' title 'builtin: live "
             "blocks (bucket)'" % b0]
    gp.append("plot " + ", ".join(cols))
    gp += ["unset logscale y", "set yrange [0:%d]" % (maxr + 1), "set ylabel 'replicas'",
           "set ytics 1", "set xlabel 'seconds since the backlog met the compactors (KEDA: "
           "helm install; builtin: the backlog uploaded again)'"]
    # step names above each line, alternating height where steps are close
    last, up, n = -1e9, False, 0
    for tm, tag, _ in sorted(km + bm):
        up = (not up) if tm - last < 10 else False
        last = tm
        n += 1
        gp.append("set label %d '%s' at %.1f, graph %.2f center font ',8' tc '%s'"
                  % (n, tag, tm, 1.03 if not up else 1.08,
                     "red" if tag[0] == "B" else "gray30"))
    listing = "\\n".join("%s  %.0f s  %s" % (tag, tm, w.replace('"', "").replace("'", ""))
                         for tm, tag, w in km + bm)
    gp.append('set label 1000 "steps (s on the common axis):\\n%s" at screen 0.68, '
              'screen 0.46 left font \',8\'' % listing)
    gp.append("plot '%s' using ($1-%.1f):2 with steps lw 3 lc 'blue' title 'KEDA: "
              "spec.replicas (scaler)', '' using ($1-%.1f):3 with steps lw 1 lc 'orange' "
              "title 'KEDA: ready (kubelet)', '%s' using ($1-%.1f):2 with steps lw 3 dt 2 "
              "lc 'red' title 'builtin: spec.replicas (controller)', '' using ($1-%.1f):3 "
              "with steps lw 1 dt 2 lc 'brown' title 'builtin: ready (kubelet)'"
              % (dat, k0, k0, bdat, b0, b0))
    gp.append("unset multiplot")
    p = subprocess.run(["gnuplot"], input="\n".join(gp), capture_output=True, text=True,
                       timeout=60)
    return p.returncode == 0 and os.path.exists(path), p.stderr


def _read(work, name):
    with open(os.path.join(work, "%s.dat" % name)) as f:
        head = f.readline().split()
    marks = []
    with open(os.path.join(work, "%s.marks" % name)) as f:
        for line in f:
            tm, what = line.rstrip("\n").split(" ", 1)
            marks.append((float(tm), what))
    return os.path.join(work, "%s.dat" % name), [int(c[1:]) for c in head[6:]], marks


def main(argv):
    if len(argv) < 3:
        sys.exit("usage: plot.py WORKDIR OUT.png [MAXR]")
    work, out = argv[1], argv[2]
    dat, levels, marks = _read(work, "timeline")
    bdat, _, bmarks = _read(work, "timeline-builtin")
    ok, err = _gnuplot(dat, levels, marks, bdat, bmarks, out,
                       int(argv[3]) if len(argv) > 3 else 4)
    if not ok:
        sys.exit(err)


if __name__ == "__main__":
    main(sys.argv)
