"""GLSL 3.30 sources: one vertex stage, the surface shader (skin, cloth, hair, eyes), ground,
background, shadow and coverage-region passes. Lighting is done in linear light, written as sRGB."""

VERTEX = """
#version 330
uniform mat4 u_mvp;
uniform mat4 u_light_mvp;
in vec3 in_pos; in vec3 in_nrm; in vec2 in_uv; in float in_cut; in vec4 in_aux;
out vec3 v_pos; out vec3 v_nrm; out vec2 v_uv; out float v_cut; out vec4 v_aux; out vec4 v_light;
void main() {
    v_pos = in_pos; v_nrm = in_nrm; v_uv = in_uv; v_cut = in_cut; v_aux = in_aux;
    v_light = u_light_mvp * vec4(in_pos, 1.0);
    gl_Position = u_mvp * vec4(in_pos, 1.0);
}
"""

SHADOW_VERTEX = """
#version 330
uniform mat4 u_mvp;
in vec3 in_pos; in float in_cut;
out float v_cut;
void main() { v_cut = in_cut; gl_Position = u_mvp * vec4(in_pos, 1.0); }
"""

SHADOW_FRAGMENT = """
#version 330
in float v_cut;
void main() { if (v_cut < 0.0) discard; }
"""

REGION_VERTEX = """
#version 330
uniform mat4 u_mvp;
in vec3 in_pos; in vec2 in_region;
out vec2 v_region;
void main() { v_region = in_region; gl_Position = u_mvp * vec4(in_pos, 1.0); }
"""

REGION_FRAGMENT = """
#version 330
in vec2 v_region;
out vec4 o_region;
void main() { o_region = vec4(step(0.0, v_region.x), step(0.0, v_region.y), 0.0, 1.0); }
"""

_COMMON = """
vec3 to_linear(vec3 c) { return mix(c / 12.92, pow((c + 0.055) / 1.055, vec3(2.4)), step(0.04045, c)); }
vec3 to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}
float hash(vec3 p) { return fract(sin(dot(p, vec3(127.1, 311.7, 74.7))) * 43758.5453); }
// Cheap smooth pseudo-noise in [0, 1]: three sines (value noise costs eight hashes on llvmpipe).
float vnoise(vec3 p) {
    return 0.5 + 0.25 * (sin(p.x * 1.3 + sin(p.y * 1.7 + p.z)) + sin(p.y * 1.1 + sin(p.z * 1.9 + p.x * 0.7)));
}
"""

