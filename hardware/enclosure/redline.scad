// redline: the desk instrument cluster's enclosure, parametric (OpenSCAD 2021.01, CGAL).
//
// Four X27.168 gauges in a row behind clear windows in a brushed-aluminium-look bezel,
// the annunciator row (MODEL HOT WARN STALL IDLE) behind smoked acrylic below them, a
// back box for the ESP32-C6-DevKitC-1, the quad driver and the buffer perfboard, and a
// monitor clip or a VESA-100 plate. `hardware/enclosure/build` renders every part; the
// assembly, the print settings and the assembly order are in hardware/README.md
// ("Enclosure").
//
// Units: mm. Assembly coordinates: x to the right, y up, z towards the viewer. The
// bezel's flat front face is z = 0 and the four dial centres lie on y = 0, at
// x = -99, -33, 33, 99 with the default 66 mm pitch.
//
// The bezel is four 52 mm dials wide (272 mm): more than a 220 x 220 mm bed. It is
// split at x = 0, between dials 2 and 3, into two mirror-image halves joined by steel
// dowel pins; the faceplate and the back box split at the same plane; the lamp box and
// the mounting bracket bridge the seam. See hardware/README.md for why.
//
// Every length is a named parameter below. Sources of part dimensions are cited where
// they are used. Select what to render with -D PART="..." (list at the end of the file).

/* [What to render] */
PART = "assembly";
QUALITY = "draft";      // draft: coarse circles (CI, previews); final: fine circles and edges, for printing
EXPLODE = 0;            // assembly only: 0 assembled, 1 exploded
BACK = 0;               // assembly only: 1 with the monitor clip on (the view from behind)
CHECK = 0;              // 1: fit-check models shrink by CHECK_INSET per side (touching is not overlap)
CHECK_INSET = 0.02;
STL_DIR = "out";        // where the check parts import the exported STLs from
FROM_STL = 0;           // 1: the right bezel and the left faceplate are mirrored from their twins' STLs in STL_DIR
PBOX = undef;           // check-<part>: the exported STL's bounding box (the build passes it)
A = undef;              // check-pair: two printable parts and the second's bounding box
B = undef;
PBOX_B = undef;

/* [Printer] */
bed = [220, 220];       // bed size; every printable part must fit
nozzle = 0.4;           // thin walls are whole perimeters of it
layer_h = 0.2;          // the face pocket is one layer deep

/* [Tolerances] (FDM in PLA/PETG, 0.4 mm nozzle) */
clr_hole = 0.15;        // added to every round hole's radius: printed holes come out about 0.1-0.2 mm small
clr_slide = 0.25;       // radial or per-side clearance of sliding fits: box tongue in the bezel, ring in its collar
clr_acrylic = 0.3;      // per side around laser-cut acrylic (kerf, sheet tolerance)
clr_board = 0.5;        // per side around a board's outline
clr_peg = 0.05;         // radial clearance of the X27.168's locating pegs in the motor mount: a snug push fit
clr_dowel = 0.05;       // radial clearance of a 3 mm steel dowel in its hole: a light press fit
insert_d = 4.0;         // hole for an M3 x 5.7 mm brass heat-set insert (4.6 mm OD knurl)
insert_depth = 6.2;
m3_clear = 3.4;         // M3 clearance hole
m3_head_d = 6.5;        // counterbore for an M3 socket head (5.5 mm) with room for the key
m3_cs_d = 6.4;          // countersink for an M3 countersunk head (6.0 mm nominal)
m2_pilot = 1.6;         // pilot hole for an M2 self-tapping screw (boards)
dowel_d = 3;            // steel dowel pins 3 x 12 mm join the halves
dowel_l = 12;

/* [Body] */
dial_pitch = 66;        // centre-to-centre spacing of the dials
side_margin = 6.5;      // bezel beyond the outer dials' cones
top_margin = 9.5;       // above the dials' cones
lamp_gap = 5.5;         // between the dials' cones and the lamp window
bottom_margin = 8;       // below the lamp window
corner_r = 14;          // the body's corner radius (front view)
edge_c = 2;             // 45-degree chamfer round the front and back edges
wall = 2.6;             // side walls of bezel and box
front_t = 4;            // the bezel's front panel
back_t = 3;             // the box's back wall
seam_v = 0.8;           // depth of the V-groove that turns the seam into a feature line
tongue_h = 3;           // the box's front tongue enters the bezel skirt this far
tongue_t = 1.2;

/* [Dials] */
face_d = 52;            // printed face diameter (redline faces --diameter)
face_hole = 3;          // the faces' centre hole (redline faces --hole), clears the shaft
face_pocket = layer_h;  // face pocket depth: one layer; a 0.2-0.3 mm card face stands proud
face_clr = 0.25;        // radial clearance of the face in its pocket
face_cover = 0.4;       // the dial ring overlaps the face's rim by this, hiding the cut line
window_d = face_d + 6;  // clear acrylic window disc
window_t = 2;           // clear acrylic, 2 mm
bezel_cone = 3.5;       // 45-degree conical bezel around each dial, this deep
view_d = face_d + 2;    // the dial opening at the back of the front panel
collar_w = 1.6;         // collar that locates window and ring
collar_h = 4;
fp_t = 3;               // faceplate thickness
needle_clear = 1.5;     // needle hub cap to the window's back
needle_len = 23;        // needle model: tip radius
needle_tail = 6;
needle_cap_d = 6;
needle_cap_h = 1.2;     // cap above the shaft tip

/* [X27.168] Juken Swiss Technology, "X27 Stepper Motor Specification", Doc. No.
   SP-X27-e-C, section 6, Figure 12 (the rear-contact, rear-peg X27.168), as published
   in github.com/petrows/smarthome-galoped-dekad (datasheet/x27-168.pdf); cross-checked
   with the KiCad footprint motoHUD.pretty/X27-168.kicad_mod (github.com/wiciu15/motoHUDsch:
   pins at +-11.4/+-3.8, the large peg 10.2 from the housing centre on the shaft side,
   the small peg at (-9.6, 9)). Motor coordinates: housing centre at the origin, front
   face z = 0, looking at the front (the dial side), the shaft side is +y. */
x27_body_d = 30.4;      // housing diameter (Fig. 12: "Ø 30,4")
x27_flat = 14.25;       // flat on the housing, from the centre, opposite the shaft (Fig. 12: 14,25)
x27_body_h = 9.6;       // rear face to front face (Fig. 12: 9,6)
x27_shaft_off = 6;      // shaft axis from the housing centre (Fig. 12: 6 in the side view; 10 - 4)
x27_shaft_top = 18.5;   // shaft tip above the rear face (Fig. 12: 18,5)
x27_shaft_d = 1;        // shaft (Fig. 12: Ø1 -0.02)
x27_bush_d = 2;         // bushing round the shaft (Fig. 12: Ø2)
x27_bush_h = 8.9 - 6.72;// bushing above the front face (Fig. 12: 8,9 shaft above the front, 6,72 of it Ø1)
x27_ear_pitch = 27;     // two lugs with Ø1.85 holes (Fig. 12: 27, 31,7 over the lugs, Ø1,85 (2x))
x27_ear_span = 31.7;
x27_ear_hole = 1.85;
x27_ear_t = 1.5;        // lug thickness: not dimensioned in Fig. 12; assumed, flush with the rear face
x27_peg1 = [0, 10];     // Ø3.9 rear peg, 4.4 long (Fig. 12: Ø3.90, 4,4; 10 from the centre line)
x27_peg1_d = 3.9;
x27_peg1_l = 4.4;
x27_peg2 = [-9, -9];    // Ø2.6 rear peg, 3.9 long (Fig. 12: Ø2.6, 3,9; 9 and 19 from the big peg)
x27_peg2_d = 2.6;
x27_peg2_l = 3.9;
x27_pin_dx = 22.86 / 2; // four pins, 22.86 x 7.62 (Fig. 12: 22,86 (2x), 7,62 (2x))
x27_pin_dy = 7.62 / 2;
x27_pin = [0.26, 0.25]; // pin section (Fig. 12: 0.25 x 0.26 (4x))
x27_pin_l = 3.9;
x27_wire_keepout = 2.5; // solder joint and wire round each pin (fit check only)

