/**
 * A minimal IIIF Presentation API 3.0 manifest for one slide, so viewers that
 * open manifests rather than image services (Mirador, Universal Viewer) can
 * show it: one canvas the size of the slide, painted by our Image API 3
 * service. It names the slide by its opaque id only: file names can carry
 * patient details and never leave GET /api/slides.
 */
export const PRESENTATION_CONTEXT = 'http://iiif.io/api/presentation/3/context.json';

export interface ManifestInput {
  /** Absolute URL of the server, without a trailing slash. */
  base: string;
  id: string;
  width: number;
  height: number;
  /** Size of `full/max` under the server's limits (what the body URL returns). */
  maxSize: { width: number; height: number };
}

export function slideManifest({ base, id, width, height, maxSize }: ManifestInput): Record<string, unknown> {
  const root = `${base}/iiif/${id}`;
  const canvas = `${root}/canvas/1`;
  const service = [{ id: root, type: 'ImageService3', profile: 'level1' }];
  const label = { none: [`Slide ${id}`] };
  return {
    '@context': PRESENTATION_CONTEXT,
    id: `${root}/manifest.json`,
    type: 'Manifest',
    label,
    thumbnail: [{ id: `${root}/full/!256,256/0/default.jpg`, type: 'Image', format: 'image/jpeg', service }],
    items: [
      {
        id: canvas,
        type: 'Canvas',
        label,
        width,
        height,
        items: [
          {
            id: `${canvas}/page`,
            type: 'AnnotationPage',
            items: [
              {
                id: `${canvas}/page/image`,
                type: 'Annotation',
                motivation: 'painting',
                target: canvas,
                body: { id: `${root}/full/max/0/default.jpg`, type: 'Image', format: 'image/jpeg', width: maxSize.width, height: maxSize.height, service },
              },
            ],
          },
        ],
      },
    ],
  };
}
