"""moderngl rasteriser: one EGL context (Mesa llvmpipe on CPU, the NVIDIA driver on a GPU).

Per view: a key-light shadow map, then background, ground shadow and surfaces into a 4x MSAA
framebuffer with three targets (lit sRGB, albedo, ids), resolved and read back; a body-only pass
writes the coverage regions (no MSAA: masks want hard edges).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

import moderngl
import numpy as np

from . import shaders
from .scene import Background, Camera, Light, Material, Scene, Surface

SHADOW_SIZE = 2048
MSAA = 4
# Surface shader per material (compile-time specialised, see shaders.surface_fragment).
SHADER_FAMILY = {
    Material.SKIN: 0,
    Material.GARMENT: 1,
    Material.CLOTH: 1,
    Material.SHOE: 1,
    Material.HAIR: 3,
    Material.EYE: 4,
}
# Outer layers first so that llvmpipe's early depth test skips what they hide (the base outfit
# under the product, the skin under both).
DRAW_ORDER = {
    Material.GARMENT: 0,
    Material.HAIR: 1,
    Material.CLOTH: 2,
    Material.SHOE: 3,
    Material.EYE: 4,
    Material.SKIN: 5,
}


@dataclass
class Frame:
    colour: np.ndarray  # (H, W, 4) uint8
    albedo: np.ndarray  # (H, W, 3) uint8
    ids: np.ndarray  # (H, W, 4) uint8: product, skin, hair, foreground
    regions: np.ndarray  # (H, W, 2) uint8: product region, modesty region


@dataclass
class Targets:
    ms: moderngl.Framebuffer  # 4x MSAA: lit colour, albedo, ids + depth
    ms_background: moderngl.Framebuffer  # the same colour and albedo buffers, cleared to the background
    ms_ids: moderngl.Framebuffer  # the same ids buffer, cleared to 0
    resolved: moderngl.Framebuffer
    region: moderngl.Framebuffer


@dataclass
class FaceUniforms:
    eye_l: np.ndarray
    eye_r: np.ndarray
    mouth: np.ndarray
    scale: float
    brow_rgb: tuple[float, float, float]
    crown: np.ndarray
    front_z: float


def _mat(m: np.ndarray) -> bytes:
    return np.ascontiguousarray(m.T, dtype="f4").tobytes()


def light_matrix(direction: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Orthographic view-projection from the key light covering the scene's bounds and the floor."""
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo)) / 2 + 0.4
    f = -direction / np.linalg.norm(direction)
    up = np.array([0.0, 1.0, 0.0]) if abs(f[1]) < 0.95 else np.array([0.0, 0.0, 1.0])
    s = np.cross(f, up)
    s /= np.linalg.norm(s)
    u = np.cross(s, f)
    eye = centre - f * radius * 2
    view = np.identity(4)
    view[0, :3], view[1, :3], view[2, :3] = s, u, -f
    view[:3, 3] = -view[:3, :3] @ eye
    proj = np.identity(4)
    near, far = radius * 0.5, radius * 3.5
    proj[0, 0] = proj[1, 1] = 1 / radius
    proj[2, 2], proj[2, 3] = -2 / (far - near), -(far + near) / (far - near)
    return proj @ view


def _load_triton_before_mesa() -> None:
    """torch's compiler package (triton, imported by anny through torch._dynamo) bundles its own
    LLVM: loaded after Mesa's llvmpipe has loaded LLVM 15 it segfaults the process. Loaded first,
    both work, so load it first wherever it is installed."""
    if importlib.util.find_spec("triton") is not None:
        importlib.import_module("triton")