/* [Motor mount] */
mm_t = 3;               // plate behind the motor
mm_leg_d = 7.5;         // legs up to the faceplate, an M3 insert in each
mm_legs = [[-20, 8], [20, 8]];  // leg positions from the dial centre (outside the motor, under the face)

/* [Lamps] (the annunciator row) */
lamp_n = 5;
lamp_pitch = 16;        // cell spacing (redline faces --lamp-pitch; 16 is its default)
cell_h = 10;            // cell height: the legend strip of redline faces is 10 mm tall
lamp_type = "5mm";      // "5mm": WS2812D-F5 through-hole LEDs; "strip": a strip PCB of WS2812B (5050) at lamp_pitch
acrylic_t = 3;          // smoked grey acrylic, 3 mm
acrylic_overlap = 3;    // acrylic beyond the cells on every side
legend_t = 0.15;        // the legend strip (transparency film) between acrylic and cells
lamp_depth = 12;        // cell depth, legend to the back plate
lamp_back_t = 2;
lamp_wall = 3 * nozzle; // cell dividers: three perimeters
lamp_frame = 3;         // lamp box frame round the cells
// F5 (T-1 3/4) LED, as the WorldSemi WS2812D-F5's outline drawing: Ø5.0 body,
// Ø5.8 x 1.0 flange, 8.6 from the flange's base to the dome's top.
led5_d = 5.0;
led5_flange_d = 5.8;
led5_flange_h = 1.0;
led5_h = 8.6;
// WS2812B in a 5050 package (WorldSemi WS2812B datasheet: 5.0 x 5.0 x 1.6) on a strip PCB.
strip_pcb = [lamp_n * lamp_pitch + 4, 10, 1.6];
strip_led = [5, 5, 1.6];

/* [Boards] */
// ESP32-C6-DevKitC-1 v1.2: 25.4 x 51.8 mm, two 16-pin headers 22.86 apart, 2.54 pitch
// (Espressif, esp32-c6-devkitc-1-pcb-layout_v1.2.pdf and the user guide's J1/J3 tables).
// The board has no mounting holes: it plugs into two 1x16 female headers on the buffer
// perfboard, which is screwed to standoffs.
devkit = [25.4, 51.8, 1.6];
devkit_rows = 22.86;
devkit_pins = 16;
devkit_module = [18, 25.5, 3.2];  // ESP32-C6-WROOM-1 module (18 x 25.5 x 3.2) at the far end
usb_c = [9.0, 7.4, 3.3];          // USB-C receptacle (w, depth, h) at the near end
usb_c_dx = 6;                     // the two USB-C ports' offset either side of the board's axis
usb_plug = [12.5, 7, 28];         // keep-out of a USB-C plug with its overmould (w, h, length)
socket_h = 8.5;                   // 2.54 mm female header height
header_spacer = 2.5;              // male header plastic under the DevKit
perf = [50, 70, 1.6];             // buffer perfboard (two 74AHCT125, the 74AHCT1G125, resistors)
perf_hole_inset = 2.5;            // its corner holes (M2)
perf_pos = [68, -16];             // centre, right half; the DevKit's USB end at its lower edge
devkit_dx = -10;                  // DevKit's axis from the perfboard's centre line
driver = [45, 30, 1.6];           // quad driver breakout (VID6606 / AX1201728SG on an adapter)
driver_hole_inset = 3;
driver_pos = [-70, -14];          // centre, left half
driver_h = 6;                     // tallest part on it (headers, capacitors)
standoff_h = 5;
standoff_d = 6;
board_parts_h = 12;               // keep-out above the perfboard for buffers and wiring

/* [Mounting] */
bracket_inserts = [[-32, 14], [32, 14], [-32, -30], [32, -30]];  // M3 inserts in the back wall
monitor_t = 20;         // thickness of the monitor's lower edge the clip grips
clip_grip = 0.6;        // the clip's gap is this much narrower than monitor_t (spring preload)
clip_w = 100;
clip_t = 3.5;
clip_front_h = 9;       // lip in front of the monitor's bezel (keep it below the picture)
clip_back_h = 28;
clip_setback = 2;       // the front lip's front face behind the bezel's front face
vesa = 100;             // VESA MIS-D 100: four M4 at 100 x 100
vesa_plate = 116;
vesa_t = 6;
m4_clear = 4.5;
m4_nut_af = 7.0;        // M4 nut across flats
m4_nut_h = 3.4;

// ---------------------------------------------------------------------------------
// Derived values (not meant to be set)

$fa = QUALITY == "final" ? 4 : 12;
$fs = QUALITY == "final" ? 0.4 : 1.5;
E = CHECK == 1 ? CHECK_INSET : 0;   // model shrink in check mode
eps = 0.01;

n_dials = 4;
dial_x = [for (i = [0:n_dials - 1]) (i - (n_dials - 1) / 2) * dial_pitch];
view_r = view_d / 2;
cone_r = view_r + bezel_cone;                   // the cone's radius at the front face
body_w = (n_dials - 1) * dial_pitch + 2 * (cone_r + side_margin);
y_top = cone_r + top_margin;
lamp_y = -(cone_r + lamp_gap + cell_h / 2);
y_bot = lamp_y - cell_h / 2 - bottom_margin;
body_h = y_top - y_bot;

// The stack along z, front to back.
z_win_front = -front_t;
z_win_back = z_win_front - window_t;
ring_h = (x27_shaft_top - x27_body_h) - fp_t + needle_cap_h + needle_clear;
z_fp = z_win_back - ring_h;                     // faceplate front (the face pocket's rim)
z_motor = z_fp - fp_t;                          // motor front face
z_motor_rear = z_motor - x27_body_h;
z_shaft_tip = z_motor_rear + x27_shaft_top;
z_mm_back = z_motor_rear - mm_t;                // motor mount plate's back
z_joint = z_motor - 2.1;                        // bezel skirt meets the box here
z_elec_front = z_motor_rear - x27_peg1_l - 1.6; // electronics stay behind this plane
elec_stack = standoff_h + perf[2] + socket_h + devkit[2] + devkit_module[2];
z_back_in = z_elec_front - elec_stack;
z_back = z_back_in - back_t;                    // the box's back face
z_perf = z_back_in + standoff_h;                // perfboard underside
z_devkit = z_perf + perf[2] + socket_h;         // DevKit underside

ring_od = window_d;
ring_id = face_d - 2 * face_cover;
collar_id = window_d + 2 * clr_acrylic;

lamp_len = lamp_n * lamp_pitch;
lamp_win = [lamp_len - 1, cell_h - 1];          // visible window: just inside the legend strip
acrylic = [lamp_len + 2 * acrylic_overlap, cell_h + 2 * acrylic_overlap];
lamp_box = [lamp_len + 2 * lamp_frame, cell_h + 2 * lamp_frame];
z_lamp_front = -front_t;
z_lamp_back = z_lamp_front - lamp_depth - lamp_back_t;
lamp_tab_x = lamp_box[0] / 2 + 5;               // lamp box screw tabs, either end
lamp_tab_t = 3;

// Screw points. Faceplate into the bezel (inserts in bezel bosses); box into the bezel
// skirt (inserts at the skirt's back edge); both halves alike (mirrored).
fp_bosses = [[9, 25], [9, -25], [66, 25], [66, -25], [129, 21], [129, -21]];
skirt_boss_r = 4;
skirt_bosses = [[18, y_top - wall - 2.4], [75, y_top - wall - 2.4],
                [body_w / 2 - 7, y_top - 7], [body_w / 2 - 7, y_bot + 7],
                [100, y_bot + wall + 2.4]];
seam_pins_bezel = [[25, -6.5], [-25, -6.5]];    // [y, z] of dowels across the bezel seam
seam_pins_box = [[20, z_back_in + 4], [-40, z_back_in + 4]];