SURFACE_FRAGMENT = (
    """
// MATERIAL (compile time): 0 skin, 1 cloth (garment, base outfit, shoes), 3 hair, 4 eye
uniform int u_material;      // 1 garment, 2 cloth, 5 shoe within MATERIAL 1
uniform int u_weave;         // 0 jersey, 1 poplin, 2 knit, 3 denim, 4 suiting
uniform int u_detail;        // 0 none, 1 shirt placket, 2 jacket front
uniform float u_product;
uniform vec3 u_colour;       // sRGB
uniform sampler2D u_tex;
uniform sampler2DShadow u_shadow;
uniform vec2 u_shadow_texel;
uniform vec3 u_eye;
uniform vec3 u_light_dir[3];
uniform vec3 u_light_col[3];
uniform vec3 u_eye_l; uniform vec3 u_eye_r; uniform vec3 u_mouth; uniform float u_face_scale;
uniform vec3 u_brow; uniform vec3 u_crown; uniform float u_front_z;
in vec3 v_pos; in vec3 v_nrm; in vec2 v_uv; in float v_cut; in vec4 v_aux; in vec4 v_light;
layout(location = 0) out vec4 o_colour;
layout(location = 1) out vec4 o_albedo;
layout(location = 2) out vec4 o_ids;
"""
    + _COMMON
    + """
float key_shadow(vec3 n) {
    vec3 p = v_light.xyz / v_light.w * 0.5 + 0.5;
    float bias = 0.0012;
    float sum = 0.0;
    // 12-tap disc: soft penumbra
    const vec2 taps[12] = vec2[](vec2(-0.33,-0.94), vec2(0.94,-0.33), vec2(0.33,0.94), vec2(-0.94,0.33),
        vec2(-0.2,-0.4), vec2(0.4,-0.2), vec2(0.2,0.4), vec2(-0.4,0.2), vec2(0.7,0.7), vec2(-0.7,-0.7),
        vec2(0.7,-0.7), vec2(-0.7,0.7));
    // Four bilinear compares (16 texels) on a rotated square: soft enough, cheap on llvmpipe.
    for (int i = 0; i < 4; i++) sum += texture(u_shadow, vec3(p.xy + taps[i] * u_shadow_texel * 2.0, p.z - bias));
    return sum / 4.0;
}

float face_mask_brow(vec3 q, float side) {
    float s = u_face_scale;
    float lx = side * q.x / s; float ly = q.y / s;
    float by = 0.02 + 0.0055 * (1.0 - pow((lx - 0.004) / 0.024, 2.0));
    float thick = 0.0032 * (1.0 - 0.45 * clamp((lx + 0.012) / 0.038, 0.0, 1.0));
    float m = smoothstep(thick, thick * 0.4, abs(ly - by));
    m *= smoothstep(-0.016, -0.012, lx) * smoothstep(0.027, 0.021, lx) * step(-0.02, q.z / s);
    return m * (0.7 + 0.3 * sin(lx * 1900.0 + ly * 700.0));
}

void main() {
#if CUT
    if (v_cut < 0.0) discard;
#endif
    vec3 n = normalize(v_nrm);
    bool inside = !gl_FrontFacing;
    if (inside) n = -n;
    vec3 v = normalize(u_eye - v_pos);
    vec3 albedo_srgb;
    float spec_strength = 0.0; float spec_power = 16.0; float sheen = 0.0; float wrap = 0.1;
    vec3 sss = vec3(0.0);
    bool hair = false;
    float skin = 0.0;

#if MATERIAL == 0  // skin
        skin = 1.0;
        vec3 base = u_colour;
        float var = vnoise(v_pos * 38.0) - 0.5;
        base *= 1.0 + 0.035 * var;
        // Warmer, redder where blood is near the surface (hands, feet, knees, face centre).
        float red = v_aux.y;
        if (v_aux.x > 0.5) {
            vec3 mid = 0.5 * (u_eye_l + u_eye_r);
            vec3 q = v_pos - mid; float s = u_face_scale;
            float cheek = exp(-pow((abs(q.x) / s - 0.036) / 0.018, 2.0) - pow((q.y / s + 0.032) / 0.016, 2.0));
            cheek *= step(0.0, q.z / s + 0.03);
            float nose = exp(-pow(q.x / s / 0.012, 2.0) - pow((q.y / s + 0.035) / 0.014, 2.0));
            red = max(red, 0.55 * cheek + 0.35 * nose);
            base *= mix(vec3(1.0), vec3(1.03, 0.93, 0.92), red);
            // lips
            vec3 qm = v_pos - u_mouth;
            float ly = qm.y / s; float lx = qm.x / s;
            float half_h = ly > 0.0 ? 0.0062 * (1.0 - 0.35 * exp(-pow(lx / 0.006, 2.0))) : 0.0085;
            float lips = smoothstep(1.0, 0.75, pow(lx / 0.024, 2.0) + pow(ly / half_h, 2.0)) * step(-0.015, qm.z / s);
            base = mix(base, base * vec3(0.86, 0.58, 0.58), lips * 0.75);
            float seam = smoothstep(0.0012, 0.0, abs(ly + 0.0004)) * smoothstep(0.024, 0.016, abs(lx));
            seam *= step(-0.015, qm.z / s);
            base *= 1.0 - 0.45 * seam;
            // eyebrows, lash line
            float brow = max(face_mask_brow(v_pos - u_eye_l, 1.0), face_mask_brow(v_pos - u_eye_r, -1.0));
            base = mix(base, u_brow, brow * 0.85);
            float dl = min(length(v_pos - u_eye_l), length(v_pos - u_eye_r)) / s;
            float lash = smoothstep(0.0185, 0.0145, dl) * smoothstep(0.011, 0.0135, dl);
            base *= 1.0 - 0.55 * lash;
            skin = 1.0 - max(brow, 0.0);
        } else {
            base *= mix(vec3(1.0), vec3(1.03, 0.94, 0.93), red);
        }
        albedo_srgb = base;
        wrap = 0.5; spec_strength = 0.07; spec_power = 28.0; sheen = 0.04;
        sss = vec3(0.35, 0.12, 0.08);
#elif MATERIAL == 1  // cloth
        albedo_srgb = u_material == 1 ? texture(u_tex, v_uv).rgb : u_colour;
        float tension = v_aux.x;
        vec3 p = v_pos;
        // Stretch wrinkles where a size too small pulls: short diagonal ridges across the body.
        float ridge = sin(p.y * 140.0 + sin(p.x * 40.0) * 3.0 + p.x * 60.0) * smoothstep(0.3, 0.9, vnoise(p * 12.0));
        n = normalize(n + tension * 0.35 * vec3(0.0, ridge, 0.0));
        // Fabric: knit ribs at edges and a fine knit, twill for denim, soft drape noise for all.
        float drape = vnoise(p * 18.0) - 0.5;
        n = normalize(n + vec3(drape * 0.12, drape * 0.18, 0.0) * (0.4 + v_aux.y));
        if (u_weave == 2) {
            float rib = sin(p.x * 1500.0 + p.z * 1500.0) * (v_cut < 0.05 ? 0.35 : 0.1);
            n = normalize(n + vec3(rib, 0.0, 0.0));
            sheen = 0.18; spec_strength = 0.0;
        } else if (u_weave == 3) {
            float twill = sin((p.x + p.y) * 1800.0);
            albedo_srgb *= (u_material == 1 ? 1.0 : 1.0 + 0.04 * twill);
            spec_strength = 0.03; spec_power = 10.0; sheen = 0.06;
        } else if (u_weave == 1) {
            spec_strength = 0.06; spec_power = 18.0; sheen = 0.05;
        } else if (u_weave == 4) {
            spec_strength = 0.05; spec_power = 12.0; sheen = 0.08;
        } else {
            spec_strength = 0.025; spec_power = 8.0; sheen = 0.12;
        }
        if (u_material == 5) { spec_strength = 0.35; spec_power = 60.0; sheen = 0.0; }
        // Hem: a turned-up band with a stitch line.
        float hem = smoothstep(0.022, 0.018, v_cut);
        float stitch = smoothstep(0.0018, 0.0, abs(v_cut - 0.016));
        float edge_shade = 1.0 - 0.07 * hem - 0.18 * stitch * float(u_weave != 2);
        if (u_detail > 0 && v_pos.z > u_front_z && v_cut > 0.0) {  // shirt placket / jacket front, buttons
            float x = abs(v_pos.x);
            float placket = u_detail == 1 ? 0.014 : 0.0;
            edge_shade *= 1.0 - 0.3 * smoothstep(0.0015, 0.0, abs(x - placket));
            float step_y = u_detail == 1 ? 0.085 : 0.11;
            float by = mod(v_pos.y, step_y) - 0.5 * step_y;
            float button = smoothstep(0.0055, 0.0045, length(vec2(v_pos.x, by)));
            float rim = smoothstep(0.0065, 0.0055, length(vec2(v_pos.x, by))) - button;
            edge_shade *= 1.0 - 0.35 * rim;
            if (u_detail == 2) edge_shade *= 1.0 - 0.2 * smoothstep(0.003, 0.0, x);
            spec_strength += 0.3 * button;
        }
        if (inside) edge_shade *= 0.55;
        wrap = 0.2;
        sss = vec3(edge_shade);  // carried to the lighting as a multiplier below
#elif MATERIAL == 3  // hair
        hair = true;
        float strand = floor(v_aux.x * 260.0 + sin(v_aux.z * 9.0 + v_aux.x * 40.0) * 2.0);
        float var = hash(vec3(strand, 1.0, 2.0));
        albedo_srgb = u_colour * (0.82 + 0.3 * var) * (1.0 - 0.15 * v_aux.z);
        if (v_aux.y > 0.5) {
            float curls = vnoise(v_pos * 260.0);
            n = normalize(n + (vec3(vnoise(v_pos * 200.0 + 3.0), vnoise(v_pos * 200.0 + 7.0), curls) - 0.5) * 1.2);
        }
#else  // eye
        vec3 dir = normalize(v_pos - v_aux.xyz);
        float c = dot(dir, vec3(0.0, 0.0, 1.0));
        float iris = smoothstep(0.86, 0.875, c);
        float pupil = smoothstep(0.965, 0.972, c);
        float fibres = 0.85 + 0.3 * vnoise(vec3(atan(dir.y, dir.x) * 8.0, c * 40.0, 0.0));
        vec3 sclera = vec3(0.93, 0.9, 0.87);
        vec3 iris_col = u_colour * fibres * (1.0 - 0.5 * smoothstep(0.9, 0.875, c));
        albedo_srgb = mix(mix(sclera, iris_col, iris), vec3(0.02), pupil);
        spec_strength = 1.2; spec_power = 300.0; wrap = 0.3;
#endif

    vec3 albedo = to_linear(albedo_srgb);
    vec3 colour = vec3(0.0);
    float shadow = key_shadow(n);
#if MATERIAL == 3
    vec3 tangent = normalize((v_pos - u_crown) - n * dot(v_pos - u_crown, n));
#endif
    for (int i = 0; i < 3; i++) {
        vec3 l = u_light_dir[i];
        float ndl = dot(n, l);
        float vis = i == 0 ? shadow : 1.0;
        vec3 h = normalize(l + v);
#if MATERIAL == 3
        {
            float diff = clamp(ndl * 0.6 + 0.4, 0.0, 1.0);
            float th = dot(tangent, h);
            float sin_th = sqrt(max(0.0, 1.0 - th * th));
            float spec1 = pow(sin_th, 80.0) * 0.18;
            float th2 = dot(tangent, normalize(h + n * 0.25));
            float spec2 = pow(sqrt(max(0.0, 1.0 - th2 * th2)), 22.0) * 0.35;
            vec3 strands = albedo * diff + vec3(spec1) + albedo * spec2;
            colour += u_light_col[i] * vis * strands * smoothstep(-0.3, 0.2, ndl);
        }
#else
        {
            vec3 diff;
#if MATERIAL == 0  // subsurface-ish: red light wraps further round than blue
            vec3 w = vec3(wrap + sss.r, wrap + sss.g, wrap + sss.b) * 0.7;
            diff = clamp((vec3(ndl) + w) / (1.0 + w), 0.0, 1.0);
#else
            diff = vec3(clamp((ndl + wrap) / (1.0 + wrap), 0.0, 1.0));
#endif
            float fres = pow(1.0 - max(dot(n, v), 0.0), 5.0);
            float spec = spec_strength * (0.6 + 0.7 * fres) * pow(max(dot(n, h), 0.0), spec_power) * step(0.0, ndl);
            float rim = sheen * pow(1.0 - max(dot(n, v), 0.0), 3.0) * max(ndl + 0.3, 0.0);
            colour += u_light_col[i] * vis * (albedo * diff + vec3(spec) + albedo * rim);
        }
#endif
    }
    // Sky and bounce from the studio floor.
    vec3 ambient = mix(vec3(0.16, 0.15, 0.14), vec3(0.3, 0.31, 0.33), n.y * 0.5 + 0.5);
    colour += albedo * ambient;
#if MATERIAL == 1
    colour *= sss.r;
#endif
    colour = 0.95 * colour / (1.0 + 0.3 * colour);  // soft shoulder: highlights roll off, never clip flat
    o_colour = vec4(to_srgb(colour), 1.0);
    o_albedo = vec4(albedo_srgb, 1.0);
    o_ids = vec4(u_product, skin * float(!inside), hair ? 1.0 : 0.0, 1.0);
}
"""
)