class Rasteriser:
    """Owns the GL context, programs and per-size framebuffers; not thread-safe."""

    def __init__(self) -> None:
        _load_triton_before_mesa()
        self.ctx = moderngl.create_context(standalone=True, backend="egl")
        self.programs = {
            (family, cut): self.ctx.program(
                vertex_shader=shaders.VERTEX, fragment_shader=shaders.surface_fragment(family, cut)
            )
            for family in set(SHADER_FAMILY.values())
            for cut in (False, True)
        }
        self.ground_prog = self.ctx.program(vertex_shader=shaders.VERTEX, fragment_shader=shaders.GROUND_FRAGMENT)
        self.shadow_prog = self.ctx.program(
            vertex_shader=shaders.SHADOW_VERTEX, fragment_shader=shaders.SHADOW_FRAGMENT
        )
        self.region_prog = self.ctx.program(
            vertex_shader=shaders.REGION_VERTEX, fragment_shader=shaders.REGION_FRAGMENT
        )
        self.bg_prog = self.ctx.program(
            vertex_shader=shaders.BACKGROUND_VERTEX, fragment_shader=shaders.BACKGROUND_FRAGMENT
        )
        self.shadow_tex = self.ctx.depth_texture((SHADOW_SIZE, SHADOW_SIZE))
        self.shadow_tex.compare_func = "<="
        self.shadow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.shadow_fbo = self.ctx.framebuffer(depth_attachment=self.shadow_tex)
        self._targets: dict[tuple[int, int], Targets] = {}
        tri = np.array([-1, -1, 3, -1, -1, 3], dtype="f4")
        self.bg_vao = self.ctx.vertex_array(self.bg_prog, [(self.ctx.buffer(tri.tobytes()), "2f", "in_xy")])
        ground = np.array(
            [
                [x, 0.0, z, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]
                for x, z in ((-5, -5), (5, -5), (5, 5), (-5, -5), (5, 5), (-5, 5))
            ],
            dtype="f4",
        )
        self.ground_vao = self.ctx.vertex_array(
            self.ground_prog, [(self.ctx.buffer(ground.tobytes()), "3f 40x", "in_pos")]
        )
        self._white = self.ctx.texture((1, 1), 4, bytes([255, 255, 255, 255]))

    def _fbos(self, size: tuple[int, int]) -> Targets:
        if size not in self._targets:
            ctx = self.ctx
            colour, albedo, ids = (ctx.renderbuffer(size, 4, samples=MSAA) for _ in range(3))
            depth = ctx.depth_renderbuffer(size, samples=MSAA)
            self._targets = {  # keep one size: memory stays bounded
                size: Targets(
                    ms=ctx.framebuffer([colour, albedo, ids], depth),
                    ms_background=ctx.framebuffer([colour, albedo], depth),
                    ms_ids=ctx.framebuffer([ids]),
                    resolved=ctx.framebuffer([ctx.renderbuffer(size, 4) for _ in range(3)]),
                    region=ctx.framebuffer([ctx.renderbuffer(size, 4)], ctx.depth_renderbuffer(size)),
                )
            }
        return self._targets[size]

    def upload(self, scene: Scene, textures: dict[int, np.ndarray]) -> UploadedScene:
        return UploadedScene(self, scene, textures)

    def draw(
        self,
        up: UploadedScene,
        camera: Camera,
        lights: tuple[Light, ...],
        background: Background,
        face: FaceUniforms,
        size: tuple[int, int],
        with_passes: bool = True,
    ) -> Frame:
        """One view; with_passes=False (turntable frames) skips the albedo/ids read-back and regions."""
        ctx = self.ctx
        lo, hi = up.scene.bounds
        light_vp = light_matrix(lights[0].direction, np.minimum(lo, [-0.8, 0, -0.8]), np.maximum(hi, [0.8, 0, 0.8]))
        # Shadow map.
        self.shadow_fbo.use()
        self.shadow_fbo.clear(depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.CULL_FACE | moderngl.BLEND)
        self.shadow_prog["u_mvp"].write(_mat(light_vp))
        for vao in up.shadow_vaos:
            vao.render()
        # Main pass.
        t = self._fbos(size)
        ms, resolved, region_fbo = t.ms, t.resolved, t.region
        t.ms_ids.clear(0, 0, 0, 0)
        t.ms_background.clear(*background.top, 1.0, depth=1.0)
        ms.use()
        ctx.viewport = (0, 0, *size)
        mvp = camera.projection() @ camera.view()
        if background.image is not None or background.top != background.bottom:
            self._draw_background(background, size)
        self.shadow_tex.use(1)
        texel = (1.0 / SHADOW_SIZE, 1.0 / SHADOW_SIZE)
        g = self.ground_prog
        g["u_mvp"].write(_mat(mvp))
        g["u_light_mvp"].write(_mat(light_vp))
        g["u_shadow"] = 1
        g["u_shadow_texel"] = texel
        g["u_feet"].write(np.asarray(up.scene.foot_points, "f4").tobytes())
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE  # alpha stays 1
        ctx.depth_mask = False
        self.ground_vao.render()
        ctx.depth_mask = True
        ctx.disable(moderngl.BLEND)
        shared = {
            "u_mvp": _mat(mvp),
            "u_light_mvp": _mat(light_vp),
            "u_light_dir": np.array([lt.direction for lt in lights], "f4").tobytes(),
            "u_light_col": np.array([lt.colour for lt in lights], "f4").tobytes(),
        }
        values = {
            "u_shadow": 1,
            "u_tex": 0,
            "u_shadow_texel": texel,
            "u_eye": tuple(camera.eye),
            "u_eye_l": tuple(face.eye_l),
            "u_eye_r": tuple(face.eye_r),
            "u_mouth": tuple(face.mouth),
            "u_face_scale": face.scale,
            "u_brow": face.brow_rgb,
            "u_crown": tuple(face.crown),
            "u_front_z": face.front_z,
        }
        for prog in self.programs.values():
            for name, data in shared.items():
                if name in prog:
                    prog[name].write(data)
            for name, value in values.items():
                if name in prog:
                    prog[name] = value
        for surface, cut, vao, tex in up.surface_vaos:
            p = self.programs[SHADER_FAMILY[surface.material], cut]
            per_surface = {
                "u_material": int(surface.material),
                "u_weave": int(surface.weave),
                "u_detail": up.details.get(id(surface), 0),
                "u_product": 1.0 if surface.product else 0.0,
                "u_colour": surface.colour,
            }
            for name, value in per_surface.items():
                if name in p:
                    p[name] = value
            (tex or self._white).use(0)
            vao.render()
        ctx.copy_framebuffer(resolved, ms)
        w, h = size
        regions = np.zeros((h, w, 2), np.uint8)
        if with_passes:  # coverage regions: the body alone
            region_fbo.use()
            region_fbo.clear(0, 0, 0, 0, depth=1.0)
            self.region_prog["u_mvp"].write(_mat(mvp))
            up.region_vao.render()

        def read(fbo: moderngl.Framebuffer, attachment: int) -> np.ndarray:
            data = fbo.read(components=4, attachment=attachment)
            return np.frombuffer(data, np.uint8).reshape(h, w, 4)[::-1]

        if not with_passes:
            return Frame(
                colour=read(resolved, 0),
                albedo=np.zeros((h, w, 3), np.uint8),
                ids=np.zeros((h, w, 4), np.uint8),
                regions=regions,
            )
        return Frame(
            colour=read(resolved, 0),
            albedo=read(resolved, 1)[..., :3],
            ids=read(resolved, 2),
            regions=read(region_fbo, 0)[..., :2],
        )

    def _draw_background(self, bg: Background, size: tuple[int, int]) -> None:
        self.ctx.disable(moderngl.DEPTH_TEST)
        prog = self.bg_prog
        prog["u_top"], prog["u_bottom"] = bg.top, bg.bottom
        prog["u_has_image"] = 0
        if bg.image is not None:
            img = np.ascontiguousarray(bg.image[::-1])
            tex = self.ctx.texture((img.shape[1], img.shape[0]), img.shape[2], img.tobytes())
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            tex.use(2)
            prog["u_image"] = 2
            prog["u_has_image"] = 1
            # Cover: fill the frame, crop the image's excess.
            img_aspect, frame_aspect = img.shape[1] / img.shape[0], size[0] / size[1]
            scale = (frame_aspect / img_aspect, 1.0) if img_aspect > frame_aspect else (1.0, img_aspect / frame_aspect)
            prog["u_image_scale"] = scale
            self.bg_vao.render()
            tex.release()
        else:
            self.bg_vao.render()
        self.ctx.enable(moderngl.DEPTH_TEST)