// Faceplate outline (right half; the left is its mirror image).
fp_x = [clr_slide, body_w / 2 - wall - tongue_t - 2 * clr_slide];
fp_y = [-31, 31];

// ---------------------------------------------------------------------------------
// Helpers

// A round hole whose polygon's flats, not corners, lie on the nominal radius.
module hole(d, h, center = false) {
    n = max(8, min(ceil(360 / $fa), ceil(PI * d / $fs)));   // as OpenSCAD picks fragments
    cylinder(d = (d + 2 * clr_hole) / cos(180 / n), h = h, center = center, $fn = n);
}

module ring2d(ro, ri) { difference() { circle(r = ro); circle(r = ri); } }

module rrect(size, r) {
    r2 = min(r, min(size[0], size[1]) / 2 - eps);
    offset(r = r2) square([size[0] - 2 * r2, size[1] - 2 * r2], center = true);
}

// The body's outline, inset by d.
module body2d(d = 0) {
    translate([0, (y_top + y_bot) / 2])
        rrect([body_w - 2 * d, body_h - 2 * d], corner_r - d);
}

// The body's solid between z0 and z1, with a 45-degree chamfer on the edge at z1 (the
// bezel's front) or z0 (the box's back): those faces print on the bed, where a rounded
// edge would start as an overhang and a 45-degree chamfer needs no support.
module body_solid(z0, z1, chamfer_top = true, chamfer_bottom = false) {
    hull() {
        if (chamfer_top) translate([0, 0, z1 - eps]) linear_extrude(eps) body2d(edge_c);
        if (chamfer_bottom) translate([0, 0, z0]) linear_extrude(eps) body2d(edge_c);
        translate([0, 0, z0 + (chamfer_bottom ? edge_c : 0)])
            linear_extrude(z1 - z0 - (chamfer_top ? edge_c : 0) - (chamfer_bottom ? edge_c : 0)) body2d(0);
    }
}

// Half space x >= 0 (the right half).
module right_half_space(big = 1000) {
    translate([0, -big / 2, -big / 2]) cube(big);
}

// Model primitives. In check mode they shrink by E per side (so that touching is not
// counted as overlap) and their circles are circumscribed polygons within 0.02 mm of
// the true circle, so a coarse polygon never hides a real overlap.
module mcube(size, center = false) {
    translate(center ? [0, 0, 0] : [E, E, E])
        cube([for (s = size) max(eps, s - 2 * E)], center = center);
}
function check_fn(r) = max(8, ceil(180 / acos(r / (r + 0.02))));
module mcyl(d, h, center = false, d2 = undef) {
    db = d2 == undef ? d : d2;
    n = check_fn(max(d, db) / 2);
    k = CHECK == 1 ? 1 / cos(180 / n) : 1;
    translate([0, 0, center ? 0 : E])
        if (CHECK == 1) cylinder(d1 = d * k - 2 * E, d2 = db * k - 2 * E, h = h - 2 * E, center = center, $fn = n);
        else cylinder(d1 = d, d2 = db, h = h, center = center);
}

// ---------------------------------------------------------------------------------
// Fit-check models (not printed): the parts the enclosure must hold without touching.

// The X27.168 in motor coordinates (see the parameter block for the source).
module x27_model() {
    color([0.12, 0.12, 0.13]) {
        // housing: Ø30.4 with its flat, rear face at -9.6
        translate([0, 0, -x27_body_h]) intersection() {
            mcyl(x27_body_d, x27_body_h);
            translate([-20, -x27_flat + E, -1]) cube([40, 40, x27_body_h + 2]);
        }
        // lugs with their holes, flush with the rear face
        for (s = [-1, 1]) translate([s * x27_ear_pitch / 2, 0, -x27_body_h]) difference() {
            mcyl(x27_ear_span - x27_ear_pitch, x27_ear_t);
            if (CHECK == 0) translate([0, 0, -1]) cylinder(d = x27_ear_hole, h = 5);
        }
        // rear pegs
        translate([x27_peg1[0], x27_peg1[1], -x27_body_h - x27_peg1_l]) mcyl(x27_peg1_d, x27_peg1_l);
        translate([x27_peg2[0], x27_peg2[1], -x27_body_h - x27_peg2_l]) mcyl(x27_peg2_d, x27_peg2_l);
    }
    // shaft: bushing, then the Ø1 shaft to the tip
    color([0.85, 0.85, 0.8]) translate([0, x27_shaft_off, 0]) {
        mcyl(x27_bush_d, x27_bush_h);
        mcyl(x27_shaft_d, x27_shaft_top - x27_body_h);
    }
    // pins, with the solder joints and wires that will sit on them
    if (CHECK == 1) for (sx = [-1, 1])   // each pin pair with its solder joints and wires
        translate([sx * x27_pin_dx - x27_wire_keepout / 2, -x27_pin_dy - x27_wire_keepout / 2, -x27_body_h - x27_pin_l - 2])
            mcube([x27_wire_keepout, 2 * x27_pin_dy + x27_wire_keepout, x27_pin_l + 2]);
    else color([0.8, 0.65, 0.3]) for (sx = [-1, 1], sy = [-1, 1])
        translate([sx * x27_pin_dx - x27_pin[0] / 2, sy * x27_pin_dy - x27_pin[1] / 2, -x27_body_h - x27_pin_l])
            mcube([x27_pin[0], x27_pin[1], x27_pin_l]);
}

// A motor in its place behind dial i.
module motor_placed(i) {
    translate([dial_x[i], -x27_shaft_off, z_motor]) x27_model();
}

// The needle sweeps a disc at its own height; its hub and cap ride on the shaft tip.
needle_blade_z = z_shaft_tip - 1.6;
module needle_model(i, angle = 0, sweep = false) {
    translate([dial_x[i], 0, 0]) {
        color([0.95, 0.3, 0.05]) if (sweep) {
            translate([0, 0, needle_blade_z]) mcyl(2 * needle_len + 1, 0.9);
        } else {
            rotate([0, 0, angle]) translate([0, 0, needle_blade_z]) linear_extrude(0.9)
                polygon([[-0.9, -needle_tail], [0.9, -needle_tail], [0.35, needle_len], [-0.35, needle_len]]);
        }
        // hub on the shaft, cap over the tip
        color([0.1, 0.1, 0.1]) {
            translate([0, 0, z_shaft_tip - 4.5]) mcyl(3.6, 4.5 + needle_cap_h);
            translate([0, 0, z_shaft_tip]) mcyl(needle_cap_d, needle_cap_h);
        }
    }
}

// The coloured zones of FUEL, TACH, TEMP and BOOST with the default scales (red, blue,
// white), for the previews only: the printed faces come from `redline faces`.
face_zones = [
    [[0, 0.2, "r"]],
    [[0.8, 1, "r"]],
    [[0, 0.2, "b"], [0.2, 0.6, "w"], [0.6, 1, "r"]],
    [[0, 0.5, "r"]],
];

// A printed face (card), seated in its pocket, drawn with a few ticks for the previews.
module face_model(i, title = "") {
    // (lifted a hair in the previews, where OpenCSG would fight the pocket's floor)
    translate([dial_x[i], 0, z_fp - face_pocket + (CHECK == 0 ? 0.03 : 0)]) {
        color([0.96, 0.93, 0.83]) difference() {
            mcyl(face_d, face_pocket);
            if (CHECK == 0) translate([0, 0, -1]) cylinder(d = face_hole, h = 3);
        }
        if (CHECK == 0) color([0.08, 0.08, 0.08]) translate([0, 0, face_pocket]) {
            for (k = [0:28]) {
                a = 157.5 - k * 315 / 28;                  // degrees counter-clockwise from 12 o'clock
                major = k % 4 == 0;
                rotate([0, 0, a]) translate([-(major ? 0.35 : 0.18), face_d / 2 * (major ? 0.76 : 0.83), 0])
                    cube([major ? 0.7 : 0.36, face_d / 2 * (major ? 0.16 : 0.09), 0.02]);
            }
            // registration triangle at the zero stop
            rotate([0, 0, 157.5]) translate([0, face_d / 2 * 0.935, 0]) linear_extrude(0.02)
                polygon([[0, 0], [-1, 1.5], [1, 1.5]]);
            translate([0, face_d * 0.15, 0]) linear_extrude(0.02)
                text(title, size = 3.2, halign = "center", valign = "center", font = "Liberation Sans:style=Bold");
        }
        // the zones of the default dials (`redline faces`), from / to as needle positions
        if (CHECK == 0) for (z = face_zones[i % len(face_zones)])
            color(z[2] == "r" ? [0.8, 0.1, 0.08] : z[2] == "b" ? [0.13, 0.35, 0.67] : [1, 1, 1])
                translate([0, 0, face_pocket + 0.005])
                    rotate([0, 0, 90 + 157.5 - 315 * z[1]]) rotate_extrude(angle = 315 * (z[1] - z[0]))
                        translate([face_d / 2 * 0.85, 0]) square([face_d / 2 * 0.07, 0.02]);
    }
}

