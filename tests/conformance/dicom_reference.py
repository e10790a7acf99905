"""Independent reference for the DICOM conformance test: pydicom reads each
instance, Pillow decodes its frames (pydicom's own pixel handlers for
native, JPEG and JPEG 2000 data), and the frames are placed into each
level's total pixel matrix (TILED_FULL order, concatenation offsets, or
TILED_SPARSE plane positions; first focal plane only; background white).

usage: dicom_reference.py OUT_DIR [--series UID] FILE...
Writes OUT_DIR/level-K.rgb (raw RGB) and prints JSON: [{width, height, file}].
"""
import json
import sys

import numpy as np
import pydicom
from pydicom.encaps import generate_pixel_data_frame
from pydicom.pixel_data_handlers.pillow_handler import _decompress_single_frame
from pydicom.pixel_data_handlers.util import convert_color_space

NATIVE = ('1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2')


def frames(ds):
    """Every frame of an instance as an RGB array (rows, columns, 3)."""
    n = int(getattr(ds, 'NumberOfFrames', 1) or 1)
    ts = str(ds.file_meta.TransferSyntaxUID)
    photometric = str(ds.PhotometricInterpretation)
    if ts in NATIVE:
        arr = ds.pixel_array.reshape(n, ds.Rows, ds.Columns, -1)
        if photometric == 'YBR_FULL':
            arr = convert_color_space(arr, 'YBR_FULL', 'RGB')
        return [a for a in arr]
    out = []
    for data in generate_pixel_data_frame(ds.PixelData, n):
        im = _decompress_single_frame(data, ts, photometric)
        # RGB: pydicom has Pillow keep the samples as coded (no colour transform);
        # YBR JPEG: Pillow's libjpeg converts to RGB; JPEG 2000 YBR_RCT/ICT: OpenJPEG undoes the transform
        out.append(np.asarray(im)[:, :, :3] if photometric == 'RGB' else np.asarray(im.convert('RGB')))
    return out


def main():
    out_dir = sys.argv[1]
    args = sys.argv[2:]
    series = None
    if args[:1] == ['--series']:
        series, args = args[1], args[2:]
    volumes = {}
    for path in args:
        ds = pydicom.dcmread(path)
        if series and str(ds.SeriesInstanceUID) != series:
            continue
        if str(ds.SOPClassUID) != '1.2.840.10008.5.1.4.1.1.77.1.6' or ds.ImageType[2] != 'VOLUME':
            continue
        key = (int(ds.TotalPixelMatrixColumns), int(ds.TotalPixelMatrixRows))
        volumes.setdefault(key, []).append(ds)
    result = []
    for k, ((w, h), members) in enumerate(sorted(volumes.items(), key=lambda kv: -kv[0][0] * kv[0][1])):
        canvas = np.full((h, w, 3), 255, dtype=np.uint8)
        filled = set()
        z0 = None
        members.sort(key=lambda d: int(getattr(d, 'ConcatenationFrameOffsetNumber', 0)))
        for ds in members:
            tw, th = int(ds.Columns), int(ds.Rows)
            across = -(-w // tw)
            down = -(-h // th)
            decoded = frames(ds)
            per_frame = getattr(ds, 'PerFrameFunctionalGroupsSequence', None)
            if str(getattr(ds, 'DimensionOrganizationType', '')) == 'TILED_SPARSE' and per_frame:
                places = []
                for item in per_frame:
                    pos = item.PlanePositionSlideSequence[0]
                    z = float(getattr(pos, 'ZOffsetInSlideCoordinateSystem', 0) or 0)
                    if z0 is None:
                        z0 = z
                    places.append(None if abs(z - z0) > 1e-9 else (int(pos.ColumnPositionInTotalImagePixelMatrix) - 1, int(pos.RowPositionInTotalImagePixelMatrix) - 1))
            else:
                offset = int(getattr(ds, 'ConcatenationFrameOffsetNumber', 0))
                places = []
                for i in range(len(decoded)):
                    g = offset + i
                    places.append(((g % across) * tw, (g // across) * th) if g < across * down else None)
            for f, place in zip(decoded, places):
                if place is None or place in filled:
                    continue
                filled.add(place)
                x, y = place
                cw, ch = min(tw, w - x), min(th, h - y)
                canvas[y:y + ch, x:x + cw] = f[:ch, :cw, :3]
        name = f'{out_dir}/level-{k}.rgb'
        canvas.tofile(name)
        result.append({'width': w, 'height': h, 'file': name})
    print(json.dumps(result))


main()
