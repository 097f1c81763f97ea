# Checks an ASCII STL as OpenSCAD exported it, before any repair:
#   - closed: every edge is shared by exactly two facets;
#   - oriented: each directed edge occurs once (its two facets run it in opposite
#     directions), so no facet is flipped;
#   - no degenerate facet (two corners the same point);
#   - facing out: the enclosed volume (signed, from the facets) is positive.
# Vertices are compared as the exact text OpenSCAD wrote, which is how it shares them.
# Prints one line: facets, edges, the bounding box and its size; exits 1 with the reason
# when a check fails. Usage: awk -f check-stl.awk part.stl
# With -v volume=1 it only prints the enclosed volume in mm3 (for overlaps, which may be
# flat where two parts merely touch).
BEGIN { n = 0; facets = 0; bad = 0 }
$1 == "vertex" {
    x[n] = $2 + 0; y[n] = $3 + 0; z[n] = $4 + 0
    v[n++] = $2 " " $3 " " $4
    for (i = 2; i <= 4; i++) {
        c = $i + 0
        if (!(i in lo) || c < lo[i]) lo[i] = c
        if (!(i in hi) || c > hi[i]) hi[i] = c
    }
    next
}
$1 == "endloop" {
    if (n != 3) { printf "facet %d has %d corners\n", facets + 1, n; bad++ }
    else if (v[0] == v[1] || v[1] == v[2] || v[2] == v[0]) {
        if (degenerate++ < 3) printf "degenerate facet %d: %s / %s / %s\n", facets + 1, v[0], v[1], v[2]
        bad++
    } else {
        vol += (x[0] * (y[1] * z[2] - z[1] * y[2]) - y[0] * (x[1] * z[2] - z[1] * x[2]) + z[0] * (x[1] * y[2] - y[1] * x[2])) / 6
        for (k = 0; k < 3; k++) {
            a = v[k]; b = v[(k + 1) % 3]
            directed[a "|" b]++
            undirected[(a < b) ? a "|" b : b "|" a]++
        }
    }
    facets++
    n = 0
    next
}
END {
    if (volume) { printf "%.3f\n", vol; exit 0 }
    if (facets == 0) { print "no facets (empty or not an ASCII STL)"; exit 1 }
    edges = 0
    for (e in undirected) {
        edges++
        if (undirected[e] != 2) {
            if (open++ < 3) printf "edge %s is used by %d facets, not 2\n", e, undirected[e]
            bad++
        }
    }
    for (e in directed) if (directed[e] != 1) {
        if (flipped++ < 3) printf "edge %s runs the same way in %d facets (a flipped or doubled facet)\n", e, directed[e]
        bad++
    }
    printf "%d facets, %d edges, volume %.1f cm3, bbox %.2f %.2f %.2f .. %.2f %.2f %.2f, size %.2f x %.2f x %.2f mm\n", \
        facets, edges, vol / 1000, lo[2], lo[3], lo[4], hi[2], hi[3], hi[4], hi[2] - lo[2], hi[3] - lo[3], hi[4] - lo[4]
    if (vol <= 0) { printf "the facets face inwards (volume %.3f mm3)\n", vol; bad++ }
    if (bad > 0) {
        printf "NOT a closed manifold: %d edge(s) not shared by exactly two facets, %d directed edge(s) repeated, %d degenerate facet(s)\n", open, flipped, degenerate
        exit 1
    }
}