module window_model(i) {
    color([0.8, 0.9, 1.0, 0.18]) translate([dial_x[i], 0, z_win_back]) mcyl(window_d, window_t);
}

module lamp_acrylic_model() {
    color([0.07, 0.07, 0.08]) translate([0, lamp_y, z_win_front + legend_t + E])
        linear_extrude(acrylic_t - 2 * E) offset(delta = -E) rrect(acrylic, 2);
}

lamp_colours = [[1.0, 0.55, 0.1], [0.25, 0.05, 0.05], [1.0, 0.72, 0.0], [0.05, 0.08, 0.25], [0.2, 0.95, 0.3]];
lamp_names = ["MODEL", "HOT", "WARN", "STALL", "IDLE"];
module legend_model() {
    translate([0, lamp_y, z_lamp_front]) {
        color([0.05, 0.05, 0.05]) translate([0, 0, E]) linear_extrude(legend_t - 2 * E) offset(delta = -E) square([lamp_len, cell_h], center = true);
        if (CHECK == 0) for (k = [0:lamp_n - 1]) translate([(k - (lamp_n - 1) / 2) * lamp_pitch, 0, legend_t])
            color(lamp_colours[k]) linear_extrude(0.05)
                text(lamp_names[k], size = 2.6, halign = "center", valign = "center", font = "Liberation Sans:style=Bold");
    }
}

module leds_model() {
    for (k = [0:lamp_n - 1]) translate([(k - (lamp_n - 1) / 2) * lamp_pitch, lamp_y, z_lamp_back]) {
        if (lamp_type == "5mm" && CHECK == 1) {
            translate([0, 0, -led5_flange_h]) mcyl(led5_flange_d, led5_flange_h);
            mcyl(led5_d, led5_h - led5_flange_h);
            translate([-2.5, -0.5, -led5_flange_h - 12]) mcube([5, 1, 12]);
        } else if (lamp_type == "5mm") {
            color(concat(lamp_colours[k], [1])) {
                translate([0, 0, -led5_flange_h]) mcyl(led5_flange_d, led5_flange_h);
                mcyl(led5_d, led5_h - led5_flange_h - led5_d / 2);
                translate([0, 0, led5_h - led5_flange_h - led5_d / 2]) intersection() {
                    sphere(d = led5_d - 2 * E);
                    translate([-5, -5, 0]) cube(10);
                }
            }
            color([0.7, 0.7, 0.7]) for (l = [0:3]) translate([(l - 1.5) * 1.27 - 0.25, -0.25, -led5_flange_h - 12]) mcube([0.5, 0.5, 12]);
        } else {
            color(concat(lamp_colours[k], [1])) translate([-strip_led[0] / 2, -strip_led[1] / 2, 0]) mcube(strip_led);
        }
    }
    if (lamp_type == "strip") color([0.1, 0.3, 0.1])
        translate([-strip_pcb[0] / 2, lamp_y - strip_pcb[1] / 2, z_lamp_back - strip_pcb[2]]) mcube(strip_pcb);
}

// Perfboard with the DevKit plugged into its two female headers, in assembly coordinates.
devkit_x = perf_pos[0] + devkit_dx;
devkit_y0 = perf_pos[1] - perf[1] / 2;           // the DevKit's USB end is at the perfboard's edge
module perf_model() {
    color([0.75, 0.55, 0.3]) translate([perf_pos[0] - perf[0] / 2, perf_pos[1] - perf[1] / 2, z_perf]) difference() {
        mcube(perf);
        for (p = board_holes(perf, perf_hole_inset)) translate([p[0], p[1], -1]) cylinder(d = 2.2, h = 5);
    }
    // buffers and wiring on the free part of the board
    color([0.15, 0.15, 0.15]) translate([devkit_x + devkit[0] / 2 + 2, perf_pos[1] - perf[1] / 2 + 3, z_perf + perf[2]])
        mcube([perf_pos[0] + perf[0] / 2 - devkit_x - devkit[0] / 2 - 5, perf[1] - 6, board_parts_h]);
    // female headers
    color([0.1, 0.1, 0.1]) for (s = [-1, 1])
        translate([devkit_x + s * devkit_rows / 2 - 1.27, devkit_y0 + (devkit[1] - devkit_pins * 2.54) / 2, z_perf + perf[2]])
            mcube([2.54, devkit_pins * 2.54, socket_h]);
}
module devkit_model() {
    translate([devkit_x - devkit[0] / 2, devkit_y0, z_devkit]) {
        color([0.1, 0.1, 0.1]) for (s = [-1, 1])
            translate([devkit[0] / 2 + s * devkit_rows / 2 - 1.27, (devkit[1] - devkit_pins * 2.54) / 2, -header_spacer])
                mcube([2.54, devkit_pins * 2.54, header_spacer]);
        color([0.1, 0.12, 0.35]) mcube(devkit);
        color([0.7, 0.7, 0.72]) translate([(devkit[0] - devkit_module[0]) / 2, devkit[1] - devkit_module[1], devkit[2]])
            mcube(devkit_module);
        // the two USB-C receptacles at the near end, and the plug that goes into either
        for (s = [-1, 1]) translate([devkit[0] / 2 + s * usb_c_dx, 0, devkit[2]]) {
            color([0.75, 0.75, 0.75]) translate([-usb_c[0] / 2, 0, 0]) mcube(usb_c);
            if (CHECK == 1) translate([-usb_plug[0] / 2, -usb_plug[2], usb_c[2] / 2 - usb_plug[1] / 2])
                mcube([usb_plug[0], usb_plug[2], usb_plug[1]]);
        }
    }
}
module driver_model() {
    translate([driver_pos[0] - driver[0] / 2, driver_pos[1] - driver[1] / 2, z_back_in + standoff_h]) {
        color([0.1, 0.35, 0.15]) difference() {
            mcube(driver);
            for (p = board_holes(driver, driver_hole_inset)) translate([p[0], p[1], -1]) cylinder(d = 2.2, h = 5);
        }
        color([0.15, 0.15, 0.15]) translate([driver_hole_inset + 3, 2, driver[2]]) mcube([driver[0] - 2 * driver_hole_inset - 6, driver[1] - 4, driver_h]);
    }
}
function board_holes(b, inset) = [[inset, inset], [b[0] - inset, inset], [inset, b[1] - inset], [b[0] - inset, b[1] - inset]];

