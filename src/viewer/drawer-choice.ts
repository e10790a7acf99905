/**
 * Picks OpenSeadragon's drawer by capability: WebGL only on a real GPU.
 * Headless or GPU-less browsers fall back to software WebGL (SwiftShader,
 * llvmpipe), where OpenSeadragon's WebGL drawer is about 10× slower than its
 * canvas drawer, so those get the canvas drawer.
 */
export type DrawerKind = 'canvas' | 'webgl';

const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software|basic render|mesa offscreen/i;

export function chooseDrawer(requested: string | null | undefined): DrawerKind {
  if (requested === 'canvas' || requested === 'webgl') return requested;
  try {
    const canvas = document.createElement('canvas');
    const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) return 'canvas';
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : String(gl.getParameter(gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return SOFTWARE_RENDERER.test(renderer) ? 'canvas' : 'webgl';
  } catch {
    return 'canvas';
  }
}