class UploadedScene:
    """A scene's buffers on the GPU: draw it from many cameras (turntable) without re-uploading."""

    def __init__(self, raster: Rasteriser, scene: Scene, textures: dict[int, np.ndarray]) -> None:
        self.scene = scene
        ctx = raster.ctx
        self._resources: list = []
        # (surface, drawn with the cut discard, vao, texture): each surface's faces that lie wholly
        # inside its cut lines are drawn first, without discard (early depth test), then its edges.
        self.surface_vaos: list[tuple[Surface, bool, moderngl.VertexArray, moderngl.Texture | None]] = []
        edges: list[tuple[Surface, bool, moderngl.VertexArray, moderngl.Texture | None]] = []
        self.shadow_vaos: list[moderngl.VertexArray] = []
        self.details: dict[int, int] = {}
        fmt = ("3f 3f 2f 1f 4f", "in_pos", "in_nrm", "in_uv", "in_cut", "in_aux")
        for surface in sorted(scene.surfaces, key=lambda s: DRAW_ORDER[s.material]):
            vbo = ctx.buffer(surface.interleaved().tobytes())
            ibo = ctx.buffer(np.ascontiguousarray(surface.faces, dtype="i4").tobytes())
            shadow = ctx.vertex_array(
                raster.shadow_prog, [(vbo, "3f 12x 8x 1f 16x", "in_pos", "in_cut")], index_buffer=ibo
            )
            inside = (surface.cut[surface.faces] >= 0).all(axis=1)
            tex = None
            if surface.material == Material.GARMENT and id(surface) in textures:
                rgba = np.ascontiguousarray(textures[id(surface)])
                tex = ctx.texture((rgba.shape[1], rgba.shape[0]), 4, rgba.tobytes())
                tex.build_mipmaps()
                tex.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                tex.repeat_x = tex.repeat_y = False
                self._resources.append(tex)
            self._resources += [vbo, ibo, shadow]
            for cut, faces in ((False, surface.faces[inside]), (True, surface.faces[~inside])):
                if len(faces) == 0:
                    continue
                part_ibo = ctx.buffer(np.ascontiguousarray(faces, dtype="i4").tobytes())
                program = raster.programs[SHADER_FAMILY[surface.material], cut]
                vao = ctx.vertex_array(program, [(vbo, *fmt)], index_buffer=part_ibo, skip_errors=True)
                self._resources += [part_ibo, vao]
                (edges if cut else self.surface_vaos).append((surface, cut, vao, tex))
            self.shadow_vaos.append(shadow)
        self.surface_vaos += edges
        body = scene.body
        assert body.region is not None
        region = np.ascontiguousarray(np.concatenate([body.positions, body.region], axis=1), dtype="f4")
        rvbo = ctx.buffer(region.tobytes())
        ribo = ctx.buffer(np.ascontiguousarray(body.faces, dtype="i4").tobytes())
        self.region_vao = ctx.vertex_array(
            raster.region_prog, [(rvbo, "3f 2f", "in_pos", "in_region")], index_buffer=ribo
        )
        self._resources += [rvbo, ribo, self.region_vao]

    def release(self) -> None:
        for r in self._resources:
            r.release()