// Everything the printed parts must clear (fit check), in assembly coordinates: a list
// of model instances, each with a box that holds it (the check of a part only renders
// the models whose boxes meet the part's: CGAL's union of every model would cost more
// than all the parts together). "check-model-boxes" proves each model inside its box.
mx = 0.5;   // margin round every model box
function box(lo, hi) = [[lo[0] - mx, lo[1] - mx, lo[2] - mx], [hi[0] + mx, hi[1] + mx, hi[2] + mx]];
model_list = concat(
    [for (i = [0:n_dials - 1]) ["motor", i, box(
        [dial_x[i] - x27_ear_span / 2, -x27_shaft_off - x27_body_d / 2, z_motor_rear - x27_peg1_l - 2],
        [dial_x[i] + x27_ear_span / 2, -x27_shaft_off + x27_body_d / 2, z_shaft_tip])]],
    [for (i = [0:n_dials - 1]) ["needle", i, box(
        [dial_x[i] - needle_len - 0.5, -needle_len - 0.5, z_shaft_tip - 4.5],
        [dial_x[i] + needle_len + 0.5, needle_len + 0.5, z_shaft_tip + needle_cap_h])]],
    [for (i = [0:n_dials - 1]) ["face", i, box(
        [dial_x[i] - face_d / 2, -face_d / 2, z_fp - face_pocket], [dial_x[i] + face_d / 2, face_d / 2, z_fp])]],
    [for (i = [0:n_dials - 1]) ["window", i, box(
        [dial_x[i] - window_d / 2, -window_d / 2, z_win_back], [dial_x[i] + window_d / 2, window_d / 2, z_win_front])]],
    [["acrylic", 0, box([-acrylic[0] / 2, lamp_y - acrylic[1] / 2, z_lamp_front],
                        [acrylic[0] / 2, lamp_y + acrylic[1] / 2, z_win_front + legend_t + acrylic_t])],
     ["leds", 0, box([-lamp_len / 2 - strip_pcb[0] / 2, lamp_y - strip_pcb[1], z_lamp_back - led5_flange_h - 12],
                     [lamp_len / 2 + strip_pcb[0] / 2, lamp_y + strip_pcb[1], z_lamp_back + led5_h])],
     ["perfboard", 0, box([perf_pos[0] - perf[0] / 2, perf_pos[1] - perf[1] / 2, z_perf],
                          [perf_pos[0] + perf[0] / 2, perf_pos[1] + perf[1] / 2, z_perf + perf[2] + max(socket_h, board_parts_h)])],
     ["devkit", 0, box([devkit_x - devkit[0] / 2, devkit_y0 - usb_plug[2], z_devkit - header_spacer],
                       [devkit_x + devkit[0] / 2, devkit_y0 + devkit[1], z_devkit + devkit[2] + max(devkit_module[2], usb_c[2] / 2 + usb_plug[1] / 2)])],
     ["driver", 0, box([driver_pos[0] - driver[0] / 2, driver_pos[1] - driver[1] / 2, z_back_in + standoff_h],
                       [driver_pos[0] + driver[0] / 2, driver_pos[1] + driver[1] / 2, z_back_in + standoff_h + driver[2] + driver_h])]]);

module model_instance(m) {
    kind = m[0];
    i = m[1];
    if (kind == "motor") motor_placed(i);
    else if (kind == "needle") needle_model(i, sweep = true);
    else if (kind == "face") face_model(i);
    else if (kind == "window") window_model(i);
    else if (kind == "acrylic") { lamp_acrylic_model(); legend_model(); }
    else if (kind == "leds") leds_model();
    else if (kind == "perfboard") perf_model();
    else if (kind == "devkit") devkit_model();
    else if (kind == "driver") driver_model();
}

module fit_models() { for (m = model_list) model_instance(m); }

function boxes_meet(a, b) = a[0][0] <= b[1][0] && b[0][0] <= a[1][0] && a[0][1] <= b[1][1] && b[0][1] <= a[1][1]
                            && a[0][2] <= b[1][2] && b[0][2] <= a[1][2];
// The box (in assembly coordinates) of a print-oriented box moved back by matrix m.
function box_back(pbox, m) = let(c = [for (x = [pbox[0][0], pbox[1][0]], y = [pbox[0][1], pbox[1][1]], z = [pbox[0][2], pbox[1][2]])
                                      let(q = m * [x, y, z, 1]) [q[0], q[1], q[2]]])
    [[min([for (p = c) p[0]]), min([for (p = c) p[1]]), min([for (p = c) p[2]])],
     [max([for (p = c) p[0]]), max([for (p = c) p[1]]), max([for (p = c) p[2]])]];

// ---------------------------------------------------------------------------------
// Printed parts, in assembly coordinates.

// Dial opening: a 45-degree cone from the front face into the panel, then straight through.
module dial_opening() {
    translate([0, 0, -front_t - 1]) cylinder(r = view_r, h = front_t + 2);
    translate([0, 0, -bezel_cone]) cylinder(r1 = view_r, r2 = cone_r + eps, h = bezel_cone + eps);
    translate([0, 0, -eps]) cylinder(r = cone_r + eps, h = 1);
}

module bezel_full() {
    inner = wall;
    difference() {
        union() {
            difference() {
                body_solid(z_joint, 0, chamfer_top = true);
                translate([0, 0, z_joint - 1]) linear_extrude(z_joint * -1 - front_t + 1) body2d(inner);
            }
            // collars that locate the windows and the dial rings
            for (x = dial_x) translate([x, 0, z_win_front - collar_h])
                linear_extrude(collar_h + eps) ring2d(collar_id / 2 + collar_w, collar_id / 2);
            // faceplate bosses
            for (p = fp_bosses, s = [-1, 1]) translate([s * p[0], p[1], z_fp]) cylinder(d = 7, h = -z_fp - front_t + eps);
            // skirt bosses for the box screws
            for (p = skirt_bosses, s = [-1, 1]) translate([s * p[0], p[1], z_joint]) cylinder(r = skirt_boss_r, h = -z_joint - front_t + eps);
            // seam blocks carrying the dowels (merged with the faceplate bosses next to the seam)
            for (p = seam_pins_bezel) translate([-9, p[0] - 4, z_fp]) cube([18, 8, -z_fp - front_t + eps]);
            // lamp box bosses
            for (s = [-1, 1]) translate([s * lamp_tab_x, lamp_y, z_lamp_back + lamp_tab_t]) cylinder(d = 8, h = -(z_lamp_back + lamp_tab_t) - front_t + eps);
        }
        for (x = dial_x) translate([x, 0, 0]) dial_opening();
        // the lamp window, chamfered at the front, and the acrylic pocket behind it
        translate([0, lamp_y, 0]) {
            translate([0, 0, -front_t - 1]) linear_extrude(front_t + 2) rrect(lamp_win, 1.5);
            translate([0, 0, -0.6]) linear_extrude(0.6 + eps, scale = [(lamp_win[0] + 1.2) / lamp_win[0], (lamp_win[1] + 1.2) / lamp_win[1]])
                rrect(lamp_win, 1.5);
            translate([0, 0, -front_t - 1]) linear_extrude(1 + acrylic_t + legend_t)
                offset(delta = clr_acrylic) rrect(acrylic, 2);
        }
        // inserts
        for (p = fp_bosses, s = [-1, 1]) translate([s * p[0], p[1], z_fp - eps]) hole(insert_d, insert_depth);
        for (p = skirt_bosses, s = [-1, 1]) translate([s * p[0], p[1], z_joint - eps]) hole(insert_d, insert_depth);
        for (s = [-1, 1]) translate([s * lamp_tab_x, lamp_y, z_lamp_back + lamp_tab_t - eps]) hole(insert_d, insert_depth);
        // dowel holes across the seam, and the V-groove on the front
        for (p = seam_pins_bezel) translate([0, p[0], p[1]]) rotate([0, 90, 0]) hole(dowel_d - 2 * clr_hole + 2 * clr_dowel, dowel_l + 1, center = true);
        translate([0, 0, 0]) rotate([0, 45, 0]) cube([seam_v * sqrt(2), 400, seam_v * sqrt(2)], center = true);
    }
}

module bezel_left() { difference() { bezel_full(); right_half_space(); } }

// The dial ring: spacer between face and window; its inner edge is the visible inner bezel.
module dial_ring(i) {
    translate([dial_x[i], 0, z_fp]) rotate_extrude() polygon([
        [ring_id / 2, 0], [ring_od / 2, 0], [ring_od / 2, ring_h], [ring_id / 2 + 1.2, ring_h], [ring_id / 2, ring_h - 1.2]]);
}