BACKGROUND_VERTEX = """
#version 330
in vec2 in_xy;
out vec2 v_xy;
void main() { v_xy = in_xy; gl_Position = vec4(in_xy, 0.9999, 1.0); }
"""

BACKGROUND_FRAGMENT = """
#version 330
uniform vec3 u_top; uniform vec3 u_bottom;
uniform sampler2D u_image; uniform int u_has_image; uniform vec2 u_image_scale;
in vec2 v_xy;
layout(location = 0) out vec4 o_colour;
layout(location = 1) out vec4 o_albedo;
layout(location = 2) out vec4 o_ids;
void main() {
    vec2 uv = v_xy * 0.5 + 0.5;
    vec3 c = mix(u_bottom, u_top, uv.y);
    if (u_has_image == 1) c = texture(u_image, (uv - 0.5) * u_image_scale + 0.5).rgb;
    o_colour = vec4(c, 1.0); o_albedo = vec4(c, 1.0); o_ids = vec4(0.0);
}
"""

GROUND_FRAGMENT = """
#version 330
uniform sampler2DShadow u_shadow;
uniform vec2 u_shadow_texel;
uniform vec3 u_feet[2];
in vec3 v_pos; in vec3 v_nrm; in vec2 v_uv; in float v_cut; in vec4 v_aux; in vec4 v_light;
layout(location = 0) out vec4 o_colour;
layout(location = 1) out vec4 o_albedo;
layout(location = 2) out vec4 o_ids;
void main() {
    vec3 p = v_light.xyz / v_light.w * 0.5 + 0.5;
    float lit = 0.0;
    for (int x = -1; x <= 1; x++)
        for (int y = -1; y <= 1; y++)
            lit += texture(u_shadow, vec3(p.xy + vec2(x, y) * u_shadow_texel * 4.0, p.z - 0.002));
    lit /= 9.0;
    float contact = 0.0;
    for (int i = 0; i < 2; i++) {
        vec2 d = (v_pos.xz - u_feet[i].xz) / vec2(0.07, 0.14);
        contact += exp(-dot(d, d));
    }
    float fade = exp(-dot(v_pos.xz, v_pos.xz) / 1.2);
    float a = clamp((1.0 - lit) * 0.32 * fade + contact * 0.42, 0.0, 0.75);
    o_colour = vec4(0.0, 0.0, 0.0, a); o_albedo = vec4(0.0); o_ids = vec4(0.0);
}
"""


def surface_fragment(material: int, cut: bool) -> str:
    """The surface shader specialised for one material family (uniform branches are not free on
    llvmpipe: every lane would run every material's code), with the cut-line discard only where
    asked: a shader that may discard loses llvmpipe's early depth test."""
    return f"#version 330\n#define MATERIAL {material}\n#define CUT {int(cut)}\n" + SURFACE_FRAGMENT