// Faceplate (right half): face pockets, shaft holes, countersunk screws for the motor mounts.
module faceplate_right() {
    difference() {
        translate([fp_x[0], fp_y[0], z_fp - fp_t]) linear_extrude(fp_t)
            offset(r = 3) offset(delta = -3) square([fp_x[1] - fp_x[0], fp_y[1] - fp_y[0]]);
        for (i = [2:3]) translate([dial_x[i], 0, 0]) {
            translate([0, 0, z_fp - face_pocket]) cylinder(d = face_d + 2 * face_clr, h = 1);
            translate([0, 0, z_fp - fp_t - 1]) hole(x27_bush_d + 0.1, fp_t + 2);
            for (l = mm_legs) translate([l[0], l[1], z_fp - fp_t - 1]) {
                hole(m3_clear, fp_t + 2);
                translate([0, 0, fp_t + 1 - face_pocket - (m3_cs_d - m3_clear) / 2]) cylinder(d1 = m3_clear, d2 = m3_cs_d, h = (m3_cs_d - m3_clear) / 2 + eps);
                translate([0, 0, fp_t + 1 - face_pocket]) cylinder(d = m3_cs_d, h = 1);
            }
        }
        // screws into the bezel's bosses, heads at the back
        for (p = fp_bosses) translate([p[0], p[1], z_fp - fp_t - 1]) hole(m3_clear, fp_t + 2);
        // clear the skirt bosses
        for (p = skirt_bosses) translate([p[0], p[1], z_fp - fp_t - 1]) cylinder(r = skirt_boss_r + clr_slide, h = fp_t + 2);
    }
}

// Motor mount: a plate behind the motor on two legs screwed to the faceplate; the motor's
// two rear pegs locate in it, its pins sit free in two windows.
module motor_mount(i) {
    translate([dial_x[i], 0, 0]) difference() {
        union() {
            translate([0, 0, z_mm_back]) linear_extrude(mm_t) difference() {
                hull() {
                    for (l = mm_legs) translate(l) circle(d = mm_leg_d + 1.5);
                    translate([0, -x27_shaft_off]) circle(r = 13.5);
                    translate([x27_peg2[0], x27_peg2[1] - x27_shaft_off]) circle(d = x27_peg2_d + 5);
                }
                // windows for the pins and their solder joints
                for (s = [-1, 1]) translate([s * (x27_pin_dx + 1.55), -x27_shaft_off]) square([7.5, 2 * x27_pin_dy + 6], center = true);
            }
            for (l = mm_legs) translate([l[0], l[1], z_mm_back]) cylinder(d = mm_leg_d, h = z_motor - z_mm_back);
        }
        for (p = [[x27_peg1, x27_peg1_d], [x27_peg2, x27_peg2_d]])
            translate([p[0][0], p[0][1] - x27_shaft_off, z_mm_back - 1]) hole(p[1] + 2 * clr_peg - 2 * clr_hole, mm_t + 2);
        for (l = mm_legs) translate([l[0], l[1], z_motor - insert_depth + eps]) hole(insert_d, insert_depth);
    }
}

// Lamp box: the five cells behind the legend, LEDs at the back, tabs screwed to the bezel.
module lamp_box() {
    translate([0, lamp_y, 0]) difference() {
        union() {
            translate([0, 0, z_lamp_back]) linear_extrude(z_lamp_front - z_lamp_back) rrect(lamp_box, 2);
            translate([0, 0, z_lamp_back]) linear_extrude(lamp_tab_t) hull() for (s = [-1, 1]) translate([s * lamp_tab_x, 0]) circle(d = 9);
            if (lamp_type == "strip") translate([0, 0, z_lamp_back - strip_pcb[2]]) linear_extrude(strip_pcb[2] + eps)
                difference() {
                    square([strip_pcb[0] + 2 * clr_board + 4, strip_pcb[1] + 2 * clr_board + 4], center = true);
                    square([strip_pcb[0] + 2 * clr_board, strip_pcb[1] + 2 * clr_board], center = true);
                }
        }
        // cells
        for (k = [0:lamp_n - 1]) translate([(k - (lamp_n - 1) / 2) * lamp_pitch, 0, z_lamp_back + lamp_back_t])
            linear_extrude(lamp_depth + 1) square([lamp_pitch - lamp_wall, cell_h], center = true);
        // LEDs
        for (k = [0:lamp_n - 1]) translate([(k - (lamp_n - 1) / 2) * lamp_pitch, 0, z_lamp_back - 1]) {
            if (lamp_type == "5mm") hole(led5_d, lamp_back_t + 2);
            else linear_extrude(lamp_back_t + 2) square([strip_led[0] + 1, strip_led[1] + 1], center = true);
        }
        for (s = [-1, 1]) translate([s * lamp_tab_x, 0, z_lamp_back - 1]) hole(m3_clear, lamp_tab_t + 2);
    }
}

// The back box (both halves alike, before the half-specific parts).
module box_shell_full() {
    difference() {
        union() {
            difference() {
                body_solid(z_back, z_joint, chamfer_top = false, chamfer_bottom = true);
                translate([0, 0, z_back_in]) linear_extrude(z_joint - z_back_in + 1) body2d(wall);
            }
            // tongue into the bezel skirt, relieved round the skirt bosses
            difference() {
                translate([0, 0, z_joint - eps]) linear_extrude(tongue_h + eps)
                    difference() { body2d(wall + clr_slide); body2d(wall + clr_slide + tongue_t); }
                for (p = skirt_bosses, s = [-1, 1]) translate([s * p[0], p[1], z_joint - 1]) cylinder(r = skirt_boss_r + clr_slide + 0.6, h = tongue_h + 2);
            }
            // screw columns under the skirt bosses
            for (p = skirt_bosses, s = [-1, 1]) translate([s * p[0], p[1], z_back_in - eps]) cylinder(r = skirt_boss_r + 1, h = z_joint - z_back_in + eps);
            // bracket insert bosses
            for (p = bracket_inserts) translate([p[0], p[1], z_back_in - eps]) cylinder(d = 9, h = insert_depth - back_t + 1.5);
            // seam blocks carrying the dowels
            for (p = seam_pins_box) translate([-7, p[0] - 4, z_back_in - eps]) cube([14, 8, 8]);
        }
        // screw wells from the back: an M3 x 8 through the 3 mm floor into the skirt's insert
        for (p = skirt_bosses, s = [-1, 1]) translate([s * p[0], p[1], 0]) {
            translate([0, 0, z_back - 1]) hole(m3_head_d, z_joint - 3 - z_back + 1);
            translate([0, 0, z_joint - 4]) hole(m3_clear, 5);
        }
        for (p = bracket_inserts) translate([p[0], p[1], z_back - eps]) hole(insert_d, insert_depth);
        for (p = seam_pins_box) translate([0, p[0], p[1]]) rotate([0, 90, 0]) hole(dowel_d - 2 * clr_hole + 2 * clr_dowel, dowel_l + 1, center = true);
        translate([0, 0, z_back]) rotate([0, 45, 0]) cube([seam_v * sqrt(2), 400, seam_v * sqrt(2)], center = true);
    }
}

module standoffs(b, inset, pos, h, pilot = m2_pilot) {
    for (p = board_holes(b, inset)) translate([pos[0] - b[0] / 2 + p[0], pos[1] - b[1] / 2 + p[1], z_back_in - eps])
        difference() { cylinder(d = standoff_d, h = h + eps); translate([0, 0, 1]) hole(pilot, h + 1); }
}

module box_right() {
    difference() {
        union() {
            intersection() { box_shell_full(); right_half_space(); }
            standoffs(perf, perf_hole_inset, perf_pos, standoff_h);
        }
        // USB cable exit in the bottom wall, in line with either of the DevKit's ports
        translate([devkit_x, y_bot - 1, z_devkit + devkit[2] + usb_c[2] / 2]) rotate([-90, 0, 0])
            linear_extrude(wall + 2) rrect([2 * usb_c_dx + usb_plug[0] + 1.6, usb_plug[1] + 1.6], 2);
    }
}
module box_left() {
    union() {
        difference() { box_shell_full(); right_half_space(); }
        standoffs(driver, driver_hole_inset, driver_pos, standoff_h);
    }
}

// Monitor clip: a U over the monitor's lower edge, its web on the box's top, screwed to
// the two upper bracket inserts through a plate down the back.
clip_lip_front = -clip_setback;                                  // z of the front lip's front face
clip_gap = monitor_t - clip_grip;
clip_back_lip_z = clip_lip_front - clip_t - clip_gap;            // z of the back lip's front face
clip_web_back = min(clip_back_lip_z - clip_t, z_back - clip_t);
clip_drop = y_top - bracket_inserts[0][1] + 8;
module clip_profile() {
    // in the (z, y) plane, as assembly coordinates
    union() {
        translate([clip_web_back, y_top]) square([clip_lip_front - clip_web_back, clip_t]);
        translate([clip_lip_front - clip_t, y_top]) square([clip_t, clip_t + clip_front_h]);
        translate([clip_lip_front - clip_t / 2, y_top + clip_t + clip_front_h]) circle(d = clip_t);
        translate([clip_back_lip_z - clip_t, y_top]) square([clip_t, clip_t + clip_back_h]);
        translate([clip_back_lip_z - clip_t / 2, y_top + clip_t + clip_back_h]) circle(d = clip_t);
        translate([z_back - clip_t, y_top - clip_drop]) square([clip_t, clip_drop + clip_t]);
        // small fillets where the lips meet the web (a monitor's edge is rounded too)
        for (zc = [clip_lip_front - clip_t, clip_back_lip_z]) translate([zc, y_top + clip_t - eps])
            polygon([[-2, 0], [2, 0], [0, 2]]);
    }
}
module clip() {
    difference() {
        rotate([0, -90, 0]) translate([0, 0, -clip_w / 2]) linear_extrude(clip_w) clip_profile();
        for (p = bracket_inserts) if (p[1] > 0) translate([p[0], p[1], z_back - clip_t - 1]) {
            rotate([0, 0, 90]) teardrop_hole(m3_clear, clip_t + 2);
        }
    }
}
// A hole printed lying down: round with a 45-degree roof so it needs no support.
module teardrop_hole(d, h) {
    r = d / 2 + clr_hole;
    linear_extrude(h) union() {
        circle(r = r);
        rotate([0, 0, 45]) square(r);
    }
}

// VESA-100 plate: nut traps for the arm's four M4 screws; four M3 socket screws, their heads
// sunk in counterbores on the arm's side, hold it to the box's back.
vesa_c = [0, (y_top + y_bot) / 2];
module vesa_plate() {
    translate([vesa_c[0], vesa_c[1], z_back - vesa_t]) difference() {
        linear_extrude(vesa_t) rrect([vesa_plate, vesa_plate], 10);
        for (sx = [-1, 1], sy = [-1, 1]) translate([sx * vesa / 2, sy * vesa / 2, -1]) {
            hole(m4_clear, vesa_t + 2);
            translate([0, 0, vesa_t + 1 - m4_nut_h]) cylinder(d = (m4_nut_af + 0.3) / cos(30), h = m4_nut_h + 1, $fn = 6);
        }
        for (p = bracket_inserts) translate([p[0] - vesa_c[0], p[1] - vesa_c[1], -1]) {
            hole(m3_clear, vesa_t + 2);
            hole(m3_head_d, 1 + 3.5);
        }
        // lightening: a window in the middle
        translate([0, 0, -1]) linear_extrude(vesa_t + 2) rrect([40, 40], 8);
    }
}

// ---------------------------------------------------------------------------------
// Parts list, print orientation and placement

// Print transforms: each is a rigid motion from assembly coordinates to the bed
// (resting on z = 0, centred on the origin).
function tr(v) = [[1, 0, 0, v[0]], [0, 1, 0, v[1]], [0, 0, 1, v[2]], [0, 0, 0, 1]];
function rx(a) = [[1, 0, 0, 0], [0, cos(a), -sin(a), 0], [0, sin(a), cos(a), 0], [0, 0, 0, 1]];
function ry(a) = [[cos(a), 0, sin(a), 0], [0, 1, 0, 0], [-sin(a), 0, cos(a), 0], [0, 0, 0, 1]];
function rigid_inv(m) = let(r = [[m[0][0], m[1][0], m[2][0]], [m[0][1], m[1][1], m[2][1]], [m[0][2], m[1][2], m[2][2]]],
                            t = -(r * [m[0][3], m[1][3], m[2][3]]))
    [[r[0][0], r[0][1], r[0][2], t[0]], [r[1][0], r[1][1], r[1][2], t[1]], [r[2][0], r[2][1], r[2][2], t[2]], [0, 0, 0, 1]];

yc = (y_top + y_bot) / 2;
function print_matrix(name) =
    name == "bezel-left" ? tr([0, -yc, 0]) * ry(180) * tr([body_w / 4, 0, 0]) :
    name == "bezel-right" ? tr([0, -yc, 0]) * ry(180) * tr([-body_w / 4, 0, 0]) :
    name == "faceplate-left" ? tr([(fp_x[0] + fp_x[1]) / 2, 0, -(z_fp - fp_t)]) :
    name == "faceplate-right" ? tr([-(fp_x[0] + fp_x[1]) / 2, 0, -(z_fp - fp_t)]) :
    name == "dial-ring" ? tr([-dial_x[0], 0, -z_fp]) :
    name == "motor-mount" ? tr([-dial_x[0], 0, -z_mm_back]) :
    name == "lamp-box" ? tr([0, -lamp_y, -(z_lamp_back - (lamp_type == "strip" ? strip_pcb[2] : 0))]) :
    name == "box-left" ? tr([body_w / 4, -yc, -z_back]) :
    name == "box-right" ? tr([-body_w / 4, -yc, -z_back]) :
    name == "clip" ? tr([-(clip_web_back + clip_lip_front) / 2, -(2 * y_top - clip_drop + clip_t + clip_back_h) / 2, clip_w / 2]) * ry(90) :
    name == "vesa-plate" ? tr([-vesa_c[0], -vesa_c[1], -(z_back - vesa_t)]) :
    undef;

printable = ["bezel-left", "bezel-right", "faceplate-left", "faceplate-right", "dial-ring",
             "motor-mount", "lamp-box", "box-left", "box-right", "clip", "vesa-plate"];
quantity = [1, 1, 1, 1, 4, 4, 1, 1, 1, 1, 1];

// A part in assembly coordinates (the dial ring and the motor mount: the first dial's).
module part_asm(name, i = 0) {
    if (name == "bezel-left") bezel_left();
    else if (name == "bezel-right") mirror([1, 0, 0]) bezel_left();
    else if (name == "faceplate-left") mirror([1, 0, 0]) faceplate_right();
    else if (name == "faceplate-right") faceplate_right();
    else if (name == "dial-ring") dial_ring(i);
    else if (name == "motor-mount") motor_mount(i);
    else if (name == "lamp-box") lamp_box();
    else if (name == "box-left") box_left();
    else if (name == "box-right") box_right();
    else if (name == "clip") clip();
    else if (name == "vesa-plate") vesa_plate();
}

module part_print(name) {
    twin = name == "bezel-right" ? "bezel-left" : name == "faceplate-left" ? "faceplate-right" : undef;
    if (FROM_STL == 1 && twin != undef)
        multmatrix(print_matrix(name)) mirror([1, 0, 0]) multmatrix(rigid_inv(print_matrix(twin)))
            import(str(STL_DIR, "/", twin, ".stl"));
    else multmatrix(print_matrix(name)) part_asm(name);
}

// The exported STL, put back where it sits in the assembly: copy i of it (the dial ring
// and the motor mount have one per dial; other parts only copy 0).
function part_shifts(name) = (name == "dial-ring" || name == "motor-mount") ? [for (i = [0:n_dials - 1]) dial_x[i] - dial_x[0]] : [0];
module part_from_stl(name, i = 0) {
    translate([part_shifts(name)[i], 0, 0])
        multmatrix(rigid_inv(print_matrix(name))) import(str(STL_DIR, "/", name, ".stl"));
}
// Its box in the assembly, from the box of the STL as exported.
function part_box(name, pbox, i = 0) = let(b = box_back(pbox, rigid_inv(print_matrix(name))), d = part_shifts(name)[i])
    [b[0] + [d, 0, 0], b[1] + [d, 0, 0]];

// ---------------------------------------------------------------------------------
// Assembly and previews

c_alu = [0.78, 0.79, 0.81];
c_dark = [0.36, 0.36, 0.39];   // gunmetal: the box and the lamp box
c_ring = [0.1, 0.1, 0.1];
face_titles = ["FUEL", "TACH", "TEMP", "BOOST"];
needle_angles = [120, 30, -20, 80];

module assembly(ex = 0) {
    // exploded offsets along z (towards the back), and the halves apart along x
    dz = function(k) -ex * k * 1.5;
    hx = ex * 24;
    color(c_alu) {
        translate([-hx, 0, dz(0)]) part_asm("bezel-left");
        translate([hx, 0, dz(0)]) part_asm("bezel-right");
    }
    for (i = [0:n_dials - 1]) {
        s = dial_x[i] < 0 ? -1 : 1;
        // OpenCSG draws a transparent window over the face as if it were frosted: the
        // assembled view leaves the windows out, the exploded one shows them.
        if (ex > 0) translate([s * hx, 0, dz(22)]) window_model(i);
        color(c_ring) translate([s * hx, 0, dz(40)]) dial_ring(i);
        translate([s * hx, 0, dz(58)]) {
            face_model(i, face_titles[i]);
            needle_model(i, needle_angles[i]);
        }
        translate([s * hx, 0, dz(112)]) motor_placed(i);
        color([0.25, 0.25, 0.27]) translate([s * hx, 0, dz(135)]) motor_mount(i);
    }
    color([0.32, 0.32, 0.34]) {
        translate([-hx, 0, dz(80)]) part_asm("faceplate-left");
        translate([hx, 0, dz(80)]) part_asm("faceplate-right");
    }
    translate([0, -ex * 20, dz(22)]) lamp_acrylic_model();
    translate([0, -ex * 20, dz(40)]) legend_model();
    // the lit legends as they show through the smoked acrylic
    if (ex == 0) translate([0, lamp_y, z_win_front + legend_t + acrylic_t + 0.02])
        for (k = [0:lamp_n - 1]) if (k % 2 == 0 || k == 1) translate([(k - (lamp_n - 1) / 2) * lamp_pitch, 0, 0])
            color(lamp_colours[k]) linear_extrude(0.05)
                text(lamp_names[k], size = 2.6, halign = "center", valign = "center", font = "Liberation Sans:style=Bold");
    translate([0, -ex * 20, dz(58)]) { color(c_dark) lamp_box(); }
    translate([0, -ex * 20, dz(80)]) leds_model();
    translate([0, 0, dz(175)]) { perf_model(); devkit_model(); driver_model(); }
    color(c_dark) {
        translate([-hx, 0, dz(220)]) part_asm("box-left");
        translate([hx, 0, dz(220)]) part_asm("box-right");
    }
    if (ex > 0 || BACK == 1) color([0.2, 0.2, 0.22]) translate([0, ex * 25, dz(265)]) part_asm("clip");
}

// ---------------------------------------------------------------------------------
// Dispatch. PART is one of:
//   assembly      the whole cluster, stood up for the previews (EXPLODE=1: exploded;
//                 BACK=1: turned round, with the monitor clip)
//   a printable part, in print orientation: bezel-left bezel-right faceplate-left
//                 faceplate-right dial-ring motor-mount lamp-box box-left box-right
//                 clip vesa-plate
//   a fit-check model: x27-model devkit-model perfboard-model driver-model leds-model
//                 face-model needle-model window-model lamp-acrylic-model; fit-models
//                 (all of them in place)
//   acrylic-lamps, acrylic-windows: the laser-cut outlines (2D, for DXF and SVG)
//   list          echoes the bed and the printable parts with their quantities
//   check-<part>  <part>'s exported STL, back in place, intersected with the fit-check
//                 models near it (needs PBOX): must render empty
//   check-pair    parts A and B from their STLs intersected (needs PBOX, PBOX_B): may
//                 touch, must not overlap
//   check-model-boxes  each fit-check model outside its box: must render empty
//   none          nothing (for files that include this one)

function starts_with(s, p) = len(s) >= len(p) && [for (k = [0:len(p) - 1]) s[k]] == [for (k = [0:len(p) - 1]) p[k]];
function str_join(v, i = 0) = i >= len(v) ? "" : str(v[i], str_join(v, i + 1));
function drop(s, n) = str_join([for (k = [n:len(s) - 1]) s[k]]);

// Stood up: front towards -y, up +z; the view from behind turns it round (OpenSCAD lights
// the scene from the front, so the camera stays in front).
if (PART == "assembly") rotate([0, 0, BACK == 1 ? 180 : 0]) rotate([90, 0, 0]) assembly(EXPLODE);
else if (PART == "list") {
    echo(str("bed ", bed[0], " ", bed[1]));
    for (k = [0:len(printable) - 1]) echo(str("part ", printable[k], " ", quantity[k]));
}
else if (search([PART], printable)[0] != []) part_print(PART);
else if (PART == "fit-models") fit_models();
else if (PART == "x27-model") x27_model();
else if (PART == "devkit-model") devkit_model();
else if (PART == "perfboard-model") perf_model();
else if (PART == "driver-model") driver_model();
else if (PART == "leds-model") leds_model();
else if (PART == "face-model") face_model(0);
else if (PART == "needle-model") needle_model(0, sweep = true);
else if (PART == "window-model") window_model(0);
else if (PART == "lamp-acrylic-model") lamp_acrylic_model();
// The laser cutter gets smooth outlines whatever the quality (0.1 mm chords at most).
else if (PART == "acrylic-lamps") rrect(acrylic, 2, $fa = 1, $fs = 0.1);
else if (PART == "acrylic-windows") for (i = [0:n_dials - 1]) translate([i * (window_d + 4), 0]) circle(d = window_d, $fa = 1, $fs = 0.1);
else if (PART == "check-model-boxes") for (m = model_list) difference() {
    model_instance(m);
    translate(m[2][0]) cube(m[2][1] - m[2][0]);
}
else if (PART == "check-pair") {
    // two printed parts, both put back from their STLs: they may touch, never overlap
    assert(PBOX != undef && PBOX_B != undef, "check-pair needs A, B, PBOX and PBOX_B");
    meet = [for (i = [0:len(part_shifts(A)) - 1], j = [0:len(part_shifts(B)) - 1])
        if (boxes_meet(part_box(A, PBOX, i), part_box(B, PBOX_B, j))) [i, j]];
    echo(str("pair ", A, " ", B, len(meet) > 0 ? " near" : " apart"));
    for (c = meet) intersection() { part_from_stl(A, c[0]); part_from_stl(B, c[1]); }
}
else if (starts_with(PART, "check-")) {
    // a printed part, put back from its STL, against the fit-check models near it
    name = drop(PART, 6);
    assert(PBOX != undef, "check-<part> needs -D PBOX=[[x0,y0,z0],[x1,y1,z1]], the exported STL's bounding box");
    near = [for (i = [0:len(part_shifts(name)) - 1])
        [for (m = model_list) if (boxes_meet(part_box(name, PBOX, i), m[2])) m]];
    echo(str("checking ", name, " against ", str_join([for (i = [0:len(near) - 1]) for (m = near[i]) str(m[0], m[1], " ")])));
    for (i = [0:len(near) - 1]) if (len(near[i]) > 0) intersection() {
        part_from_stl(name, i);
        union() for (m = near[i]) model_instance(m);
    }
}
else if (PART != "none") assert(false, str("unknown PART: ", PART));
